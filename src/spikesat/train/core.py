"""The one epoch / step loop of spikesat's trainers.

Every trainer (supervised :func:`~spikesat.train.fit`, MAE pretraining, codec training, QCFS
training and surrogate fine-tuning) draws a fresh permutation of its examples each epoch from
its own ``torch.Generator``, takes one step per minibatch of indices and averages the step
totals over the epoch. What a step computes is the trainer's own ``step`` function.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from spikesat.train.progress import ProgressFn


class StepOutput(NamedTuple):
    """What one training step reports.

    Attributes
    ----------
    metrics : dict of str to float
        The step's own figures, passed to the progress callback (at least ``"loss"``).
    totals : dict of str to float
        Sums over the step's examples (e.g. ``loss * batch_size``, correct count); the epoch
        record holds their sum over the epoch divided by the number of examples.
    """

    metrics: dict[str, float]
    totals: dict[str, float]


StepFn = Callable[[torch.Tensor], StepOutput]
"""``step(indices)``: one optimisation step on the examples ``indices`` ``[B]`` (int64)."""

EpochEndFn = Callable[[int, dict[str, float]], None]
"""``end_epoch(epoch, record)``, after every epoch (0-based ``epoch``); may add to ``record``."""


class WallTime:
    """An :data:`EpochEndFn` that records ``wall_time_s``: seconds since ``began``.

    Parameters
    ----------
    began : float
        Start of the run, from ``time.time()`` [s].
    """

    def __init__(self, began: float) -> None:
        self.began = began

    def __call__(self, epoch: int, record: dict[str, float]) -> None:
        record["wall_time_s"] = time.time() - self.began


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Minibatches in one pass over ``num_examples`` (the last one may be short)."""
    return math.ceil(num_examples / batch_size)


def optimiser_step(
    loss: torch.Tensor,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    max_grad_norm: float | None = None,
) -> None:
    """Back-propagate ``loss`` (a scalar) and take one ``optimiser`` (and ``schedule``) step.

    Gradients are cleared first (set to ``None``); with ``max_grad_norm`` the gradients of the
    optimiser's parameters are clipped to that total norm before the step.
    """
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        params = [p for group in optimiser.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimiser.step()
    if schedule is not None:
        schedule.step()


def run_epochs(
    model: nn.Module,
    step: StepFn,
    *,
    num_examples: int,
    batch_size: int,
    num_epochs: int,
    generator: torch.Generator,
    first_epoch: int = 0,
    stop_epoch: int | None = None,
    progress: ProgressFn | None = None,
    end_epoch: EpochEndFn | None = None,
    history: list[dict[str, float]] | None = None,
) -> list[dict[str, float]]:
    """Run epochs ``first_epoch .. stop_epoch - 1`` of a ``num_epochs`` run.

    Each epoch puts ``model`` in train mode, draws ``torch.randperm(num_examples,
    generator=generator)`` and calls ``step`` on consecutive slices of ``batch_size`` indices.

    Parameters
    ----------
    model : nn.Module
        Set to train mode at the start of every epoch.
    step : StepFn
        One optimisation step on the given example indices ``[B]``.
    num_examples, batch_size, num_epochs : int
        Size of the training set, examples per step and length of the whole run.
    generator : torch.Generator
        Draws the permutations (and whatever else ``step`` draws from it).
    first_epoch : int
        Epochs already done (a resumed run, with ``generator`` restored to that point).
    stop_epoch : int, optional
        Return before this epoch (default and at most: ``num_epochs``).
    progress : ProgressFn, optional
        Called after every step with the step count over the whole run.
    end_epoch : EpochEndFn, optional
        Called with each epoch's record before it is appended to ``history`` (evaluation,
        checkpoints).
    history : list of dict, optional
        The records so far (a resumed run); the new ones are appended to it in place.

    Returns
    -------
    list of dict
        ``history`` with one record per epoch run: ``{"epoch": 1-based epoch,
        **totals / num_examples}`` plus what ``end_epoch`` added.
    """
    per_epoch = steps_per_epoch(num_examples, batch_size)
    total_steps = num_epochs * per_epoch
    done = first_epoch * per_epoch
    history = [] if history is None else history
    last_epoch = num_epochs if stop_epoch is None else min(num_epochs, stop_epoch)
    for epoch in range(first_epoch, last_epoch):
        model.train()
        order = torch.randperm(num_examples, generator=generator)
        sums: dict[str, float] = {}
        for start in range(0, num_examples, batch_size):
            metrics, totals = step(order[start : start + batch_size])
            for key, value in totals.items():
                sums[key] = sums.get(key, 0.0) + value
            done += 1
            if progress is not None:
                progress(done, total_steps, metrics)
        record = {"epoch": epoch + 1, **{key: value / num_examples for key, value in sums.items()}}
        if end_epoch is not None:
            end_epoch(epoch, record)
        history.append(record)
    return history
