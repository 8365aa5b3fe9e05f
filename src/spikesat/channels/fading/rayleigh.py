"""Rayleigh fading: ``h ~ CN(0, 1)``, no line of sight."""

from __future__ import annotations

import numpy as np

from spikesat.channels.fading.base import CHANNELS, CoefficientDraw, Coefficients, FadingChannel


@CHANNELS.register("rayleigh")
class Rayleigh(FadingChannel):
    """Rayleigh fading ``h ~ CN(0, 1)``: ``|h|^2`` is exponential with mean 1.

    Parameters
    ----------
    block_size, signal_power, seed
        As in :class:`FadingChannel`.
    """

    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        return draw.complex_normal(), {}

    def mean_power_gain(self) -> float:
        return 1.0

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """``1 - exp(-g)`` for ``g >= 0``."""
        g = np.clip(np.asarray(gain, dtype=np.float64), 0.0, None)
        return -np.expm1(-g)
