"""ensemble_graph: specialists as services that answer like the pruned ensemble and that
placement can put on different satellites."""

from __future__ import annotations

import pytest
import torch

from spikesat.inference import ensemble_graph, place
from spikesat.inference.placement import brute_force, evaluate, objective_value, placement_problem
from spikesat.models import create, ensemble


@pytest.fixture(scope="module")
def trio():
    specialists = {f"vit{s}": create("vit-micro-p8", seed=s) for s in range(3)}
    model = ensemble(specialists, num_classes=10, k=2).eval()
    with torch.no_grad():
        model.gate_logits.copy_(torch.tensor([0.5, 0.9, -0.2]))
    return model


def test_the_graph_answers_like_the_pruned_ensemble(trio):
    graph = ensemble_graph(trio, task="landcover")
    assert list(graph.services) == ["specialist:vit0", "specialist:vit1", "head:landcover"]
    assert trio.names == ["vit0", "vit1", "vit2"]  # the caller's ensemble is not pruned
    x = torch.randn(3, 3, 64, 64)
    answers = graph.run({"rgb": x})["landcover"]
    with torch.no_grad():
        masked = trio(x)
    assert torch.allclose(answers, masked, atol=1e-6)
    specialist_bytes = graph.services["specialist:vit0"].param_bytes
    assert specialist_bytes == sum(
        p.numel() * 4 for p in trio.specialists["vit0"].parameters()
    ) + sum(p.numel() * 4 for p in trio.norms["vit0"].parameters())
    assert graph.services["head:landcover"].inputs == ("specialist:vit0", "specialist:vit1")
    assert graph.sensor_bytes() == 64 * 64 * 3  # read by both specialists, sent once


def test_placement_spreads_specialists_over_satellites_when_memory_binds(trio, route):
    graph = ensemble_graph(trio)
    one = graph.services["specialist:vit0"]
    memory = (
        1.5 * (one.param_bytes + one.peak_activation_bytes)
        + graph.services["head:landcover"].param_bytes
    )
    net = route(num_sats=2, seed=6, memory_bytes=memory)
    milp = place(graph, net, "milp")
    problem = placement_problem(graph, net)
    best = brute_force(problem, "latency")
    assert best is not None
    assert objective_value(milp.cost, "latency") == pytest.approx(
        objective_value(evaluate(problem, best), "latency"), rel=1e-9
    )
    # One specialist per satellite (memory holds one), fused on the second.
    assert milp.assignment == {
        "specialist:vit0": "sat:0", "specialist:vit1": "sat:1", "head:landcover": "sat:1",
    }  # fmt: skip
    assert milp.cost["latency_s"] < place(graph, net, "bent-pipe").cost["latency_s"]
