"""The demo's LAM: a small ViT trained on the demo data (shipped with the package, else cached).

The recipe: :func:`spikesat.train.fit` on the whole model, then the task head re-fitted on
the frozen backbone's pooled features (``HEAD_EPOCHS`` epochs of Adam), since the short joint
run leaves the head well short of what the features support.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import spikesat.models as models
from spikesat.cli._data import load_data_splits
from spikesat.cli.demo.weights import weights_path
from spikesat.snn.supervised import train_cross_entropy
from spikesat.train import TrainConfig, evaluate, fit

DEMO_MODEL = "vit-micro-p8"
DEMO_SPLIT_AT = "blocks.1"
DEMO_NUM_TRAIN = 4000
DEMO_EPOCHS = 8
HEAD_EPOCHS = 30
HEAD_LR = 1e-3


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
        The model (in eval mode), its data and a record (``cached``, ``shipped``,
        ``checkpoint``, training figures).
    """
    splits = load_data_splits(
        source, data_dir, num_train=num_train, num_test=min(1000, num_train), seed=seed
    )
    name = f"{DEMO_MODEL}-{splits.name}-n{num_train}-e{epochs}-h{HEAD_EPOCHS}-seed{seed}.pt"
    path, shipped = weights_path(name, models.cache_dir() / "demo")
    if path.is_file():
        lam, meta = models.load_checkpoint(path)
        meta = {**meta, "cached": True, "shipped": shipped, "checkpoint": str(path)}
        return lam.eval(), splits, meta
    lam = models.create(
        DEMO_MODEL, in_chans=splits.in_chans, num_classes=len(splits.classes), seed=seed
    )
    config = TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, warmup_epochs=0.5, seed=seed)
    result = fit(lam, splits.train, splits.val, config, progress=progress)
    joint_val = result.val_accuracy
    refit_head(lam, splits.train, seed)
    meta = {
        "train_wall_time_s": round(result.wall_time_s, 1),
        "val_accuracy_joint": joint_val,
        "val_accuracy": evaluate(lam, splits.val)["accuracy"],
        "epochs": epochs,
        "head_epochs": HEAD_EPOCHS,
        "num_train": len(splits.train[1]),
        "data": splits.name,
    }
    models.save_checkpoint(lam, path, meta=meta)
    return lam.eval(), splits, {**meta, "cached": False, "shipped": False, "checkpoint": str(path)}


def refit_head(lam: models.LAM, train: tuple[torch.Tensor, torch.Tensor], seed: int) -> None:
    """Re-fit ``lam.head`` in place on the frozen backbone's pooled training features.

    Parameters
    ----------
    lam : LAM
        A trained LAM; only its head changes.
    train : (Tensor, Tensor)
        Training images ``[N, C, H, W]`` and labels ``[N]``.
    seed : int
        Seed of the minibatch order.
    """
    lam.eval()
    features = in_batches(lam.forward_features, train[0])
    optimiser = torch.optim.Adam(lam.head.parameters(), lr=HEAD_LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=HEAD_EPOCHS)
    train_cross_entropy(
        lam.head, features, train[1], optimiser, HEAD_EPOCHS, 128, seed, schedule=schedule
    )
    lam.eval()
