"""Dense multiply-accumulate counts from ``torch.utils.flop_counter``."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


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
        batch: ``torch.utils.flop_counter`` FLOPs divided by two. Element-wise work
        (activations, norms, additions) is not counted.
    """
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops() // 2
