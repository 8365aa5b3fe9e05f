"""Property-based fuzzing of bitstreams: a corrupted stream never decodes silently to a wrong
tensor. Every outcome is a ``ValueError``, a flag on the damaged examples, or a decode equal to
the clean decode. Bounded (50 examples per codec, derandomised) so it runs in seconds; the
long run is ``benchmarks/fuzz.py``.

"The clean decode" of slot ``i`` is that of example ``i`` of the stream sent, or of example
``i`` of the other stream when that example was moved in whole and its stream outvotes the
sent one (no decoder can tell the two apart without being told the stream id).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesat.codecs import CODECS, Bitstream, list_codecs
from spikesat.codecs.registry import codec_kind

BYTE_CODECS = [
    name
    for name in list_codecs()
    if CODECS.get(name).produces_bytes and codec_kind(name) != "spikes"
]  # spike trains: test_spikes.py
FUZZ = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_CASES: dict[str, tuple] = {}


def _case(name: str, small_codec, inputs) -> tuple:
    """Per codec, once: the codec, two streams of 3 examples and their clean decodes."""
    if name not in _CASES:
        codec = small_codec(name)
        a, b = codec.compress(inputs(name, 0)), codec.compress(inputs(name, 1))
        clean, other = codec.decompress(a), codec.decompress(b)
        for i in range(3):  # every slot tells a wrong decode from a right one
            assert not torch.equal(clean[i], other[i])
            assert not torch.equal(clean[i], clean[(i + 1) % 3])
        _CASES[name] = (codec, a, b, clean, other)
    return _CASES[name]


def _stream_id_of(codec) -> int:
    """The id of the stream sent (``a``) for this codec's case."""
    return next(case[1][0].packets[0].stream_id for case in _CASES.values() if case[0] is codec)


def _read(data: bytes) -> Bitstream:
    """What a receiver holds for one example's bytes (framing damage counted, not raised)."""
    try:
        return Bitstream.from_bytes(data, strict=False)
    except ValueError:  # nothing left at all
        return Bitstream([])


def _rows_right(x_hat: torch.Tensor, rows, clean: torch.Tensor, other: torch.Tensor) -> bool:
    return all(torch.equal(x_hat[i], clean[i]) or torch.equal(x_hat[i], other[i]) for i in rows)


def _assert_never_silent(codec, examples: list[bytes], clean, other) -> None:
    streams = [_read(data) for data in examples]
    try:
        x_hat = codec.decompress(streams)
    except ValueError:
        pass
    else:
        assert _rows_right(x_hat, range(len(x_hat)), clean, other), "decoded silently wrong"
    result = codec.decompress(streams, on_error="flag", shape=tuple(clean.shape[1:]))
    kept = torch.nonzero(~result.erasure_mask).flatten().tolist()
    assert _rows_right(result.x_hat, kept, clean, other), "an unflagged example is wrong"
    assert set(result.reasons) == set(torch.nonzero(result.erasure_mask).flatten().tolist())
    # Told the stream, the decoder flags everything else.
    pinned = codec.decompress(
        streams, on_error="flag", shape=tuple(clean.shape[1:]), stream_id=_stream_id_of(codec)
    )
    kept = ~pinned.erasure_mask
    assert torch.equal(pinned.x_hat[kept], clean[kept])


corruption = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 2), st.integers(0, 10**6)),
    st.tuples(st.just("extend"), st.integers(0, 2), st.binary(min_size=1, max_size=40)),
    st.tuples(
        st.just("overwrite"),
        st.integers(0, 2),
        st.integers(0, 10**6),
        st.binary(min_size=1, max_size=8),
    ),
    st.tuples(st.just("swap_across"), st.integers(0, 2), st.integers(0, 10**6)),
    st.tuples(st.just("move_across"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("reorder"), st.integers(0, 2), st.randoms(use_true_random=False)),
    st.tuples(st.just("duplicate"), st.integers(0, 2), st.integers(0, 10**6)),
    st.tuples(st.just("random"), st.integers(0, 2), st.binary(max_size=200)),
    st.tuples(st.just("swap_examples"), st.integers(0, 2), st.integers(0, 2)),
)


def _apply(ops, a: list[Bitstream], b: list[Bitstream]) -> list[bytes]:
    packets = [[p.raw for p in s.packets] for s in a]
    other = [[p.raw for p in s.packets] for s in b]
    examples = [b"".join(p) for p in packets]
    for op in ops:
        kind, e = op[0], op[1]
        data = bytearray(examples[e])
        if kind == "flip" and data:
            data[op[2] % len(data)] ^= 1 << op[3]
        elif kind == "truncate":
            del data[op[2] % (len(data) + 1) :]
        elif kind == "extend":
            data += op[2]
        elif kind == "overwrite" and data:
            at = op[2] % len(data)
            data[at : at + len(op[3])] = op[3]
        elif kind == "swap_across":  # one packet of the other stream, same example and index
            k = op[2] % len(packets[e])
            packets[e][k] = other[e][k % len(other[e])]
            data = bytearray(b"".join(packets[e]))
        elif kind == "move_across":  # a whole example of the other stream
            data = bytearray(b"".join(other[op[2]]))
        elif kind == "reorder":
            op[2].shuffle(packets[e])
            data = bytearray(b"".join(packets[e]))
        elif kind == "duplicate":
            data += packets[e][op[2] % len(packets[e])]
        elif kind == "random":
            data = bytearray(op[2])
        elif kind == "swap_examples":
            examples[e], examples[op[2]] = examples[op[2]], examples[e]
            continue
        examples[e] = bytes(data)
    return examples


@pytest.mark.parametrize("name", BYTE_CODECS)
@FUZZ
@given(ops=st.lists(corruption, min_size=1, max_size=3))
def test_random_corruptions_never_decode_silently(name, ops, small_codec, inputs) -> None:
    codec, a, b, clean, other = _case(name, small_codec, inputs)
    _assert_never_silent(codec, _apply(ops, a, b), clean, other)


@pytest.mark.parametrize("name", BYTE_CODECS)
@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1))
def test_bit_flips_anywhere_never_decode_silently(name, flips, small_codec, inputs) -> None:
    codec, a, _, clean, other = _case(name, small_codec, inputs)
    data = bytearray(b"".join(s.to_bytes() for s in a))
    for at, bit in flips:
        data[at % len(data)] ^= 1 << bit
    # Split back at the original example boundaries (the receiver knows its slots).
    sizes = [s.num_bytes for s in a]
    bounds = [0, sizes[0], sizes[0] + sizes[1], len(data)]
    examples = [bytes(data[bounds[i] : bounds[i + 1]]) for i in range(3)]
    _assert_never_silent(codec, examples, clean, other)
