"""Training: supervised training and fine-tuning, and MAE self-supervised pretraining."""

from spikesat.train.augment import augment_batch
from spikesat.train.loop import TrainConfig, TrainResult, evaluate, fit, resolve_device
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
