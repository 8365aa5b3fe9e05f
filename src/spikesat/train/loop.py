"""Supervised training and fine-tuning: AdamW, warm-up + cosine schedule, augmentation,
checkpoints with exact resume, a rich progress bar and a JSON-ready history."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikesat._progress import progress_bar
from spikesat.train.augment import augment_batch
from spikesat.train.checkpoint import load_training_state, save_training_state
from spikesat.train.core import StepOutput, optimiser_step, run_epochs, steps_per_epoch
from spikesat.train.device import check_device, resolve_device
from spikesat.train.optim import adamw_warmup_cosine
from spikesat.train.progress import BarProgress
from spikesat.train.rng import seeded_global_rng


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`.

    Attributes
    ----------
    epochs : int
        Passes over the training set.
    batch_size : int
        Examples per step.
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        AdamW decoupled weight decay.
    warmup_epochs : float
        Linear warm-up length before the cosine decay to zero.
    label_smoothing : float
        Cross-entropy label smoothing.
    augment : bool
        Random dihedral symmetries and shifts (:func:`augment_batch`).
    seed : int
        Seed of the shuffling, the augmentation and the dropout / drop-path (torch's global
        generator is seeded inside :func:`fit` only, the caller's state restored after).
    device : str
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    augment: bool = True
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        check_device(self.device)


@dataclass
class TrainResult:
    """What :func:`fit` measured: per-epoch history and the final validation figures."""

    history: list[dict[str, float]] = field(default_factory=list)
    val_accuracy: float | None = None
    wall_time_s: float = 0.0
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def as_tensors(data: Any, images_only: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Accept ``(images, labels)`` tensors or a data set with ``.tensors()``.

    With ``images_only=False`` the inputs may be any ``[N, ...]`` tensor (e.g. split-point
    features) rather than images ``[N, C, H, W]``.
    """
    if hasattr(data, "tensors"):
        data = data.tensors()
    if not (isinstance(data, tuple | list) and len(data) == 2):
        raise TypeError(
            "training data must be (images [N,C,H,W], labels [N]) tensors or a data set with "
            f".tensors(), got {type(data).__name__}"
        )
    images, labels = data
    if (
        (images.ndim != 4 if images_only else images.ndim < 2)
        or labels.ndim != 1
        or len(images) != len(labels)
    ):
        raise ValueError(
            f"expected images [N,C,H,W] and labels [N], got {tuple(images.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if not torch.isfinite(images).all():
        raise ValueError("training images contain NaN or Inf; check the data loading")
    return images, labels.long()


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Any, batch_size: int = 256, device: str = "auto"
) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``data`` (eval mode).

    ``data`` is ``(inputs [N, ...], labels [N])`` or a data set with ``.tensors()``; the
    inputs are images or any features ``model`` takes (e.g. split-point features).

    Returns
    -------
    dict
        ``{"accuracy": float in [0, 1], "loss": float, "num_examples": int}``.
    """
    images, labels = as_tensors(data, images_only=False)
    dev = resolve_device(device)
    was_training = model.training
    model.eval().to(dev)
    correct, loss_sum = 0, 0.0
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(dev)
        y = labels[start : start + batch_size].to(dev)
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    model.train(was_training)
    return {
        "accuracy": correct / len(images),
        "loss": loss_sum / len(images),
        "num_examples": len(images),
    }


def fit(
    model: nn.Module,
    train_data: Any,
    val_data: Any | None = None,
    config: TrainConfig | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    parameters: list[nn.Parameter] | None = None,
    stop_after_epochs: int | None = None,
) -> TrainResult:
    """Train ``model`` with cross-entropy.

    Parameters
    ----------
    model : nn.Module
        Maps images ``[B, C, H, W]`` to logits ``[B, K]``.
    train_data, val_data
        ``(images, labels)`` tensors or data sets with ``.tensors()``.
    config : TrainConfig
        Hyper-parameters (defaults: :class:`TrainConfig`).
    checkpoint_path : path, optional
        Where the training state (model, optimiser, schedule, generators, history) is
        written after every epoch.
    resume : bool
        Continue from ``checkpoint_path`` if it exists; the result equals an uninterrupted
        run with the same seed.
    progress : bool
        Show a rich progress bar.
    parameters : list of nn.Parameter, optional
        Train only these (e.g. a linear probe); default: every parameter.
    stop_after_epochs : int, optional
        Return after this many epochs of this call (the schedule still spans
        ``config.epochs``); continue later with ``resume=True``.

    Returns
    -------
    TrainResult
    """
    cfg = config or TrainConfig()
    images, labels = as_tensors(train_data)
    device = resolve_device(cfg.device)
    model.to(device)
    per_epoch = steps_per_epoch(len(images), cfg.batch_size)
    optimiser, schedule = adamw_warmup_cosine(
        list(parameters) if parameters is not None else list(model.parameters()),
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_epochs=cfg.warmup_epochs,
        num_epochs=cfg.epochs,
        steps_per_epoch=per_epoch,
    )
    # Dropout and drop-path draw from torch's global generator: it is seeded with cfg.seed for
    # the training only (a resumed run restores it from the checkpoint, inside the same fork),
    # and the caller's state is restored on exit.
    with seeded_global_rng(cfg.seed, device):
        gen = torch.Generator().manual_seed(cfg.seed)
        result = TrainResult(device=str(device))
        start_epoch = 0
        if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
            result.history, start_epoch = load_training_state(
                checkpoint_path, model=model, optimiser=optimiser, schedule=schedule, generator=gen
            )

        def step(idx: torch.Tensor) -> StepOutput:
            x = augment_batch(images[idx], gen) if cfg.augment else images[idx]
            x, y = x.to(device), labels[idx].to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
            optimiser_step(loss, optimiser, schedule)
            value, correct = loss.item(), (logits.argmax(1) == y).sum().item()
            return StepOutput(
                {"loss": value}, {"train_loss": value * len(idx), "train_accuracy": correct}
            )

        epoch_began = [time.time()]

        def end_epoch(epoch: int, record: dict[str, float]) -> None:
            record["lr"] = schedule.get_last_lr()[0]
            if val_data is not None:
                val = evaluate(model, val_data, device=str(device))
                record.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
            now = time.time()
            record["epoch_time_s"] = now - epoch_began[0]  # training and validation
            epoch_began[0] = now
            if checkpoint_path is not None:
                save_training_state(
                    checkpoint_path,
                    model=model,
                    optimiser=optimiser,
                    schedule=schedule,
                    generator=gen,
                    history=[*result.history, record],
                    epoch=epoch + 1,
                )

        began = time.time()
        with progress_bar(progress, transient=False) as bar:
            run_epochs(
                model,
                step,
                num_examples=len(images),
                batch_size=cfg.batch_size,
                num_epochs=cfg.epochs,
                generator=gen,
                first_epoch=start_epoch,
                stop_epoch=None if stop_after_epochs is None else start_epoch + stop_after_epochs,
                progress=BarProgress(
                    bar, "training", cfg.epochs, per_epoch, start_epoch * per_epoch
                ),
                end_epoch=end_epoch,
                history=result.history,
            )
        result.wall_time_s = time.time() - began
        if result.history and "val_accuracy" in result.history[-1]:
            result.val_accuracy = result.history[-1]["val_accuracy"]
        return result
