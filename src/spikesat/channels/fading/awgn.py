"""Additive white Gaussian noise: ``h = 1``."""

from __future__ import annotations

import numpy as np
import torch

from spikesat.channels.fading.base import CHANNELS, CoefficientDraw, Coefficients, FadingChannel


@CHANNELS.register("awgn")
class AWGN(FadingChannel):
    """The AWGN channel ``y = x + n`` (no fading).

    Parameters
    ----------
    signal_power, seed
        As in :class:`FadingChannel` (the seed drives the noise sequence).
    """

    def __init__(self, signal_power: str = "measured", seed: int = 0) -> None:
        super().__init__(block_size=None, signal_power=signal_power, seed=seed)

    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        return torch.ones(draw.shape, dtype=draw.dtype, device=draw.device), {}

    def mean_power_gain(self) -> float:
        return 1.0

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """A unit step at ``gain = 1``."""
        return (np.asarray(gain, dtype=np.float64) >= 1.0).astype(np.float64)
