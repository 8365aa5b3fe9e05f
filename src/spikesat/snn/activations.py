"""Which activation modules a conversion treats as what, across torch and timm."""

from __future__ import annotations

from torch import nn


def is_gelu(module: nn.Module) -> bool:
    """True for ``nn.GELU`` and for libraries' own GELU modules (timm's ``layers.GELU``, used
    by its ConvNeXt, is an ``nn.Module`` calling ``F.gelu``, not an ``nn.GELU``)."""
    return isinstance(module, nn.GELU) or type(module).__name__ in {"GELU", "GELUTanh"}
