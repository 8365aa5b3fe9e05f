"""``simulate``: captures to answers over the time-varying constellation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from spikesat.inference import Capture, captures, place, simulate, summarise
from spikesat.inference.network import Snapshots
from spikesat.inference.placement import evaluate, placement_problem
from spikesat.inference.simulate import _move_weights


def test_captures_are_a_seeded_poisson_process(fed_network):
    plan = fed_network.plan
    span_h = plan.times.offsets_s[-1] / 3600.0
    counts = [len(captures(fed_network, 200.0, seed=s)) for s in range(30)]
    mean = 200.0 * span_h  # Poisson: mean = variance = rate x span
    assert abs(np.mean(counts) - mean) < 4 * np.sqrt(mean / 30)
    assert np.var(counts, ddof=1) == pytest.approx(mean, rel=0.6)
    a, b = captures(fed_network, 50.0, seed=4, num_scenes=7), captures(fed_network, 50.0, seed=4)
    assert [c.capture_s for c in a] == [c.capture_s for c in b]
    assert all(0 <= c.sat < plan.num_sats and 0 <= c.scene < 7 for c in a)
    assert all(x.capture_s < y.capture_s for x, y in itertools.pairwise(a))


def test_records_price_each_request_as_its_placement(placement_graph, fed_network):
    requests = captures(fed_network, 40.0, seed=1, num_scenes=3, hours=2.0)
    scenes = {"rgb": torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))}
    records = simulate(
        placement_graph, fed_network, requests, "milp", inputs=scenes, contention=False
    )
    assert len(records) == len(requests)
    snapshots = Snapshots(fed_network)
    step_s = fed_network.plan.times.step_s
    for request, record in zip(requests, records, strict=True):
        assert record.answer_s == pytest.approx(record.capture_s + record.latency_s)
        net = snapshots.at(int(request.capture_s // step_s), request.sat)
        assert record.route == net.route
        problem = placement_problem(placement_graph, net, ("rgb",))
        positions = {s: net.route.index(n) for s, n in record.assignment.items()}
        cost = evaluate(problem, positions)
        assert record.downlink_bytes == cost["downlink_bytes"]
        assert record.latency_s >= cost["latency_s"] and record.latency_s >= cost["wait_s"]
        if record.move_bytes == 0:
            assert record.latency_s == pytest.approx(cost["latency_s"])
        expected = placement_graph.run({"rgb": scenes["rgb"][request.scene : request.scene + 1]})
        for task, answer in expected.items():
            assert torch.equal(record.outputs[task], answer[0])
    summary = summarise(records)
    assert summary["num_requests"] == len(records) and summary["delivered_fraction"] == 1.0
    latency = sorted(r.latency_s for r in records)
    assert summary["latency_median_s"] == latency[math.ceil(0.5 * len(latency)) - 1]
    assert records[0].replaced


def test_tiles_scale_compute_bytes_and_joules(placement_graph, fed_network):
    one = captures(fed_network, 20.0, seed=5, hours=1.0)
    many = captures(fed_network, 20.0, seed=5, hours=1.0, tiles=50)
    assert [c.capture_s for c in one] == [c.capture_s for c in many]
    kwargs = {"modalities": ("rgb",), "contention": False}
    a = simulate(placement_graph, fed_network, one, "bent-pipe", **kwargs)
    b = simulate(placement_graph, fed_network, many, "bent-pipe", **kwargs)
    for x, y in zip(a, b, strict=True):
        per_tile_s = x.cost["compute_s"] + x.cost["transfer_s"]
        assert y.latency_s == pytest.approx(x.latency_s + 49 * per_tile_s)
        assert y.energy_j == pytest.approx(50 * x.energy_j)
        assert y.downlink_bytes == 50 * x.downlink_bytes and y.tiles == 50


def test_shared_links_queue_raw_scenes_but_not_answers(placement_graph, fed_network):
    """Large scenes on a bent pipe queue behind each other on the downlinks; the on-board
    answers (48 B a tile) do not: each request takes as long as it would alone on the links."""
    requests = captures(fed_network, 30.0, seed=3, hours=1.5, tiles=500_000)[:16]
    kwargs = {"modalities": ("rgb",)}
    for policy, queued in (("bent-pipe", True), ("on-board", False)):
        shared = simulate(placement_graph, fed_network, requests, policy, **kwargs)
        alone = [simulate(placement_graph, fed_network, [r], policy, **kwargs)[0] for r in requests]
        waits = [x.latency_s - y.latency_s for x, y in zip(shared, alone, strict=True)]
        assert min(waits) >= -1e-6
        if queued:
            assert sum(w > 1.0 for w in waits) >= 4, waits
        else:  # the same transfers at the same times: the same airtime and joules
            assert max(waits) == pytest.approx(0.0, abs=1e-3)
            for x, y in zip(shared, alone, strict=True):
                assert x.energy_j == pytest.approx(y.energy_j, rel=1e-6)
    idle = simulate(placement_graph, fed_network, requests, "bent-pipe", contention=False, **kwargs)
    assert all(r.delivered for r in idle) and {r.tiles for r in idle} == {500_000}


def test_requests_the_plan_cannot_deliver_are_not_answered(placement_graph, fed_network):
    requests = captures(fed_network, 30.0, seed=3, hours=1.0, tiles=5_000_000)  # 61 GB each
    records = simulate(placement_graph, fed_network, requests, "bent-pipe", modalities=("rgb",))
    lost = [r for r in records if not r.delivered]
    assert lost and all(math.isinf(r.latency_s) and not r.outputs for r in lost)
    summary = summarise(records)
    assert summary["delivered_fraction"] == pytest.approx(1 - len(lost) / len(records))
    if summary["delivered_fraction"] < 0.05:
        assert math.isinf(summary["latency_p95_s"])


def test_bent_pipe_downlinks_the_raw_scene_and_on_board_the_answers(placement_graph, fed_network):
    requests = captures(fed_network, 20.0, seed=2, hours=2.0)
    bent = simulate(placement_graph, fed_network, requests, "bent-pipe", modalities=("rgb",))
    board = simulate(placement_graph, fed_network, requests, "on-board", modalities=("rgb",))
    assert {r.downlink_bytes for r in bent} == {64 * 64 * 3}
    assert {r.downlink_bytes for r in board} == {10 * 4 + 4 + 4}
    assert all(r.move_bytes == 0 for r in bent + board)  # the ground holds every service


def test_moving_weights_costs_the_route_it_travels(placement_graph, route):
    net = route(num_sats=2, seed=4)
    problem = placement_problem(placement_graph, net, ("rgb",))
    positions = {s: 1 if s.startswith("backbone") else 0 for s in problem.services}
    placement = place(placement_graph, net, "on-board", modalities=("rgb",))
    placement = type(placement)(
        "test", "latency", {s: net.route[p] for s, p in positions.items()}, positions,
        {}, 0.0, net,
    )  # fmt: skip
    backbone = {"backbone:0", "backbone:1"}
    size = sum(placement_graph.services[name].param_bytes for name in backbone)
    isl, down = net.route_links
    # sat:0 holds the backbone: it travels one ISL hop.
    resident = {"sat:0": set(placement_graph.services)}
    seconds, joules, onboard_j, moved = _move_weights(placement_graph, net, placement, resident)
    assert moved == size and onboard_j == pytest.approx(joules)
    assert seconds == pytest.approx(isl.transfer_s(size) + 2 * isl.delay_s)
    assert joules == pytest.approx(isl.transmit_j(size))
    assert backbone <= resident["sat:1"]
    # Nobody upstream holds it: it comes up from the ground (the downlink reversed).
    seconds, joules, onboard_j, moved = _move_weights(
        placement_graph, net, placement, {"sat:0": set(placement_graph.services) - backbone}
    )
    assert seconds == pytest.approx(down.transfer_s(size) + 2 * down.delay_s)
    assert onboard_j == 0.0 and moved == size


def test_bad_input(placement_graph, fed_network):
    end_s = float(fed_network.plan.times.offsets_s[-1])
    with pytest.raises(ValueError, match="outside the plan's span"):
        simulate(placement_graph, fed_network, [Capture(end_s + 60.0, 0, 0)])
    with pytest.raises(ValueError, match="satellite 99"):
        simulate(placement_graph, fed_network, [Capture(10.0, 99, 0)])
    with pytest.raises(ValueError, match="no requests"):
        simulate(placement_graph, fed_network, [])
    with pytest.raises(ValueError, match="unknown placement method"):
        simulate(placement_graph, fed_network, [Capture(10.0, 0, 0)], policy="best")
    with pytest.raises(ValueError, match="rate_per_h"):
        captures(fed_network, 0.0)
    with pytest.raises(ValueError, match="hours"):
        captures(fed_network, 1.0, hours=100.0)
    with pytest.raises(ValueError, match="tiles"):
        captures(fed_network, 1.0, tiles=0)


def test_queue_aware_placement_sees_a_busy_downlink(placement_graph, fed_network):
    """A downlink booked far ahead makes the raw scene slow: the queue-aware network prices it
    so, and the MILP keeps the services on board instead of sending the scene down."""
    from spikesat.federated.compute import ComputeProfile
    from spikesat.inference.queues import LinkQueues
    from spikesat.inference.simulate import _through_the_queues

    slow = ComputeProfile("slow", 3e9, 10.0, source="test", status="estimated")
    snapshots = Snapshots(fed_network, onboard=slow)
    net = next(
        n for t in range(0, 120, 5) if len((n := snapshots.at(t, 0)).route) == 2
    )  # sat:0 sees a station itself
    down = net.route_links[-1]
    request = Capture(net.time_s, 0, 0, tiles=1000)
    idle = place(placement_graph, net, "milp", modalities=("rgb",))
    assert set(idle.assignment.values()) == {down.dst}  # slow on board: the bent pipe wins
    queues = LinkQueues(fed_network.plan, fed_network.trace)
    unchanged = _through_the_queues(placement_graph, net, request, queues, ("rgb",))
    assert unchanged.route_links[-1].rate_bps == pytest.approx(down.rate_bps, rel=1e-2)
    queues.send(down.src, down.dst, net.time_s, 1e13)  # more than the plan can carry
    busy = _through_the_queues(placement_graph, net, request, queues, ("rgb",))
    assert busy.route_links[-1].rate_bps < 1e-3 * down.rate_bps
    aware = place(placement_graph, busy, "milp", modalities=("rgb",))
    assert aware.cost["downlink_bytes"] < idle.cost["downlink_bytes"] / 20
    with pytest.raises(ValueError, match="queue_aware"):
        simulate(placement_graph, fed_network, [request], queue_aware=True, contention=False)
    with pytest.raises(ValueError, match="queue_aware"):
        simulate(placement_graph, fed_network, [request], queue_aware=True, objective="energy")
    records = simulate(
        placement_graph, fed_network, [request], queue_aware=True, modalities=("rgb",)
    )
    assert records[0].delivered and records[0].tiles == 1000
