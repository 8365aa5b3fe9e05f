"""Update payloads: every damaged, replayed, misrouted, foreign or malformed upload is refused."""

from __future__ import annotations

import hashlib
import io
import struct

import numpy as np
import pytest
import torch

from spikesat.federated import CorruptUpdateError, UpdateId, decode_update, encode_update
from spikesat.federated.payload import HEADER_BYTES, flip_random_byte

SENT = UpdateId(run=0xABCDEF0123456789, sender=7, round=3, key=1)


def _state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"w": torch.randn(64, 32, generator=gen), "b": torch.randn(32, generator=gen)}


def _forge(body_record: dict, update_id: UpdateId = SENT) -> bytes:
    """A frame with a valid header and digest around an arbitrary ``torch.save`` record."""
    buffer = io.BytesIO()
    torch.save(body_record, buffer)
    return _frame(buffer.getvalue(), update_id)


def _frame(body: bytes, update_id: UpdateId) -> bytes:
    header = struct.pack(
        "<4sHHQIIII",
        b"SSFU",
        2,
        0,
        update_id.run,
        update_id.sender,
        update_id.round,
        update_id.key,
        len(body),
    )
    return header + hashlib.blake2b(header + body, digest_size=16).digest() + body


def test_round_trip_identity_and_header_size() -> None:
    state = _state()
    data = encode_update(state, {"num_samples": 7}, SENT)
    decoded, meta = decode_update(data, expect=SENT, like=state)
    assert meta == {"num_samples": 7}
    assert all(torch.equal(decoded[k], state[k]) for k in state)
    assert data[:4] == b"SSFU" and HEADER_BYTES == 48
    assert _frame(data[HEADER_BYTES:], SENT) == data  # the format is as documented


def test_every_single_byte_error_is_caught() -> None:
    data = encode_update(_state(), {"n": 1}, SENT)
    rng = np.random.default_rng(0)
    for _ in range(200):
        with pytest.raises(CorruptUpdateError):
            decode_update(flip_random_byte(data, rng), expect=SENT)
    with pytest.raises(CorruptUpdateError, match="shorter than its header"):
        decode_update(data[:20])
    with pytest.raises(CorruptUpdateError, match="says"):
        decode_update(data[:-1])
    with pytest.raises(CorruptUpdateError, match="says"):
        decode_update(data + b"\x00")


@pytest.mark.parametrize(
    "other",
    [
        UpdateId(SENT.run, SENT.sender, SENT.round - 1, SENT.key),  # replayed from round 2
        UpdateId(SENT.run, SENT.sender + 1, SENT.round, SENT.key),  # another satellite's
        UpdateId(SENT.run + 1, SENT.sender, SENT.round, SENT.key),  # another run's
        UpdateId(SENT.run, SENT.sender, SENT.round, SENT.key + 1),  # another slot
    ],
)
def test_replayed_misrouted_and_foreign_updates_are_refused(other: UpdateId) -> None:
    data = encode_update(_state(), {"n": 1}, other)
    decode_update(data)  # intact: without an expectation it reads
    with pytest.raises(CorruptUpdateError, match="replayed, misrouted or foreign"):
        decode_update(data, expect=SENT)


def test_check_valid_but_malformed_bodies_are_refused() -> None:
    state = _state()
    cases = {
        "does not load": _frame(b"not a torch file at all", SENT),
        "not a {'state'": _forge({"state": [1, 2], "meta": {}}),
        "not a named tensor": _forge({"state": {"w": 3.0}, "meta": {}}),
        "NaN or Inf": _forge({"state": {**state, "w": state["w"] * float("nan")}, "meta": {}}),
        "missing \\['b'\\]": _forge({"state": {"w": state["w"]}, "meta": {}}),
        "expected torch.float32 \\(64, 32\\)": _forge(
            {"state": {**state, "w": state["w"][:8]}, "meta": {}}
        ),
        "torch.float64": _forge({"state": {**state, "b": state["b"].double()}, "meta": {}}),
    }
    for message, data in cases.items():
        with pytest.raises(CorruptUpdateError, match=message):
            decode_update(data, expect=SENT, like=state)


def test_a_diverged_update_is_never_sent() -> None:
    state = _state()
    state["b"][3] = float("inf")
    with pytest.raises(ValueError, match="'b' holds NaN or Inf: local training diverged"):
        encode_update(state, {}, SENT)
    with pytest.raises(ValueError, match="round must be an integer"):
        UpdateId(round=-1)
