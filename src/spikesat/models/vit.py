"""Vision Transformers for 64x64 remote-sensing patches (patch size 8), built on timm.

timm's ``VisionTransformer`` supplies every layer; this module rearranges its parts into
LAM stages: ``patch_embed`` (patch projection, class token, position embedding),
``blocks.0`` ... ``blocks.{depth-1}``, ``norm``, ``pool`` (mean over patch tokens and
``fc_norm``) and the MLP ``head``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from timm.layers import global_pool_nlc
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from spikesat.models.head import task_head
from spikesat.models.lam import LAM
from spikesat.models.registry import register_model


class ViTEmbed(nn.Module):
    """Patch projection, class token and learned absolute position embedding.

    Takes images ``[B, C, H, W]`` and returns tokens ``[B, 1 + H*W/p^2, D]``; the same
    arithmetic, in the same order, as timm's ``VisionTransformer`` with a class token and
    ``no_embed_class=False``.
    """

    def __init__(self, vit: VisionTransformer) -> None:
        super().__init__()
        if vit.reg_token is not None or vit.no_embed_class or vit.dynamic_img_size:
            raise ValueError("ViTEmbed supports ViTs with a class token and no register tokens")
        self.patch_embed = vit.patch_embed
        self.cls_token = vit.cls_token
        self.pos_embed = vit.pos_embed
        self.pos_drop = vit.pos_drop
        self.patch_drop = vit.patch_drop
        self.norm_pre = vit.norm_pre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.pos_drop(x + self.pos_embed)
        return self.norm_pre(self.patch_drop(x))


class TokenPool(nn.Module):
    """Mean over patch tokens (class token excluded), then ``fc_norm``.

    Tokens ``[B, N, D]`` -> pooled features ``[B, D]``.
    """

    def __init__(self, vit: VisionTransformer) -> None:
        super().__init__()
        self.global_pool = vit.global_pool
        self.num_prefix_tokens = vit.num_prefix_tokens
        self.fc_norm = vit.fc_norm
        self.head_drop = vit.head_drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = global_pool_nlc(x, pool_type=self.global_pool, num_prefix_tokens=self.num_prefix_tokens)
        return self.head_drop(self.fc_norm(x))


def _vit(
    name: str,
    embed_dim: int,
    depth: int,
    num_heads: int,
    in_chans: int,
    num_classes: int,
    img_size: int = 64,
    head_hidden: int = 256,
    drop_path_rate: float = 0.1,
) -> LAM:
    vit = VisionTransformer(
        img_size=img_size,
        patch_size=8,
        in_chans=in_chans,
        num_classes=0,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        global_pool="avg",
        drop_path_rate=drop_path_rate,
    )
    stages = OrderedDict(
        patch_embed=ViTEmbed(vit),
        blocks=vit.blocks,
        norm=vit.norm,
        pool=TokenPool(vit),
        head=task_head(embed_dim, num_classes, hidden=head_hidden),
    )
    config = dict(
        in_chans=in_chans,
        num_classes=num_classes,
        img_size=img_size,
        head_hidden=head_hidden,
        drop_path_rate=drop_path_rate,
    )
    return LAM(name, stages, expand=("blocks",), config=config)


@register_model("vit-micro-p8")
def vit_micro_p8(in_chans: int = 3, num_classes: int = 10, **kw) -> LAM:
    """ViT-Micro/8: width 64, depth 4, 2 heads (0.2 M parameters); the demo's quick model."""
    return _vit("vit-micro-p8", 64, 4, 2, in_chans, num_classes, **kw)


@register_model("vit-tiny-p8")
def vit_tiny_p8(in_chans: int = 3, num_classes: int = 10, **kw) -> LAM:
    """ViT-Tiny/8 (DeiT-Ti widths): width 192, depth 12, 3 heads."""
    return _vit("vit-tiny-p8", 192, 12, 3, in_chans, num_classes, **kw)


@register_model("vit-small-p8")
def vit_small_p8(in_chans: int = 3, num_classes: int = 10, **kw) -> LAM:
    """ViT-Small/8 (DeiT-S widths): width 384, depth 12, 6 heads."""
    return _vit("vit-small-p8", 384, 12, 6, in_chans, num_classes, **kw)


@register_model("vit-base-p8")
def vit_base_p8(in_chans: int = 3, num_classes: int = 10, **kw) -> LAM:
    """ViT-Base/8 (ViT-B widths): width 768, depth 12, 12 heads (85 M parameters)."""
    return _vit("vit-base-p8", 768, 12, 12, in_chans, num_classes, **kw)
