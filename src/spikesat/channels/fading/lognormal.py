"""Log-normal shadowing: the power gain in dB is Gaussian."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

from spikesat.channels._checks import check_real_number
from spikesat.channels.fading.base import (
    CHANNELS,
    NEPER_PER_DB,
    CoefficientDraw,
    Coefficients,
    FadingChannel,
    power_gain_db,
)


@CHANNELS.register("lognormal")
class LogNormal(FadingChannel):
    """Log-normal shadowing: ``10 log10 |h|^2 ~ N(mu, sigma_db^2)``, ``h`` real and positive.

    Parameters
    ----------
    sigma_db : float
        Standard deviation of the power gain [dB], >= 0.
    normalize : bool
        Choose ``mu = -sigma^2 ln(10) / 20`` so that ``E|h|^2 = 1`` (default); ``False`` gives
        ``mu = 0`` (median gain 0 dB, mean ``exp((sigma ln(10) / 10)^2 / 2)``).
    block_size, signal_power, seed
        As in :class:`FadingChannel` (a block is a shadowing block).
    """

    def __init__(
        self,
        sigma_db: float = 4.0,
        normalize: bool = True,
        block_size: int | None = None,
        signal_power: str = "measured",
        seed: int = 0,
    ) -> None:
        super().__init__(block_size=block_size, signal_power=signal_power, seed=seed)
        sigma = check_real_number(sigma_db, "sigma_db")
        if sigma < 0.0:
            raise ValueError(f"sigma_db must be >= 0 dB, got {sigma!r}")
        self.sigma_db = sigma
        self.normalize = bool(normalize)

    @property
    def mean_db(self) -> float:
        """The mean ``mu`` of the power gain [dB]."""
        return -(self.sigma_db**2) * NEPER_PER_DB / 2.0 if self.normalize else 0.0

    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        gain_db = self.mean_db + self.sigma_db * draw.randn()
        amplitude = torch.pow(10.0, gain_db / 20.0)
        return amplitude.to(draw.dtype), {"gain_db": gain_db}

    def mean_power_gain(self) -> float:
        return math.exp(self.mean_db * NEPER_PER_DB + (self.sigma_db * NEPER_PER_DB) ** 2 / 2.0)

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """``Phi((10 log10 g - mu) / sigma)``."""
        gain_db = power_gain_db(gain)
        if self.sigma_db == 0.0:
            return (gain_db >= self.mean_db).astype(np.float64)
        return special.ndtr((gain_db - self.mean_db) / self.sigma_db)

    def extra_repr(self) -> str:
        return f"sigma_db={self.sigma_db}, normalize={self.normalize}, " + super().extra_repr()
