"""The demo's learned codec: a factorized codec trained for the demo LAM's task, cached."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from spikesat._progress import progress_bar
from spikesat.cli.demo.lam import in_batches
from spikesat.codecs import create
from spikesat.codecs.checkpoints import codec_cache_dir, load_codec, save_codec
from spikesat.codecs.training import CodecTrainConfig, train_codec

DEMO_CODEC = "factorized"
DEMO_LAMBDA = 5e-4
DEMO_CODEC_EPOCHS = 4


def demo_codec(
    split: Any,
    train: tuple[torch.Tensor, torch.Tensor],
    lam_checkpoint: str | Path,
    seed: int,
    progress: bool = True,
    epochs: int = DEMO_CODEC_EPOCHS,
) -> tuple[Any, dict[str, Any]]:
    """A factorized codec for the demo split, trained on its features (or loaded from the cache).

    Parameters
    ----------
    split : SplitModel
        The split LAM: ``.onboard`` makes the features, ``.remote`` (frozen) scores them.
    train : (Tensor, Tensor)
        Training images ``[N, C, H, W]`` and labels ``[N]``; their features are computed only
        when the codec has to be trained.
    lam_checkpoint : path
        The LAM's checkpoint; its file name keys the codec's cache entry.
    seed : int
        Seed of the codec's training.
    progress : bool
        Show a progress bar while training.
    epochs : int
        Training epochs.

    Returns
    -------
    (Codec, dict)
        The codec in eval mode, and ``cached``, ``train_wall_time_s``, ``lmbda``.
    """
    key = Path(lam_checkpoint).stem
    path = codec_cache_dir() / f"demo-{key}-{DEMO_CODEC}-lambda{DEMO_LAMBDA:g}-e{epochs}.pt"
    if path.is_file():
        codec, meta = load_codec(path)
        return codec, {**meta, "cached": True}
    train_features = in_batches(split.onboard, train[0])
    torch.manual_seed(seed)
    codec = create(DEMO_CODEC, int(train_features.shape[-1]))
    config = CodecTrainConfig(
        lmbda=DEMO_LAMBDA, num_epochs=epochs, batch_size=64, lr=5e-3, seed=seed, device="cpu"
    )
    began = time.time()
    with progress_bar(progress) as bar:
        task = bar.add_task(f"training the {DEMO_CODEC} codec", total=None)
        train_codec(codec, train_features, train[1], split.remote, config, _StepBar(bar, task))
    meta = {"lmbda": DEMO_LAMBDA, "train_wall_time_s": round(time.time() - began, 1)}
    save_codec(codec.eval(), path, meta=meta)
    return codec.eval(), {**meta, "cached": False}


class _StepBar:
    """Codec-training progress -> a rich bar."""

    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def __call__(self, step: int, total: int, metrics: dict[str, float]) -> None:
        self.bar.update(self.task, completed=step, total=total)
