"""Packets and bitstreams: framing, CRC-32 detection, truncation, reordering, duplicates."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from spikesat.codecs import Bitstream, Packet, create
from spikesat.codecs.bitstream import MAGIC, VERSION, decode_varint, encode_varint, example_digest


def _stream(payload: bytes = b"spikesat payload", mtu: int = 1500, codec_id: int = 3) -> Bitstream:
    return Bitstream.from_payload(
        payload, codec_id=codec_id, example_id=7, stream_id=0xC0FFEE, mtu_bytes=mtu
    )


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**32 - 1])
def test_varint_round_trip(value: int) -> None:
    data = encode_varint(value)
    assert decode_varint(data + b"\xff", 0) == (value, len(data))


def test_varint_rejects_truncated_and_negative() -> None:
    with pytest.raises(ValueError, match="truncated"):
        decode_varint(b"\x80", 0)
    with pytest.raises(ValueError, match=">= 0"):
        encode_varint(-1)


def test_packets_respect_mtu_and_reassemble() -> None:
    payload = bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8))
    stream = _stream(payload, mtu=64)
    assert stream.num_packets > 1
    assert all(p.num_bytes <= 64 for p in stream.packets)
    assert [p.index for p in stream.packets] == list(range(stream.num_packets))
    assert stream.payload(3) == payload
    data = stream.to_bytes()
    assert stream.num_bytes == len(data)
    assert Bitstream.from_bytes(data).payload(3) == payload


def test_header_fields_and_crc_layout() -> None:
    packet = _stream(b"abc").packets[0]
    assert packet.raw.startswith(MAGIC)
    fields = (packet.version, packet.codec_id, packet.stream_id, packet.example_id)
    assert fields == (VERSION, 3, 0xC0FFEE, 7)
    assert (packet.index, packet.count, packet.payload) == (0, 1, b"abc")
    assert int.from_bytes(packet.raw[4:8], "big") == 0xC0FFEE
    digest = example_digest(b"abc", stream_id=0xC0FFEE, example_id=7, count=1)
    assert packet.digest == digest and packet.raw[-8:-4] == digest
    assert int.from_bytes(packet.raw[-4:], "big") == zlib.crc32(packet.raw[:-4])
    # magic 2 + version 1 + codec 1 + stream 4 + 4 one-byte varints + digest 4 + CRC 4 = 20.
    assert packet.num_bytes == 20 + 3
    assert Packet.from_bytes(packet.raw) == packet


def test_every_single_bit_flip_is_detected_exhaustively() -> None:
    raw = _stream(b"task features!").packets[0].raw
    assert len(raw) <= 40
    for bit in range(len(raw) * 8):
        damaged = bytearray(raw)
        damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            stream = Bitstream.from_bytes(bytes(damaged), strict=False)
        except ValueError:
            continue  # framing error: detected
        assert not stream.check(3).ok, f"bit {bit} flip went undetected"
        with pytest.raises(ValueError):
            stream.payload(3)


def test_random_multi_bit_flips_are_detected() -> None:
    rng = np.random.default_rng(1)
    raw = _stream(bytes(range(200))).packets[0].raw
    for _ in range(2000):
        damaged = bytearray(raw)
        for bit in rng.choice(len(raw) * 8, size=int(rng.integers(2, 33)), replace=False):
            damaged[bit // 8] ^= 1 << (bit % 8)
        try:
            stream = Bitstream.from_bytes(bytes(damaged), strict=False)
        except ValueError:
            continue
        assert not stream.check(3).ok


def test_truncation_strict_raises_and_lenient_reports() -> None:
    stream = _stream(bytes(300), mtu=64)
    data = stream.to_bytes()[:-10]
    with pytest.raises(ValueError, match="truncated"):
        Bitstream.from_bytes(data)
    lenient = Bitstream.from_bytes(data, strict=False)
    check = lenient.check(3)
    assert not check.ok and check.missing == [stream.num_packets - 1]
    with pytest.raises(ValueError, match="missing"):
        lenient.payload(3)


def test_reordered_and_duplicated_packets() -> None:
    payload = bytes(range(256)) * 2
    stream = _stream(payload, mtu=64)
    packets = stream.packets[::-1] + stream.packets[:2]
    mixed = Bitstream(packets)
    check = mixed.check(3)
    assert check.ok and check.num_duplicates == 2
    assert mixed.payload(3) == payload


def test_conflicting_duplicates_and_missing_packets_fail() -> None:
    stream = _stream(bytes(200), mtu=64)
    forged = Packet.build(
        b"x" * 10, codec_id=3, stream_id=0xC0FFEE, example_id=7, index=0, count=stream.num_packets
    )
    assert not Bitstream([*stream.packets, forged]).check(3).ok
    assert Bitstream(stream.packets[1:]).check(3).missing == [0]


def test_mixed_examples_fail() -> None:
    a = _stream(b"a").packets
    b = Bitstream.from_payload(b"b", codec_id=3, example_id=8, stream_id=0xC0FFEE).packets
    assert "different examples" in Bitstream(a + b).check(3).reason


def test_unknown_version_is_named() -> None:
    raw = bytearray(_stream(b"abc").packets[0].raw)
    raw[2] = 9
    raw[-4:] = zlib.crc32(bytes(raw[:-4])).to_bytes(4, "big")
    with pytest.raises(ValueError, match="bitstream version 9 at byte 0 \\(unknown\\)"):
        Bitstream.from_bytes(bytes(raw))
    raw[2] = 1
    raw[-4:] = zlib.crc32(bytes(raw[:-4])).to_bytes(4, "big")
    with pytest.raises(ValueError, match="version 1 .*re-compress"):
        Bitstream.from_bytes(bytes(raw))
    lenient = Bitstream.from_bytes(bytes(raw), strict=False)
    assert not lenient.check(3).ok and lenient.num_unframed_bytes == len(raw)


def test_bad_magic_and_empty_input() -> None:
    with pytest.raises(ValueError, match="bad magic"):
        Packet.from_bytes(b"XX" + bytes(20))
    with pytest.raises(ValueError, match="empty"):
        Bitstream.from_bytes(b"")
    with pytest.raises(TypeError):
        Bitstream.from_bytes("text")  # type: ignore[arg-type]


def test_unknown_and_foreign_codec_ids_are_named() -> None:
    codec = create("float32", 4)
    unknown = Bitstream.from_payload(b"\x02\x01" + bytes(16), codec_id=250, example_id=0)
    with pytest.raises(ValueError, match="250 \\(unknown codec id\\)"):
        codec.decompress([unknown])
    foreign = create("float16", 4).compress(torch.ones(1, 1, 4))
    with pytest.raises(ValueError, match="float16"):
        codec.decompress(foreign)


def test_mtu_too_small_is_rejected() -> None:
    with pytest.raises(ValueError, match="mtu_bytes"):
        Bitstream.from_payload(b"abc", codec_id=1, example_id=0, mtu_bytes=8)
    with pytest.raises(ValueError, match="mtu_bytes"):
        create("int8", 4, mtu_bytes=10)
