"""Dense multiply-accumulate counts from ``torch.utils.flop_counter``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count


def _sdpa_cpu_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of the CPU fused attention kernel: the formula torch uses for the GPU kernels."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def flop_formulas() -> dict[Any, Any]:
    """Formulas for ops ``FlopCounterMode`` does not know, as its ``custom_mapping``.

    torch's counter has no formula for the CPU fused-attention kernels, so attention would
    count as zero on a CPU; these give them the same count as the GPU kernels.
    """
    aten = torch.ops.aten
    extra = {}
    for name in (
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_fused_attention_overrideable",
    ):
        if hasattr(aten, name):
            extra[getattr(aten, name)] = _sdpa_cpu_flop
    return extra


def count_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Count the dense MACs of one forward pass.

    Parameters
    ----------
    module : nn.Module
        The module to run (in its current train/eval mode, without gradients).
    *inputs : torch.Tensor
        Its inputs, e.g. images ``[B, C, H, W]``.

    Returns
    -------
    int
        Multiply-accumulates of matrix products, convolutions and attention over the whole
        batch: ``torch.utils.flop_counter`` FLOPs divided by two (with :func:`flop_formulas`
        for the CPU attention kernels). Element-wise work (activations, norms, additions) is
        not counted.
    """
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=flop_formulas()) as counter:
        module(*inputs)
    return counter.get_total_flops() // 2
