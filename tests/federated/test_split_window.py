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
