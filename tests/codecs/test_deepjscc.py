"""DeepJSCC: power-normalised symbols, SNR side information, channel in the loop."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from spikesat import channels
from spikesat.codecs import CodecTrainConfig, create, evaluate_codec, train_codec


class StandInAWGN(nn.Module):
    """Stand-in for spikesat.channels' "awgn" layer: unit-power signal, noise power 10^(-snr/10)."""

    def forward(self, x: torch.Tensor, snr_db, generator: torch.Generator | None = None):
        noise_var = torch.pow(10.0, -torch.as_tensor(snr_db, dtype=torch.float32) / 10).reshape(
            -1, 1
        )
        noise = torch.randn(*x.shape, 2, generator=generator)
        return x + torch.view_as_complex(noise) * torch.sqrt(noise_var / 2)


def _codec(**kw) -> nn.Module:
    options = {
        "feature_shape": (9, 16),
        "num_symbols": 12,
        "hidden_channels": 64,
        "channel": StandInAWGN(),
    }
    options.update(kw)
    return create("deepjscc", 16, **options)


def test_symbols_have_unit_power_per_example() -> None:
    codec = _codec()
    symbols = codec.encode(torch.randn(5, 9, 16) * 7, snr_db=3.0)
    assert symbols.shape == (5, 12) and symbols.is_complex()
    torch.testing.assert_close(symbols.abs().square().mean(1), torch.ones(5), rtol=1e-5, atol=1e-5)


def test_forward_contract_and_snr_checks() -> None:
    codec = _codec().eval()
    x = torch.randn(3, 9, 16)
    out = codec(
        x, snr_db=torch.tensor([0.0, 5.0, 10.0]), generator=torch.Generator().manual_seed(0)
    )
    assert out["x_hat"].shape == x.shape and out["likelihoods"] == {}
    with pytest.raises(ValueError, match="outside the range"):
        codec(x, snr_db=30.0)
    with pytest.raises(ValueError, match="needs snr_db"):
        codec(x)
    with pytest.raises(ValueError, match="finite"):
        codec(x, snr_db=float("nan"))
    with pytest.raises(ValueError, match="feature_shape"):
        codec(torch.randn(3, 10, 16), snr_db=5.0)
    with pytest.raises(TypeError, match="analog"):
        codec.compress(x)
    with pytest.raises(TypeError, match="analog"):
        codec.decompress([])


def test_bad_construction() -> None:
    with pytest.raises(ValueError, match="feature_shape"):
        create("deepjscc", 16, feature_shape=(9, 8), channel=StandInAWGN())
    with pytest.raises(ValueError, match="snr_range_db"):
        _codec(snr_range_db=(10.0, 0.0))
    with pytest.raises(ValueError, match="num_symbols"):
        _codec(num_symbols=0)


def test_same_seed_same_output_and_pickles() -> None:
    codec = _codec().eval()
    x = torch.randn(4, 9, 16)
    a = codec(x, snr_db=5.0, generator=torch.Generator().manual_seed(3))["x_hat"]
    b = codec(x, snr_db=5.0, generator=torch.Generator().manual_seed(3))["x_hat"]
    assert torch.equal(a, b)
    buffer = io.BytesIO()
    torch.save(codec, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    c = restored(x, snr_db=5.0, generator=torch.Generator().manual_seed(3))["x_hat"]
    assert torch.equal(a, c)


def test_trained_with_channel_in_loop_degrades_gracefully_with_snr() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(384, 9, 16, generator=gen)
    w = torch.randn(16, 4, generator=gen)
    labels = (x.mean(1) @ w).argmax(1)
    remote = nn.Sequential(nn.Flatten(0, 0))

    class Head(nn.Module):
        def forward(self, f: torch.Tensor) -> torch.Tensor:
            return f.mean(1) @ w

    remote = Head()
    codec = _codec(num_symbols=8)
    train_codec(codec, x, labels, remote, CodecTrainConfig(num_epochs=12, batch_size=64, lr=3e-3))
    low = evaluate_codec(codec, x, labels, remote, snr_db=-5.0)["accuracy"]
    high = evaluate_codec(codec, x, labels, remote, snr_db=20.0)["accuracy"]
    assert high > low + 0.05  # more SNR, better decoding
    assert high > 0.6  # far above chance (0.25)


def test_named_channel_uses_spikesat_channels() -> None:
    codec = create("deepjscc", 16, feature_shape=(9, 16), channel="rayleigh").eval()
    assert isinstance(codec.channel, channels.Rayleigh)
    out = codec(torch.randn(2, 9, 16), snr_db=10.0, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out["x_hat"]).all()
