"""Training: supervised training and fine-tuning, and MAE self-supervised pretraining.

The one training core that every spikesat trainer (also codec, QCFS and SNN training) runs on:
:mod:`~spikesat.train.core` (the epoch / step loop), :mod:`~spikesat.train.optim` (AdamW,
warm-up + cosine schedule), :mod:`~spikesat.train.device`, :mod:`~spikesat.train.checkpoint`
(resume state), :mod:`~spikesat.train.progress` and :mod:`~spikesat.train.rng`.
"""

from spikesat.train.augment import augment_batch
from spikesat.train.device import resolve_device
from spikesat.train.loop import TrainConfig, TrainResult, evaluate, fit
from spikesat.train.mae import MaskedAutoencoder, PretrainConfig, head_parameters, pretrain_mae
from spikesat.train.sources import Splits, list_sources, load_splits

__all__ = [
    "MaskedAutoencoder",
    "PretrainConfig",
    "Splits",
    "TrainConfig",
    "TrainResult",
    "augment_batch",
    "evaluate",
    "fit",
    "head_parameters",
    "list_sources",
    "load_splits",
    "pretrain_mae",
    "resolve_device",
]
