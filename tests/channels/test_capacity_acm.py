"""Shannon capacity, DVB-S2/S2X ACM, outage probability and packet error probability."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spikesat.channels import (
    achievable_rate_bps,
    create,
    frame_error_rate,
    modcod_table,
    outage_probability,
    packet_error_probability,
    shannon_capacity_bps,
)


def test_shannon_capacity() -> None:
    assert shannon_capacity_bps(1e6, 0.0) == pytest.approx(1e6)
    assert shannon_capacity_bps(2e6, 10 * math.log10(3.0)) == pytest.approx(4e6)


def test_dvb_s2_rate_at_a_known_esn0() -> None:
    # EN 302 307-1 Table 13: QPSK 3/4 needs 4.03 dB (1.487473 bit/symbol), QPSK 4/5 4.68 dB.
    table = modcod_table("dvb-s2")
    assert table.modcods[table.select(4.5)[()]].name == "QPSK 3/4"
    assert achievable_rate_bps(4.5, 30e6, table="dvb-s2") == pytest.approx(1.487473 * 30e6)
    # 32APSK 9/10 (16.05 dB, 4.453027 bit/symbol) is the top of DVB-S2.
    assert achievable_rate_bps(30.0, 1e6, table="dvb-s2") == pytest.approx(4.453027e6)


def test_dvb_s2x_adds_finer_modcods() -> None:
    table = modcod_table("dvb-s2x")
    # EN 302 307-2 Table 20a: 16APSK 1/2-L at 5.97 dB (1.972253) beats 8PSK 3/5 at 5.50 dB.
    assert table.modcods[int(table.select(6.0))].name == "16APSK 1/2-L"
    assert float(table.spectral_efficiency(6.0)) == pytest.approx(1.972253)
    assert len(table) == 28 + 39
    assert float(table.spectral_efficiency(30.0)) == pytest.approx(5.900855)


def test_acm_below_every_threshold_gives_no_link_and_margin_backs_off() -> None:
    table = modcod_table("dvb-s2")
    assert int(table.select(-5.0)) == -1
    assert float(table.spectral_efficiency(-5.0)) == 0.0
    assert int(table.select(4.5, margin_db=1.0)) == table.index("QPSK 2/3")  # 3.10 <= 3.5


def test_acm_efficiency_is_monotone_and_only_undominated_modcods_are_chosen() -> None:
    for name in ("dvb-s2", "dvb-s2x"):
        table = modcod_table(name)
        snr = np.linspace(-5.0, 25.0, 3001)
        efficiency = table.spectral_efficiency(snr)
        assert np.all(np.diff(efficiency) >= 0)
        chosen = {table.modcods[i].name for i in table.select(snr) if i >= 0}
        assert chosen == {m.name for m in table.efficient_modcods}
    assert "16APSK 3/5" not in {m.name for m in modcod_table("dvb-s2x").efficient_modcods}


def test_modcod_table_and_names_errors() -> None:
    with pytest.raises(ValueError, match="dvb-s2"):
        modcod_table("dvb-t2")
    with pytest.raises(ValueError, match="QPSK 1/2"):
        modcod_table().get("QPSK 7/8")
    with pytest.raises(ValueError, match="finite"):
        modcod_table().select(float("nan"))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("rayleigh", {}), ("rician", {"k_factor": 4.0}), ("shadowed-rician", {"shadowing": "heavy"})],
)
def test_outage_matches_the_analytic_cdf_and_the_simulated_channel(name: str, kwargs: dict) -> None:
    layer = create(name, **kwargs)
    rate = 2.0  # bit/symbol
    snr_db = 12.0
    gains = (
        layer.generate(
            torch.ones(200_000, 1, dtype=torch.complex128), torch.Generator().manual_seed(8)
        )
        .power_gain()[:, 0]
        .numpy()
    )
    simulated = np.mean(np.log2(1 + 10 ** (snr_db / 10) * gains) < rate)
    analytic = outage_probability(rate, snr_db, layer)
    assert analytic == pytest.approx(float(layer.power_gain_cdf((2**rate - 1) / 10**1.2)))
    assert abs(simulated - analytic) < 5 * math.sqrt(analytic * (1 - analytic) / gains.size)
    if name == "rayleigh":
        assert analytic == pytest.approx(1 - math.exp(-3 / 10**1.2), rel=1e-12)


def test_outage_on_awgn_is_a_step() -> None:
    assert outage_probability(1.0, -1.0) == 1.0
    assert outage_probability(1.0, 1.0) == 0.0


def test_frame_error_rate_is_anchored_at_the_published_threshold() -> None:
    table = modcod_table("dvb-s2x")
    for name in ("QPSK 1/4", "8PSK 3/4", "32APSK 9/10", "QPSK 13/45", "256APSK 3/4"):
        modcod = table.get(name)
        at = float(frame_error_rate(modcod.esn0_threshold_db, modcod))
        assert at == pytest.approx(modcod.reference_error_rate, rel=1e-6)
        curve = frame_error_rate(modcod.esn0_threshold_db + np.linspace(-1, 1, 41), modcod)
        assert np.all(np.diff(curve) <= 0)
        assert curve[0] > 0.5 and curve[-1] < 1e-12


def test_packet_error_grows_with_packet_size_and_falls_with_snr() -> None:
    threshold = modcod_table().get("QPSK 1/2").esn0_threshold_db
    small = packet_error_probability(100, threshold + 0.05, "QPSK 1/2")
    large = packet_error_probability(50_000, threshold + 0.05, "QPSK 1/2")
    # 50 kB spans ceil(400000 / 32400) = 13 frames: PER = 1 - (1 - FER)^13.
    fer = float(frame_error_rate(threshold + 0.05, modcod_table().get("QPSK 1/2")))
    assert small == pytest.approx(fer)
    assert large == pytest.approx(1 - (1 - fer) ** 13, rel=1e-9)
    assert large > small
    per = packet_error_probability(1500, threshold + np.linspace(-0.5, 0.5, 11), "QPSK 1/2")
    assert np.all(np.diff(per) <= 0)


def test_packet_error_over_rayleigh_is_close_to_outage_at_the_threshold() -> None:
    # The waterfall is steep, so averaged over Rayleigh fading PER ~ P(SNR |h|^2 < threshold).
    layer = create("rayleigh")
    modcod = modcod_table().get("8PSK 3/4")
    for snr_db in (10.0, 15.0, 20.0):
        per = packet_error_probability(1500, snr_db, modcod, fading=layer)
        outage = 1 - math.exp(-(10 ** ((modcod.esn0_threshold_db - snr_db) / 10)))
        assert per == pytest.approx(outage, rel=0.05)
    awgn = packet_error_probability(1500, 15.0, modcod)
    assert awgn < 1e-12 < packet_error_probability(1500, 15.0, modcod, fading=layer)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0, 5.0, "QPSK 1/2"), ValueError, "num_bytes"),
        ((1.5, 5.0, "QPSK 1/2"), TypeError, "num_bytes"),
        ((100, float("nan"), "QPSK 1/2"), ValueError, "finite"),
        ((100, 5.0, "QPSK 9/9"), ValueError, "valid names"),
        ((100, 5.0, 3), TypeError, "modcod"),
    ],
)
def test_packet_error_bad_inputs(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        packet_error_probability(*args)
