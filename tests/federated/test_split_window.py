"""split-lam's window schedule: as many exact plane-SGD steps as a ground window allows."""

from __future__ import annotations

import copy

import pytest
import torch

from spikesat.federated import add_lora, create_strategy, federate, weighted_average


def test_window_steps_equal_sequential_plane_sgd(
    small_network, small_data, dropout_free_vit, centralised_sgd_step
) -> None:
    model = dropout_free_vit()
    reference = copy.deepcopy(model)
    strategy = create_strategy(
        "split-lam", batch_size=4, lr=0.1, lora_rank=2, schedule="window", max_steps=4
    )
    result = federate(strategy, network=small_network, data=small_data, model=model, rounds=1)
    entry = result.history[0]
    order, steps = entry["plane_order"], entry["steps_per_plane"]
    assert sorted(order) == [0, 1]
    assert all(1 <= k <= 4 for k in steps) and max(steps) > 1  # a window holds several steps
    assert entry["num_contributions"] == small_network.num_sats
    # Reference: each plane from the round-start model, its steps as centralised SGD on the
    # concatenation of its members' batches; the ground adapters carry over from plane to
    # plane in service order; the server averages the planes by examples seen.
    add_lora(reference, 2, seed=0)
    sat_side = [*reference.stage("patch_embed").parameters(), *reference.head.parameters()]
    for param in sat_side:
        param.requires_grad_(True)
    names = {id(p): n for n, p in reference.named_parameters()}
    start = [p.detach().clone() for p in sat_side]
    trainable = [p for p in reference.parameters() if p.requires_grad]
    planes, finals, seen = small_network.plane_members(), [], []
    for plane, num_steps in zip(order, steps, strict=True):
        with torch.no_grad():
            for param, value in zip(sat_side, start, strict=True):
                param.copy_(value)
        total = 0
        for step in range(num_steps):
            total += centralised_sgd_step(reference, trainable, strategy, planes[plane], 0, step)
        finals.append({names[id(p)]: p.detach().clone() for p in sat_side})
        seen.append(total)
    with torch.no_grad():
        params = dict(reference.named_parameters())
        for name, value in weighted_average(finals, seen).items():
            params[name].copy_(value)
    for (name, a), b in zip(
        result.model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5, msg=name)


def test_window_serves_first_contact_first_and_fits_more_steps_per_hour(
    small_network, small_data, dropout_free_vit
) -> None:
    kw = {"batch_size": 4, "lr": 0.1, "lora_rank": 2}
    one = federate(
        create_strategy("split-lam", **kw), network=small_network, data=small_data,
        model=dropout_free_vit(), rounds=2,
    )  # fmt: skip
    window = federate(
        create_strategy("split-lam", schedule="window", max_steps=8, **kw),
        network=small_network, data=small_data, model=dropout_free_vit(), rounds=2,
    )  # fmt: skip
    steps = sum(sum(h["steps_per_plane"]) for h in window.history) / len(
        small_network.plane_members()
    )
    one_rate = len(one.history) / one.history[-1]["sim_time_s"]
    window_rate = steps / window.history[-1]["sim_time_s"]
    assert window_rate > one_rate  # more SGD steps per simulated second than one per round
    first = window.history[0]["plane_order"][0]
    members = small_network.plane_members()
    contacts = [min(small_network.best_ground_window(s, 0.0)[1] for s in ring) for ring in members]
    assert contacts[first] == min(contacts)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"schedule": "pipelined"}, "unknown schedule 'pipelined'"),
        ({"max_steps": 0}, "max_steps must be a positive integer"),
        ({"max_steps": 4}, "needs schedule='window'"),
        ({"micro_batches": 0}, "micro_batches must be a positive integer"),
    ],
)
def test_window_bad_input_is_named(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        create_strategy("split-lam", **kwargs)


def test_a_plane_stops_when_its_next_step_would_outlast_the_window(
    small_network, small_data, monkeypatch
) -> None:
    from spikesat.federated.strategies import split_lam

    def steps_with_window(length_s: float) -> list[int]:
        monkeypatch.setattr(split_lam, "window_end_s", lambda _segments, at_s: at_s + length_s)
        strategy = create_strategy(
            "split-lam", batch_size=2, lr=0.1, lora_rank=2, schedule="window", max_steps=200
        )
        result = federate(strategy, network=small_network, data=small_data, rounds=1)
        return result.history[0]["steps_per_plane"]

    short, longer = steps_with_window(2.0), steps_with_window(8.0)
    assert all(1 <= k < 200 for k in short + longer)
    assert sum(longer) > sum(short)


def test_running_past_the_plan_is_a_horizon_error(small_network) -> None:
    """A relay wanted after the plan's last contact: the error federate's callers catch."""
    from types import SimpleNamespace

    from spikesat.federated import SimulationHorizonError
    from spikesat.federated.strategies.base import first_to_see_ground

    sim = SimpleNamespace(network=small_network)
    assert first_to_see_ground(sim, [0, 1], 0.0) in (0, 1)
    with pytest.raises(SimulationHorizonError, match="build a longer plan"):
        first_to_see_ground(sim, [0, 1], small_network.horizon_s + 1.0)


@pytest.mark.parametrize("chunks", [1, 4])
def test_pipelined_gather_and_scatter_follow_the_pipeline_formula(small_network, chunks) -> None:
    """One payload at the far end of a half ring, H = 5 hops of equal constant rate: chunk k
    leaves hop h once it has arrived from hop h - 1 and chunk k - 1 has left hop h, so the last
    byte arrives after H (c + p) + (K - 1) c, with c the airtime of one chunk and p the
    propagation delay (store and forward of the whole payload: K = 1)."""
    from types import SimpleNamespace

    from spikesat.federated.clock import Clock
    from spikesat.federated.strategies.base import (
        chunk_sizes,
        ring_gather,
        ring_gather_chunks,
        ring_scatter,
        ring_scatter_chunks,
    )

    ring, num_bytes, ready_s = small_network.plane_members()[0], 40_000_000, 100.0
    relay, far = ring[0], ring[5]
    probe = Clock(small_network).isl_send(ring[1], ring[0], num_bytes // chunks, ready_s)
    c, p = probe.tx_end_s - probe.start_s, probe.arrival_s - probe.tx_end_s
    expected = ready_s + 5 * (c + p) + (chunks - 1) * c
    gather = SimpleNamespace(clock=Clock(small_network))
    done = ring_gather_chunks(gather, ring, relay, {far: (num_bytes, [ready_s] * chunks)}, round=0)
    assert done[-1] == pytest.approx(expected, rel=1e-6)
    assert sum(t.num_bytes for t in gather.clock.transfers) == 5 * num_bytes  # each hop once
    scatter = SimpleNamespace(clock=Clock(small_network))
    arrival = ring_scatter_chunks(scatter, ring, relay, {far: num_bytes}, [ready_s] * chunks, 0)
    assert arrival[far][-1] == pytest.approx(expected, rel=1e-6)
    if chunks == 1:  # the unpipelined helpers are the one-chunk case
        plain = SimpleNamespace(clock=Clock(small_network))
        assert ring_gather(plain, ring, relay, {far: (num_bytes, ready_s)}, 0) == done[0]
        plain = SimpleNamespace(clock=Clock(small_network))
        assert ring_scatter(plain, ring, relay, {far: num_bytes}, ready_s, 0) == {
            far: arrival[far][0]
        }
    assert sum(chunk_sizes(num_bytes + 3, chunks)) == num_bytes + 3


def test_micro_batches_keep_the_step_and_shorten_it(
    small_network, small_data, dropout_free_vit, monkeypatch
) -> None:
    """Pipelining changes when bytes move, not what is learnt: with one step per plane the
    models and bytes are identical, and with ViT-Small-sized tokens more steps fit a window
    (here 3 s long)."""
    from spikesat.federated.strategies import split_lam

    def run(micro_batches: int, max_steps: int, **price):
        strategy = create_strategy(
            "split-lam", batch_size=4, lr=0.1, lora_rank=2, schedule="window",
            max_steps=max_steps, micro_batches=micro_batches,
        )  # fmt: skip
        return federate(
            strategy, network=small_network, data=small_data, model=dropout_free_vit(),
            rounds=1, **price,
        )  # fmt: skip

    plain, piped = run(1, 1), run(4, 1)
    for key in ("bytes_isl", "bytes_ground_up", "bytes_ground_down"):
        assert piped.history[0][key] == plain.history[0][key]
    for (name, a), b in zip(
        plain.model.state_dict().items(), piped.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    monkeypatch.setattr(split_lam, "window_end_s", lambda _segments, at_s: at_s + 3.0)
    price = {"price_as": "vit-small-p8", "price_image_size": 64}
    slow, fast = run(1, 64, **price).history[0], run(8, 64, **price).history[0]
    assert all(
        f >= s for f, s in zip(fast["steps_per_plane"], slow["steps_per_plane"], strict=True)
    )
    assert sum(fast["steps_per_plane"]) > sum(slow["steps_per_plane"])
