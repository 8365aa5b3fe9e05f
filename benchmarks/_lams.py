"""LAMs the benchmarks train themselves on EuroSAT RGB land cover, cached under SPIKESAT_CACHE.

A zoo model without shipped weights is trained here with ``spikesat.train.fit`` on the whole
70% train split (or its first 1,000 scenes for a quick run), checkpointed every epoch and
resumed if interrupted, so a second run reads the cache.
"""

from __future__ import annotations

import time
from typing import Any

import spikesat.models as models
from spikesat.data import eurosat
from spikesat.train.loop import TrainConfig, fit


def trained_lam(
    name: str, epochs: int, seed: int = 0, quick: bool = False, lr: float = 2e-3
) -> tuple[Any, dict[str, Any]]:
    """Zoo model ``name`` trained ``epochs`` epochs on EuroSAT RGB (cached; resumed).

    Returns
    -------
    (lam, info)
        The model in eval mode, and ``epochs``, ``train_images``, ``wall_s_this_run``,
        ``checkpoint`` and the training ``history``.
    """
    lam = models.create(name, seed=seed)
    train = eurosat(split="train", seed=seed)
    if quick:
        images, labels = train.tensors()
        train = (images[:1000], labels[:1000])
    path = (
        models.cache_dir()
        / "benchmarks"
        / f"lam-{name}-eurosat-rgb-e{epochs}-s{seed}{'-quick' if quick else ''}.pt"
    )
    config = TrainConfig(epochs=epochs, batch_size=128, lr=lr, seed=seed, device="cpu")
    began = time.perf_counter()
    result = fit(lam, train, config=config, checkpoint_path=path, resume=True, progress=False)
    num = len(train[1]) if isinstance(train, tuple) else len(train)
    return lam.eval(), {
        "model": name,
        "epochs": epochs,
        "train_images": num,
        "wall_s_this_run": time.perf_counter() - began,
        "checkpoint": str(path),
        "history": result.history,
    }
