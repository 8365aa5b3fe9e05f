"""The codec contract on the baselines: registry, exact round trips, real sizes, bad input."""

from __future__ import annotations

import pytest
import torch

import spikesat.codecs as codecs
from spikesat.codecs import Bitstream, DecodeResult, create, list_codecs

# Every registered byte codec is tested: a new one cannot escape the contract tests.
FEATURE_CODECS = list_codecs(kind="feature")
IMAGE_CODECS = list_codecs(kind="image")
SHAPES = {"tokens": (3, 17, 16), "maps": (3, 16, 5, 7)}


def _features(kind: str, seed: int = 0) -> torch.Tensor:
    return torch.randn(*SHAPES[kind], generator=torch.Generator().manual_seed(seed)) * 2


def test_registry_lists_every_family() -> None:
    assert set(list_codecs()) >= {
        "float32",
        "float16",
        "int8",
        "jpeg",
        "webp",
        "avif",
        "factorized",
        "hyperprior",
        "deepjscc",
    }
    ids = codecs.codec_names_by_id()
    assert len(ids) == len(list_codecs())


def test_every_codec_has_one_kind() -> None:
    kinds = {kind: list_codecs(kind=kind) for kind in codecs.registry.CODEC_KINDS}
    assert sorted(name for names in kinds.values() for name in names) == list_codecs()
    assert {"jpeg", "webp", "avif"} <= set(kinds["image"])
    assert kinds["analog"] == ["deepjscc"]
    with pytest.raises(ValueError, match="choose one of feature, image, analog"):
        list_codecs(kind="digital")


def test_unknown_name_lists_choices_and_closest() -> None:
    with pytest.raises(ValueError, match="Did you mean 'factorized'.*Valid codec names"):
        create("factorised", 16)


def test_unknown_option_is_rejected_with_valid_ones() -> None:
    with pytest.raises(TypeError, match="unknown option.*latent_channels"):
        create("factorized", 16, latent_chanels=4)


@pytest.mark.parametrize("name", FEATURE_CODECS)
@pytest.mark.parametrize("kind", ["tokens", "maps"])
def test_round_trip_is_exact_and_sizes_are_real(name: str, kind: str) -> None:
    codec = create(name, 16).eval()
    x = _features(kind)
    streams = codec.compress(x)
    assert len(streams) == x.shape[0]
    for s in streams:
        assert s.num_bytes == len(s.to_bytes())
    x_hat = codec.decompress([Bitstream.from_bytes(s.to_bytes()) for s in streams])
    assert x_hat.shape == x.shape
    assert torch.equal(x_hat, codec(x)["x_hat"])
    # Two calls are two streams (fresh stream ids); a fixed stream id gives the same bytes.
    again = codec.compress(x)
    assert again[0].packets[0].stream_id != streams[0].packets[0].stream_id
    same = [[s.to_bytes() for s in codec.compress(x, stream_id=5)] for _ in range(2)]
    assert same[0] == same[1]


def test_float32_is_lossless_and_float16_int8_bounded() -> None:
    x = _features("tokens")
    assert torch.equal(create("float32", 16).decompress(create("float32", 16).compress(x)), x)
    f16 = create("float16", 16)
    assert torch.equal(f16.decompress(f16.compress(x)), x.half().float())
    int8 = create("int8", 16)
    x_hat = int8.decompress(int8.compress(x))
    step = (x.amax(1) - x.amin(1)) / 255  # per-channel step, tokens [B, D]
    assert bool(((x_hat - x).abs() <= step[:, None, :] * 0.51 + 2e-2).all())


@pytest.mark.parametrize("compressor", ["zlib", "lzma", "none"])
def test_int8_compressors_round_trip(compressor: str) -> None:
    codec = create("int8", 16, compressor=compressor)
    x = _features("maps")
    assert torch.equal(codec.decompress(codec.compress(x)), codec(x)["x_hat"])
    with pytest.raises(ValueError, match="compressor"):
        create("int8", 16, compressor="gzip")


def test_payload_sizes_match_raw_sizes() -> None:
    x = _features("tokens")
    raw = create("float32", 16).compress(x)[0]
    assert sum(len(p.payload) for p in raw.packets) == 2 + 17 * 16 * 4  # shape prefix + values


@pytest.mark.parametrize("name", IMAGE_CODECS)
def test_image_codecs_round_trip_and_quality_orders_size(name: str) -> None:
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    low, high = create(name, 3, quality=10), create(name, 3, quality=90)
    small, big = low.compress(images), high.compress(images)
    assert sum(s.num_bytes for s in small) < sum(s.num_bytes for s in big)
    decoded = high.decompress(big)
    assert torch.equal(decoded, high(images)["x_hat"])
    assert (decoded - images).abs().mean() < (low.decompress(small) - images).abs().mean()


@pytest.mark.parametrize("quality", [-1, 101, 50.5, True])
def test_image_quality_out_of_range(quality: object) -> None:
    with pytest.raises(ValueError, match="quality"):
        create("jpeg", 3, quality=quality)


def test_image_codec_rejects_tokens_and_band_counts() -> None:
    with pytest.raises(ValueError, match="in_channels"):
        create("webp", 13)
    with pytest.raises(ValueError, match="images"):
        create("jpeg", 3).compress(torch.rand(2, 5, 3))


@pytest.mark.parametrize("name", FEATURE_CODECS)
def test_bad_features(name: str) -> None:
    codec = create(name, 16)
    x = _features("tokens")
    for bad, value in (("NaN", float("nan")), ("Inf", float("inf"))):
        y = x.clone()
        y[1, 2, 3] = value
        with pytest.raises(ValueError, match=f"1 {bad}|{bad} values"):
            codec.compress(y)
        with pytest.raises(ValueError, match="NaN"):
            codec(y)
    with pytest.raises(ValueError, match="in_channels=16"):
        codec.compress(torch.randn(2, 17, 8))
    with pytest.raises(ValueError, match="tokens"):
        codec.compress(torch.randn(16))
    with pytest.raises(TypeError, match="floating point"):
        codec.compress(torch.ones(2, 3, 16, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        codec.compress([[1.0] * 16])


def test_float16_overflow_is_refused() -> None:
    with pytest.raises(ValueError, match="overflows float16"):
        create("float16", 4).compress(torch.full((1, 2, 4), 1e6))


def test_damaged_stream_raises_by_default_and_flags_on_request() -> None:
    codec = create("int8", 16, mtu_bytes=64)
    x = _features("tokens")
    streams = codec.compress(x)
    streams[1] = Bitstream(streams[1].packets[1:])  # lose a packet of example 1
    with pytest.raises(ValueError, match=r"bitstreams\[1\].*missing"):
        codec.decompress(streams)
    result = codec.decompress(streams, on_error="flag")
    assert isinstance(result, DecodeResult) and result.corrupted
    assert result.erasure_mask.tolist() == [False, True, False]
    assert torch.equal(result.x_hat[1], torch.zeros(17, 16))
    assert torch.equal(result.x_hat[[0, 2]], codec(x)["x_hat"][[0, 2]])
    with pytest.raises(ValueError, match="on_error"):
        codec.decompress(streams, on_error="ignore")


def test_corrupted_bytes_flagged_never_silent() -> None:
    codec = create("float16", 16)
    x = _features("tokens")
    data = bytearray(codec.compress(x[:1])[0].to_bytes())
    data[40] ^= 0x10
    stream = Bitstream.from_bytes(bytes(data), strict=False)
    with pytest.raises(ValueError, match="CRC"):
        codec.decompress([stream])
    flagged = codec.decompress([stream], on_error="flag", shape=(17, 16))
    assert flagged.erasure_mask.tolist() == [True]
    with pytest.raises(ValueError, match="pass shape"):
        codec.decompress([stream], on_error="flag")


def test_first_example_id_is_written() -> None:
    streams = create("float32", 16).compress(_features("tokens"), first_example_id=40)
    assert [s.packets[0].example_id for s in streams] == [40, 41, 42]
