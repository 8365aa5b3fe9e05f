"""The channel-layer contract: SNR convention, I/Q pairs, generate/apply replay, gradients,
pickling, bit error rates against closed forms, and bad input."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from spikesat.channels import ber_awgn, ber_rayleigh, create, list_channels
from spikesat.channels.modulation import (
    bpsk_demodulate,
    bpsk_modulate,
    qpsk_demodulate,
    qpsk_modulate,
)

# The contract tests run over the registry, so a new layer cannot escape them.
NAMES = list_channels()
REQUIRED = {"awgn", "rayleigh", "rician", "shadowed-rician", "lognormal", "tr38811", "jakes"}


def test_all_required_layers_are_registered() -> None:
    assert REQUIRED <= set(NAMES)


def test_awgn_at_10_db_adds_noise_of_power_0_1_to_a_unit_power_signal() -> None:
    x = torch.polar(torch.ones(64, 4096), torch.rand(64, 4096) * 6.28)  # |x| = 1
    y = create("awgn")(x, 10.0, generator=torch.Generator().manual_seed(0))
    noise_power = (y - x).abs().square().mean().item()
    # 262144 complex noise samples: SE of the power estimate is 0.1 / sqrt(n) = 2e-4.
    assert noise_power == pytest.approx(0.1, abs=1e-3)


def test_snr_is_per_example_and_uses_the_measured_signal_power() -> None:
    x = torch.ones(3, 20000, dtype=torch.complex128) * torch.tensor([[1.0], [2.0], [0.5]])
    snr_db = torch.tensor([0.0, 10.0, 20.0])
    y = create("awgn")(x, snr_db, generator=torch.Generator().manual_seed(1))
    measured = (y - x).abs().square().mean(dim=1)
    expected = torch.tensor([1.0, 4.0 / 10.0, 0.25 / 100.0], dtype=torch.float64)
    assert measured.numpy() == pytest.approx(expected.numpy(), rel=0.05)
    unit = create("awgn", signal_power="unit")(x, 10.0, generator=torch.Generator().manual_seed(1))
    assert (unit - x).abs().square().mean().item() == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("name", NAMES)
def test_real_iq_pairs_give_the_same_result_as_complex(name: str) -> None:
    layer = create(name)
    x = torch.randn(5, 3, 7, dtype=torch.complex64)
    y_complex = layer(x, 6.0, generator=torch.Generator().manual_seed(3))
    y_real = layer(torch.view_as_real(x), 6.0, generator=torch.Generator().manual_seed(3))
    assert y_real.shape == (5, 3, 7, 2)
    assert torch.allclose(torch.view_as_complex(y_real.contiguous()), y_complex)


@pytest.mark.parametrize("name", NAMES)
def test_generate_then_apply_replays_exactly(name: str) -> None:
    layer = create(name)
    x = torch.randn(4, 16, dtype=torch.complex64)
    realization = layer.generate(x, torch.Generator().manual_seed(9))
    buffer = io.BytesIO()
    torch.save(realization, buffer)
    buffer.seek(0)
    logged = torch.load(buffer, weights_only=False)
    first = layer.apply(x, 3.0, realization)
    assert torch.equal(first, layer.apply(x, 3.0, logged))
    assert torch.equal(first, layer(x, 3.0, generator=torch.Generator().manual_seed(9)))


def test_module_seed_gives_a_reproducible_sequence() -> None:
    x = torch.randn(2, 8, dtype=torch.complex64)
    a, b = create("rayleigh", seed=5), create("rayleigh", seed=5)
    first = [a(x, 5.0) for _ in range(3)]
    second = [b(x, 5.0) for _ in range(3)]
    assert all(torch.equal(p, q) for p, q in zip(first, second, strict=True))
    assert not torch.equal(first[0], first[1])
    a.reset()
    assert torch.equal(a(x, 5.0), first[0])
    assert not torch.equal(create("rayleigh", seed=6)(x, 5.0), first[0])


@pytest.mark.parametrize("name", NAMES)
def test_layers_are_differentiable_in_x(name: str) -> None:
    layer = create(name, signal_power="unit")
    x = torch.randn(3, 10, dtype=torch.complex128, requires_grad=True)
    realization = layer.generate(x, torch.Generator().manual_seed(2))
    y = layer.apply(x, 10.0, realization)
    y.real.sum().backward()
    # y = h x + noise is linear in x: the gradient of sum(Re y) is conj(h) (torch convention).
    assert torch.allclose(x.grad, realization.expanded().conj())
    z = torch.randn(3, 10, 2, requires_grad=True)
    create(name)(z, 5.0).square().sum().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_layers_round_trip_through_torch_save(name: str) -> None:
    layer = create(name, seed=11)
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    x = torch.randn(2, 6, dtype=torch.complex64)
    assert torch.equal(layer(x, 1.0), restored(x, 1.0))


@pytest.mark.parametrize(("modulation", "snr_db"), [("bpsk", 0.0), ("bpsk", 6.0), ("qpsk", 4.0)])
def test_ber_over_awgn_matches_the_q_function(modulation: str, snr_db: float) -> None:
    bits = torch.randint(0, 2, (50, 8000), generator=torch.Generator().manual_seed(4))
    x = bpsk_modulate(bits) if modulation == "bpsk" else qpsk_modulate(bits)
    layer = create("awgn", signal_power="unit")
    y = layer(x, snr_db, generator=torch.Generator().manual_seed(5))
    decided = bpsk_demodulate(y) if modulation == "bpsk" else qpsk_demodulate(y)
    ber = (decided != bits).double().mean().item()
    expected = float(ber_awgn(modulation, snr_db))
    # 400000 bits: 5 binomial standard errors.
    assert abs(ber - expected) < 5 * math.sqrt(expected * (1 - expected) / bits.numel())


@pytest.mark.parametrize(("modulation", "snr_db"), [("bpsk", 5.0), ("bpsk", 15.0), ("qpsk", 10.0)])
def test_ber_over_rayleigh_matches_the_closed_form(modulation: str, snr_db: float) -> None:
    bits = torch.randint(0, 2, (50, 8000), generator=torch.Generator().manual_seed(6))
    x = bpsk_modulate(bits) if modulation == "bpsk" else qpsk_modulate(bits)
    layer = create("rayleigh", block_size=1, signal_power="unit")
    realization = layer.generate(x, torch.Generator().manual_seed(7))
    y = layer.apply(x, snr_db, realization)
    h = realization.expanded()
    decided = bpsk_demodulate(y, h) if modulation == "bpsk" else qpsk_demodulate(y, h)
    ber = (decided != bits).double().mean().item()
    expected = float(ber_rayleigh(modulation, snr_db))
    # Independent fading per symbol, so bits are (nearly) independent: 5 binomial SE.
    assert abs(ber - expected) < 5 * math.sqrt(expected * (1 - expected) / bits.numel())


@pytest.mark.parametrize(
    ("snr_db", "error", "match"),
    [
        (float("nan"), ValueError, "finite"),
        (float("inf"), ValueError, "finite"),
        (torch.tensor([1.0, float("nan"), 2.0]), ValueError, "finite"),
        (torch.tensor([1.0, 2.0]), ValueError, "shape"),
        ("10", TypeError, "snr_db"),
    ],
)
def test_bad_snr_raises(snr_db: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        create("awgn")(torch.randn(3, 4, dtype=torch.complex64), snr_db)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.randn(3, 4, 3), "I/Q pairs"),
        (torch.ones(3, 4, 2, dtype=torch.int64), "I/Q pairs"),
        (torch.zeros(0, 4, dtype=torch.complex64), "batch"),
    ],
)
def test_bad_inputs_raise(x: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        create("rayleigh")(x, 3.0)


def test_replaying_on_another_shape_raises() -> None:
    layer = create("rayleigh")
    realization = layer.generate(torch.randn(2, 4, dtype=torch.complex64))
    with pytest.raises(ValueError, match="generate"):
        layer.apply(torch.randn(2, 5, dtype=torch.complex64), 1.0, realization)


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "match"),
    [
        ("raleigh", {}, ValueError, "rayleigh"),
        ("rician", {"k_factor": -1.0}, ValueError, "k_factor"),
        ("rician", {"k": 3.0}, TypeError, "k"),
        ("rayleigh", {"block_size": 0}, ValueError, "block_size"),
        ("shadowed-rician", {"shadowing": "medium"}, ValueError, "light, average, heavy"),
        ("shadowed-rician", {"shadowing": "light", "m": 2.0}, ValueError, "not both"),
        ("shadowed-rician", {"shadowing": None, "b0": 0.1}, ValueError, "b0, m and omega"),
        ("lognormal", {"sigma_db": -2.0}, ValueError, "sigma_db"),
        ("tr38811", {"scenario": "forest"}, ValueError, "dense-urban"),
        ("tr38811", {"frequency_ghz": 10.0}, ValueError, "not extrapolated"),
        ("tr38811", {"elevation_deg": 5.0}, ValueError, "10 to 90"),
        ("tr38811", {"elevation_deg": 120.0}, ValueError, "-90, 90"),
        ("jakes", {"max_doppler_hz": 0.0}, ValueError, "max_doppler_hz"),
        ("jakes", {"num_sinusoids": 2}, ValueError, "num_sinusoids"),
        ("awgn", {"signal_power": "peak"}, ValueError, "measured, unit"),
    ],
)
def test_bad_layer_arguments_raise(name: str, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        create(name, **kwargs)


def test_tr38811_takes_one_elevation_per_example() -> None:
    layer = create("tr38811", scenario="urban", elevation_deg=np.array([10.0, 90.0]))
    realization = layer.generate(torch.ones(2, 3, dtype=torch.complex64))
    assert realization.info["los"].shape == (2, 1)
    with pytest.raises(ValueError, match="one per example"):
        layer.generate(torch.ones(3, 3, dtype=torch.complex64))
