"""Link budgets: ``Es/N0 = EIRP - FSPL - losses + G/T - k - 10 log10(R_s)``.

The carrier-to-noise ratio follows 3GPP TR 38.821 Section 6.1.3.1:
``CNR = EIRP + G/T - k - FSPL - PL_A - PL_SM - PL_SL - PL_AD - 10 log10(B)``, extended with
pointing, polarisation, implementation and feeder losses. The SNR the channel layers and the
MODCOD tables use is Es/N0 per complex symbol, ``Es/N0 = CNR + 10 log10(B / R_s)`` with the
symbol rate ``R_s = B / (1 + roll_off)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from spikesat.channels._checks import (
    check_choice,
    check_distance_km,
    check_elevation_deg,
    check_positive,
    check_real_number,
)
from spikesat.channels.modcod import modcod_table
from spikesat.channels.path_loss import free_space_path_loss_db
from spikesat.units import BOLTZMANN_DBW_PER_K_HZ, lin_to_db

REFERENCE_TEMPERATURE_K = 290.0
"""IEEE reference temperature ``T0`` [K] for noise figures."""

COSECANT_LAW_MIN_ELEVATION_DEG = 10.0
"""TR 38.811 eq. (6.6-8) scales zenith gaseous loss by ``1 / sin(el)`` for ``el >= 10`` deg."""

LINK_TYPES = ("ground", "isl")
STATUSES = ("specified", "measured", "simulated", "estimated", "user-supplied")


class Atmosphere(Protocol):
    """What a budget needs from an atmosphere model (e.g. :class:`ItuAtmosphere`)."""

    @property
    def includes_scintillation(self) -> bool: ...

    def attenuation_db(self, frequency_ghz: float, elevation_deg: object) -> np.ndarray: ...


@dataclass(frozen=True)
class LinkBudget:
    """A radio or optical link budget.

    Give the transmitter as ``tx_power_dbw`` (+ ``tx_antenna_gain_dbi`` - ``tx_loss_db``) or as
    ``eirp_dbw``, and the receiver as ``g_over_t_db_k``, or ``rx_antenna_gain_dbi`` with either
    ``system_noise_temperature_k`` or ``noise_figure_db`` (+ ``antenna_temperature_k``).

    Attributes
    ----------
    frequency_ghz : float
        Carrier frequency [GHz].
    bandwidth_hz : float
        Occupied (noise) bandwidth [Hz].
    tx_power_dbw, tx_antenna_gain_dbi, tx_loss_db, eirp_dbw : float
        Transmitter power [dBW], antenna gain [dBi], feeder loss [dB]; or the EIRP [dBW].
    rx_antenna_gain_dbi, rx_loss_db : float
        Receive antenna gain [dBi] and feeder loss before the receiver [dB].
    g_over_t_db_k, system_noise_temperature_k, noise_figure_db, antenna_temperature_k : float
        Receiver figure of merit [dB/K], or system noise temperature [K], or noise figure [dB]
        with antenna temperature [K] (``T_sys = T_ant + 290 (F - 1)``).
    pointing_loss_db, polarization_loss_db, implementation_loss_db : float
        Pointing, polarisation mismatch and modem implementation losses [dB].
    gaseous_zenith_loss_db : float
        Clear-sky atmospheric loss at zenith [dB], scaled by ``1 / sin(el)`` (TR 38.811 eq.
        6.6-8, el >= 10 deg); replaced by an ITU-R atmosphere when one is passed.
    shadow_margin_db, scintillation_loss_db, additional_loss_db : float
        Shadowing margin, scintillation loss (replaced by the ITU-R atmosphere's when that
        includes scintillation) and additional losses [dB].
    roll_off : float
        Pulse roll-off ``alpha``; the symbol rate is ``B / (1 + alpha)``.
    modcod_table : {"dvb-s2", "dvb-s2x"}
        MODCOD table for adaptive coding and modulation.
    acm_margin_db : float
        Margin [dB] ACM keeps below the SNR when choosing a MODCOD.
    link_type : {"ground", "isl"}
        Ground links see the atmosphere and need an elevation; ISLs do not.
    name, source, status : str
        Identification, citation and whether the figures are specified/measured/simulated/
        estimated.
    """

    frequency_ghz: float
    bandwidth_hz: float
    tx_power_dbw: float | None = None
    tx_antenna_gain_dbi: float = 0.0
    tx_loss_db: float = 0.0
    eirp_dbw: float | None = None
    rx_antenna_gain_dbi: float = 0.0
    rx_loss_db: float = 0.0
    g_over_t_db_k: float | None = None
    system_noise_temperature_k: float | None = None
    noise_figure_db: float | None = None
    antenna_temperature_k: float = REFERENCE_TEMPERATURE_K
    pointing_loss_db: float = 0.0
    polarization_loss_db: float = 0.0
    implementation_loss_db: float = 0.0
    gaseous_zenith_loss_db: float = 0.0
    shadow_margin_db: float = 0.0
    scintillation_loss_db: float = 0.0
    additional_loss_db: float = 0.0
    roll_off: float = 0.0
    modcod_table: str = "dvb-s2x"
    acm_margin_db: float = 0.0
    link_type: str = "ground"
    name: str = "custom"
    source: str = "user-supplied"
    status: str = "user-supplied"

    def __post_init__(self) -> None:
        check_positive(self.frequency_ghz, "frequency_ghz")
        check_positive(self.bandwidth_hz, "bandwidth_hz")
        if (self.tx_power_dbw is None) == (self.eirp_dbw is None):
            raise ValueError(
                "give exactly one of tx_power_dbw (with tx_antenna_gain_dbi and tx_loss_db) "
                f"and eirp_dbw; got tx_power_dbw={self.tx_power_dbw!r}, eirp_dbw={self.eirp_dbw!r}"
            )
        receivers = [
            v
            for v in (self.g_over_t_db_k, self.system_noise_temperature_k, self.noise_figure_db)
            if v is not None
        ]
        if len(receivers) != 1:
            raise ValueError(
                "give exactly one of g_over_t_db_k, system_noise_temperature_k and "
                f"noise_figure_db; got {len(receivers)}"
            )
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith(("_db", "_dbw", "_dbi", "_db_k", "_k")) and value is not None:
                check_real_number(value, field.name)
            if field.name.endswith("loss_db") or field.name.endswith("margin_db"):
                if value < 0.0:
                    raise ValueError(f"{field.name} must be >= 0 dB (a loss), got {value!r}")
        if self.system_noise_temperature_k is not None:
            check_positive(self.system_noise_temperature_k, "system_noise_temperature_k")
        if self.noise_figure_db is not None and self.noise_figure_db < 0.0:
            raise ValueError(f"noise_figure_db must be >= 0 dB, got {self.noise_figure_db!r}")
        check_positive(self.antenna_temperature_k, "antenna_temperature_k")
        roll_off = check_real_number(self.roll_off, "roll_off")
        if not 0.0 <= roll_off <= 1.0:
            raise ValueError(f"roll_off must lie in [0, 1], got {roll_off!r}")
        modcod_table(self.modcod_table)
        check_choice(self.link_type, LINK_TYPES, "link_type")
        check_choice(self.status, STATUSES, "status")

    # -- presets ------------------------------------------------------------------------------
    @staticmethod
    def preset(name: str) -> LinkBudget:
        """A named budget with its ``source``; see :meth:`presets` for the names."""
        from spikesat.channels.budget_presets import BUDGETS

        return BUDGETS.create(name)

    @staticmethod
    def presets() -> list[str]:
        """The names of the preset budgets."""
        from spikesat.channels.budget_presets import BUDGETS

        return BUDGETS.names()

    def replace(self, **changes: object) -> LinkBudget:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- derived figures ----------------------------------------------------------------------
    @property
    def eirp(self) -> float:
        """Effective isotropic radiated power [dBW]."""
        if self.eirp_dbw is not None:
            return float(self.eirp_dbw)
        return float(self.tx_power_dbw + self.tx_antenna_gain_dbi - self.tx_loss_db)

    @property
    def noise_temperature_k(self) -> float | None:
        """System noise temperature [K] (None when the receiver is given as G/T)."""
        if self.system_noise_temperature_k is not None:
            return float(self.system_noise_temperature_k)
        if self.noise_figure_db is not None:
            factor = 10.0 ** (self.noise_figure_db / 10.0)
            return self.antenna_temperature_k + REFERENCE_TEMPERATURE_K * (factor - 1.0)
        return None

    @property
    def g_over_t(self) -> float:
        """Receiver figure of merit G/T [dB/K]."""
        if self.g_over_t_db_k is not None:
            return float(self.g_over_t_db_k)
        return float(self.rx_antenna_gain_dbi - lin_to_db(self.noise_temperature_k))

    @property
    def symbol_rate_hz(self) -> float:
        """Symbol rate ``B / (1 + roll_off)`` [symbol/s]."""
        return self.bandwidth_hz / (1.0 + self.roll_off)

    def losses_db(
        self, elevation_deg: object = None, atmosphere: Atmosphere | None = None
    ) -> np.ndarray | float:
        """All losses beyond free space [dB] at ``elevation_deg`` (ground links)."""
        fixed = (
            self.rx_loss_db
            + self.pointing_loss_db
            + self.polarization_loss_db
            + self.implementation_loss_db
            + self.shadow_margin_db
            + self.additional_loss_db
        )
        if self.link_type == "isl":
            return fixed + self.scintillation_loss_db
        if elevation_deg is None:
            raise ValueError(
                f"budget {self.name!r} is a ground link: pass elevation_deg (the elevation of "
                "the satellite above the station's horizon, in degrees)"
            )
        elevation = check_elevation_deg(elevation_deg)
        if (elevation <= 0.0).any():
            raise ValueError(
                f"elevation_deg={elevation[elevation <= 0.0][:3].tolist()}: a ground link needs "
                "the satellite above the horizon (elevation > 0 deg)"
            )
        if atmosphere is not None:
            atmospheric = np.asarray(atmosphere.attenuation_db(self.frequency_ghz, elevation))
            scintillation = 0.0 if atmosphere.includes_scintillation else self.scintillation_loss_db
            return fixed + atmospheric + scintillation
        if self.gaseous_zenith_loss_db > 0.0:
            if (elevation < COSECANT_LAW_MIN_ELEVATION_DEG).any():
                raise ValueError(
                    f"elevation_deg={elevation[elevation < 10.0][:3].tolist()} is below 10 deg, "
                    "where the cosecant law of TR 38.811 eq. (6.6-8) for the gaseous loss is "
                    "not valid; pass an ItuAtmosphere (valid from 5 deg) or a higher elevation"
                )
            gaseous = self.gaseous_zenith_loss_db / np.sin(np.radians(elevation))
        else:
            gaseous = np.zeros_like(elevation)
        return fixed + gaseous + self.scintillation_loss_db

    def cn0_dbhz(
        self,
        distance_km: object,
        elevation_deg: object = None,
        atmosphere: Atmosphere | None = None,
    ) -> np.ndarray | float:
        """Carrier-to-noise-density ratio C/N0 [dB-Hz].

        Parameters
        ----------
        distance_km : float or array
            Link distance [km], > 0.
        elevation_deg : float or array, optional
            Elevation [deg] (ground links; ignored for ISLs).
        atmosphere : Atmosphere, optional
            An ITU-R model replacing the cosecant-law gaseous term (and the fixed scintillation
            loss if it includes scintillation).
        """
        distance = check_distance_km(distance_km)
        fspl = free_space_path_loss_db(distance, self.frequency_ghz)
        elevation = None if self.link_type == "isl" else elevation_deg
        losses = self.losses_db(elevation, atmosphere)
        value = self.eirp - fspl - losses + self.g_over_t - BOLTZMANN_DBW_PER_K_HZ
        value = np.asarray(value, dtype=np.float64)
        return float(value) if value.ndim == 0 else value

    def cnr_db(
        self,
        distance_km: object,
        elevation_deg: object = None,
        atmosphere: Atmosphere | None = None,
    ) -> np.ndarray | float:
        """Carrier-to-noise ratio in the bandwidth ``B`` [dB] (TR 38.821's CNR)."""
        cn0 = np.asarray(self.cn0_dbhz(distance_km, elevation_deg, atmosphere))
        value = cn0 - 10.0 * math.log10(self.bandwidth_hz)
        return float(value) if value.ndim == 0 else value

    def snr_db(
        self,
        distance_km: object,
        elevation_deg: object = None,
        atmosphere: Atmosphere | None = None,
    ) -> np.ndarray | float:
        """Es/N0 per complex symbol [dB]: ``CNR + 10 log10(1 + roll_off)``.

        This is the SNR of the channel layers (mean signal power per complex symbol over noise
        power per complex symbol) and the quantity the MODCOD thresholds are quoted in.
        """
        cn0 = np.asarray(self.cn0_dbhz(distance_km, elevation_deg, atmosphere))
        value = cn0 - 10.0 * math.log10(self.symbol_rate_hz)
        return float(value) if value.ndim == 0 else value

    def capacity_bps(
        self,
        distance_km: object,
        elevation_deg: object = None,
        atmosphere: Atmosphere | None = None,
    ) -> np.ndarray | float:
        """Shannon capacity ``B log2(1 + CNR)`` [bit/s]."""
        cnr = np.asarray(self.cnr_db(distance_km, elevation_deg, atmosphere))
        value = self.bandwidth_hz * np.log2(1.0 + 10.0 ** (cnr / 10.0))
        return float(value) if value.ndim == 0 else value

    def achievable_rate_bps(
        self,
        distance_km: object,
        elevation_deg: object = None,
        atmosphere: Atmosphere | None = None,
    ) -> np.ndarray | float:
        """Information rate [bit/s] of the MODCOD ACM picks (0 below every threshold)."""
        snr = self.snr_db(distance_km, elevation_deg, atmosphere)
        table = modcod_table(self.modcod_table)
        value = table.spectral_efficiency(snr, self.acm_margin_db) * self.symbol_rate_hz
        return float(value) if np.ndim(value) == 0 else value
