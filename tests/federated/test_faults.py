"""Faults: checked uploads, retransmission, failures (at a round's start or mid-round) and
drop-outs lose no update and count none twice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesat.federated import (
    Clock,
    FaultModel,
    UpdateId,
    deliver_update,
    encode_update,
    federate,
)


def _state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"w": torch.randn(64, 32, generator=gen), "b": torch.randn(32, generator=gen)}


def test_corrupted_upload_is_resent_in_a_later_window(small_network) -> None:
    clock = Clock(small_network)
    faults = FaultModel(corruption_prob=0.9, seed=4)
    state = _state()
    delivery = deliver_update(clock, faults, 2, encode_update(state, {"k": 1}), 0.0, round=0)
    assert delivery.attempts > 1
    assert all(torch.equal(delivery.state[k], state[k]) for k in state)
    first, last = delivery.transfers[0], delivery.transfers[-1]
    assert last.start_s > first.tx_end_s  # the resend waited for a later window
    assert clock.bytes["ground_up"] == delivery.attempts * len(encode_update(state, {"k": 1}))


def test_fault_draws_are_pure_functions_of_the_seed() -> None:
    a, b = FaultModel(dropout_prob=0.4, seed=9), FaultModel(dropout_prob=0.4, seed=9)
    draws = [a.dropped(s, r) for s in range(10) for r in range(5)]
    assert draws == [b.dropped(s, r) for s in range(10) for r in range(5)]
    assert any(draws) and not all(draws)
    with pytest.raises(ValueError, match="dropout_prob"):
        FaultModel(dropout_prob=1.5)


def test_transmission_faults_lose_nothing_and_count_nothing_twice(
    small_network, small_data, local_config
) -> None:
    clean = federate(
        "fedavg-ground", network=small_network, data=small_data, rounds=2, local=local_config
    )
    faulty = federate(
        "fedavg-ground",
        network=small_network,
        data=small_data,
        rounds=2,
        local=local_config,
        faults=FaultModel(corruption_prob=0.4, missed_window_prob=0.3, seed=1),
    )
    # Every satellite's update entered each round exactly once ...
    for round_index in range(2):
        assert sorted(faulty.contributions[round_index]) == [
            [s, 0] for s in range(small_network.num_sats)
        ]
    # ... so the model is the fault-free one, bit for bit; only time and bytes grew.
    for a, b in zip(
        clean.model.state_dict().values(), faulty.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert sum(h["num_retransmissions"] for h in faulty.history) > 0
    assert sum(h["num_missed_windows"] for h in faulty.history) > 0
    assert faulty.history[-1]["sim_time_s"] > clean.history[-1]["sim_time_s"]
    assert faulty.history[0]["bytes_ground_up"] > clean.history[0]["bytes_ground_up"]


@pytest.mark.parametrize("strategy", ["fedavg-ground", "fedisl"])
def test_failures_and_dropouts_are_left_out(
    strategy, small_network, small_data, local_config
) -> None:
    faults = FaultModel(failures={0: 0, 11: 1}, dropout_prob=0.25, seed=2)
    result = federate(
        strategy,
        network=small_network,
        data=small_data,
        rounds=2,
        local=local_config,
        faults=faults,
    )
    for round_index in range(2):
        expected = [s for s in range(small_network.num_sats) if faults.participates(s, round_index)]
        got = sorted(s for s, _ in result.contributions[round_index])
        assert got == expected
        assert result.history[round_index]["num_contributions"] == len(expected)
    assert 0 not in [s for s, _ in result.contributions[0]]
    assert 11 not in [s for s, _ in result.contributions[1]]


def test_a_payload_the_station_would_never_accept_fails_at_once(small_network) -> None:
    payload = encode_update(_state(), {}, UpdateId(sender=2, round=1))
    with pytest.raises(ValueError, match="as sent, fails the station's check"):
        deliver_update(
            Clock(small_network), FaultModel(), 2, payload, 0.0, 0, expect=UpdateId(sender=2)
        )


def _states_equal(a, b) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("strategy", ["fedavg-ground", "fedisl"])
def test_a_fifth_failing_mid_round_loses_only_their_updates(
    strategy, small_network, small_data, local_config
) -> None:
    """4 of 20 satellites (seeded) die mid-round: each trains, spends the energy and dies
    before its update leaves it. The model is the one of the same failures at the round's
    start (nobody else's update lost or counted twice); only the wasted energy differs."""
    rng = np.random.default_rng(0)
    dead = rng.choice(small_network.num_sats, size=4, replace=False)
    failures = {int(sat): int(i % 2) for i, sat in enumerate(dead)}  # two die in round 0, two in 1
    common = dict(network=small_network, data=small_data, rounds=3, local=local_config)
    runs = {
        point: federate(
            strategy,
            faults=FaultModel(failures=failures, failure_point=point, corruption_prob=0.3, seed=5),
            **common,
        )
        for point in ("round-start", "mid-round")
    }
    mid, start = runs["mid-round"], runs["round-start"]
    for round_index in range(3):
        alive = [s for s in range(20) if failures.get(s, 99) > round_index]
        assert sorted(s for s, _ in mid.contributions[round_index]) == alive
        entries = [tuple(e) for e in mid.contributions[round_index]]
        assert len(entries) == len(set(entries))
    assert mid.contributions == start.contributions
    assert _states_equal(mid, start)
    # The dead satellites trained in their failure round: that compute was spent for nothing.
    assert mid.energy["total_j"] > start.energy["total_j"]
    assert mid.history[0]["num_participants"] == 20  # the two of round 0 trained ...
    assert start.history[0]["num_participants"] == 18  # ... or never started


@pytest.mark.parametrize("strategy", ["fedasync", "split-lam"])
def test_mid_round_failures_in_the_other_strategies(
    strategy, small_network, small_data, local_config
) -> None:
    kwargs = {"merges_per_round": 6} if strategy == "fedasync" else {"batch_size": 4}
    faults = FaultModel(failure_prob=0.1, failure_point="mid-round", seed=3)
    result = federate(
        strategy,
        network=small_network,
        data=small_data,
        rounds=3,
        local=local_config,
        faults=faults,
        strategy_kwargs=kwargs,
    )
    died = {s: faults.failure_round(s, 3) for s in range(20)}
    assert any(r is not None for r in died.values())
    seen, after_death = set(), dict.fromkeys(range(20), 0)
    for round_index, entries in result.contributions.items():
        for sat, key in entries:
            assert (round_index, sat, key) not in seen  # never counted twice
            seen.add((round_index, sat, key))
            after_death[sat] += died[sat] is not None and round_index >= died[sat]
    # fedasync: the one update already in flight when a satellite died may still merge later;
    # the cycle it had started in its failure round never leaves it.
    assert max(after_death.values()) <= (1 if strategy == "fedasync" else 0)
    if strategy == "split-lam":
        for round_index in range(3):
            alive = [s for s in range(20) if died[s] is None or died[s] > round_index]
            assert sorted(s for s, _ in result.contributions[round_index]) == alive


def test_failure_points_and_rounds() -> None:
    start = FaultModel(failures={4: 2})
    mid = FaultModel(failures={4: 2}, failure_point="mid-round")
    assert [start.failed(4, r) for r in range(4)] == [False, False, True, True]
    assert [mid.failed(4, r) for r in range(4)] == [False, False, False, True]
    assert [mid.fails_mid_round(4, r) for r in range(4)] == [False, False, True, False]
    assert not any(start.fails_mid_round(4, r) for r in range(4))
    drawn = FaultModel(failure_prob=0.3, seed=1)
    for sat in range(30):
        first = drawn.failure_round(sat, 10)
        assert [drawn.failed(sat, r) for r in range(10)] == [
            first is not None and r >= first for r in range(10)
        ]
    with pytest.raises(ValueError, match="failure_point"):
        FaultModel(failure_point="sometimes")
