"""Exact synaptic-operation counts of spike-driven linear, convolution and average-pool layers.

A synaptic operation (synop) is one weight accumulated into one post-synaptic neuron because one
spike arrived. The count is ``sum over input spikes of the number of outputs that spike reaches``.
For a linear layer every spike reaches ``out_features`` outputs. For a convolution the reach of
a spike depends on where it sits: near a border, padding and stride cut part of the kernel off,
so the count here is computed **exactly per input position** by convolving the spike mask with a
kernel of ones (the receptive-field occupancy of every output) rather than approximated as
``spikes x kernel_size x out_channels``. This is the same definition SpikingJelly's
``SynOpCounter`` uses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_AVG_POOL_FN = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def spike_mask(x: torch.Tensor) -> torch.Tensor | None:
    """Return the mask of spikes in ``x``, or None when ``x`` is not a spike tensor.

    A tensor counts as spikes when it is boolean, or when all of its non-zero entries share one
    positive value (binary spikes, or spikes scaled by one threshold, which folds into the
    weights of the next layer). An all-zero tensor counts as spikes (none fired).

    Parameters
    ----------
    x : torch.Tensor
        Any shape.

    Returns
    -------
    torch.Tensor or None
        A boolean tensor of the shape of ``x``, or None for graded (analog) values.
    """
    if x.dtype == torch.bool:
        return x
    if not x.is_floating_point():
        return None
    mask = x != 0
    values = x[mask]
    if values.numel() == 0:
        return mask
    first = values.reshape(-1)[0]
    if first <= 0 or not bool((values == first).all()):
        return None
    return mask


def linear_synops(mask: torch.Tensor, out_features: int) -> int:
    """Synops of a linear layer: every spike reaches all ``out_features`` outputs.

    Parameters
    ----------
    mask : torch.Tensor
        Boolean spikes ``[..., in_features]``.
    out_features : int
        Output features of the layer.
    """
    return int(mask.sum().item()) * int(out_features)


def conv_synops(mask: torch.Tensor, conv: nn.modules.conv._ConvNd) -> int:
    """Exact synops of a convolution on a spike mask (padding, stride, dilation and groups).

    Parameters
    ----------
    mask : torch.Tensor
        Boolean spikes ``[B, C_in, *spatial]`` (or unbatched ``[C_in, *spatial]``).
    conv : nn.Conv1d | nn.Conv2d | nn.Conv3d
        The layer the spikes enter.

    Returns
    -------
    int
        ``sum over outputs of (spikes inside its receptive field) x out_channels / groups``.
    """
    if conv.transposed:
        raise TypeError(
            f"synop counting supports Conv1d/2d/3d, not transposed {type(conv).__name__}; "
            "run the layer on graded inputs so that it is counted in MACs"
        )
    num_dims = len(conv.kernel_size)
    x = mask.to(torch.float64)
    if x.dim() == num_dims + 1:
        x = x.unsqueeze(0)
    padding = conv.padding
    if conv.padding_mode != "zeros":
        x = F.pad(x, conv._reversed_padding_repeated_twice, mode=conv.padding_mode)
        padding = 0
    groups = conv.groups
    ones = torch.ones(
        (groups, conv.in_channels // groups, *conv.kernel_size), dtype=x.dtype, device=x.device
    )
    occupancy = _CONV_FN[num_dims](x, ones, None, conv.stride, padding, conv.dilation, groups)
    return int(occupancy.sum().item()) * (conv.out_channels // groups)


def avg_pool_synops(mask: torch.Tensor, pool: nn.Module) -> int:
    """Exact synops of average pooling on spikes (each spike reaches the windows that cover it).

    Parameters
    ----------
    mask : torch.Tensor
        Boolean spikes ``[B, C, *spatial]``.
    pool : nn.AvgPool1d/2d/3d or nn.AdaptiveAvgPool1d/2d/3d
        The pooling layer.
    """
    x = mask.to(torch.float64)
    if isinstance(pool, nn.AvgPool1d | nn.AvgPool2d | nn.AvgPool3d):
        num_dims = {nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3}[type(pool)]
        kwargs = {
            "kernel_size": pool.kernel_size,
            "stride": pool.stride,
            "padding": pool.padding,
            "ceil_mode": pool.ceil_mode,
        }
        if num_dims == 1:
            window = _as_tuple(pool.kernel_size, 1)
            averaged = F.avg_pool1d(x, **kwargs, count_include_pad=True)
            return round(averaged.sum().item() * math.prod(window))
        kwargs["divisor_override"] = 1
        return round(_AVG_POOL_FN[num_dims](x, **kwargs).sum().item())
    # Adaptive pooling: window i spans [floor(i*L/n), ceil((i+1)*L/n)) along each axis.
    num_dims = {nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3}[
        type(pool)
    ]
    sizes_in = x.shape[-num_dims:]
    sizes_out = [
        size_in if size_out is None else size_out
        for size_in, size_out in zip(sizes_in, _as_tuple(pool.output_size, num_dims), strict=True)
    ]
    total = x
    for axis, (size_in, size_out) in enumerate(zip(sizes_in, sizes_out, strict=True)):
        # How many windows cover each input index along this axis.
        cover = torch.zeros(size_in, dtype=torch.float64, device=x.device)
        for i in range(size_out):
            start = (i * size_in) // size_out
            end = -((-(i + 1) * size_in) // size_out)
            cover[start:end] += 1
        shape = [1] * x.dim()
        shape[x.dim() - num_dims + axis] = size_in
        total = total * cover.reshape(shape)
    return round(total.sum().item())


def _as_tuple(value: int | tuple[int, ...] | None, num_dims: int) -> tuple:
    if isinstance(value, tuple | list):
        return tuple(value)
    return (value,) * num_dims
