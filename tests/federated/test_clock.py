"""The simulated clock: exact delays, windows only, queueing, compute, eclipse and energy."""

from __future__ import annotations

import numpy as np
import pytest

from spikesat.federated import (
    Clock,
    LinkSegments,
    SimulationHorizonError,
    get_computer,
    schedule_transfer,
)
from spikesat.federated.network import GROUND
from spikesat.units import propagation_delay_s


def _segments(bounds, rates, ranges) -> LinkSegments:
    bounds = np.asarray(bounds, dtype=np.float64)
    return LinkSegments.build(
        bounds[:, 0], bounds[:, 1], np.asarray(rates, float), np.asarray(ranges, float)
    )


def test_constant_rate_in_one_window_is_exact() -> None:
    # One window of three grid steps at the same rate; the transfer spans all three steps.
    link = _segments([[100.0, 130.0], [130.0, 160.0], [160.0, 190.0]], [3e6] * 3, [900, 950, 1000])
    for num_bytes, ready in ((1000, 110.0), (25_000_000 // 8, 101.5), (1, 0.0)):
        start, tx_end, arrival, airtime = schedule_transfer(link, num_bytes, ready)
        expected_start = max(ready, 100.0)
        assert start == expected_start
        assert tx_end == expected_start + 8 * num_bytes / 3e6
        last = int(np.searchsorted(link.end_s, tx_end, side="left"))
        assert arrival == expected_start + 8 * num_bytes / 3e6 + propagation_delay_s(
            link.range_km[last]
        )
        assert airtime == 8 * num_bytes / 3e6


def test_transfer_pauses_between_windows() -> None:
    link = _segments([[0.0, 10.0], [100.0, 110.0]], [1000.0, 2000.0], [500.0, 700.0])
    start, tx_end, arrival, airtime = schedule_transfer(link, 2000, 5.0)
    # 5 s x 1000 bit/s in the first window, the remaining 11000 bits at 2000 bit/s.
    assert start == 5.0
    assert tx_end == pytest.approx(105.5, abs=1e-12)
    assert airtime == pytest.approx(10.5, abs=1e-12)
    assert arrival == pytest.approx(105.5 + propagation_delay_s(700.0), abs=1e-12)
    assert schedule_transfer(link, 10_000, 5.0) is None  # beyond the plan


def _carried_bits(link: LinkSegments, start: float, end: float) -> tuple[float, float]:
    """Seconds and bits the link can carry within [start, end]."""
    lo = np.maximum(link.start_s, start)
    hi = np.minimum(link.end_s, end)
    overlap = np.clip(hi - lo, 0.0, None)
    return float(overlap.sum()), float((overlap * link.rate_bps).sum())


def test_real_transfers_move_bytes_only_inside_windows(small_network) -> None:
    clock = Clock(small_network)
    rng = np.random.default_rng(0)
    for _ in range(40):
        sat = int(rng.integers(small_network.num_sats))
        ready = float(rng.uniform(0, 20 * 3600))
        size = int(rng.integers(1, 400_000_000))
        transfer = clock.upload(sat, size, ready)
        station = int(transfer.receiver.split("-")[1])
        link = small_network.ground(sat, station)
        seconds, bits = _carried_bits(link, transfer.start_s, transfer.tx_end_s)
        # Every second of the busy period inside a segment carries bytes at the segment's
        # rate and nothing else moves: the bits add up exactly to the payload.
        assert seconds == pytest.approx(transfer.airtime_s, rel=1e-9)
        assert bits == pytest.approx(8 * size, rel=1e-9)
        assert np.any((link.start_s <= transfer.start_s) & (transfer.start_s < link.end_s))
        assert transfer.start_s >= ready
    # Ground segments never leave the plan's refined contact windows.
    for sat in range(small_network.num_sats):
        for station in range(small_network.num_stations):
            link = small_network.ground(sat, station)
            windows = small_network.plan.windows(sat, station)
            for start, end in zip(link.start_s, link.end_s, strict=True):
                assert np.any((windows[:, 0] <= start + 1e-9) & (end <= windows[:, 1] + 1e-9))


def test_isl_transfer_exact_and_links_queue(small_network) -> None:
    clock = Clock(small_network)
    first = clock.isl_send(0, 1, 1_000_000, 50.0)
    link = small_network.isl(0, 1)
    k = int(np.searchsorted(link.end_s, first.tx_end_s, side="left"))
    assert first.arrival_s == first.start_s + 8e6 / link.rate_bps[0] + propagation_delay_s(
        link.range_km[k]
    )
    second = clock.isl_send(1, 0, 1_000_000, 50.0)
    assert second.start_s >= first.tx_end_s  # one transfer at a time per link
    assert clock.bytes["isl"] == 2_000_000
    with pytest.raises(ValueError, match="no ISL"):
        clock.isl_send(0, 5, 10, 0.0)  # opposite sides of one plane: no ISL
    assert (GROUND, 0, 0) not in clock.link_free_s


def test_transmit_energy_is_power_times_airtime(small_network) -> None:
    clock = Clock(small_network)
    transfer = clock.upload(3, 5_000_000, 0.0, round=0)
    entry = clock.ledger.entries[-1]
    assert entry.device == "sat-3" and entry.category == "transmit"
    assert entry.energy_j == pytest.approx(small_network.ground_tx_power_w * transfer.airtime_s)


def test_horizon_error(small_network) -> None:
    clock = Clock(small_network)
    with pytest.raises(SimulationHorizonError, match="horizon_h"):
        clock.upload(0, 10, small_network.horizon_s + 1.0)


def test_compute_time_sunlit_and_battery(small_network) -> None:
    macs = 3.0e12
    plain = Clock(small_network)
    seconds = plain.onboard.seconds(macs)
    assert plain.compute(0, macs, 10.0) == pytest.approx(10.0 + seconds)
    assert plain.compute(0, macs, 10.0) == pytest.approx(10.0 + 2 * seconds)  # queued
    assert plain.ledger.total_j == pytest.approx(2 * plain.onboard.power_w * seconds)

    sunlit = Clock(small_network, eclipse="sunlit")
    lit = small_network.sunlit()[0]
    step = small_network.step_s
    dark_start = float(np.flatnonzero(~lit)[0] * step)
    finish = sunlit.compute(0, macs, dark_start)
    # Only sunlit seconds count: the sunlit time between start and finish is the job length.
    assert sunlit.sunlit_seconds(0, finish) - sunlit.sunlit_seconds(0, dark_start) == pytest.approx(
        seconds
    )
    assert finish > dark_start + seconds

    energy = plain.onboard.power_w * seconds
    battery = Clock(small_network, eclipse="battery", battery_capacity_j=energy, recharge_w=5.0)
    first = battery.compute(1, macs, 0.0)
    assert first == pytest.approx(seconds)  # a full battery runs at once
    second = battery.compute(1, macs, first)
    # The battery was full at 0 and is full again when the second job starts: between the two
    # starts it charged exactly one job's energy, i.e. energy / recharge_w sunlit seconds
    # (including the charging during the first job).
    charged = battery.sunlit_seconds(1, second - seconds) - battery.sunlit_seconds(1, 0.0)
    assert charged == pytest.approx(energy / 5.0, rel=1e-6)
    with pytest.raises(ValueError, match="battery_capacity_j"):
        battery.compute(1, 10 * macs, second)


def test_clock_state_round_trip(small_network) -> None:
    clock = Clock(small_network)
    clock.upload(2, 1000, 0.0, round=0)
    clock.compute(2, 1e9, 5.0, round=0)
    copy = Clock(small_network)
    copy.load_state_dict(clock.state_dict())
    assert copy.link_free_s == clock.link_free_s
    assert copy.transfers == clock.transfers
    assert copy.ledger.total_j == clock.ledger.total_j
    assert np.array_equal(copy.sat_free_s, clock.sat_free_s)


def test_bad_eclipse_mode(small_network) -> None:
    with pytest.raises(ValueError, match="sunlit"):
        Clock(small_network, eclipse="night")


def test_heterogeneous_onboard_computers_price_each_satellite(small_network) -> None:
    names = ["jetson-nano-5w", "jetson-agx-orin"] * (small_network.num_sats // 2)
    clock = Clock(small_network, onboard=names)
    macs = 1e12
    for sat in (0, 1):
        computer = get_computer(names[sat])
        assert clock.compute(sat, macs, 0.0) == pytest.approx(macs / computer.macs_per_s)
    power_w = [get_computer(n).power_w for n in names[:2]]
    expected = [p * macs / get_computer(n).macs_per_s for p, n in zip(power_w, names, strict=False)]
    assert [e.energy_j for e in clock.ledger.entries] == pytest.approx(expected)
    assert clock.onboard_names() == names and Clock(small_network).onboard_names() == "jetson-tx2nx"
    with pytest.raises(ValueError, match="one per satellite"):
        Clock(small_network, onboard=names[:3])
    with pytest.raises(ValueError, match="unknown"):
        Clock(small_network, onboard=["cray-1"] * small_network.num_sats)
