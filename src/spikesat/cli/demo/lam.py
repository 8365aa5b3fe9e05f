"""The demo's LAM: a small ViT trained once on the demo data and cached under ``SPIKESAT_CACHE``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import spikesat.models as models
from spikesat.cli._data import load_data_splits
from spikesat.train import TrainConfig, fit

DEMO_MODEL = "vit-micro-p8"
DEMO_SPLIT_AT = "blocks.1"
DEMO_NUM_TRAIN = 4000
DEMO_EPOCHS = 8


def in_batches(
    fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """``fn`` over ``images`` ``[N, ...]`` in batches, without gradients: outputs ``[N, ...]``."""
    with torch.no_grad():
        return torch.cat(
            [fn(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        )


def demo_lam(
    source: str,
    data_dir: str | Path | None,
    seed: int,
    progress: bool,
    num_train: int = DEMO_NUM_TRAIN,
    epochs: int = DEMO_EPOCHS,
) -> tuple[models.LAM, Any, dict[str, Any]]:
    """The demo's trained LAM and data: from the cache, or trained once and cached.

    Parameters
    ----------
    source : str
        A data source (see :func:`spikesat.data.load_source`).
    data_dir : path, optional
        The data's folder (EuroSAT root, or the image folder for ``source="folder"``).
    seed : int
        Seed of the data subset and the training.
    progress : bool
        Show a progress bar while training.
    num_train, epochs : int
        Size of the training run.

    Returns
    -------
    (LAM, Splits, dict)
        The model, its data and a record (``cached``, ``checkpoint``, training figures).
    """
    splits = load_data_splits(
        source, data_dir, num_train=num_train, num_test=min(1000, num_train), seed=seed
    )
    name = f"{DEMO_MODEL}-{splits.name}-n{num_train}-e{epochs}-seed{seed}.pt"
    path = models.cache_dir() / "demo" / name
    if path.is_file():
        lam, meta = models.load_checkpoint(path)
        meta = {**meta, "cached": True, "checkpoint": str(path)}
        return lam, splits, meta
    torch.manual_seed(seed)
    lam = models.create(DEMO_MODEL, in_chans=splits.in_chans, num_classes=len(splits.classes))
    config = TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, warmup_epochs=0.5, seed=seed)
    result = fit(lam, splits.train, splits.val, config, progress=progress)
    meta = {
        "train_wall_time_s": round(result.wall_time_s, 1),
        "val_accuracy": result.val_accuracy,
        "epochs": epochs,
        "num_train": len(splits.train[1]),
        "data": splits.name,
    }
    models.save_checkpoint(lam, path, meta=meta)
    return lam, splits, {**meta, "cached": False, "checkpoint": str(path)}
