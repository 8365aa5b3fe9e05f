"""Serialised model updates with a CRC-32: what a satellite really sends.

An update is ``torch.save`` of ``{"state": dict[str, Tensor], "meta": dict}`` behind a
16-byte header: magic ``b"SSFU"``, format version (uint32), body length (uint32) and the
CRC-32 (``zlib.crc32``) of the body, all little-endian. :func:`decode_update` checks all four
and raises :class:`CorruptUpdateError` on any mismatch, so a corrupted upload is detected and
retransmitted instead of being averaged into the model.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

MAGIC = b"SSFU"
VERSION = 1
_HEADER = struct.Struct("<4sIII")


class CorruptUpdateError(ValueError):
    """An update failed its header or CRC-32 check."""


def encode_update(
    state: Mapping[str, torch.Tensor], meta: Mapping[str, Any] | None = None
) -> bytes:
    """Serialise a state dict (and JSON-like ``meta``) into CRC-protected bytes."""
    buffer = io.BytesIO()
    torch.save(
        {"state": {k: v.detach().cpu() for k, v in state.items()}, "meta": dict(meta or {})},
        buffer,
    )
    body = buffer.getvalue()
    return _HEADER.pack(MAGIC, VERSION, len(body), zlib.crc32(body)) + body


def decode_update(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Check and read bytes from :func:`encode_update`; returns ``(state, meta)``.

    Raises
    ------
    CorruptUpdateError
        Bad magic, version or length, or a CRC-32 mismatch.
    """
    if len(data) < _HEADER.size:
        raise CorruptUpdateError(f"update of {len(data)} B is shorter than its header")
    magic, version, length, crc = _HEADER.unpack_from(data)
    body = data[_HEADER.size :]
    if magic != MAGIC or version != VERSION:
        raise CorruptUpdateError(f"bad update header (magic {magic!r}, version {version})")
    if length != len(body):
        raise CorruptUpdateError(f"update body is {len(body)} B but its header says {length} B")
    if zlib.crc32(body) != crc:
        raise CorruptUpdateError("update failed its CRC-32 check")
    loaded = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
    return loaded["state"], loaded["meta"]


def flip_random_byte(data: bytes, rng: np.random.Generator) -> bytes:
    """A copy of ``data`` with one byte after the header XOR-ed with a non-zero value."""
    if len(data) <= _HEADER.size:
        raise ValueError("nothing to corrupt: the update has no body")
    position = int(rng.integers(_HEADER.size, len(data)))
    damaged = bytearray(data)
    damaged[position] ^= int(rng.integers(1, 256))
    return bytes(damaged)
