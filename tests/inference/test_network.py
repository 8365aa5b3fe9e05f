"""``network``: the nodes, links and route of a request at one step of a real contact plan."""

from __future__ import annotations

import numpy as np
import pytest

from spikesat.federated import build_network
from spikesat.inference import network
from spikesat.orbits import GroundStation, walker_delta


def test_the_route_runs_from_the_capturing_satellite_to_a_station(fed_network):
    trace = fed_network.trace
    net = network(fed_network, 10, capture_sat=3)
    assert net.route[0] == net.capture == "sat:3" and net.route[-1].startswith("gs:")
    assert all(n.startswith("sat:") for n in net.route[:-1])
    kinds = [link.kind for link in net.route_links]
    assert kinds == ["isl"] * (len(kinds) - 1) + ["downlink"]
    step = net.time_index + round(net.wait_s / 60.0)
    down = net.route_links[-1]
    sat, station = int(down.src[4:]), int(down.dst[3:])
    k = np.flatnonzero((trace.sat == sat) & (trace.station == station) & (trace.time_index == step))
    assert k.size == 1 and down.rate_bps == trace.rate_bps[k[0]] > 0
    assert down.range_km == pytest.approx(float(trace.range_km[k[0]]))
    assert len(net.nodes) == 20 + 6


def test_without_a_route_the_request_waits_for_the_first_step_that_has_one(fed_network):
    plan = fed_network.plan
    waited = []
    for t in range(0, 120, 7):
        for sat in range(plan.num_sats):
            try:
                net = network(fed_network, t, capture_sat=sat)
            except ValueError:
                continue
            if net.wait_s > 0:
                earlier = network(fed_network, t + round(net.wait_s / 60.0) - 1, capture_sat=sat)
                assert earlier.wait_s > 0  # no route one step before the chosen one
                waited.append(net.wait_s)
    assert waited, "the fixture's plan should have satellites out of reach at some steps"


def test_no_route_until_the_horizon_names_the_satellite():
    # An equatorial plane, 10 minutes, one station far from its ground track.
    shell = walker_delta(4, 1, 0, altitude_km=550.0, inclination_deg=10.0, name="lonely")
    far = [GroundStation("Svalbard", 78.23, 15.41, 0.5)]
    fed = build_network(shell, far, horizon_h=10 / 60, step_s=60.0)
    with pytest.raises(ValueError, match=r"satellite 0 .*no route.*0\.17 h"):
        network(fed, 0, capture_sat=0)


def test_eclipse_budget_applies_in_eclipse_only(fed_network):
    net = network(fed_network, 0, energy_budget_j=2.0, eclipse_energy_budget_j=0.5)
    for node in net.nodes.values():
        if node.kind == "satellite":
            assert node.energy_budget_j == (0.5 if node.sunlit is False else 2.0)
        else:
            assert node.energy_budget_j == float("inf")
    lit = fed_network.plan.sunlit()[:, 0]
    assert [net.nodes[f"sat:{i}"].sunlit for i in range(20)] == lit.tolist()


def test_bad_input(fed_network):
    with pytest.raises(ValueError, match="capture_sat"):
        network(fed_network, 0, capture_sat=99)
    with pytest.raises(ValueError, match="memory_bytes"):
        network(fed_network, 0, memory_bytes=0)
    with pytest.raises(ValueError, match="energy_budget_j"):
        network(fed_network, 0, energy_budget_j=-1.0)
    with pytest.raises((ValueError, IndexError)):
        network(fed_network, 10_000)
