"""Free-space path loss, slant range and link budgets against published figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesat.channels import LinkBudget, free_space_path_loss_db, slant_range_km


def test_fspl_550_km_at_2_ghz_is_153_3_db() -> None:
    assert free_space_path_loss_db(550.0, 2.0) == pytest.approx(153.3, abs=0.05)


def test_fspl_follows_inverse_square_law() -> None:
    loss = free_space_path_loss_db(np.array([100.0, 1000.0]), 10.0)
    assert loss[1] - loss[0] == pytest.approx(20.0, abs=1e-9)
    assert free_space_path_loss_db(1000.0, 20.0) - free_space_path_loss_db(
        1000.0, 10.0
    ) == pytest.approx(20.0 * math.log10(2.0), abs=1e-9)


def test_slant_range_tr38811_geometry() -> None:
    # TR 38.821 Table 6.1.3.3-1 uses 1075.1 km for LEO-600 at 30 deg elevation.
    assert slant_range_km(600.0, 30.0) == pytest.approx(1075.1, abs=0.1)
    assert slant_range_km(600.0, 90.0) == pytest.approx(600.0, abs=1e-9)


@pytest.mark.parametrize(
    ("preset", "fspl_db", "cnr_db"),
    [
        # 3GPP TR 38.821 V16.2.0 Table 6.1.3.3-1, Set-1 LEO-600, 30 deg elevation:
        ("s-band-tr38821-leo600", 159.1, 6.6),  # S-band DL, handheld UE
        ("ka-band-tr38821-leo600", 179.1, 8.5),  # Ka-band DL, VSAT
    ],
)
def test_tr38821_set1_leo600_downlink_budget_within_half_a_db(
    preset: str, fspl_db: float, cnr_db: float
) -> None:
    budget = LinkBudget.preset(preset)
    distance = slant_range_km(600.0, 30.0)
    assert free_space_path_loss_db(distance, budget.frequency_ghz) == pytest.approx(
        fspl_db, abs=0.05
    )
    assert budget.cnr_db(distance, 30.0) == pytest.approx(cnr_db, abs=0.5)
    assert budget.snr_db(distance, 30.0) == pytest.approx(budget.cnr_db(distance, 30.0))


def test_tr38821_handheld_g_over_t_is_minus_31_6() -> None:
    # TR 38.821 Table 6.1.3.3-1: G/T -31.6 dB/K (0 dBi, NF 7 dB, 290 K antenna).
    assert LinkBudget.preset("s-band-tr38821-leo600").g_over_t == pytest.approx(-31.6, abs=0.05)


def test_every_preset_cites_a_source_and_a_status() -> None:
    names = LinkBudget.presets()
    assert {"s-band-tr38821-leo600", "x-band-eo-sentinel2", "ka-band-tr38821-leo600"} <= set(names)
    assert {"ka-band-isl", "optical-isl-10g"} <= set(names)
    for name in names:
        budget = LinkBudget.preset(name)
        assert budget.name == name
        assert len(budget.source) > 20
        assert budget.status in ("specified", "measured", "simulated", "estimated")


def test_optical_isl_is_a_10_gbps_class_link_at_8000_km() -> None:
    budget = LinkBudget.preset("optical-isl-10g")
    assert 8e9 <= budget.achievable_rate_bps(8000.0) <= 15e9
    assert budget.achievable_rate_bps(2000.0) > budget.achievable_rate_bps(8000.0)


def test_cn0_snr_and_capacity_are_consistent() -> None:
    budget = LinkBudget.preset("x-band-eo-sentinel2")
    cn0 = budget.cn0_dbhz(1500.0, 40.0)
    assert budget.cnr_db(1500.0, 40.0) == pytest.approx(cn0 - 10 * math.log10(180e6))
    assert budget.snr_db(1500.0, 40.0) == pytest.approx(cn0 - 10 * math.log10(150e6))
    cnr = 10 ** (budget.cnr_db(1500.0, 40.0) / 10)
    assert budget.capacity_bps(1500.0, 40.0) == pytest.approx(180e6 * math.log2(1 + cnr))
    assert budget.achievable_rate_bps(1500.0, 40.0) < budget.capacity_bps(1500.0, 40.0)


def test_cosecant_gaseous_loss_grows_with_lower_elevation() -> None:
    budget = LinkBudget.preset("ka-band-tr38821-leo600")
    losses = budget.losses_db([90.0, 30.0])
    assert losses[1] - losses[0] == pytest.approx(0.25, abs=1e-9)


def test_eirp_and_noise_figure_derivations() -> None:
    budget = LinkBudget(
        frequency_ghz=8.0, bandwidth_hz=1e6, tx_power_dbw=10.0, tx_antenna_gain_dbi=5.0,
        tx_loss_db=1.0, rx_antenna_gain_dbi=20.0, noise_figure_db=3.0, antenna_temperature_k=100.0,
    )  # fmt: skip
    assert budget.eirp == pytest.approx(14.0)
    t_sys = 100.0 + 290.0 * (10**0.3 - 1.0)
    assert budget.g_over_t == pytest.approx(20.0 - 10 * math.log10(t_sys))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda b: b.snr_db(-5.0, 30.0), "distance_km"),
        (lambda b: b.snr_db(0.0, 30.0), "distance_km"),
        (lambda b: b.snr_db(1000.0, 95.0), "elevation"),
        (lambda b: b.snr_db(1000.0, -91.0), "elevation"),
        (lambda b: b.snr_db(float("nan"), 30.0), "distance_km"),
        (lambda b: b.snr_db(1000.0, float("nan")), "elevation"),
        (lambda b: b.snr_db(1000.0), "elevation_deg"),
        (lambda b: b.snr_db(1000.0, -5.0), "above the horizon"),
        (lambda b: b.snr_db(3000.0, 5.0), "cosecant"),
    ],
)
def test_bad_budget_inputs_raise(call: object, match: str) -> None:
    budget = LinkBudget.preset("ka-band-tr38821-leo600")
    with pytest.raises(ValueError, match=match):
        call(budget)


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="s-band-tr38821-leo600"):
        LinkBudget.preset("s-band")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frequency_ghz": -1.0}, "frequency_ghz"),
        ({"bandwidth_hz": 0.0}, "bandwidth_hz"),
        ({"eirp_dbw": 10.0, "tx_power_dbw": 1.0}, "exactly one of tx_power_dbw"),
        ({"g_over_t_db_k": 1.0, "noise_figure_db": 2.0}, "exactly one of g_over_t"),
        ({"pointing_loss_db": -1.0}, "pointing_loss_db"),
        ({"roll_off": 1.5}, "roll_off"),
        ({"modcod_table": "dvb-t2"}, "dvb-s2"),
        ({"link_type": "uplink"}, "link_type"),
        ({"eirp_dbw": float("inf")}, "eirp_dbw"),
    ],
)
def test_bad_budget_fields_raise(kwargs: dict, match: str) -> None:
    base = {"frequency_ghz": 2.0, "bandwidth_hz": 1e6, "eirp_dbw": 30.0, "g_over_t_db_k": -20.0}
    base.update(kwargs)
    if "tx_power_dbw" in kwargs and "eirp_dbw" not in kwargs:
        base.pop("eirp_dbw")
    if "noise_figure_db" in kwargs:
        base["g_over_t_db_k"] = kwargs.get("g_over_t_db_k", base["g_over_t_db_k"])
    with pytest.raises(ValueError, match=match):
        LinkBudget(**base)


def test_budget_pickles_and_replaces() -> None:
    import pickle

    budget = LinkBudget.preset("ka-band-isl")
    assert pickle.loads(pickle.dumps(budget)) == budget
    wider = budget.replace(bandwidth_hz=400e6)
    assert wider.bandwidth_hz == 400e6
    assert budget.snr_db(2000.0) - wider.snr_db(2000.0) == pytest.approx(10 * math.log10(2.0))
