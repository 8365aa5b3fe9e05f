"""ResNet-9 for 64 x 64 patches: a small BatchNorm-ReLU residual CNN that learns EuroSAT fast.

After the ResNet-9 of Page's DAWNBench CIFAR-10 runs (``prep``, three conv-BN-ReLU-pool stages,
two residual units), at half width and with a stride-2 stem so that a 64 x 64 patch costs about
what a 32 x 32 one does. Each residual unit is ``relu(x + bn(conv(relu(bn(conv(x))))))``, so
every activation is a ReLU and every convolution is followed by a BatchNorm: the whole network
converts to integrate-and-fire neurons (:func:`spikesat.snn.convert_onboard`).

Stages: ``stem`` (3x3 conv stride 2), ``layer1`` (conv, pool, residual unit), ``layer2`` (conv,
pool), ``layer3`` (conv, pool, residual unit), ``pool`` (global average, flatten) and the MLP
``head``. A 64 x 64 input gives 32, 16, 8 and 4 pixels after the stem and the three layers.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from spikesat.models.head import task_head
from spikesat.models.lam import LAM
from spikesat.models.registry import register_model


def conv_bn_relu(in_ch: int, out_ch: int, stride: int = 1, pool: bool = False) -> nn.Sequential:
    """3x3 convolution, BatchNorm, ReLU and an optional 2x2 max-pool."""
    layers = OrderedDict(
        conv=nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False),
        bn=nn.BatchNorm2d(out_ch),
        act=nn.ReLU(),
    )
    if pool:
        layers["pool"] = nn.MaxPool2d(2)
    return nn.Sequential(layers)


class ResidualUnit(nn.Module):
    """``relu(x + bn2(conv2(relu(bn1(conv1(x))))))``: ``[B, C, H, W]`` -> ``[B, C, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.act2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.bn1(self.conv1(x)))
        return self.act2(x + self.bn2(self.conv2(y)))


@register_model("resnet9")
def resnet9(
    in_chans: int = 3,
    num_classes: int = 10,
    width: int = 32,
    head_hidden: int = 256,
) -> LAM:
    """ResNet-9 at ``width`` (32: 1.6 M parameters, about 95 M MACs at 64 x 64)."""
    w = width
    stages = OrderedDict(
        stem=conv_bn_relu(in_chans, w, stride=2),
        layer1=nn.Sequential(conv_bn_relu(w, 2 * w, pool=True), ResidualUnit(2 * w)),
        layer2=conv_bn_relu(2 * w, 4 * w, pool=True),
        layer3=nn.Sequential(conv_bn_relu(4 * w, 8 * w, pool=True), ResidualUnit(8 * w)),
        pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        head=task_head(8 * w, num_classes, hidden=head_hidden),
    )
    config = dict(in_chans=in_chans, num_classes=num_classes, width=width, head_hidden=head_hidden)
    return LAM("resnet9", stages, config=config)
