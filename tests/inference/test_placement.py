"""``place``: the MILP optimum equals brute-force enumeration and never loses to a baseline."""

from __future__ import annotations

import math

import pytest

from spikesat.inference import METHODS, network, place
from spikesat.inference.placement import (
    brute_force,
    evaluate,
    objective_value,
    placement_problem,
)

OBJECTIVES = ["latency", "energy", {"latency": 1.0, "energy": 20.0}]


@pytest.mark.parametrize("objective", OBJECTIVES, ids=["latency", "energy", "weighted"])
@pytest.mark.parametrize("seed", range(6))
def test_milp_equals_brute_force_and_beats_every_baseline(placement_graph, route, seed, objective):
    net = route(num_sats=1 + seed % 3, seed=seed)
    problem = placement_problem(placement_graph, net, ("rgb",))
    best = brute_force(problem, objective)
    exact = objective_value(evaluate(problem, best), objective)
    milp = place(placement_graph, net, "milp", objective, modalities=("rgb",))
    assert objective_value(milp.cost, objective) == pytest.approx(exact, rel=1e-7, abs=1e-12)
    for method in METHODS:
        other = place(placement_graph, net, method, objective, modalities=("rgb",))
        assert objective_value(milp.cost, objective) <= objective_value(other.cost, objective) * (
            1 + 1e-9
        ), method


@pytest.mark.parametrize("seed", range(4))
def test_milp_equals_brute_force_under_binding_budgets(placement_graph, route, seed):
    # Budgets that bite: memory below the whole model, energy below the bent pipe's relay cost.
    loose = route(num_sats=2, seed=10 + seed)
    problem = placement_problem(placement_graph, loose, ("rgb",))
    on_board = evaluate(problem, {s: 0 for s in problem.services})
    memory = 0.6 * on_board["node_memory_bytes"]["sat:0"]
    net = route(num_sats=2, seed=10 + seed, memory_bytes=memory)
    problem = placement_problem(placement_graph, net, ("rgb",))
    best = brute_force(problem, "latency")
    assert best is not None
    milp = place(placement_graph, net, "milp", "latency", modalities=("rgb",))
    assert not milp.cost["violations"]
    assert milp.cost["latency_s"] == pytest.approx(evaluate(problem, best)["latency_s"], rel=1e-7)
    assert max(milp.cost["node_memory_bytes"][n] for n in ("sat:0", "sat:1")) <= memory
    with pytest.raises(ValueError, match=r"on-board placement does not fit: sat:0 .* MB"):
        place(placement_graph, net, "on-board", "latency", modalities=("rgb",))


def test_the_energy_budget_is_respected_or_named(placement_graph, route):
    net = route(num_sats=2, seed=6)
    problem = placement_problem(placement_graph, net)
    on_board = evaluate(problem, {s: 0 for s in problem.services})["node_energy_j"]["sat:0"]
    bent = evaluate(problem, {s: 2 for s in problem.services})["node_energy_j"]["sat:0"]
    assert on_board < bent  # relaying the raw scene costs sat:0 more than computing everything
    budget = 1.01 * on_board
    tight = route(num_sats=2, seed=6, energy_budget_j=budget)
    with pytest.raises(ValueError, match=r"bent-pipe placement does not fit: sat:0 .* J per"):
        place(placement_graph, tight, "bent-pipe")
    milp = place(placement_graph, tight, "milp", "latency")
    assert all(milp.cost["node_energy_j"][n] <= budget for n in ("sat:0", "sat:1"))
    problem = placement_problem(placement_graph, tight)
    best = brute_force(problem, "latency")
    assert milp.cost["latency_s"] == pytest.approx(evaluate(problem, best)["latency_s"], rel=1e-7)
    starved = route(num_sats=2, seed=6, energy_budget_j=0.01 * on_board)
    with pytest.raises(ValueError, match=r"no placement of the 7 services.*sat:0: inf MB, "):
        place(placement_graph, starved, "milp")


def test_an_optimum_that_uses_three_nodes_beats_every_baseline(placement_graph, route):
    loose = route(num_sats=2, seed=12)
    problem = placement_problem(placement_graph, loose, ("rgb",))
    memory = 0.6 * evaluate(problem, {s: 0 for s in problem.services})["node_memory_bytes"]["sat:0"]
    net = route(num_sats=2, seed=12, memory_bytes=memory)
    milp = place(placement_graph, net, "milp", "latency", modalities=("rgb",))
    assert sorted(set(milp.positions.values())) == [0, 1, 2]
    for method in ("greedy", "bent-pipe", "single-split"):
        other = place(placement_graph, net, method, "latency", modalities=("rgb",))
        assert milp.cost["latency_s"] < 0.99 * other.cost["latency_s"], method


def test_costs_follow_their_definitions(placement_graph, route):
    net = route(num_sats=1, seed=5, wait_s=12.0)
    down = net.route_links[-1]
    raw = sum(e.num_bytes for e in placement_graph.edges if e.src.startswith("input:"))
    ground = net.nodes["gs:0"].computer
    macs = sum(s.macs for s in placement_graph.services.values())
    bent = place(placement_graph, net, "bent-pipe").cost
    assert bent["downlink_bytes"] == raw == 64 * 64 * 3 + 64 * 64 * 13 * 2
    assert bent["latency_s"] == pytest.approx(
        12.0 + 8 * raw / down.rate_bps + down.delay_s + macs / ground.macs_per_s
    )
    assert bent["energy_j"] == pytest.approx(
        down.tx_power_w * 8 * raw / down.rate_bps + ground.power_w * macs / ground.macs_per_s
    )
    assert bent["onboard_energy_j"] == pytest.approx(down.tx_power_w * 8 * raw / down.rate_bps)
    on_board = place(placement_graph, net, "on-board").cost
    answers = sum(placement_graph.services[f"head:{t}"].out_bytes for t in placement_graph.tasks)
    assert on_board["downlink_bytes"] == answers == 10 * 4 + 4 + 4
    assert on_board["compute_s"] == pytest.approx(macs / net.nodes["sat:0"].computer.macs_per_s)


def test_a_shared_output_crosses_a_link_once(placement_graph, route):
    net = route(num_sats=1, seed=1)
    problem = placement_problem(placement_graph, net, ("rgb",))
    positions = {s: 0 if s.startswith(("tokenizer", "backbone")) else 1 for s in problem.services}
    features = placement_graph.services["backbone:1"].out_bytes
    assert evaluate(problem, positions)["downlink_bytes"] == features  # three heads read it


def test_real_network_placements(placement_graph, fed_network):
    net = network(fed_network, 5, capture_sat=2)
    costs = {m: place(placement_graph, net, m, "energy").cost for m in METHODS}
    assert costs["milp"]["energy_j"] <= min(c["energy_j"] for c in costs.values()) * (1 + 1e-9)
    placement = place(placement_graph, net, "milp", "latency")
    assert placement.node_of("tokenizer:rgb") in net.route
    assert set(placement.assignment) == set(placement_graph.services)
    with pytest.raises(ValueError, match="unknown service 'head:nope'.*placed"):
        placement.node_of("head:nope")


def test_bad_input(placement_graph, route):
    net = route()
    with pytest.raises(ValueError, match="unknown placement method 'ilp'.*milp, greedy"):
        place(placement_graph, net, "ilp")
    with pytest.raises(ValueError, match="unknown objective 'cost'.*latency, energy"):
        place(placement_graph, net, objective="cost")
    with pytest.raises(ValueError, match="weighted objective"):
        place(placement_graph, net, objective={"latency": 1.0, "bytes": 2.0})
    with pytest.raises(ValueError, match="weighted objective"):
        place(placement_graph, net, objective={"latency": math.nan})
    with pytest.raises(ValueError, match="modalities"):
        place(placement_graph, net, modalities=("sar",))
