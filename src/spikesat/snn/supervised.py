"""The supervised cross-entropy training shared by QCFS training and surrogate fine-tuning."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from spikesat.train.core import StepOutput, optimiser_step, run_epochs
from spikesat.train.rng import seeded_global_rng


def check_epochs_and_batch_size(epochs: object, batch_size: object) -> None:
    """Raise ``ValueError`` unless ``epochs`` and ``batch_size`` are positive integers."""
    for label, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")


def train_cross_entropy(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    optimiser: torch.optim.Optimizer,
    epochs: int,
    batch_size: int,
    seed: int,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> list[float]:
    """Train ``model`` in place on the cross-entropy of its logits, one pass per epoch.

    Each epoch draws shuffled minibatches (seeded by ``seed``), takes one ``optimiser`` step
    per minibatch and then one ``schedule`` step (if given). The model is left in eval mode.

    Parameters
    ----------
    model : nn.Module
        Maps inputs ``[B, ...]`` to logits ``[B, K]``; batches are moved to its device.
    inputs, labels : Tensor
        Training examples ``[N, ...]`` and class indices ``[N]``.
    optimiser : torch.optim.Optimizer
        Over ``model``'s parameters.
    epochs, batch_size : int
        Passes over the data and examples per step (checked by the callers).
    seed : int
        Seed of the shuffling and of torch's global generator during the training (dropout
        draws from it; the caller's state is restored afterwards).
    schedule : LRScheduler, optional
        Stepped once per epoch.

    Returns
    -------
    list of float
        Mean training loss of every epoch.
    """
    device = next(model.parameters()).device

    def step(idx: torch.Tensor) -> StepOutput:
        x, y = inputs[idx].to(device), labels[idx].to(device)
        loss = F.cross_entropy(model(x), y)
        optimiser_step(loss, optimiser)
        value = loss.item()
        return StepOutput({"loss": value}, {"loss": value * len(idx)})

    with seeded_global_rng(seed, device):
        history = run_epochs(
            model,
            step,
            num_examples=len(inputs),
            batch_size=batch_size,
            num_epochs=epochs,
            generator=torch.Generator().manual_seed(seed),
            end_epoch=None if schedule is None else lambda epoch, record: schedule.step(),
        )
    model.eval()
    return [record["loss"] for record in history]
