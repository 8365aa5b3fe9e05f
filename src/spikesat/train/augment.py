"""Batch augmentation for overhead imagery: the eight dihedral symmetries plus a shifted crop.

Satellite patches have no canonical orientation, so random flips and 90-degree rotations
are label-preserving; a random translation (reflect-padded crop) adds shift invariance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment_batch(
    images: torch.Tensor, generator: torch.Generator, max_shift: int = 4
) -> torch.Tensor:
    """Randomly flip, rotate by multiples of 90 degrees and shift each image.

    Parameters
    ----------
    images : torch.Tensor
        ``[B, C, H, W]`` with ``H == W``.
    generator : torch.Generator
        A CPU generator; the same state gives the same augmentation.
    max_shift : int
        Largest translation [pixels] in each direction (reflect padding).

    Returns
    -------
    torch.Tensor
        ``[B, C, H, W]`` augmented copy.
    """
    batch = images.shape[0]
    draws = torch.randint(0, 8, (batch,), generator=generator)
    out = images.clone()
    for k in range(8):
        idx = (draws == k).nonzero().flatten()
        if len(idx) == 0:
            continue
        view = out[idx]
        if k >= 4:
            view = view.flip(-1)
        out[idx] = torch.rot90(view, k % 4, dims=(-2, -1))
    if max_shift > 0:
        size = images.shape[-1]
        padded = F.pad(out, (max_shift,) * 4, mode="reflect")
        shifts = torch.randint(0, 2 * max_shift + 1, (batch, 2), generator=generator)
        rows = shifts[:, 0, None] + torch.arange(size)
        cols = shifts[:, 1, None] + torch.arange(size)
        b = torch.arange(batch)[:, None, None]
        out = padded.permute(0, 2, 3, 1)[b, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    return out.contiguous()
