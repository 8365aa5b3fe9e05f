"""Bitstream identity: every byte codec catches packets and examples that do not belong.

Every scenario runs over every registered codec that produces bytes (``produces_bytes``), so a
new codec cannot escape it. Each one raises ``ValueError`` by default and, with
``on_error="flag"``, flags exactly the damaged example while the others decode as usual.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from spikesat.codecs import CODECS, Bitstream, create, list_codecs
from spikesat.codecs.bitstream import encode_varint
from spikesat.codecs.registry import codec_kind

BYTE_CODECS = [
    name
    for name in list_codecs()
    if CODECS.get(name).produces_bytes and codec_kind(name) != "spikes"
]  # spike trains: test_spikes.py
ALT_OPTIONS = {
    "int8": {"compressor": "lzma"},
    "jpeg": {"quality": 40},
    "webp": {"quality": 40},
    "avif": {"quality": 40},
    "factorized": {"latent_channels": 2},
    "hyperprior": {"hyper_channels": 1},
}
"""Another configuration of each configurable codec (same wire id, other identity)."""


def _stream_id(stream: Bitstream) -> int:
    return stream.packets[0].stream_id


def _forge(codec, payload: bytes, example_id: int, stream_id: int) -> Bitstream:
    """A bitstream whose every check passes but whose payload is ``payload``."""
    return Bitstream.from_payload(
        payload,
        codec_id=codec.codec_id,
        example_id=example_id,
        stream_id=stream_id,
        key=codec.identity(),
        mtu_bytes=codec.mtu_bytes,
    )


def _assert_only_1_damaged(codec, batch, clean, match: str, **kw) -> None:
    """Raise by default (naming bitstreams[1]); flag exactly example 1 on request."""
    with pytest.raises(ValueError, match=r"bitstreams\[1\] \(example 1\).*" + match):
        codec.decompress(batch, **kw)
    result = codec.decompress(batch, on_error="flag", fill_value=-7.0, **kw)
    assert result.erasure_mask.tolist() == [False, True, False], result.reasons
    assert list(result.reasons) == [1] and "bitstreams[1]" in result.reasons[1]
    assert torch.equal(result.x_hat[[0, 2]], clean[[0, 2]])
    assert bool((result.x_hat[1] == -7.0).all())


@pytest.fixture
def setup(small_codec, inputs, request):
    name = request.param
    codec = small_codec(name)
    x = inputs(name, 0)
    streams = codec.compress(x)
    clean = codec.decompress(streams)
    assert not torch.equal(clean[0], clean[1]), "examples must differ for the checks to bite"
    return name, codec, x, streams, clean


def test_byte_codecs_come_from_the_registry() -> None:
    assert set(BYTE_CODECS) >= {
        "float32",
        "float16",
        "int8",
        "jpeg",
        "webp",
        "avif",
        "factorized",
        "hyperprior",
    }
    assert "deepjscc" not in BYTE_CODECS and not CODECS.get("deepjscc").produces_bytes


@pytest.mark.parametrize("setup", BYTE_CODECS, indirect=True)
def test_packets_of_another_stream_are_caught(setup, inputs) -> None:
    name, codec, _, a, clean = setup
    b = codec.compress(inputs(name, 1))
    assert _stream_id(a[0]) != _stream_id(b[0])
    assert a[1].num_packets >= 3, "the scenario needs an example of 3 or more packets"
    # Packets 0 and 2.. of the first stream, packet 1 of the second (same example, same index).
    mixed = Bitstream([a[1].packets[0], b[1].packets[1], *a[1].packets[2:]])
    _assert_only_1_damaged(codec, [a[0], mixed, a[2]], clean, "different streams")
    # A whole example of the other stream in its place.
    _assert_only_1_damaged(codec, [a[0], b[1], a[2]], clean, "belongs to stream")


@pytest.mark.parametrize("setup", BYTE_CODECS, indirect=True)
def test_swapped_and_duplicated_examples_are_caught(setup) -> None:
    _, codec, x, a, clean = setup
    with pytest.raises(ValueError, match=r"bitstreams\[0\].*holds example 1 .*example 0 belongs"):
        codec.decompress([a[1], a[0], a[2]])
    swapped = codec.decompress([a[1], a[0], a[2]], on_error="flag")
    assert swapped.erasure_mask.tolist() == [True, True, False]
    assert torch.equal(swapped.x_hat[2], clean[2])
    _assert_only_1_damaged(codec, [a[0], a[0], a[2]], clean, "holds example 0")
    # A batch that does not start at example 0 says so.
    later = codec.compress(x, first_example_id=5)
    assert torch.equal(codec.decompress(later, first_example_id=5), clean)
    with pytest.raises(ValueError, match="first_example_id="):
        codec.decompress(later)


@pytest.mark.parametrize("setup", BYTE_CODECS, indirect=True)
def test_streams_of_a_foreign_codec_are_caught(setup, small_codec, inputs) -> None:
    name, codec, x, a, clean = setup
    other_name = BYTE_CODECS[(BYTE_CODECS.index(name) + 1) % len(BYTE_CODECS)]
    other = small_codec(other_name).compress(inputs(other_name), stream_id=_stream_id(a[0]))
    _assert_only_1_damaged(codec, [a[0], other[1], a[2]], clean, "codec id")
    if name in ALT_OPTIONS:  # same wire id, another configuration: the digest differs
        alt = small_codec(name, **ALT_OPTIONS[name])
        assert alt.identity() != codec.identity()
        foreign = alt.compress(x, stream_id=_stream_id(a[0]))
        _assert_only_1_damaged(codec, [a[0], foreign[1], a[2]], clean, "example digest")
    if name in ("factorized", "hyperprior"):  # same configuration, other weights
        retrained = small_codec(name)
        with torch.no_grad():
            for p in retrained.parameters():
                p.add_(0.01)
        foreign = retrained.compress(x, stream_id=_stream_id(a[0]))
        _assert_only_1_damaged(codec, [a[0], foreign[1], a[2]], clean, "example digest")


@pytest.mark.parametrize("setup", BYTE_CODECS, indirect=True)
def test_truncated_examples_are_caught(setup) -> None:
    _, codec, _, a, clean = setup
    data = a[1].to_bytes()
    # Cuts inside a packet (a cut on a packet boundary leaves whole packets: see below).
    inside_first = len(a[1].packets[0].to_bytes()) // 2
    for cut in (len(data) - 1, len(data) - 6, inside_first, 3):
        with pytest.raises(ValueError, match="truncated"):
            Bitstream.from_bytes(data[:cut])
        damaged = Bitstream.from_bytes(data[:cut], strict=False)
        _assert_only_1_damaged(codec, [a[0], damaged, a[2]], clean, "damaged bitstream")
    # Whole packets lost at the end: still caught (the count says so).
    _assert_only_1_damaged(codec, [a[0], Bitstream(a[1].packets[:-1]), a[2]], clean, "missing")


@pytest.mark.parametrize("setup", BYTE_CODECS, indirect=True)
def test_huge_declared_sizes_are_refused_before_decoding(setup) -> None:
    _, codec, x, a, clean = setup
    sid = _stream_id(a[0])
    huge = [
        (encode_varint(3) + encode_varint(10**8) + encode_varint(16), "axis of 100000000"),
        (encode_varint(3) + encode_varint(4096) + encode_varint(4096), "at most 16777216"),
        (encode_varint(3) + encode_varint(0) + encode_varint(16), "empty example shape"),
        (encode_varint(7), "rank of 7"),
    ]
    if codec.accepts_tokens:
        huge.append((encode_varint(2) + encode_varint(10**8), "axis of 100000000"))
    else:
        huge.append((encode_varint(2) + encode_varint(16), "rank of 2"))
    for prefix, match in huge:
        forged = _forge(codec, prefix + bytes(64), 1, sid)
        _assert_only_1_damaged(codec, [a[0], forged, a[2]], clean, match)
    # A caller-given shape is enforced, and a wrong one is refused up front.
    _assert_only_1_damaged(
        codec, [a[0], codec.compress(x[:, :, :8], stream_id=sid)[1], a[2]], clean, "shape"
    )
    with pytest.raises(ValueError, match="channels"):
        codec.decompress(a, shape=(5, 16, 16))


@pytest.mark.parametrize("setup", BYTE_CODECS, indirect=True)
def test_valid_checks_but_wrong_payload_is_caught(setup, monkeypatch) -> None:
    """Whatever a payload with valid checks decodes to: a clear error or a flag, not garbage."""
    name, codec, x, a, clean = setup
    sid = _stream_id(a[0])
    body = a[1].payload(codec.codec_id, codec.identity())
    prefix, rest = body[:3], body[3:]  # (3, 16, 16) as three one-byte varints
    assert codec._split_shape(body) == ((3, 16, 16), rest)
    # The payload of an 8x8 example under a 16x16 header.
    small = codec.compress(x[:, :, :8, :8], stream_id=sid)[1].payload(
        codec.codec_id, codec.identity()
    )
    cases = [prefix + rest[: len(rest) // 2], prefix + small[3:]]
    if name not in ("factorized", "hyperprior"):
        # The entropy decoders read whatever bits they get; the other codecs must refuse.
        for payload in cases:
            _assert_only_1_damaged(codec, [a[0], _forge(codec, payload, 1, sid), a[2]], clean, "")
    for payload in [*cases, prefix + bytes(len(rest)), prefix + b"\xff" * len(rest)]:
        result = codec.decompress(
            [a[0], _forge(codec, payload, 1, sid), a[2]], on_error="flag", shape=(3, 16, 16)
        )
        assert result.erasure_mask.tolist() in ([False, True, False], [False, False, False])
        assert bool(torch.isfinite(result.x_hat).all())
        assert torch.equal(result.x_hat[[0, 2]], clean[[0, 2]])

    # Whatever the decoder does with example 1 (wrong shape, NaN, any exception), the base
    # class names the example and flags only it. The stand-in decoder misbehaves on row 1 of
    # the batch call and on the second one-example call (the base retries one at a time).
    real = codec.decode_payloads

    def decoder(behaviour):
        calls = [0]

        def decode(payloads, shape):
            out = real(payloads, shape)
            if len(payloads) == 3:
                calls[0], row = 0, 1
            else:
                calls[0] += 1
                if calls[0] != 2:
                    return out
                row = 0
            if behaviour == "shape":
                return out[..., :-1]
            if behaviour == "nan":
                out = out.clone()
                out[row, 0, 0, 0] = float("nan")
                return out
            raise behaviour("decoder blew up")

        return decode

    for behaviour, match in [
        ("shape", "decodes to shape"),
        ("nan", "1 NaN/Inf"),
        (RuntimeError, "RuntimeError: decoder blew up"),
        (SyntaxError, "SyntaxError: decoder blew up"),
        (KeyError, "KeyError"),
        (ValueError, "ValueError: decoder blew up"),
    ]:
        monkeypatch.setattr(codec, "decode_payloads", decoder(behaviour))
        _assert_only_1_damaged(codec, a, clean, match)
    monkeypatch.undo()


@pytest.mark.parametrize("name", ["float16", "float32"])
def test_raw_nan_payload_is_flagged(name: str, small_codec, images) -> None:
    codec = small_codec(name)
    a = codec.compress(images(0))
    clean = codec.decompress(a)
    dtype = np.float16 if name == "float16" else np.float32
    body = np.full((3, 16, 16), np.nan, dtype=dtype).astype(np.dtype(dtype).newbyteorder("<"))
    prefix = encode_varint(3) + encode_varint(16) + encode_varint(16)
    forged = _forge(codec, prefix + body.tobytes(), 1, _stream_id(a[0]))
    _assert_only_1_damaged(codec, [a[0], forged, a[2]], clean, "768 NaN/Inf")


@pytest.mark.parametrize("setup", ["int8", "jpeg", "webp", "avif"], indirect=True)
def test_undecodable_payload_flags_only_its_example(setup) -> None:
    _, codec, _, a, clean = setup
    body = bytearray(a[1].payload(codec.codec_id, codec.identity()))
    body[3:] = bytes(len(body) - 3)  # intact checks, payload of zeros after the shape prefix
    forged = _forge(codec, bytes(body), 1, _stream_id(a[0]))
    _assert_only_1_damaged(codec, [a[0], forged, a[2]], clean, "undecodable payload")


def test_stream_ids_come_from_the_codec_generator(small_codec, images) -> None:
    x = images(0)
    codec = small_codec("int8")
    state = torch.random.get_rng_state()
    codec.seed_stream_ids(11)
    first = [s.to_bytes() for s in codec.compress(x)]
    codec.seed_stream_ids(11)
    assert [s.to_bytes() for s in codec.compress(x)] == first
    assert torch.equal(torch.random.get_rng_state(), state), "torch's global RNG was used"
    fresh = small_codec("int8")
    twin = copy.deepcopy(fresh)  # a copy does not repeat the original's ids
    ids = {_stream_id(c.compress(x[:1])[0]) for _ in range(10) for c in (fresh, twin)}
    assert len(ids) == 20
    with pytest.raises(ValueError, match="stream_id"):
        codec.compress(x, stream_id=2**32)
    with pytest.raises(TypeError, match="stream_id"):
        codec.compress(x, stream_id="7")


def test_identity_ignores_transport_options_only() -> None:
    base = create("int8", 4)
    assert create("int8", 4, mtu_bytes=64).identity() == base.identity()
    assert create("int8", 4, compressor="lzma").identity() != base.identity()
    assert create("int8", 5).identity() != base.identity()
    assert create("float16", 4).identity() != create("float32", 4).identity()
    assert len(base.identity()) == 16


def test_header_overhead_per_example(images) -> None:
    """One-packet examples: 19 bytes + the payload-length varint (version 1: 11 + varint)."""
    codec = create("int8", 3)
    (stream,) = codec.compress(images(0)[:1])
    (packet,) = stream.packets
    length_varint = len(encode_varint(len(packet.payload)))
    assert stream.num_bytes == len(stream.to_bytes()) == len(packet.payload) + 19 + length_varint


def test_a_stream_without_a_majority_is_not_trusted(small_codec, images) -> None:
    codec = small_codec("float32")
    a, b = codec.compress(images(0)), codec.compress(images(1))
    lost = Bitstream(a[1].packets[1:])
    # One example each of two streams, the third damaged: no stream can be trusted.
    tie = codec.decompress([b[0], lost, a[2]], on_error="flag", shape=(3, 16, 16))
    assert tie.erasure_mask.tolist() == [True, True, True]
    assert "none of them in the majority" in tie.reasons[0]
    # Told the stream, the decoder keeps its examples and flags the other one.
    pinned = codec.decompress([b[0], lost, a[2]], on_error="flag", stream_id=_stream_id(a[0]))
    assert pinned.erasure_mask.tolist() == [True, True, False]
    assert "not the expected stream" in pinned.reasons[0]
    with pytest.raises(ValueError, match="not the expected stream"):
        codec.decompress(b, stream_id=_stream_id(a[0]))
    with pytest.raises(ValueError, match="stream_id"):
        codec.decompress(a, stream_id=-1)
