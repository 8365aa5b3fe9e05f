"""serve(): the local and Ray Serve backends answer like the graph, each service on its node."""

from __future__ import annotations

import pytest
import torch

from spikesat.inference import load_test, multitask_lam, place, serve, service_graph
from spikesat.inference.placement import evaluate, placement_problem


def test_served_placement_answers_like_the_graph(placement_graph, route):
    net = route(num_sats=2, seed=12)
    placement = place(placement_graph, net, "milp")
    request = {"rgb": torch.randn(3, 3, 64, 64), "ms": torch.randn(3, 13, 64, 64)}
    with serve(placement_graph, placement) as handle:
        assert handle.nodes == placement.assignment
        answers, expected = handle.run(request), placement_graph.run(request)
        assert all(torch.equal(answers[t], expected[t]) for t in expected)
        report = load_test(handle, request, num_requests=5, max_seconds=60.0, concurrency=3)
    assert report["num_requests"] == 5 and report["p50_s"] <= report["p99_s"]
    with pytest.raises(ValueError, match="unknown serving backend 'grpc'.*local, ray"):
        serve(placement_graph, placement, backend="grpc")
    rgb_only = place(placement_graph, net, "milp", modalities=("rgb",))
    with pytest.raises(ValueError, match=r"no node for services \['tokenizer:ms'\]"):
        serve(placement_graph, rgb_only)
    with pytest.raises(ValueError, match="cpus_per_service"):
        serve(placement_graph, placement, backend="ray", cpus_per_service=2.0)
    with pytest.raises(ValueError, match="concurrency"):
        load_test(handle, request, concurrency=0)


def test_ray_serve_pins_each_service_to_its_node_and_answers_like_the_local_runtime(route):
    """Five services over two satellites (memory forces the split) as Ray Serve deployments."""
    mtl = multitask_lam("vit-micro-p8", ("rgb",), ("landcover", "cloud"), seed=3).eval()
    graph = service_graph(mtl, cuts=["blocks.1"])
    problem = placement_problem(graph, route(num_sats=2, seed=3), ("rgb",))
    all_on_board = evaluate(problem, {s: 0 for s in problem.services})
    net = route(num_sats=2, seed=3, memory_bytes=0.6 * all_on_board["node_memory_bytes"]["sat:0"])
    placement = place(graph, net, "milp")
    assert set(placement.assignment.values()) == {"sat:0", "sat:1"}
    request = {"rgb": torch.randn(4, 3, 64, 64)}
    with serve(graph, placement) as local, serve(graph, placement, backend="ray") as remote:
        expected = local.run(request)
        answers = remote.run(request)
        assert set(answers) == set(expected)
        assert all(torch.equal(answers[t], expected[t]) for t in expected)
        where = remote.where()
        for service, node in placement.assignment.items():
            assert where[service]["node"] == node
            assert where[service]["resources"][f"spikesat:{node}"] == pytest.approx(0.001)
            assert where[service]["resources"]["CPU"] == pytest.approx(0.1)
        report = load_test(remote, request, num_requests=12, max_seconds=60.0, concurrency=4)
    assert report["num_requests"] == 12
    assert 0 < report["p50_s"] <= report["p95_s"] <= report["p99_s"]
    import ray

    assert not ray.is_initialized()


def test_a_running_ray_without_the_node_resources_is_named_and_left_running(route):
    import ray

    mtl = multitask_lam("vit-micro-p8", ("rgb",), ("landcover",), seed=3).eval()
    graph = service_graph(mtl)
    placement = place(graph, route(num_sats=1, seed=0), "bent-pipe")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(ValueError, match=r"no resource for nodes \['gs:0'\]"):
            serve(graph, placement, backend="ray")
        assert ray.is_initialized()  # the caller's instance: not shut down
    finally:
        ray.shutdown()
