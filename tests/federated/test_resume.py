"""Checkpoints: a run stopped and resumed equals the uninterrupted run."""

from __future__ import annotations

import pytest
import torch

from spikesat.federated import FaultModel, federate


def _strip(history):
    return [{k: v for k, v in h.items() if k != "wall_s"} for h in history]


@pytest.mark.parametrize(
    ("strategy", "kwargs"),
    [
        ("fedavg-ground", {"quorum": 0.8}),
        ("fedasync", {"merges_per_round": 5}),
        ("split-lam", {"batch_size": 4, "lora_ranks": [2, 3]}),
    ],
)
def test_resume_equals_uninterrupted(
    strategy, kwargs, tmp_path, small_network, small_data, local_config
) -> None:
    common = dict(
        network=small_network,
        data=small_data,
        rounds=3,
        local=local_config,
        seed=5,
        faults=FaultModel(corruption_prob=0.2, dropout_prob=0.1, seed=3),
        strategy_kwargs=kwargs,
    )
    full = federate(strategy, **common)
    federate(strategy, checkpoint_dir=tmp_path, checkpoint_every=2, stop_after_rounds=2, **common)
    resumed = federate(strategy, checkpoint_dir=tmp_path, resume=True, **common)
    assert _strip(resumed.history) == _strip(full.history)
    assert resumed.contributions == full.contributions
    for (name, a), b in zip(
        full.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert resumed.energy["total_j"] == pytest.approx(full.energy["total_j"], rel=1e-12)


def test_resume_refuses_a_different_configuration(
    tmp_path, small_network, small_data, local_config
) -> None:
    common = dict(network=small_network, data=small_data, local=local_config)
    federate("fedavg-ground", rounds=1, checkpoint_dir=tmp_path, seed=0, **common)
    with pytest.raises(ValueError, match="seed"):
        federate("fedavg-ground", rounds=2, checkpoint_dir=tmp_path, resume=True, seed=1, **common)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        federate("fedavg-ground", rounds=2, resume=True, **common)
