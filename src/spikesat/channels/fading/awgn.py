"""Additive white Gaussian noise: ``h = 1``."""

from __future__ import annotations

import numpy as np
import torch

from spikesat.channels.fading.base import CHANNELS, FadingChannel


@CHANNELS.register("awgn")
class AWGN(FadingChannel):
    """The AWGN channel ``y = x + n`` (no fading).

    Parameters
    ----------
    signal_power : {"measured", "unit"}
        How the signal power in the SNR is obtained (see :class:`FadingChannel`).
    seed : int
        Seed of the module's own noise sequence.
    """

    def __init__(self, signal_power: str = "measured", seed: int = 0) -> None:
        super().__init__(block_size=None, signal_power=signal_power, seed=seed)

    def sample_coefficients(
        self,
        batch_size: int,
        num_blocks: int,
        generator: torch.Generator,
        dtype: torch.dtype,
        device: torch.device,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return torch.ones((batch_size, num_blocks), dtype=dtype, device=device), {}

    def mean_power_gain(self) -> float:
        return 1.0

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """A unit step at ``gain = 1``."""
        return (np.asarray(gain, dtype=np.float64) >= 1.0).astype(np.float64)
