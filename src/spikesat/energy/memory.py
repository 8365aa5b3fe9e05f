"""Memory access energy by memory size (Horowitz, ISSCC 2014, 45 nm, 0.9 V).

Horowitz's table gives the energy of one 64-bit read: 10 pJ from an 8 KB SRAM, 20 pJ from a
32 KB SRAM, 100 pJ from a 1 MB SRAM, and 1.3-2.6 nJ from DRAM. Between the SRAM points the
energy is interpolated linearly in log(size)-log(energy); below 8 KB the 8 KB figure is kept
(conservative); a working set above 1 MB is assumed to live in DRAM, priced at the low end of
Horowitz's DRAM range (1.3 nJ per 64 bits), so the DRAM figure is an optimistic bound.

Source: M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
Digest of Technical Papers, pp. 10-14, doi:10.1109/ISSCC.2014.6757323.
"""

from __future__ import annotations

import itertools
import math

SRAM_POINTS_BYTES_PJ = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))
"""(SRAM size [B], energy of one 64-bit access [pJ]) from Horowitz, ISSCC 2014."""

DRAM_PJ_PER_64BIT = 1300.0
"""DRAM energy of one 64-bit access [pJ], low end of Horowitz's 1.3-2.6 nJ range."""


def access_pj_per_byte(memory_bytes: float) -> float:
    """Energy to read or write one byte from a memory holding ``memory_bytes`` [pJ/B].

    Parameters
    ----------
    memory_bytes : float
        Size of the memory the data lives in (the working set) [B]; must be >= 0.

    Returns
    -------
    float
        Energy per byte accessed [pJ/B] (the 64-bit access energy divided by 8).
    """
    if not memory_bytes >= 0:
        raise ValueError(f"memory_bytes must be >= 0, got {memory_bytes!r}")
    points = SRAM_POINTS_BYTES_PJ
    if memory_bytes <= points[0][0]:
        return points[0][1] / 8.0
    if memory_bytes > points[-1][0]:
        return DRAM_PJ_PER_64BIT / 8.0
    for (size_lo, pj_lo), (size_hi, pj_hi) in itertools.pairwise(points):
        if memory_bytes <= size_hi:
            frac = math.log(memory_bytes / size_lo) / math.log(size_hi / size_lo)
            return math.exp(math.log(pj_lo) + frac * math.log(pj_hi / pj_lo)) / 8.0
    raise AssertionError("unreachable: the size lies in one of the intervals")


def memory_level(memory_bytes: float) -> str:
    """Name the memory a working set of ``memory_bytes`` lives in ("SRAM <= 8 KB", ..., "DRAM")."""
    if memory_bytes > SRAM_POINTS_BYTES_PJ[-1][0]:
        return "DRAM"
    return f"SRAM {max(memory_bytes, SRAM_POINTS_BYTES_PJ[0][0]) / 1024:.1f} KB"
