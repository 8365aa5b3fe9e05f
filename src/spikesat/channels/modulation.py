"""Unit-energy BPSK and Gray-coded QPSK mapping with coherent hard-decision detection."""

from __future__ import annotations

import math

import torch


def bpsk_modulate(bits: torch.Tensor) -> torch.Tensor:
    """Map bits ``{0, 1}`` ``[B, N]`` to complex symbols ``1 - 2 b`` (unit energy)."""
    symbols = 1.0 - 2.0 * bits.to(torch.float32)
    return torch.complex(symbols, torch.zeros_like(symbols))


def bpsk_demodulate(y: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
    """Coherent hard decisions ``Re(y h*) < 0`` [B, N] (int64 bits)."""
    z = y if h is None else y * h.conj()
    return (z.real < 0).to(torch.int64)


def qpsk_modulate(bits: torch.Tensor) -> torch.Tensor:
    """Map bit pairs ``[B, 2N]`` to Gray QPSK symbols ``[B, N]``.

    Each pair ``(b0, b1)`` becomes ``((1 - 2 b0) + j (1 - 2 b1)) / sqrt(2)``.
    """
    if bits.shape[-1] % 2:
        raise ValueError(f"QPSK needs an even number of bits, got {bits.shape[-1]}")
    b = 1.0 - 2.0 * bits.to(torch.float32).reshape(*bits.shape[:-1], -1, 2)
    return torch.complex(b[..., 0], b[..., 1]) / math.sqrt(2.0)


def qpsk_demodulate(y: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
    """Coherent Gray-QPSK hard decisions, ``[B, N]`` symbols to ``[B, 2N]`` bits."""
    z = y if h is None else y * h.conj()
    bits = torch.stack(((z.real < 0), (z.imag < 0)), dim=-1).to(torch.int64)
    return bits.reshape(*z.shape[:-1], -1)
