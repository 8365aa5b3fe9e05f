"""ResNet-18, built on timm.

Stages: ``stem`` (7x7 conv, BN, ReLU, max-pool), ``layer1`` ... ``layer4``, ``pool``
(global average + flatten) and the MLP ``head``.
"""

from __future__ import annotations

from collections import OrderedDict

import timm
from torch import nn

from spikesat.models.head import task_head
from spikesat.models.lam import LAM
from spikesat.models.registry import register_model


@register_model("resnet18")
def resnet18(in_chans: int = 3, num_classes: int = 10, head_hidden: int = 256) -> LAM:
    """ResNet-18 (He et al. 2016; 11.2 M parameters in the backbone)."""
    net = timm.create_model("resnet18", pretrained=False, in_chans=in_chans, num_classes=0)
    stages = OrderedDict(
        stem=nn.Sequential(net.conv1, net.bn1, net.act1, net.maxpool),
        layer1=net.layer1,
        layer2=net.layer2,
        layer3=net.layer3,
        layer4=net.layer4,
        pool=net.global_pool,
        head=task_head(net.num_features, num_classes, hidden=head_hidden),
    )
    config = dict(in_chans=in_chans, num_classes=num_classes, head_hidden=head_hidden)
    return LAM("resnet18", stages, config=config)
