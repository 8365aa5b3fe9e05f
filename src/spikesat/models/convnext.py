"""ConvNeXt V2-Atto, the EoS-FM specialist backbone, built on timm.

Stages: ``stem`` (4x4 patchify + LayerNorm), ``stages.0`` ... ``stages.3``, ``pool``
(global average, LayerNorm, flatten) and the MLP ``head``. A 64x64 input gives feature
maps of 16x16, 8x8, 4x4 and 2x2 after the four stages.
"""

from __future__ import annotations

from collections import OrderedDict

import timm
import torch
from torch import nn

from spikesat.models.head import task_head
from spikesat.models.lam import LAM
from spikesat.models.registry import register_model


class PreLogits(nn.Module):
    """Run a timm classifier head up to its pre-logits: ``[B, C, H, W]`` -> ``[B, C]``."""

    def __init__(self, timm_head: nn.Module) -> None:
        super().__init__()
        self.timm_head = timm_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.timm_head(x, pre_logits=True)


@register_model("convnextv2-atto")
def convnextv2_atto(
    in_chans: int = 3,
    num_classes: int = 10,
    head_hidden: int = 256,
    drop_path_rate: float = 0.1,
) -> LAM:
    """ConvNeXt V2-Atto (widths 40/80/160/320, depths 2/2/6/2; 3.4 M parameters)."""
    net = timm.create_model(
        "convnextv2_atto",
        pretrained=False,
        in_chans=in_chans,
        num_classes=0,
        drop_path_rate=drop_path_rate,
    )
    stages = OrderedDict(
        stem=net.stem,
        stages=net.stages,
        pool=nn.Sequential(net.norm_pre, PreLogits(net.head)),
        head=task_head(net.num_features, num_classes, hidden=head_hidden),
    )
    config = dict(
        in_chans=in_chans,
        num_classes=num_classes,
        head_hidden=head_hidden,
        drop_path_rate=drop_path_rate,
    )
    return LAM("convnextv2-atto", stages, expand=("stages",), config=config)
