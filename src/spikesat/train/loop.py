"""Supervised training and fine-tuning: AdamW, warm-up + cosine schedule, augmentation,
checkpoints with exact resume, a rich progress bar and a JSON-ready history."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikesat._progress import progress_bar
from spikesat.train.augment import augment_batch


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
        Seed of the shuffling and the augmentation.
    device : str
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
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
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")


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


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available; use 'auto'")
    return torch.device(device)


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
    params = list(parameters) if parameters is not None else list(model.parameters())
    optimiser = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(images) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    warmup_steps = int(cfg.warmup_epochs * steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, _WarmupCosine(warmup_steps, total_steps)
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    result = TrainResult(device=str(device))
    start_epoch = 0
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if torch.cuda.is_available() and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        result.history = state["history"]
        start_epoch = state["epoch"]
    began = time.time()
    with progress_bar(progress, transient=False) as bar:
        task = bar.add_task("training", total=total_steps, completed=start_epoch * steps_per_epoch)
        last_epoch = (
            cfg.epochs
            if stop_after_epochs is None
            else min(cfg.epochs, start_epoch + stop_after_epochs)
        )
        for epoch in range(start_epoch, last_epoch):
            model.train()
            order = torch.randperm(len(images), generator=gen)
            loss_sum, correct = 0.0, 0
            for start in range(0, len(images), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                x = images[idx]
                if cfg.augment:
                    x = augment_batch(x, gen)
                x, y = x.to(device), labels[idx].to(device)
                logits = model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                loss_sum += loss.item() * len(idx)
                correct += (logits.argmax(1) == y).sum().item()
                bar.update(
                    task,
                    advance=1,
                    description=f"epoch {epoch + 1}/{cfg.epochs} loss {loss.item():.3f}",
                )
            record = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / len(images),
                "train_accuracy": correct / len(images),
                "lr": schedule.get_last_lr()[0],
            }
            if val_data is not None:
                val = evaluate(model, val_data, device=str(device))
                record.update(val_accuracy=val["accuracy"], val_loss=val["loss"])
            result.history.append(record)
            if checkpoint_path is not None:
                _save_state(
                    checkpoint_path, model, optimiser, schedule, gen, result.history, epoch + 1
                )
    result.wall_time_s = time.time() - began
    if result.history and "val_accuracy" in result.history[-1]:
        result.val_accuracy = result.history[-1]["val_accuracy"]
    return result


class _WarmupCosine:
    """Learning-rate factor: linear warm-up then cosine decay to zero (picklable)."""

    def __init__(self, warmup_steps: int, total_steps: int) -> None:
        self.warmup_steps = warmup_steps
        self.total_steps = max(total_steps, 1)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _save_state(path, model, optimiser, schedule, gen, history, epoch) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "schedule": schedule.state_dict(),
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "history": history,
            "epoch": epoch,
        },
        tmp,
    )
    tmp.replace(path)
