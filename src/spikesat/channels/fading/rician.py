"""Rician fading: a line-of-sight component plus Rayleigh scatter, Rice factor K."""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from spikesat.channels._checks import check_real_number
from spikesat.channels.fading.base import CHANNELS, CoefficientDraw, Coefficients, FadingChannel


def check_k_factor(k_factor: object) -> float:
    """Return the Rice factor ``K`` (linear) as a float, or raise if it is not finite and >= 0."""
    k = check_real_number(k_factor, "k_factor")
    if k < 0.0:
        raise ValueError(
            f"k_factor must be >= 0 (linear LOS-to-scatter power ratio), got {k!r}; "
            "convert a K in dB with 10 ** (k_db / 10)"
        )
    return k


def rician_power_gain_cdf(gain: np.ndarray, k_factor: float) -> np.ndarray:
    """CDF of the power gain ``|h|^2`` of unit-mean-power Rician fading with factor ``K``.

    ``2 (K+1) |h|^2`` is noncentral chi-square with 2 degrees of freedom and ``nc = 2K``
    (exponential, ``1 - exp(-g)``, for ``K = 0``).
    """
    g = np.clip(np.asarray(gain, dtype=np.float64), 0.0, None)
    if k_factor == 0.0:
        return -np.expm1(-g)
    return stats.ncx2.cdf(2.0 * (k_factor + 1.0) * g, 2, 2.0 * k_factor)


@CHANNELS.register("rician")
class Rician(FadingChannel):
    """Rician fading ``h = sqrt(K/(K+1)) e^{j phi} + sqrt(1/(K+1)) CN(0, 1)``, ``E|h|^2 = 1``.

    The LOS phase ``phi`` is uniform and drawn per block. ``K = 0`` is Rayleigh.

    Parameters
    ----------
    k_factor : float
        Rice factor ``K`` (linear, LOS power over scattered power), >= 0.
    block_size, signal_power, seed
        As in :class:`FadingChannel`.
    """

    def __init__(
        self,
        k_factor: float = 10.0,
        block_size: int | None = None,
        signal_power: str = "measured",
        seed: int = 0,
    ) -> None:
        super().__init__(block_size=block_size, signal_power=signal_power, seed=seed)
        self.k_factor = check_k_factor(k_factor)

    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        k = self.k_factor
        los = draw.uniform_phase() * (k / (k + 1.0)) ** 0.5
        scatter = draw.complex_normal() * (1.0 / (k + 1.0)) ** 0.5
        return los + scatter, {}

    def mean_power_gain(self) -> float:
        return 1.0

    def mean_envelope(self) -> float:
        """``E|h| = sqrt(pi / (4 (K+1))) L_{1/2}(-K)`` (Laguerre polynomial of order 1/2)."""
        k = self.k_factor
        laguerre = np.exp(-k / 2.0) * ((1.0 + k) * special.i0(k / 2.0) + k * special.i1(k / 2.0))
        return float(np.sqrt(np.pi / (4.0 * (k + 1.0))) * laguerre)

    def second_moment_power(self) -> float:
        """``E|h|^4 = (K^2 + 4K + 2) / (K + 1)^2``."""
        k = self.k_factor
        return (k * k + 4.0 * k + 2.0) / (k + 1.0) ** 2

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """See :func:`rician_power_gain_cdf`."""
        return rician_power_gain_cdf(gain, self.k_factor)

    def extra_repr(self) -> str:
        return f"k_factor={self.k_factor}, " + super().extra_repr()
