"""The "spikes" codec: exact round trips, sizes near the spike entropy, damage caught, bad input."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesat.codecs import Bitstream, DecodeResult, SpikeCodec, create
from spikesat.codecs.spikes import MODES, _encode_example, _encode_varints

SHAPES = {
    "maps": (3, 2, 4, 5, 6),  # [T, B, C, H, W]
    "tokens": (3, 2, 7, 4),  # [T, B, N, D]
    "vector": (3, 2, 4),  # [T, B, C]
}
HEADER_BYTES = 21  # one-packet example: 19 bytes + a 1- or 2-byte payload-length varint


def _spikes(shape: tuple[int, ...], rate: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=generator) < rate).float()


def _frame(codec: SpikeCodec, payload: bytes, stream_id: int) -> Bitstream:
    """Example 1 of stream ``stream_id``: every check passes, the payload is ``payload``."""
    return Bitstream.from_payload(
        payload,
        codec_id=codec.codec_id,
        example_id=1,
        stream_id=stream_id,
        key=codec.identity(),
        mtu_bytes=codec.mtu_bytes,
    )


def test_registered_as_spikes() -> None:
    codec = create("spikes", 4)
    assert isinstance(codec, SpikeCodec) and codec.name == "spikes"
    assert codec(_spikes(SHAPES["maps"], 0.3))["likelihoods"] == {}


@pytest.mark.parametrize("layout", list(SHAPES))
@pytest.mark.parametrize("rate", [0.0, 0.01, 0.1, 0.5, 1.0])
def test_round_trip_is_exact(layout: str, rate: float) -> None:
    shape = SHAPES[layout]
    codec = create("spikes", 4)
    x = _spikes(shape, rate)
    streams = codec.compress(x)
    assert len(streams) == shape[1]
    x_hat = codec.decompress([Bitstream.from_bytes(s.to_bytes()) for s in streams])
    assert x_hat.dtype == torch.float32 and x_hat.shape == x.shape
    assert torch.equal(x_hat, x)
    assert torch.equal(codec(x)["x_hat"], x)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(
    steps=st.integers(1, 5),
    batch=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 6), min_size=0, max_size=2),
    rate=st.sampled_from([0.0, 0.02, 0.3, 0.7, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_round_trip_any_shape(steps, batch, spatial, rate, seed) -> None:
    # spatial: [] -> [T, B, C]; [N] -> tokens [T, B, N, D]; [H, W] -> maps [T, B, C, H, W].
    shape = (steps, batch, *spatial, 3) if len(spatial) == 1 else (steps, batch, 3, *spatial)
    codec = create("spikes", 3, mtu_bytes=48)
    x = _spikes(shape, rate, seed)
    assert torch.equal(codec.decompress(codec.compress(x)), x)


def test_sizes_and_rates() -> None:
    steps, channels = 4, 64
    codec = create("spikes", channels)
    neuron_steps = steps * channels * 8 * 8
    # Sparse: smaller than packbits + zlib alone.
    sparse = _spikes((steps, 2, channels, 8, 8), 0.01)
    for b, stream in enumerate(codec.compress(sparse)):
        packed = np.packbits(sparse[:, b].numpy().astype(np.uint8)).tobytes()
        payload = stream.payload(codec.codec_id, codec.identity())
        assert len(payload) < len(zlib.compress(packed, 9))
        assert codec.mode_of(stream) == "events-zlib"
    # Dense: at most one bit per neuron-step plus the mode byte and the shape prefix.
    dense = _spikes((steps, 2, channels, 8, 8), 0.5)
    streams = codec.compress(dense)
    for stream in streams:
        payload = stream.payload(codec.codec_id, codec.identity())
        assert len(payload) <= neuron_steps // 8 + 1 + 4
        assert stream.num_bytes <= neuron_steps // 8 + 5 + HEADER_BYTES * stream.num_packets
    rate = codec.rate(streams, dense)
    assert rate.num_bytes == sum(len(s.to_bytes()) for s in streams)
    assert rate.num_neuron_steps == dense.numel() and rate.num_spikes == int(dense.sum())
    assert rate.bits_per_neuron_step == pytest.approx(8 * rate.num_bytes / dense.numel())
    assert 1.0 <= rate.bits_per_neuron_step < 1.03
    assert rate.bits_per_spike == pytest.approx(8 * rate.num_bytes / rate.num_spikes)
    silent = _spikes((steps, 2, channels, 8, 8), 0.0)
    assert codec.rate(codec.compress(silent), silent).bits_per_spike == math.inf


def test_flipped_byte_is_caught_by_the_crc() -> None:
    codec = create("spikes", 4)
    x = _spikes(SHAPES["maps"], 0.3)
    streams = codec.compress(x)
    data = bytearray(streams[1].to_bytes())
    data[len(data) // 2] ^= 0x04
    batch = [streams[0], Bitstream.from_bytes(bytes(data), strict=False)]
    with pytest.raises(ValueError, match=r"bitstreams\[1\].*CRC"):
        codec.decompress(batch)
    result = codec.decompress(batch, on_error="flag", fill_value=-1.0)
    assert result.erasure_mask.tolist() == [False, True]
    assert result.x_hat.shape == x.shape
    assert torch.equal(result.x_hat[:, 0], x[:, 0])
    assert bool((result.x_hat[:, 1] == -1.0).all())


def _map_body(mode: int, packed: bytes) -> bytes:
    """A "maps" (mode 0) or "maps-zlib" (mode 1) body holding the packed bytes ``packed``."""
    return bytes([mode]) + (packed if mode == 0 else zlib.compress(packed, 9))


BAD_SHAPE = (3, 4, 5, 5)  # one example's spike train (T, C, H, W): 300 neuron-steps, 38 bytes
SIZE = math.prod(BAD_SHAPE)
_HALF = np.random.default_rng(0).integers(0, 2, SIZE - 16).astype(np.uint8)
BAD_BODIES = {
    "unknown mode": (b"\x07" + bytes(38), "unknown spikes payload mode 7"),
    "no mode byte": (b"", "no mode byte"),
    "map of a smaller tensor": (_encode_example(_HALF), "holds 36 bytes, expected 38 for 300"),
    "map too large": (_map_body(0, bytes(39)), "holds 39 bytes, expected 38"),
    "padding bits": (_map_body(1, bytes(37) + b"\x01"), "padding bits"),
    "truncated zlib": (_map_body(1, bytes(38))[:-3], "truncated zlib"),
    "bytes after zlib": (_map_body(1, bytes(38)) + b"\x00", "1 bytes after the zlib"),
    "corrupt lzma": (b"\x02" + b"\xff" * 10, "corrupt lzma"),
    "zlib bomb": (_map_body(1, bytes(10**6)), "more than 38 bytes"),
    "index out of range": (
        b"\x03" + zlib.compress(_encode_varints(np.array([10, SIZE]))),
        f"event index {SIZE + 11} out of range for {SIZE}",
    ),
    "truncated varint": (b"\x03" + zlib.compress(b"\x05\x81"), "inside a varint"),
    "long varint": (b"\x03" + zlib.compress(b"\x80" * 6 + b"\x01"), "longer than 5"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_payload_with_valid_checks_raises_or_flags(case: str) -> None:
    body, match = BAD_BODIES[case]
    codec = create("spikes", 4)
    x = _spikes((BAD_SHAPE[0], 3, *BAD_SHAPE[1:]), 0.3)
    streams = codec.compress(x)
    forged = _frame(codec, codec._shape_prefix(BAD_SHAPE) + body, streams[0].packets[0].stream_id)
    batch = [streams[0], forged, streams[2]]
    with pytest.raises(ValueError, match=r"bitstreams\[1\] \(example 1\).*" + match):
        codec.decompress(batch)
    result = codec.decompress(batch, on_error="flag")
    assert isinstance(result, DecodeResult)
    assert result.erasure_mask.tolist() == [False, True, False], result.reasons
    assert torch.equal(result.x_hat[:, [0, 2]], x[:, [0, 2]])
    assert bool((result.x_hat[:, 1] == 0).all())


def test_payload_of_another_shape_is_refused() -> None:
    codec = create("spikes", 4)
    x = _spikes(SHAPES["maps"], 0.3)
    other = codec.compress(_spikes((2, 2, 4, 5, 6), 0.3), stream_id=9)
    streams = codec.compress(x, stream_id=9)
    with pytest.raises(ValueError, match=r"bitstreams\[1\].*declares example shape \(2, 4, 5, 6\)"):
        codec.decompress([streams[0], other[1]], shape=(3, 4, 5, 6))
    with pytest.raises(ValueError, match=r"spike train \(T, C\), \(T, N, D\) or \(T, C, H, W\)"):
        codec.decompress(streams, shape=(3, 5, 5, 6))


def test_mode_of_reports_each_mode_and_damage() -> None:
    codec = create("spikes", 4)
    assert MODES == ("maps", "maps-zlib", "maps-lzma", "events-zlib")
    chosen = {
        rate: codec.mode_of(codec.compress(_spikes((4, 1, 4, 8, 8), rate))[0])
        for rate in (0.01, 0.5, 1.0)
    }
    assert chosen[0.01] == "events-zlib" and chosen[0.5] == "maps"
    assert chosen[1.0] in ("maps-zlib", "maps-lzma")
    streams = codec.compress(_spikes((4, 1, 4, 8, 8), 0.5), stream_id=3)
    with pytest.raises(ValueError, match="damaged bitstream"):
        codec.mode_of(Bitstream(streams[0].packets[1:]))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (torch.full((2, 2, 4), 0.5), ValueError, r"exactly 0 or 1.*first 0.5 at index \[0, 0, 0\]"),
        (torch.full((2, 2, 4), 2.0), ValueError, "exactly 0 or 1"),
        (torch.full((2, 2, 4), -1.0), ValueError, "exactly 0 or 1"),
        (torch.zeros(2, 4), ValueError, r"expected spikes \[T, B, C\].*shape \(2, 4\)"),
        (torch.zeros(1, 1, 4, 2, 2, 2), ValueError, "expected spikes"),
        (torch.zeros(0, 2, 4), ValueError, "T = 0 time steps"),
        (torch.zeros(2, 0, 4), ValueError, "empty spike batch"),
        (torch.zeros(2, 2, 5), ValueError, r"in_channels=4 but the spikes' dim 2 \(C\) is 5"),
        (torch.zeros(2, 2, 7, 5), ValueError, "in_channels=4 but the spikes' last dim D is 5"),
        (torch.zeros(2, 2, 3, 4, 4), ValueError, r"dim 2 \(C\) is 3.*in_channels=3"),
        (torch.zeros(2, 2, 4, dtype=torch.int64), TypeError, "floating point.*x.float()"),
        ([[[0.0] * 4]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_inputs_are_refused_with_a_fix(bad, error, match) -> None:
    codec = create("spikes", 4)
    with pytest.raises(error, match=match):
        codec.compress(bad)
    with pytest.raises(error, match=match):
        codec(bad)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_spikes_are_refused(value: float) -> None:
    x = _spikes(SHAPES["tokens"], 0.3)
    x[1, 0, 2, 3] = value
    with pytest.raises(ValueError, match=r"(1 NaN|1 Inf).*first at index \[1, 0, 2, 3\]"):
        create("spikes", 4).compress(x)


# The generic contract tests (test_codecs, test_identity, test_fuzz_bitstream) feed [B, ...]
# float features and index examples on dim 0; these are their checks on the [T, B, ...] layout.
def _batch(seed: int = 0) -> tuple[SpikeCodec, torch.Tensor, list[Bitstream]]:
    codec = create("spikes", 3, mtu_bytes=48)
    x = _spikes((4, 3, 3, 6, 6), 0.3, seed)
    return codec, x, codec.compress(x)


def test_huge_or_bad_declared_shapes_are_refused_before_decoding() -> None:
    codec, x, streams = _batch()
    sid = streams[0].packets[0].stream_id
    varints = _encode_varints
    for prefix, match in [
        (varints(np.array([3, 10**8, 6, 6])), "axis of 100000000"),
        (varints(np.array([3, 4, 4096, 4096])), "at most 16777216"),
        (varints(np.array([3, 0, 6, 6])), "empty example shape"),
        (varints(np.array([2, 4, 10**8])), "axis of 100000000"),
        (varints(np.array([7])), "feature rank of 7"),
        (varints(np.array([0, 4])), "feature rank of 0"),
    ]:
        batch = [streams[0], _frame(codec, prefix + bytes(64), sid), streams[2]]
        with pytest.raises(ValueError, match=r"bitstreams\[1\] \(example 1\).*" + match):
            codec.decompress(batch)
        result = codec.decompress(batch, on_error="flag", shape=(4, 3, 6, 6))
        assert result.erasure_mask.tolist() == [False, True, False]
        assert torch.equal(result.x_hat[:, [0, 2]], x[:, [0, 2]])


def test_examples_of_another_stream_or_slot_are_caught() -> None:
    codec, x, a = _batch()
    _, _, b = _batch(1)
    with pytest.raises(ValueError, match=r"bitstreams\[1\].*belongs to stream"):
        codec.decompress([a[0], b[1], a[2]])
    swapped = codec.decompress([a[1], a[0], a[2]], on_error="flag")
    assert swapped.erasure_mask.tolist() == [True, True, False]
    assert torch.equal(swapped.x_hat[:, 2], x[:, 2])
    later = codec.compress(x, first_example_id=5)
    assert torch.equal(codec.decompress(later, first_example_id=5), x)
    foreign = create("int8", 3, mtu_bytes=48).compress(torch.rand(3, 3, 6, 6))
    with pytest.raises(ValueError, match=r"bitstreams\[1\].*codec id 3 \(int8\)"):
        codec.decompress([a[0], foreign[1], a[2]])


@settings(max_examples=40, derandomize=True, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1))
def test_bit_flips_anywhere_never_decode_silently(flips) -> None:
    codec, x, streams = _batch()
    data = bytearray(b"".join(s.to_bytes() for s in streams))
    for at, bit in flips:
        data[at % len(data)] ^= 1 << bit
    bounds = np.cumsum([0, *(s.num_bytes for s in streams)])
    received = []
    for i in range(3):
        try:
            received.append(Bitstream.from_bytes(bytes(data[bounds[i] : bounds[i + 1]]), False))
        except ValueError:  # nothing left to frame
            received.append(Bitstream([]))
    result = codec.decompress(received, on_error="flag", shape=(4, 3, 6, 6))
    kept = ~result.erasure_mask
    assert torch.equal(result.x_hat[:, kept], x[:, kept]), "an unflagged example is wrong"
