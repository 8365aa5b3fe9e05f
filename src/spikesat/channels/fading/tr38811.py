"""3GPP TR 38.811 large-scale fading for NTN: LOS probability, shadow fading and clutter loss.

The basic path loss of TR 38.811 Section 6.6.2 is ``PL_b = FSPL + SF + CL(alpha, f)``. Over a
free-space budget this layer applies the extra loss ``SF + CL``: each draw is LOS with the
probability of Table 6.6.1-1; a LOS draw gets shadow fading ``SF ~ N(0, sigma_LOS^2)`` dB, a
NLOS draw ``SF ~ N(0, sigma_NLOS^2)`` dB plus the clutter loss ``CL``, from Tables 6.6.2-1
(dense urban), 6.6.2-2 (urban) and 6.6.2-3 (suburban and rural), for S-band and Ka-band.

Source: 3GPP TR 38.811 V15.4.0 (2020-09), "Study on New Radio (NR) to support non-terrestrial
networks", Tables 6.6.1-1, 6.6.2-1, 6.6.2-2 and 6.6.2-3 (simulated/measured values as given by
3GPP). The tables are given at elevations 10, 20, ..., 90 deg; between them this layer
interpolates linearly, and it refuses elevations outside [10, 90] deg and frequencies outside
the S-band (2-4 GHz) and Ka-band (17.7-40 GHz) ranges rather than extrapolating.

The mean power gain is not 1: clutter loss is a real mean loss, so ``snr_db`` is the
free-space SNR and the layer lowers it on average by :meth:`TR38811.mean_power_gain`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import special

from spikesat.channels._checks import check_elevation_deg, check_real_number
from spikesat.channels.fading.base import (
    CHANNELS,
    NEPER_PER_DB,
    CoefficientDraw,
    Coefficients,
    FadingChannel,
    power_gain_db,
)

TR38811_SOURCE = "3GPP TR 38.811 V15.4.0, Tables 6.6.1-1 and 6.6.2-1/-2/-3"

ELEVATION_GRID_DEG = np.arange(10.0, 91.0, 10.0)
"""The elevations [deg] at which TR 38.811 tabulates LOS probability, SF and CL."""

LOS_PROBABILITY = {
    "dense-urban": (0.282, 0.331, 0.398, 0.468, 0.537, 0.612, 0.738, 0.820, 0.981),
    "urban": (0.246, 0.386, 0.493, 0.613, 0.726, 0.805, 0.919, 0.968, 0.992),
    "suburban": (0.782, 0.869, 0.919, 0.929, 0.935, 0.940, 0.949, 0.952, 0.998),
    "rural": (0.782, 0.869, 0.919, 0.929, 0.935, 0.940, 0.949, 0.952, 0.998),
}
"""TR 38.811 Table 6.6.1-1: LOS probability vs elevation (suburban and rural share a row)."""


@dataclass(frozen=True)
class ShadowingTable:
    """Shadow-fading sigmas [dB] and NLOS clutter loss [dB] at 10, 20, ..., 90 deg."""

    sigma_los_db: tuple[float, ...]
    sigma_nlos_db: tuple[float, ...]
    clutter_loss_db: tuple[float, ...]
    source: str


_CL_URBAN_S = (34.3, 30.9, 29.0, 27.7, 26.8, 26.2, 25.8, 25.5, 25.5)
_CL_URBAN_KA = (44.3, 39.9, 37.5, 35.8, 34.6, 33.8, 33.3, 33.0, 32.9)
_SUBURBAN_S = ShadowingTable(
    (1.79, 1.14, 1.14, 0.92, 1.42, 1.56, 0.85, 0.72, 0.72),
    (8.93, 9.08, 8.78, 10.25, 10.56, 10.74, 10.17, 11.52, 11.52),
    (19.52, 18.17, 18.42, 18.28, 18.63, 17.68, 16.50, 16.30, 16.30),
    "TR 38.811 Table 6.6.2-3 (suburban and rural, S-band)",
)
_SUBURBAN_KA = ShadowingTable(
    (1.9, 1.6, 1.9, 2.3, 2.7, 3.1, 3.0, 3.6, 0.4),
    (10.7, 10.0, 11.2, 11.6, 11.8, 10.8, 10.8, 10.8, 10.8),
    (29.5, 24.6, 21.9, 20.0, 18.7, 17.8, 17.2, 16.9, 16.8),
    "TR 38.811 Table 6.6.2-3 (suburban and rural, Ka-band)",
)
SHADOWING_TABLES: dict[tuple[str, str], ShadowingTable] = {
    ("dense-urban", "s"): ShadowingTable(
        (3.5, 3.4, 2.9, 3.0, 3.1, 2.7, 2.5, 2.3, 1.2),
        (15.5, 13.9, 12.4, 11.7, 10.6, 10.5, 10.1, 9.2, 9.2),
        _CL_URBAN_S,
        "TR 38.811 Table 6.6.2-1 (dense urban, S-band)",
    ),
    ("dense-urban", "ka"): ShadowingTable(
        (2.9, 2.4, 2.7, 2.4, 2.4, 2.7, 2.6, 2.8, 0.6),
        (17.1, 17.1, 15.6, 14.6, 14.2, 12.6, 12.1, 12.3, 12.3),
        _CL_URBAN_KA,
        "TR 38.811 Table 6.6.2-1 (dense urban, Ka-band)",
    ),
    ("urban", "s"): ShadowingTable(
        (4.0,) * 9, (6.0,) * 9, _CL_URBAN_S, "TR 38.811 Table 6.6.2-2 (urban, S-band)"
    ),
    ("urban", "ka"): ShadowingTable(
        (4.0,) * 9, (6.0,) * 9, _CL_URBAN_KA, "TR 38.811 Table 6.6.2-2 (urban, Ka-band)"
    ),
    ("suburban", "s"): _SUBURBAN_S,
    ("suburban", "ka"): _SUBURBAN_KA,
    ("rural", "s"): _SUBURBAN_S,
    ("rural", "ka"): _SUBURBAN_KA,
}
"""Shadow fading and clutter loss per (scenario, band)."""

BANDS_GHZ = {"s": (2.0, 4.0), "ka": (17.7, 40.0)}
"""Frequency ranges [GHz] for which the S-band and Ka-band tables are used."""


def band_of(frequency_ghz: float) -> str:
    """The TR 38.811 table band (``"s"`` or ``"ka"``) for ``frequency_ghz``, or raise."""
    f = check_real_number(frequency_ghz, "frequency_ghz")
    for band, (low, high) in BANDS_GHZ.items():
        if low <= f <= high:
            return band
    raise ValueError(
        f"frequency_ghz={f!r} is outside the TR 38.811 tables: S-band 2-4 GHz or Ka-band "
        "17.7-40 GHz; the tables are not extrapolated to other bands"
    )


@CHANNELS.register("tr38811")
class TR38811(FadingChannel):
    """TR 38.811 large-scale fading: LOS/NLOS state, shadow fading and clutter loss.

    Parameters
    ----------
    scenario : {"dense-urban", "urban", "suburban", "rural"}
        The deployment scenario.
    frequency_ghz : float
        Carrier frequency [GHz]; selects the S-band or Ka-band table.
    elevation_deg : float or sequence
        Elevation angle(s) [deg] in [10, 90]: one value, or one per example (``[B]``).
    block_size, signal_power, seed
        As in :class:`FadingChannel`.
    """

    def __init__(
        self,
        scenario: str = "urban",
        frequency_ghz: float = 2.0,
        elevation_deg: float | np.ndarray = 30.0,
        block_size: int | None = None,
        signal_power: str = "measured",
        seed: int = 0,
    ) -> None:
        super().__init__(block_size=block_size, signal_power=signal_power, seed=seed)
        if scenario not in LOS_PROBABILITY:
            raise ValueError(
                f"unknown TR 38.811 scenario {scenario!r}; choose one of "
                f"{', '.join(LOS_PROBABILITY)}"
            )
        self.scenario = scenario
        self.frequency_ghz = float(frequency_ghz)
        self.band = band_of(frequency_ghz)
        self.table = SHADOWING_TABLES[(scenario, self.band)]
        self.elevation_deg = self._check_elevation(elevation_deg)

    @staticmethod
    def _check_elevation(elevation_deg: object) -> np.ndarray:
        elevation = check_elevation_deg(elevation_deg)
        if ((elevation < 10.0) | (elevation > 90.0)).any():
            raise ValueError(
                f"elevation_deg={elevation[(elevation < 10) | (elevation > 90)][:3].tolist()} is "
                "outside the TR 38.811 tables (10 to 90 deg); they are not extrapolated"
            )
        return elevation

    def parameters_at(self, elevation_deg: object) -> dict[str, np.ndarray]:
        """LOS probability, ``sigma_los_db``, ``sigma_nlos_db`` and ``clutter_loss_db`` at the
        given elevations (linear interpolation between the tabulated 10-degree steps)."""
        elevation = self._check_elevation(elevation_deg)
        t = self.table
        return {
            "los_probability": np.interp(
                elevation, ELEVATION_GRID_DEG, LOS_PROBABILITY[self.scenario]
            ),
            "sigma_los_db": np.interp(elevation, ELEVATION_GRID_DEG, t.sigma_los_db),
            "sigma_nlos_db": np.interp(elevation, ELEVATION_GRID_DEG, t.sigma_nlos_db),
            "clutter_loss_db": np.interp(elevation, ELEVATION_GRID_DEG, t.clutter_loss_db),
        }

    def _draw_amplitude(self, draw: CoefficientDraw, elevation_deg: np.ndarray) -> Coefficients:
        """Real amplitudes ``10^(-(SF + CL) / 20)`` ``[B, num_blocks]`` (``draw.real_dtype``)."""
        if elevation_deg.size not in (1, draw.batch_size):
            raise ValueError(
                f"elevation_deg has {elevation_deg.size} values for a batch of "
                f"{draw.batch_size}; give one elevation, or one per example"
            )
        params = self.parameters_at(elevation_deg)
        col = {
            k: torch.as_tensor(v, dtype=draw.real_dtype, device=draw.device).reshape(-1, 1)
            for k, v in params.items()
        }
        los = draw.rand() < col["los_probability"]
        z = draw.randn()
        shadow_db = torch.where(los, z * col["sigma_los_db"], z * col["sigma_nlos_db"])
        clutter_db = torch.where(
            los, torch.zeros_like(z), col["clutter_loss_db"].expand(draw.shape)
        )
        gain_db = -(shadow_db + clutter_db)
        info = {"los": los, "shadow_fading_db": shadow_db, "clutter_loss_db": clutter_db}
        return torch.pow(10.0, gain_db / 20.0), info

    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        amplitude, info = self._draw_amplitude(draw, self.elevation_deg)
        return amplitude.to(draw.dtype), info

    def sample_power_gain(
        self,
        num_samples: int,
        generator: torch.Generator,
        elevation_deg: np.ndarray | None = None,
    ) -> np.ndarray:
        """Independent power gains; ``elevation_deg`` gives one elevation per sample."""
        elevation = self.elevation_deg if elevation_deg is None else np.asarray(elevation_deg)
        draw = CoefficientDraw(num_samples, 1, generator, torch.complex128, torch.device("cpu"))
        amplitude, _ = self._draw_amplitude(draw, elevation.reshape(-1))
        return amplitude[:, 0].square().numpy()

    def mean_power_gain(self, elevation_deg: object | None = None) -> float | np.ndarray:
        """``p E[10^(-SF_LOS/10)] + (1 - p) 10^(-CL/10) E[10^(-SF_NLOS/10)]``."""
        params = self.parameters_at(self.elevation_deg if elevation_deg is None else elevation_deg)
        p = params["los_probability"]
        los = np.exp((params["sigma_los_db"] * NEPER_PER_DB) ** 2 / 2.0)
        nlos = 10.0 ** (-params["clutter_loss_db"] / 10.0) * np.exp(
            (params["sigma_nlos_db"] * NEPER_PER_DB) ** 2 / 2.0
        )
        mean = p * los + (1.0 - p) * nlos
        return float(mean) if mean.size == 1 else mean

    def power_gain_cdf(self, gain: np.ndarray, elevation_deg: object | None = None) -> np.ndarray:
        """``p Phi(g_dB / sigma_LOS) + (1 - p) Phi((g_dB + CL) / sigma_NLOS)`` (one elevation)."""
        params = self.parameters_at(self.elevation_deg if elevation_deg is None else elevation_deg)
        if params["los_probability"].size != 1:
            raise ValueError("power_gain_cdf needs a single elevation; pass elevation_deg=<float>")
        p, s_los, s_nlos, cl = (float(np.ravel(params[k])[0]) for k in params)
        gain_db = power_gain_db(gain)
        return p * special.ndtr(gain_db / s_los) + (1.0 - p) * special.ndtr((gain_db + cl) / s_nlos)

    def extra_repr(self) -> str:
        return (
            f"scenario={self.scenario!r}, band={self.band!r}, "
            f"elevation_deg={self.elevation_deg.tolist()}, " + super().extra_repr()
        )
