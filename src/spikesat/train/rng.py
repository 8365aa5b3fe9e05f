"""Seeding torch's global generators for one block of code, leaving the caller's as they were."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's global CPU generator (and ``device``'s, if CUDA) seeded.

    For code that draws from the global generators and cannot be handed a
    ``torch.Generator`` (dropout, drop-path, CompressAI's quantisation noise). The states the
    caller had are restored on exit (``torch.random.fork_rng``), so no library call reseeds
    the user's random stream.

    Parameters
    ----------
    seed : int
        Seed of the generators inside the block.
    device : torch.device
        The device the block computes on.
    """
    cuda = []
    if device.type == "cuda":
        cuda = [torch.cuda.current_device() if device.index is None else device.index]
    with torch.random.fork_rng(devices=cuda, device_type="cuda"):
        torch.random.default_generator.manual_seed(seed)
        for index in cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        yield
