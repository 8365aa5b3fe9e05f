"""Serialised model updates that know who sent them: what a satellite really sends.

An update is ``torch.save`` of ``{"state": dict[str, Tensor], "meta": dict}`` behind a 48-byte
little-endian header: magic ``b"SSFU"``, format version (uint16), flags (uint16, zero), the
:class:`UpdateId` (run uint64, sender, round and key uint32), the body length (uint32) and a
128-bit BLAKE2b digest of the header's first 32 bytes and the body. The digest, not a CRC-32:
torch's zip container does not check its own CRCs, so a damaged body that passed a 32-bit
check (one corrupted frame in 2^32) would load as wrong weights. :func:`decode_update` checks
all of it and raises :class:`CorruptUpdateError` on any mismatch: a damaged upload, one
replayed from an earlier round, one from another satellite or another run, a body that does not
load, or tensors whose names, shapes or dtypes are not the expected ones or that are not finite.
Such an upload is retransmitted instead of being averaged into the model. (The digest detects
errors; it does not authenticate: whoever knows the format can forge a frame.)
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from typing import Any

import numpy as np
import torch

MAGIC = b"SSFU"
VERSION = 2
_HEADER = struct.Struct("<4sHHQIIII")  # magic, version, flags, run, sender, round, key, length
DIGEST_BYTES = 16
HEADER_BYTES = _HEADER.size + DIGEST_BYTES


class CorruptUpdateError(ValueError):
    """An update failed its header, digest, identity or content check."""


def _digest(header: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(header + body, digest_size=DIGEST_BYTES).digest()


@dataclass(frozen=True)
class UpdateId:
    """Which update this is: run, sender, round and the sender's slot in that round.

    Attributes
    ----------
    run : int
        Identifies the federated run (uint64), so updates of another run are refused.
    sender : int
        The satellite that transmits the update.
    round : int
        The round it belongs to.
    key : int
        Distinguishes several updates of one sender in one round.
    """

    run: int = 0
    sender: int = 0
    round: int = 0
    key: int = 0

    def __post_init__(self) -> None:
        limits = {"run": 1 << 64, "sender": 1 << 32, "round": 1 << 32, "key": 1 << 32}
        for name, limit in limits.items():
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or not 0 <= int(value) < limit:
                raise ValueError(
                    f"UpdateId.{name} must be an integer in [0, {limit}), got {value!r}"
                )

    def __str__(self) -> str:
        return f"run {self.run:#x}, sat-{self.sender}, round {self.round}, key {self.key}"


def encode_update(
    state: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any] | None = None,
    update_id: UpdateId | None = None,
) -> bytes:
    """Serialise a state dict (and JSON-like ``meta``) into identified, digest-checked bytes.

    Raises
    ------
    ValueError
        If a floating-point tensor of ``state`` holds NaN or Inf (local training diverged:
        such an update must not be sent).
    """
    for name, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"update tensor {name!r} holds NaN or Inf: local training diverged (lower the "
                "learning rate); a non-finite update is never sent"
            )
    buffer = io.BytesIO()
    torch.save(
        {"state": {k: v.detach().cpu() for k, v in state.items()}, "meta": dict(meta or {})},
        buffer,
    )
    return frame_update(buffer.getvalue(), update_id or UpdateId())


def frame_update(body: bytes, update_id: UpdateId) -> bytes:
    """Wrap a body in the update header and its digest (what :func:`encode_update` does after
    serialising; exposed to build test frames around bodies of one's own)."""
    header = _HEADER.pack(MAGIC, VERSION, 0, *astuple(update_id), len(body))
    return header + _digest(header, body) + body


def read_update_id(data: bytes) -> UpdateId:
    """The :class:`UpdateId` in an update's header (not checked against its digest)."""
    if len(data) < HEADER_BYTES:
        raise CorruptUpdateError(f"update of {len(data)} B is shorter than its header")
    magic, version, flags, *ident, _length = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION or flags != 0:
        raise CorruptUpdateError(
            f"bad update header (magic {magic!r}, version {version}, flags {flags}); "
            f"expected {MAGIC!r} version {VERSION}"
        )
    return UpdateId(*ident)


def decode_update(
    data: bytes,
    expect: UpdateId | None = None,
    like: Mapping[str, torch.Tensor] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Check and read bytes from :func:`encode_update`; returns ``(state, meta)``.

    Parameters
    ----------
    data : bytes
        The received update.
    expect : UpdateId, optional
        The update the receiver waits for; any other identity is refused.
    like : mapping of str to Tensor, optional
        Tensors with the expected names, shapes and dtypes (values unused).

    Raises
    ------
    CorruptUpdateError
        Bad magic, version, flags or length, a digest mismatch, an identity other than
        ``expect``, a body that does not load, tensors unlike ``like``, or NaN/Inf.
    """
    update_id = read_update_id(data)
    length = _HEADER.unpack_from(data)[-1]
    body = data[HEADER_BYTES:]
    if length != len(body):
        raise CorruptUpdateError(f"update body is {len(body)} B but its header says {length} B")
    if _digest(data[: _HEADER.size], body) != data[_HEADER.size : HEADER_BYTES]:
        raise CorruptUpdateError("update failed its BLAKE2b digest check")
    if expect is not None and update_id != expect:
        raise CorruptUpdateError(
            f"update is ({update_id}) but the receiver expects ({expect}): a replayed, "
            "misrouted or foreign upload"
        )
    try:
        loaded = torch.load(io.BytesIO(body), map_location="cpu", weights_only=True)
        state, meta = loaded["state"], loaded["meta"]
    except Exception as error:  # a digest-valid body that torch cannot read: any reason
        raise CorruptUpdateError(f"update body does not load ({type(error).__name__})") from error
    _check_state(state, meta, like)
    return state, meta


def _check_state(state: Any, meta: Any, like: Mapping[str, torch.Tensor] | None) -> None:
    """Raise :class:`CorruptUpdateError` unless ``state`` is a finite state dict like ``like``."""
    if not isinstance(meta, dict) or not isinstance(state, dict):
        raise CorruptUpdateError("update body is not a {'state': dict, 'meta': dict} record")
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise CorruptUpdateError(f"update entry {name!r} is not a named tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CorruptUpdateError(f"update tensor {name!r} holds NaN or Inf")
    if like is None:
        return
    if set(state) != set(like):
        missing, extra = sorted(set(like) - set(state)), sorted(set(state) - set(like))
        raise CorruptUpdateError(f"update tensors differ: missing {missing}, unexpected {extra}")
    for name, value in state.items():
        want = like[name]
        if value.shape != want.shape or value.dtype != want.dtype:
            raise CorruptUpdateError(
                f"update tensor {name!r} is {value.dtype} {tuple(value.shape)}, expected "
                f"{want.dtype} {tuple(want.shape)}"
            )


def flip_random_byte(data: bytes, rng: np.random.Generator) -> bytes:
    """A copy of ``data`` with one byte (header included) XOR-ed with a non-zero value."""
    if not data:
        raise ValueError("nothing to corrupt: the update is empty")
    position = int(rng.integers(0, len(data)))
    damaged = bytearray(data)
    damaged[position] ^= int(rng.integers(1, 256))
    return bytes(damaged)
