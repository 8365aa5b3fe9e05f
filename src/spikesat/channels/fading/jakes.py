"""Time-correlated (Clarke/Jakes) fading with the Doppler of the orbital velocity.

The diffuse part is a sum of ``M`` sinusoids with Gaussian weights that discretises Clarke's
isotropic-scattering Doppler spectrum (R. H. Clarke, Bell Syst. Tech. J. 47(6), 1968; W. C.
Jakes, Microwave Mobile Communications, 1974):

``X(t) = sum_n g_n exp(j 2 pi f_D t cos(a_n))``, ``a_n = (2 pi n + theta) / M``,

with ``g_n ~ CN(0, 1/M)`` and ``theta`` uniform on ``[0, 2 pi)``, drawn per example. For any
``M`` the marginal is exactly ``CN(0, 1)`` (a sum of independent Gaussians) and the ensemble
autocorrelation is exactly Clarke's ``E[X(t) X*(t + tau)] = J0(2 pi f_D tau)`` (the random
offset ``theta`` spreads the arrival angles uniformly). A line-of-sight part of Rice factor
``K`` (its deterministic Doppler assumed pre-compensated, as the satellite's range-rate Doppler
is) can be added.

The maximum Doppler ``f_D = v f / c`` comes from the speed ``v`` of the satellite
(:func:`doppler_hz`; the orbital speed at 550 km is about 7.6 km/s, so ``f_D`` is about 51 kHz
at 2 GHz).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from spikesat.channels._checks import check_positive
from spikesat.channels.fading.base import CHANNELS, CoefficientDraw, Coefficients, FadingChannel
from spikesat.channels.fading.rician import check_k_factor, rician_power_gain_cdf
from spikesat.units import EARTH_MU_KM3_S2, EARTH_RADIUS_KM, SPEED_OF_LIGHT_M_S


def doppler_hz(velocity_km_s: object, frequency_ghz: float) -> np.ndarray | float:
    """Maximum Doppler shift ``f_D = v f / c`` [Hz] for a speed ``velocity_km_s`` [km/s]."""
    velocity = np.abs(np.asarray(velocity_km_s, dtype=np.float64))
    shift = velocity * 1e3 * check_positive(frequency_ghz, "frequency_ghz") * 1e9
    shift = shift / SPEED_OF_LIGHT_M_S
    return float(shift) if shift.ndim == 0 else shift


def circular_orbit_speed_km_s(altitude_km: float) -> float:
    """Speed [km/s] of a circular orbit at ``altitude_km``: ``sqrt(mu / (R_E + h))``."""
    return math.sqrt(
        EARTH_MU_KM3_S2 / (EARTH_RADIUS_KM + check_positive(altitude_km, "altitude_km"))
    )


@CHANNELS.register("jakes")
class Jakes(FadingChannel):
    """Time-correlated Rayleigh/Rician fading over the symbols of each example (Clarke/Jakes).

    Symbol ``n`` of an example (flattened in C order) is at time ``n / symbol_rate_hz``.

    Parameters
    ----------
    max_doppler_hz : float
        Maximum Doppler shift ``f_D`` [Hz], > 0; see :func:`doppler_hz` and :meth:`from_orbit`.
    symbol_rate_hz : float
        Symbol rate [symbols/s], > 0.
    k_factor : float
        Rice factor of a static LOS part (linear, >= 0); 0 = Rayleigh.
    num_sinusoids : int
        Sinusoids ``M`` per quadrature (>= 8).
    signal_power, seed
        As in :class:`FadingChannel` (the block size is 1: a coefficient per symbol).
    """

    def __init__(
        self,
        max_doppler_hz: float = 5.0e4,
        symbol_rate_hz: float = 1.0e7,
        k_factor: float = 0.0,
        num_sinusoids: int = 32,
        signal_power: str = "measured",
        seed: int = 0,
    ) -> None:
        super().__init__(block_size=1, signal_power=signal_power, seed=seed)
        self.max_doppler_hz = check_positive(max_doppler_hz, "max_doppler_hz")
        self.symbol_rate_hz = check_positive(symbol_rate_hz, "symbol_rate_hz")
        self.k_factor = check_k_factor(k_factor)
        if (
            isinstance(num_sinusoids, bool)
            or not isinstance(num_sinusoids, int)
            or num_sinusoids < 8
        ):
            raise ValueError(f"num_sinusoids must be an int >= 8, got {num_sinusoids!r}")
        self.num_sinusoids = num_sinusoids

    @classmethod
    def from_orbit(
        cls,
        altitude_km: float,
        frequency_ghz: float,
        symbol_rate_hz: float,
        **kwargs: object,
    ) -> Jakes:
        """Build with ``f_D`` from the circular-orbit speed at ``altitude_km``."""
        speed = circular_orbit_speed_km_s(altitude_km)
        return cls(doppler_hz(speed, frequency_ghz), symbol_rate_hz, **kwargs)

    @property
    def normalized_doppler(self) -> float:
        """``f_D T_s``: the Doppler in cycles per symbol."""
        return self.max_doppler_hz / self.symbol_rate_hz

    def autocorrelation(self, lag_symbols: np.ndarray) -> np.ndarray:
        """The model's ``E[h(t) h*(t + tau)]`` at ``tau = lag / R_s``.

        It is ``(K + J0(2 pi f_D tau)) / (K + 1)``.
        """
        tau_s = np.asarray(lag_symbols, dtype=np.float64) / self.symbol_rate_hz
        k = self.k_factor
        return (k + special.j0(2.0 * np.pi * self.max_doppler_hz * tau_s)) / (k + 1.0)

    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        m = self.num_sinusoids
        theta = 2.0 * math.pi * draw.rand((draw.batch_size, 1))
        weights = draw.complex_normal((draw.batch_size, m)) / math.sqrt(m)
        symbol_index = torch.arange(draw.num_blocks, dtype=draw.real_dtype, device=draw.device)
        phase_rate = 2.0 * math.pi * self.normalized_doppler * symbol_index.unsqueeze(0)
        diffuse = torch.zeros(draw.shape, dtype=draw.dtype, device=draw.device)
        for n in range(m):
            angle = (2.0 * math.pi * n + theta) / m
            phase = phase_rate * torch.cos(angle)
            rotation = torch.polar(torch.ones_like(phase), phase).to(draw.dtype)
            diffuse += weights[:, n : n + 1] * rotation
        k = self.k_factor
        los = draw.uniform_phase((draw.batch_size, 1))
        h = los * math.sqrt(k / (k + 1.0)) + diffuse * math.sqrt(1.0 / (k + 1.0))
        return h, {}

    def mean_power_gain(self) -> float:
        return 1.0

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """Marginal CDF of ``|h|^2``: Rician with factor ``K`` (exponential for ``K = 0``)."""
        return rician_power_gain_cdf(gain, self.k_factor)

    def extra_repr(self) -> str:
        return (
            f"max_doppler_hz={self.max_doppler_hz:.6g}, symbol_rate_hz={self.symbol_rate_hz:.6g}, "
            f"k_factor={self.k_factor}, num_sinusoids={self.num_sinusoids}, seed={self.seed}"
        )
