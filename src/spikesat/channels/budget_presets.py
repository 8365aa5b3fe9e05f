"""Preset link budgets, each with its ``source`` and whether its figures are specified,
measured, simulated or estimated."""

from __future__ import annotations

import math

from spikesat._registry import Registry
from spikesat.channels.link_budget import LinkBudget
from spikesat.units import BOLTZMANN_J_PER_K, SPEED_OF_LIGHT_M_S

BUDGETS: Registry[LinkBudget] = Registry("link budget preset")

PLANCK_J_S = 6.62607015e-34
"""Planck's constant [J s] (exact, SI 2019)."""


def aperture_gain_dbi(diameter_m: float, frequency_ghz: float, efficiency: float) -> float:
    """Gain of a circular aperture ``10 log10(eta (pi D / lambda)^2)`` [dBi]."""
    wavelength_m = SPEED_OF_LIGHT_M_S / (frequency_ghz * 1e9)
    return 10.0 * math.log10(efficiency * (math.pi * diameter_m / wavelength_m) ** 2)


def quantum_noise_temperature_k(frequency_ghz: float, noise_factor: float) -> float:
    """Equivalent noise temperature ``F h nu / k`` [K] of an optical coherent receiver.

    A heterodyne receiver at the quantum limit sees a noise density ``N0 = h nu``; a real one
    ``F h nu`` with ``F >= 1`` its noise factor relative to that limit.
    """
    return noise_factor * PLANCK_J_S * frequency_ghz * 1e9 / BOLTZMANN_J_PER_K


TR38821 = (
    "3GPP TR 38.821 V16.2.0 (2023-03), Set-1 parameters for LEO-600: Table 6.1.1.1-1 "
    "(satellite EIRP density), Table 6.1.1.1-3 (UE), Table 6.1.3.3-1 (link budget results)"
)


@BUDGETS.register("s-band-tr38821-leo600")
def _s_band_tr38821() -> LinkBudget:
    """S-band downlink to a handheld UE, reproducing TR 38.821 Table 6.1.3.3-1 (CNR 6.6 dB
    at 30 deg elevation, 1075 km)."""
    return LinkBudget(
        name="s-band-tr38821-leo600",
        frequency_ghz=2.0,
        bandwidth_hz=30e6,
        eirp_dbw=34.0 + 10.0 * math.log10(30.0),  # 34 dBW/MHz over 30 MHz
        rx_antenna_gain_dbi=0.0,
        noise_figure_db=7.0,
        antenna_temperature_k=290.0,
        gaseous_zenith_loss_db=0.05,  # 0.1 dB at 30 deg (Table 6.1.3.3-1) = 0.05 / sin 30
        shadow_margin_db=3.0,
        scintillation_loss_db=2.2,
        polarization_loss_db=0.0,
        additional_loss_db=0.0,
        roll_off=0.0,
        modcod_table="dvb-s2x",
        source=TR38821 + "; S-band DL, handheld UE (0 dBi, NF 7 dB, 290 K)",
        status="specified",
    )


@BUDGETS.register("ka-band-tr38821-leo600")
def _ka_band_tr38821() -> LinkBudget:
    """Ka-band (20 GHz) downlink to a VSAT, reproducing TR 38.821 Table 6.1.3.3-1 (CNR 8.5 dB
    at 30 deg elevation)."""
    return LinkBudget(
        name="ka-band-tr38821-leo600",
        frequency_ghz=20.0,
        bandwidth_hz=400e6,
        eirp_dbw=4.0 + 10.0 * math.log10(400.0),  # 4 dBW/MHz over 400 MHz
        rx_antenna_gain_dbi=39.7,
        noise_figure_db=1.2,
        antenna_temperature_k=150.0,
        gaseous_zenith_loss_db=0.25,  # 0.5 dB at 30 deg = 0.25 / sin 30
        scintillation_loss_db=0.3,
        roll_off=0.0,
        modcod_table="dvb-s2x",
        source=TR38821 + "; Ka-band DL, VSAT (60 cm, 39.7 dBi, NF 1.2 dB, 150 K)",
        status="specified",
    )


@BUDGETS.register("x-band-eo-sentinel2")
def _x_band_eo() -> LinkBudget:
    """X-band Earth-observation payload downlink of the Sentinel-2 class."""
    return LinkBudget(
        name="x-band-eo-sentinel2",
        frequency_ghz=8.1,
        bandwidth_hz=180e6,
        tx_power_dbw=10.0,
        tx_antenna_gain_dbi=6.0,
        tx_loss_db=1.0,
        g_over_t_db_k=31.0,
        pointing_loss_db=0.3,
        polarization_loss_db=0.2,
        implementation_loss_db=1.0,
        gaseous_zenith_loss_db=0.05,
        scintillation_loss_db=0.3,
        roll_off=0.2,
        modcod_table="dvb-s2",
        acm_margin_db=1.0,
        source=(
            "Sentinel-2-like EO downlink: 8.025-8.4 GHz EESS band and a ~560 Mbit/s class "
            "X-band link with ACM (ESA Sentinel-2 mission description); 10 W TWTA, 6 dBi "
            "isoflux antenna and a 31 dB/K ground station (7.3 m class) are estimates"
        ),
        status="estimated",
    )


@BUDGETS.register("ka-band-isl")
def _ka_band_isl() -> LinkBudget:
    """RF inter-satellite link in the 22.55-23.55 GHz inter-satellite-service band."""
    frequency_ghz = 23.28
    dish_gain = aperture_gain_dbi(0.3, frequency_ghz, 0.55)
    return LinkBudget(
        name="ka-band-isl",
        frequency_ghz=frequency_ghz,
        bandwidth_hz=200e6,
        tx_power_dbw=7.0,
        tx_antenna_gain_dbi=dish_gain,
        tx_loss_db=1.0,
        rx_antenna_gain_dbi=dish_gain,
        rx_loss_db=1.0,
        noise_figure_db=2.0,
        antenna_temperature_k=50.0,
        pointing_loss_db=1.0,
        implementation_loss_db=1.0,
        roll_off=0.1,
        modcod_table="dvb-s2x",
        acm_margin_db=0.5,
        link_type="isl",
        source=(
            "Ka-band ISL in the ITU-R Radio Regulations Art. 5 inter-satellite band "
            "22.55-23.55 GHz (used by Iridium's 23 GHz crosslinks); 5 W, 0.3 m dishes "
            "(55 %), NF 2 dB and 200 MHz are estimates"
        ),
        status="estimated",
    )


@BUDGETS.register("optical-isl-10g")
def _optical_isl() -> LinkBudget:
    """1550 nm coherent laser ISL of the 10 Gbit/s class, about 10 Gbit/s at 8000 km."""
    frequency_ghz = SPEED_OF_LIGHT_M_S / 1550e-9 / 1e9
    telescope_gain = aperture_gain_dbi(0.08, frequency_ghz, 0.8)
    return LinkBudget(
        name="optical-isl-10g",
        frequency_ghz=frequency_ghz,
        bandwidth_hz=5e9,
        tx_power_dbw=10.0 * math.log10(0.5),
        tx_antenna_gain_dbi=telescope_gain,
        tx_loss_db=1.5,
        rx_antenna_gain_dbi=telescope_gain,
        rx_loss_db=1.5,
        system_noise_temperature_k=quantum_noise_temperature_k(frequency_ghz, 2.0),
        pointing_loss_db=3.0,
        implementation_loss_db=2.0,
        roll_off=0.1,
        modcod_table="dvb-s2x",
        acm_margin_db=0.5,
        link_type="isl",
        source=(
            "10 Gbit/s-class optical ISL terminal (80 mm telescopes, 1550 nm, ranges to "
            "~8000 km, as in vendor data for Tesat SCOT80 / Mynaric CONDOR-class terminals); "
            "0.5 W, 80 % aperture efficiency, 3 dB pointing and a coherent receiver 3 dB from "
            "the quantum limit (N0 = 2 h nu) are estimates; rates use the DVB-S2X MODCOD "
            "table as a stand-in for the coherent modem"
        ),
        status="estimated",
    )
