"""``spikesat demo``: the whole data path on embedded defaults, one stage per row.

data -> LAM (trained once and cached) -> split -> on-board features -> remote -> accuracy.
Each later capability (orbits, channels, codecs, spiking heads, energy, federated rounds)
adds its own stage here, so the demo always shows the whole path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

import spikesat.models as models
from spikesat.train import TrainConfig, evaluate, fit, load_splits

DEMO_MODEL = "vit-micro-p8"
DEMO_SPLIT_AT = "blocks.1"
DEMO_NUM_TRAIN = 4000
DEMO_EPOCHS = 8


def demo_lam(
    source: str,
    data_dir: str | Path | None,
    seed: int,
    progress: bool,
    num_train: int = DEMO_NUM_TRAIN,
    epochs: int = DEMO_EPOCHS,
) -> tuple[models.LAM, Any, dict[str, Any]]:
    """The demo's trained LAM and data: from the cache, or trained (~2 min on 2 cores)."""
    splits = load_splits(
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


def run_demo(
    data_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    num_train: int = DEMO_NUM_TRAIN,
    epochs: int = DEMO_EPOCHS,
) -> dict[str, Any]:
    """Run every stage of the demo and return its results (JSON-ready).

    Parameters
    ----------
    data_dir : path, optional
        A EuroSAT RGB root (the folder holding ``2750/``); default: built-in synthetic scenes.
    seed : int
        Seed of the data and the training.
    progress : bool
        Show progress bars.
    num_train, epochs : int
        Size of the demo LAM's training run (the defaults take about two minutes).

    Returns
    -------
    dict
        ``{"stages": [{"stage", "what", "result"}, ...], "summary": {...}}``.
    """
    began = time.time()
    source = "synthetic" if data_dir is None else "eurosat"
    stages: list[dict[str, Any]] = []
    lam, splits, meta = demo_lam(source, data_dir, seed, progress, num_train, epochs)
    lam.eval()
    test_images, test_labels = splits.test
    stages.append(
        {
            "stage": "data",
            "what": splits.name,
            "result": f"{len(splits.train[1])} train / {len(test_labels)} test images "
            f"{tuple(test_images.shape[1:])}",
        }
    )
    params = sum(p.numel() for p in lam.parameters())
    stages.append(
        {
            "stage": "LAM",
            "what": f"{DEMO_MODEL} ({params / 1e6:.2f} M params)",
            "result": (
                "loaded from cache"
                if meta["cached"]
                else f"trained {meta['epochs']} epochs in {meta['train_wall_time_s']} s"
            ),
        }
    )
    point = next(
        p for p in models.split_points(lam, tuple(test_images.shape[1:])) if p.at == DEMO_SPLIT_AT
    )
    sm = models.split(lam, at=DEMO_SPLIT_AT)
    stages.append(
        {
            "stage": "split",
            "what": f"at {DEMO_SPLIT_AT}",
            "result": f"features {point.feature_shape}, {point.bytes_fp32} B fp32, "
            f"{point.onboard_macs / 1e6:.1f} M MACs on board",
        }
    )
    with torch.no_grad():
        features = torch.cat(
            [sm.onboard(test_images[i : i + 256]) for i in range(0, len(test_labels), 256)]
        )
    full = evaluate(lam, splits.test)
    split_acc = evaluate(sm.remote, (features, test_labels))
    stages.append(
        {
            "stage": "remote",
            "what": "ground-side inference on the features",
            "result": f"accuracy {100 * split_acc['accuracy']:.1f}% "
            f"(whole model {100 * full['accuracy']:.1f}%)",
        }
    )
    return {
        "stages": stages,
        "summary": {
            "data": splits.name,
            "model": DEMO_MODEL,
            "split_at": DEMO_SPLIT_AT,
            "split_point": point.to_dict(),
            "accuracy": split_acc["accuracy"],
            "accuracy_whole_model": full["accuracy"],
            "checkpoint": meta["checkpoint"],
            "wall_time_s": round(time.time() - began, 1),
        },
    }
