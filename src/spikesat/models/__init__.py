"""The LAM zoo (timm-backed), exact split points and checkpoints.

>>> import spikesat.models as models
>>> lam = models.create("vit-micro-p8")
>>> sm = models.split(lam, at="blocks.2")
"""

from spikesat.data.cache import cache_dir
from spikesat.models import convnext, resnet, resnet9, vit  # noqa: F401  (register the families)
from spikesat.models.checkpoint import load_checkpoint, load_weights, save_checkpoint
from spikesat.models.ensemble import GATES, SpecialistEnsemble, ensemble
from spikesat.models.head import task_head
from spikesat.models.lam import LAM
from spikesat.models.macs import count_macs
from spikesat.models.pretrained import pretrained_info
from spikesat.models.registry import (
    MODELS,
    create,
    list_models,
    register_model,
    takes_image_size,
)
from spikesat.models.split import SplitModel, SplitPoint, split, split_points

__all__ = [
    "GATES",
    "LAM",
    "MODELS",
    "SpecialistEnsemble",
    "SplitModel",
    "SplitPoint",
    "cache_dir",
    "count_macs",
    "create",
    "ensemble",
    "list_models",
    "load_checkpoint",
    "load_weights",
    "pretrained_info",
    "register_model",
    "save_checkpoint",
    "split",
    "split_points",
    "takes_image_size",
    "task_head",
]
