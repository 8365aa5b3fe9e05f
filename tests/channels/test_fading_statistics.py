"""Statistics of every fading model against closed forms, from large seeded samples.

Tolerances are stated per test as multiples of the Monte-Carlo standard error (SE) of the
estimate, computed from the analytic variance where it is known.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special

from spikesat.channels import create, list_channels

NUM_SAMPLES = 200_000
# Every registered layer with its default parameters (from the registry, so a new layer cannot
# escape), then the parameter sets that matter.
ALL_SETTINGS = [(name, {}) for name in list_channels()] + [
    ("rician", {"k_factor": 0.5}),
    ("rician", {"k_factor": 10.0}),
    ("shadowed-rician", {"shadowing": "light"}),
    ("shadowed-rician", {"shadowing": "average"}),
    ("shadowed-rician", {"shadowing": "heavy"}),
    ("lognormal", {"sigma_db": 6.0}),
    ("tr38811", {"scenario": "dense-urban", "frequency_ghz": 2.0, "elevation_deg": 30.0}),
    ("tr38811", {"scenario": "suburban", "frequency_ghz": 20.0, "elevation_deg": 45.0}),
    ("jakes", {"max_doppler_hz": 5e4, "symbol_rate_hz": 1e6}),
]


def _gains(name: str, kwargs: dict, seed: int = 1) -> np.ndarray:
    """|h|^2 of NUM_SAMPLES independent examples, drawn through the layer's generate step."""
    layer = create(name, **kwargs)
    x = torch.ones(NUM_SAMPLES, 1, dtype=torch.complex128)
    realization = layer.generate(x, torch.Generator().manual_seed(seed))
    return realization.power_gain()[:, 0].numpy()


@pytest.mark.parametrize(("name", "kwargs"), ALL_SETTINGS)
def test_mean_power_gain_matches_the_model(name: str, kwargs: dict) -> None:
    layer = create(name, **kwargs)
    gains = _gains(name, kwargs)
    # SE from the sample variance; 5 SE (plus 1e-12 for the deterministic AWGN case).
    tolerance = 5.0 * gains.std() / math.sqrt(gains.size) + 1e-12
    assert abs(gains.mean() - layer.mean_power_gain()) < tolerance


@pytest.mark.parametrize(("name", "kwargs"), ALL_SETTINGS)
def test_power_gain_distribution_matches_the_analytic_cdf(name: str, kwargs: dict) -> None:
    layer = create(name, **kwargs)
    gains = np.sort(_gains(name, kwargs, seed=2))
    if name == "awgn":
        assert np.all(gains == 1.0)
        return
    empirical = np.arange(1, gains.size + 1) / gains.size
    # Kolmogorov-Smirnov distance; the 0.1 % critical value is 1.95 / sqrt(n) = 0.0044.
    assert np.max(np.abs(empirical - layer.power_gain_cdf(gains))) < 1.95 / math.sqrt(gains.size)


@pytest.mark.parametrize("k_factor", [0.0, 1.0, 5.0, 20.0])
def test_rician_first_and_second_moments(k_factor: float) -> None:
    layer = create("rician", k_factor=k_factor)
    gains = _gains("rician", {"k_factor": k_factor}, seed=3)
    envelope = np.sqrt(gains)
    # E|h| = sqrt(pi / (4 (K+1))) L_{1/2}(-K); E|h|^2 = 1; E|h|^4 = (K^2 + 4K + 2) / (K+1)^2.
    laguerre = np.exp(-k_factor / 2) * (
        (1 + k_factor) * special.i0(k_factor / 2) + k_factor * special.i1(k_factor / 2)
    )
    mean_envelope = math.sqrt(math.pi / (4 * (k_factor + 1))) * laguerre
    assert layer.mean_envelope() == pytest.approx(mean_envelope, rel=1e-12)
    se = envelope.std() / math.sqrt(envelope.size)
    assert abs(envelope.mean() - mean_envelope) < 5 * se
    fourth = (k_factor**2 + 4 * k_factor + 2) / (k_factor + 1) ** 2
    se4 = (gains**2).std() / math.sqrt(gains.size)
    assert abs((gains**2).mean() - fourth) < 5 * se4
    assert layer.second_moment_power() == pytest.approx(fourth)


@pytest.mark.parametrize("shadowing", ["light", "average", "heavy"])
def test_shadowed_rician_first_and_second_moments(shadowing: str) -> None:
    layer = create("shadowed-rician", shadowing=shadowing, normalize=False)
    p = layer.parameters
    gains = _gains("shadowed-rician", {"shadowing": shadowing, "normalize": False}, seed=4)
    # Abdi 2003: E|h|^2 = 2 b0 + Omega; E|h|^4 = Omega^2 (1 + 1/m) + 8 b0 Omega + 8 b0^2.
    first = 2 * p.b0 + p.omega
    second = p.omega**2 * (1 + 1 / p.m) + 8 * p.b0 * p.omega + 8 * p.b0**2
    assert abs(gains.mean() - first) < 5 * gains.std() / math.sqrt(gains.size)
    assert abs((gains**2).mean() - second) < 5 * (gains**2).std() / math.sqrt(gains.size)
    assert layer.second_moment_power() == pytest.approx(second)
    assert layer.mean_power_gain() == pytest.approx(first)


def test_shadowed_rician_cdf_tends_to_one_and_orders_the_levels() -> None:
    cdf = {s: create("shadowed-rician", shadowing=s).power_gain_cdf(np.array([0.1, 1e3]))
           for s in ("light", "average", "heavy")}  # fmt: skip
    for values in cdf.values():
        assert values[1] == pytest.approx(1.0, abs=1e-9)
    # Deep fades are most likely under heavy shadowing.
    assert cdf["heavy"][0] > cdf["average"][0] > cdf["light"][0]


def test_lognormal_gain_in_db_is_gaussian_with_the_given_sigma() -> None:
    layer = create("lognormal", sigma_db=8.0)
    gain_db = 10 * np.log10(_gains("lognormal", {"sigma_db": 8.0}, seed=5))
    assert gain_db.std() == pytest.approx(8.0, rel=0.01)  # SE of sigma: 8/sqrt(2n) = 0.013
    assert gain_db.mean() == pytest.approx(layer.mean_db, abs=5 * 8.0 / math.sqrt(NUM_SAMPLES))


def test_tr38811_los_fraction_and_clutter_loss_follow_the_tables() -> None:
    layer = create("tr38811", scenario="urban", frequency_ghz=2.0, elevation_deg=30.0)
    x = torch.ones(NUM_SAMPLES, 1, dtype=torch.complex128)
    info = layer.generate(x, torch.Generator().manual_seed(6)).info
    los = info["los"].numpy()[:, 0]
    # TR 38.811 Table 6.6.1-1: urban LOS probability 49.3 % at 30 deg; 5 SE tolerance.
    assert abs(los.mean() - 0.493) < 5 * math.sqrt(0.493 * 0.507 / NUM_SAMPLES)
    # Table 6.6.2-2: urban S-band NLOS clutter loss 29.0 dB at 30 deg; SF sigma 4 / 6 dB.
    assert np.all(info["clutter_loss_db"].numpy()[~los, 0] == pytest.approx(29.0))
    assert info["shadow_fading_db"].numpy()[los, 0].std() == pytest.approx(4.0, rel=0.02)
    assert info["shadow_fading_db"].numpy()[~los, 0].std() == pytest.approx(6.0, rel=0.02)


def test_tr38811_interpolates_between_tabulated_elevations() -> None:
    layer = create("tr38811", scenario="dense-urban", frequency_ghz=20.0)
    params = layer.parameters_at(np.array([30.0, 35.0, 40.0]))
    for values in params.values():
        assert values[1] == pytest.approx((values[0] + values[2]) / 2)
    assert params["los_probability"][0] == pytest.approx(0.398)
    assert params["clutter_loss_db"][0] == pytest.approx(37.5)


def test_jakes_autocorrelation_is_clarke_j0() -> None:
    layer = create("jakes", max_doppler_hz=5e4, symbol_rate_hz=1e6, k_factor=0.0)
    x = torch.ones(4000, 64, dtype=torch.complex128)
    h = layer.generate(x, torch.Generator().manual_seed(7)).coefficients.numpy()
    assert np.mean(np.abs(h) ** 2) == pytest.approx(1.0, abs=0.03)
    lags = np.array([1, 4, 8, 16, 32])
    empirical = np.array([np.mean(h[:, : 64 - lag] * np.conj(h[:, lag:])).real for lag in lags])
    # Clarke: R(tau) = J0(2 pi f_D tau); 4000 realisations give an SE of about 1/sqrt(4000*M).
    assert empirical == pytest.approx(layer.autocorrelation(lags), abs=0.03)
    assert layer.autocorrelation(np.array([0]))[0] == pytest.approx(1.0)


def test_jakes_doppler_comes_from_the_orbital_velocity() -> None:
    from spikesat.channels import circular_orbit_speed_km_s, doppler_hz

    speed = circular_orbit_speed_km_s(550.0)
    assert speed == pytest.approx(7.59, abs=0.01)
    layer = create("jakes").from_orbit(550.0, 2.0, symbol_rate_hz=1e7)
    assert layer.max_doppler_hz == pytest.approx(doppler_hz(speed, 2.0))
    assert layer.max_doppler_hz == pytest.approx(speed * 1e3 * 2e9 / 299_792_458.0)


def test_block_size_controls_how_often_the_fading_changes() -> None:
    x = torch.ones(2, 10, dtype=torch.complex64)
    per_example = create("rayleigh").generate(x).expanded()
    assert torch.all(per_example == per_example[:, :1])
    blocks = create("rayleigh", block_size=4).generate(x).expanded()
    assert torch.all(blocks[:, :4] == blocks[:, :1]) and torch.all(blocks[:, 4:8] == blocks[:, 4:5])
    assert not torch.all(blocks[:, 4] == blocks[:, 0])
    fast = create("rayleigh", block_size=1).generate(x).expanded()
    assert len(torch.unique(fast.real)) == 20
