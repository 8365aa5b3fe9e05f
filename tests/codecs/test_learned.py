"""Learned codecs: bit-exact latents, entropy-table upkeep, training, checkpoints."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from spikesat.codecs import (
    CODECS,
    CodecTrainConfig,
    create,
    evaluate_codec,
    list_codecs,
    load_codec,
    save_codec,
    train_codec,
    train_lambda_sweep,
)

# The entropy-coded learned codecs of the registry: those that decode their latents.
LEARNED_CODECS = [n for n in list_codecs() if hasattr(CODECS.get(n), "decompress_latents")]


def _data(n: int = 256, tokens: int = 9, dim: int = 16, classes: int = 4, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, tokens, dim, generator=gen)
    w = torch.randn(dim, classes, generator=gen)
    labels = (x.mean(1) @ w).argmax(1)
    return x, labels, w


class MeanHead(nn.Module):
    """A fixed remote part: mean over tokens then a linear classifier."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.fc = nn.Linear(w.shape[0], w.shape[1], bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(w.T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(1))


@pytest.mark.parametrize("name", LEARNED_CODECS)
@pytest.mark.parametrize(
    "shape,downsample", [((4, 9, 16), 0), ((4, 16, 7, 5), 1), ((2, 16, 8, 8), 2)]
)
def test_decoded_latents_equal_quantised_latents(name, shape, downsample) -> None:
    codec = create(name, 16, downsample=downsample).eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) * 3
    streams = codec.compress(x)
    assert torch.equal(codec.decompress_latents(streams), codec.quantized_latents(x))
    # Decoding a subset (different batch composition) gives the same latents per example.
    assert torch.equal(codec.decompress_latents(streams[1:2]), codec.quantized_latents(x)[1:2])
    assert torch.equal(codec.decompress(streams), codec(x)["x_hat"])
    assert codec.decompress(streams).shape == x.shape


@pytest.mark.parametrize("name", LEARNED_CODECS)
def test_check_valid_forged_payloads_are_refused(name, monkeypatch) -> None:
    """Bytes the encoder did not write, inside a bitstream whose every check passes (the
    sender's encoder swapped for a forger), are refused naming the example: the rANS decoder
    reads any bytes, so the decoder re-encodes what it read and compares."""
    codec = create(name, 16).eval()
    x = torch.randn(3, 16, 8, 8, generator=torch.Generator().manual_seed(2))
    codec.ensure_tables()
    honest = codec.encode_payloads(x)
    gen = torch.Generator().manual_seed(3)
    forgeries = {
        "random bytes": lambda b: bytes(torch.randint(0, 256, (len(b),), generator=gen).tolist()),
        "one byte flipped": lambda b: b[:5] + bytes([b[5] ^ 0x41]) + b[6:],
        "a byte appended": lambda b: b + b"\x00",
    }
    for label, forge in forgeries.items():
        forged = [honest[0], forge(honest[1]), honest[2]]
        monkeypatch.setattr(codec, "encode_payloads", lambda _x, forged=forged: forged)
        streams = codec.compress(x)
        with pytest.raises(ValueError, match="example 1"):
            codec.decompress(streams)
        result = codec.decompress(streams, on_error="flag")
        assert result.erasure_mask.tolist() == [False, True, False], label
    monkeypatch.undo()
    assert torch.equal(codec.decompress(codec.compress(x)), codec(x)["x_hat"])


def test_latents_beyond_the_coder_range_are_refused() -> None:
    from spikesat.codecs.learned import MAX_LATENT_MAGNITUDE, require_in_range

    require_in_range(torch.full((1, 2, 3, 3), float(MAX_LATENT_MAGNITUDE)), "latent")
    with pytest.raises(ValueError, match="latent values reach 1.07e\\+09"):
        require_in_range(torch.tensor([[-(2.0**30)]]), "latent")


def test_downsample_pools_tokens_and_checks_range() -> None:
    codec = create("factorized", 16, downsample=3).eval()
    assert codec.quantized_latents(torch.randn(2, 65, 16)).shape[-2:] == (9, 1)
    with pytest.raises(ValueError, match="downsample"):
        create("factorized", 16, downsample=9)


def test_stale_tables_auto_update() -> None:
    codec = create("factorized", 16).eval()
    x = torch.randn(2, 9, 16)
    assert not codec.tables_fresh()
    first = [s.to_bytes() for s in codec.compress(x)]
    assert codec.tables_fresh()
    with torch.no_grad():
        codec.entropy_bottleneck.quantiles.add_(0.5)  # a training step would do this
    assert not codec.tables_fresh()
    streams = codec.compress(x)
    assert codec.tables_fresh()
    assert [s.to_bytes() for s in streams] != first
    assert torch.equal(codec.decompress_latents(streams), codec.quantized_latents(x))


def test_stale_tables_raise_when_asked() -> None:
    codec = create("hyperprior", 16, auto_update_tables=False).eval()
    with pytest.raises(ValueError, match="stale.*update_tables"):
        codec.compress(torch.randn(2, 9, 16))
    codec.update_tables()
    streams = codec.compress(torch.randn(2, 9, 16))
    with torch.no_grad():
        codec.entropy_bottleneck.matrices[0].mul_(1.1)
    with pytest.raises(ValueError, match="stale"):
        codec.decompress(streams)


def test_training_trades_rate_for_accuracy_and_checkpoints_round_trip(tmp_path) -> None:
    torch.set_num_threads(1)
    x, labels, w = _data()
    remote = MeanHead(w)
    cfg = CodecTrainConfig(num_epochs=6, batch_size=64, lr=3e-3, seed=0)
    entries = train_lambda_sweep(
        "factorized",
        16,
        [0.0, 1.0],
        x,
        labels,
        remote,
        codec_kwargs={"latent_channels": 4, "hidden_channels": 32},
        config=cfg,
        checkpoint_dir=tmp_path,
    )
    low, high = (evaluate_codec(e.codec, x, labels, remote) for e in entries)
    assert high["bytes_per_example"] < low["bytes_per_example"]
    assert entries[0].history[-1]["loss"] < entries[0].history[0]["loss"]
    assert all(p.requires_grad for p in remote.parameters())  # remote restored
    # torch.save / torch.load of the trained codec object
    buffer = io.BytesIO()
    torch.save(entries[0].codec, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    streams = entries[0].codec.compress(x[:8], stream_id=9)
    again = restored.compress(x[:8], stream_id=9)
    assert [s.to_bytes() for s in again] == [s.to_bytes() for s in streams]
    assert torch.equal(restored.decompress(streams), entries[0].codec.decompress(streams))
    # the checkpoint written by the sweep (weights_only load, fresh codec)
    loaded, meta = load_codec(entries[0].checkpoint)
    assert meta["lmbda"] == 0.0
    assert torch.equal(loaded.decompress(streams), entries[0].codec.decompress(streams))


def test_hyperprior_trains_and_state_dict_loads_into_fresh_codec(tmp_path) -> None:
    x, labels, w = _data(n=128)
    codec = create("hyperprior", 16, latent_channels=4, hidden_channels=32)
    history = train_codec(
        codec, x, labels, MeanHead(w), CodecTrainConfig(num_epochs=2, batch_size=64)
    )
    assert len(history) == 2 and codec.tables_fresh()
    fresh = create("hyperprior", 16, latent_channels=4, hidden_channels=32).eval()
    fresh.load_state_dict(codec.state_dict())
    assert fresh.tables_fresh()
    streams = codec.compress(x[:4], stream_id=3)
    assert [s.to_bytes() for s in fresh.compress(x[:4], stream_id=3)] == [
        s.to_bytes() for s in streams
    ]
    path = save_codec(codec, tmp_path / "hp.pt", meta={"note": "test"})
    loaded, meta = load_codec(path)
    assert meta == {"note": "test"}
    assert torch.equal(loaded.decompress(streams), codec.decompress(streams))


def test_training_refuses_baselines_and_bad_config() -> None:
    x, labels, w = _data(n=32)
    with pytest.raises(ValueError, match="nothing to train"):
        train_codec(create("int8", 16), x, labels, MeanHead(w))
    with pytest.raises(ValueError, match="lmbda"):
        CodecTrainConfig(lmbda=-1.0)
    with pytest.raises(ValueError, match="labels"):
        train_codec(create("factorized", 16), x, labels[:5], MeanHead(w))


def test_load_codec_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="spikesat codec train"):
        load_codec(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"something": 1}, bad)
    with pytest.raises(ValueError, match="not a spikesat codec checkpoint"):
        load_codec(bad)
