"""LinkQueues: shared transmitters on the link trace's goodput, checked against hand sums."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from spikesat.inference.queues import LinkQueues


class _Trace(SimpleNamespace):
    def packet_error_rate(self, num_bytes: int) -> np.ndarray:
        return self.per


def _queues(rates_bytes_s, per=None, retries=3):
    """One satellite, one station, steps of 10 s with the given downlink goodputs."""
    steps = len(rates_bytes_s) + 1
    rate = np.array(rates_bytes_s, dtype=float) * 8.0
    trace = _Trace(
        sat=np.zeros(len(rate), np.int32),
        station=np.zeros(len(rate), np.int32),
        time_index=np.arange(len(rate), dtype=np.int32),
        rate_bps=rate,
        per=np.zeros(len(rate)) if per is None else np.array(per, dtype=float),
        isl=None,
    )
    plan = SimpleNamespace(times=SimpleNamespace(offsets_s=10.0 * np.arange(steps)), num_sats=1)
    return LinkQueues(plan, trace, packet_bytes=1000, arq_retries=retries)


def test_transfers_wait_for_the_bytes_ahead_and_for_the_next_window():
    q = _queues([1000.0, 0.0, 2000.0])  # 1 kB/s, out of view, 2 kB/s
    first = q.send("sat:0", "gs:0", 2.0, 5000.0)
    assert (first.start_s, first.end_s, first.airtime_s) == pytest.approx((2.0, 7.0, 5.0))
    # Ready at 3 s behind the first: 3 kB fill step 0 (7-10 s), 5 kB more at 2 kB/s from 20 s.
    second = q.send("sat:0", "gs:0", 3.0, 8000.0)
    assert second.start_s == pytest.approx(7.0)
    assert second.end_s == pytest.approx(22.5) and second.airtime_s == pytest.approx(5.5)
    # Ready out of view: it starts when the next window opens, behind what is booked there.
    third = q.send("sat:0", "gs:0", 12.0, 1000.0)
    assert (third.start_s, third.end_s) == pytest.approx((22.5, 23.0))
    # More than the plan holds: never delivered.
    late = q.send("sat:0", "gs:0", 0.0, 1e6)
    assert math.isinf(late.end_s) and late.delivered_probability == 0.0
    assert late.airtime_s == pytest.approx(2.0 + 7.0)  # what was left: 0-2 s and 23-30 s


def test_downlink_capacity_sums_the_goodput():
    q = _queues([1000.0, 0.0, 2000.0])
    assert q.downlink_capacity_bytes(0.0, 30.0) == pytest.approx(30_000.0)
    assert q.downlink_capacity_bytes(5.0, 25.0) == pytest.approx(5000.0 + 10_000.0)


def test_a_transfer_booked_in_the_future_does_not_block_earlier_ones():
    q = _queues([1000.0, 1000.0, 1000.0])
    waiting = q.send("sat:0", "gs:0", 15.0, 2000.0)  # booked first, ready later
    assert (waiting.start_s, waiting.end_s) == pytest.approx((15.0, 17.0))
    early = q.send("sat:0", "gs:0", 11.0, 6000.0)  # fills 11-15 s, skips 15-17 s, ends at 19 s
    assert early.start_s == pytest.approx(11.0) and early.end_s == pytest.approx(19.0)
    assert early.airtime_s == pytest.approx(6.0)


def test_packet_errors_lower_goodput_and_leave_residual_losses():
    rate, per = 1000.0, 0.2
    q = _queues([rate] * 3, per=[per] * 3, retries=2)
    t = q.send("sat:0", "gs:0", 0.0, 4000.0)
    assert t.end_s == pytest.approx(5.0)  # 4 kB at 800 B/s of goodput
    assert t.delivered_probability == pytest.approx((1 - per**3) ** 4)  # 4 packets of 1 kB


def test_isl_queues_are_per_direction(fed_network):
    q = LinkQueues(fed_network.plan, fed_network.trace)
    isl = fed_network.trace.isl
    k = int(np.flatnonzero(isl.rate_bps > 0)[0])
    a, b, step = int(isl.sat_a[k]), int(isl.sat_b[k]), int(isl.time_index[k])
    t0 = float(fed_network.plan.times.offsets_s[step])
    size = 1e5
    there = q.send(f"sat:{a}", f"sat:{b}", t0, size)
    back = q.send(f"sat:{b}", f"sat:{a}", t0, size)
    assert there.end_s == pytest.approx(back.end_s)
    assert there.end_s - t0 == pytest.approx(8 * size / isl.rate_bps[k], rel=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="packet_bytes"):
        LinkQueues(SimpleNamespace(), None, packet_bytes=0)
    with pytest.raises(ValueError, match="arq_retries"):
        LinkQueues(SimpleNamespace(), None, arq_retries=-1)
