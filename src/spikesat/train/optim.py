"""AdamW with a per-step learning-rate schedule: linear warm-up, then cosine decay to a floor."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


class WarmupCosine:
    """Learning-rate factor of step ``s``: linear warm-up, then cosine decay to ``floor``.

    ``f(s) = (s + 1) / W`` for ``s < W``, else
    ``floor + (1 - floor) * (1 + cos(pi * min((s - W) / max(S - W, 1), 1))) / 2``
    with ``W = warmup_steps`` and ``S = max(total_steps, 1)``. Picklable (no closure), so a
    ``LambdaLR`` built on it checkpoints.

    Parameters
    ----------
    warmup_steps : int
        Steps of the linear warm-up (0 for none).
    total_steps : int
        Steps of the whole run; the factor stays at ``floor`` after them.
    floor : float
        Final factor, in [0, 1).
    """

    def __init__(self, warmup_steps: int, total_steps: int, floor: float = 0.0) -> None:
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps!r}")
        if not 0.0 <= floor < 1.0:
            raise ValueError(f"floor must be in [0, 1), got {floor!r}")
        self.warmup_steps = warmup_steps
        self.total_steps = max(total_steps, 1)
        self.floor = floor

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        return self.floor + (1.0 - self.floor) * cosine


def warmup_cosine(
    optimiser: torch.optim.Optimizer, warmup_steps: int, total_steps: int, floor: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` on ``optimiser`` with the :class:`WarmupCosine` factor; step it every step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimiser, WarmupCosine(warmup_steps, total_steps, floor)
    )


def adamw_warmup_cosine(
    parameters: Iterable[nn.Parameter],
    *,
    lr: float,
    weight_decay: float,
    warmup_epochs: float,
    num_epochs: int,
    steps_per_epoch: int,
    betas: tuple[float, float] = (0.9, 0.999),
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW and its warm-up + cosine-to-zero schedule over ``num_epochs * steps_per_epoch`` steps.

    Parameters
    ----------
    parameters : iterable of nn.Parameter
        What the optimiser trains.
    lr : float
        Peak learning rate.
    weight_decay : float
        AdamW decoupled weight decay.
    warmup_epochs : float
        Warm-up length in epochs (``int(warmup_epochs * steps_per_epoch)`` steps).
    num_epochs, steps_per_epoch : int
        Length of the run.
    betas : tuple of float
        Adam's moment decay rates.

    Returns
    -------
    (AdamW, LambdaLR)
        The optimiser and the schedule (step it after every optimiser step).
    """
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, betas=betas)
    schedule = warmup_cosine(
        optimiser, int(warmup_epochs * steps_per_epoch), num_epochs * steps_per_epoch
    )
    return optimiser, schedule
