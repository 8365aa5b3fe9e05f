"""Surrogate gradients from snnTorch, wrapped as picklable callables.

snnTorch's ``surrogate.atan()`` and friends return closures, which ``torch.save`` cannot
pickle. These small classes call the very same ``torch.autograd.Function`` of snnTorch
(``ATan``, ``FastSigmoid``, ``Sigmoid``, ``Triangular``, ``StraightThroughEstimator``), so a
spiking network keeps snnTorch's surrogate and still round-trips through ``torch.save``.
"""

from __future__ import annotations

import torch
from snntorch import surrogate as sg

from spikesat._registry import Registry

SURROGATES: Registry[object] = Registry("surrogate gradient")


@SURROGATES.register("atan")
class ATan:
    """snnTorch ``ATan``: Heaviside forward, ``alpha / 2 / (1 + (pi/2 alpha U)^2)`` backward."""

    def __init__(self, alpha: float = 2.0) -> None:
        self.alpha = float(alpha)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return sg.ATan.apply(x, self.alpha)


@SURROGATES.register("fast_sigmoid")
class FastSigmoid:
    """snnTorch ``FastSigmoid``: backward ``1 / (slope |U| + 1)^2``."""

    def __init__(self, slope: float = 25.0) -> None:
        self.slope = float(slope)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return sg.FastSigmoid.apply(x, self.slope)


@SURROGATES.register("sigmoid")
class Sigmoid:
    """snnTorch ``Sigmoid``: backward is the derivative of ``sigmoid(slope U)``."""

    def __init__(self, slope: float = 25.0) -> None:
        self.slope = float(slope)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return sg.Sigmoid.apply(x, self.slope)


@SURROGATES.register("triangular")
class Triangular:
    """snnTorch ``Triangular``: a triangular backward window around the threshold."""

    def __init__(self, threshold: float = 1.0) -> None:
        self.threshold = float(threshold)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return sg.Triangular.apply(x, self.threshold)


@SURROGATES.register("straight_through")
class StraightThrough:
    """snnTorch ``StraightThroughEstimator``: the gradient passes unchanged."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return sg.StraightThroughEstimator.apply(x)


def list_surrogates() -> list[str]:
    """Names accepted by ``surrogate=`` arguments."""
    return SURROGATES.names()
