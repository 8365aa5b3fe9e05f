"""Faults: CRC-checked uploads, retransmission, failures and drop-outs lose nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesat.federated import (
    Clock,
    CorruptUpdateError,
    FaultModel,
    decode_update,
    deliver_update,
    encode_update,
    federate,
)
from spikesat.federated.payload import flip_random_byte


def _state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"w": torch.randn(64, 32, generator=gen), "b": torch.randn(32, generator=gen)}


def test_payload_round_trip_and_crc() -> None:
    state = _state()
    data = encode_update(state, {"sat": 3, "num_samples": 7})
    decoded, meta = decode_update(data)
    assert meta == {"sat": 3, "num_samples": 7}
    assert all(torch.equal(decoded[k], state[k]) for k in state)
    rng = np.random.default_rng(0)
    for _ in range(20):
        with pytest.raises(CorruptUpdateError):
            decode_update(flip_random_byte(data, rng))
    with pytest.raises(CorruptUpdateError, match="header"):
        decode_update(data[:8])
    with pytest.raises(CorruptUpdateError, match="says"):
        decode_update(data[:-1])


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
