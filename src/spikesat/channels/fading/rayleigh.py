"""Rayleigh fading: ``h ~ CN(0, 1)``, no line of sight."""

from __future__ import annotations

import numpy as np
import torch

from spikesat.channels.fading.base import CHANNELS, FadingChannel, complex_normal


@CHANNELS.register("rayleigh")
class Rayleigh(FadingChannel):
    """Rayleigh fading ``h ~ CN(0, 1)``: ``|h|^2`` is exponential with mean 1.

    Parameters
    ----------
    block_size : int or None
        Symbols per independent fading block; ``None`` = one draw per example.
    signal_power : {"measured", "unit"}
        How the signal power in the SNR is obtained.
    seed : int
        Seed of the module's own sequence of draws.
    """

    def __init__(
        self, block_size: int | None = None, signal_power: str = "measured", seed: int = 0
    ) -> None:
        super().__init__(block_size=block_size, signal_power=signal_power, seed=seed)

    def sample_coefficients(
        self,
        batch_size: int,
        num_blocks: int,
        generator: torch.Generator,
        dtype: torch.dtype,
        device: torch.device,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return complex_normal((batch_size, num_blocks), generator, dtype, device), {}

    def mean_power_gain(self) -> float:
        return 1.0

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """``1 - exp(-g)`` for ``g >= 0``."""
        g = np.clip(np.asarray(gain, dtype=np.float64), 0.0, None)
        return -np.expm1(-g)
