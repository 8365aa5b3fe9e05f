"""The strategies: exact aggregation maths, timing invariants, determinism, errors."""

from __future__ import annotations

import copy

import pytest
import torch

from spikesat.federated import (
    create_strategy,
    federate,
    list_strategies,
    weighted_average,
)
from spikesat.federated.backends import LocalJob, LocalTrainer, job_seed
from spikesat.models import create


def _run(name, network, data, local, rounds=1, **kw):
    return federate(name, network=network, data=data, rounds=rounds, local=local, seed=0, **kw)


def _without_wall(history):
    return [{k: v for k, v in h.items() if k != "wall_s"} for h in history]


def test_registry_lists_six_and_rejects_unknown() -> None:
    assert set(list_strategies()) == {
        "fedavg-ground",
        "fedisl",
        "on-board-only",
        "fedasync",
        "split-lam",
        "split-decomposed",
    }
    with pytest.raises(ValueError, match="fedavg-ground"):
        create_strategy("fedavg")
    with pytest.raises(ValueError, match="quorum"):
        create_strategy("fedavg-ground", quorum=0.0)


def test_fedavg_ground_is_the_sample_weighted_mean_of_local_training(
    small_network, small_data, local_config
) -> None:
    result = _run("fedavg-ground", small_network, small_data, local_config)
    # Recompute every satellite's local training by hand from the same initial model.
    torch.manual_seed(0)
    model = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32)
    names = [n for n, _ in model.named_parameters()]
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = LocalTrainer(copy.deepcopy(model), small_data, names, local_config)
    states, weights = [], []
    for sat in range(small_network.num_sats):
        out = trainer.run(LocalJob(sat, 0, job_seed(0, 0, sat), start))
        states.append(out.state)
        weights.append(small_data.num_samples(sat))
    expected = weighted_average(states, weights)
    params = dict(result.model.named_parameters())
    for name, value in expected.items():
        assert torch.equal(params[name], value), name
    entry = result.history[0]
    assert entry["num_contributions"] == small_network.num_sats
    assert entry["bytes_isl"] == 0
    assert entry["bytes_ground_up"] == small_network.num_sats * result.config["update_bytes"]
    assert entry["bytes_ground_down"] == small_network.num_sats * result.config["update_bytes"]
    assert entry["sim_time_s"] > 0 and entry["energy_j"] > 0


def test_fedisl_matches_fedavg_maths_with_one_upload_per_plane(
    small_network, small_data, local_config
) -> None:
    ground = _run("fedavg-ground", small_network, small_data, local_config)
    isl = _run("fedisl", small_network, small_data, local_config)
    for (name, a), b in zip(ground.model.named_parameters(), isl.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5, msg=name)
    entry = isl.history[0]
    num_planes = len(small_network.plane_members())
    assert entry["num_contributions"] == small_network.num_sats
    # One upload per plane (its update carries a few more bytes of metadata: the members).
    assert entry["bytes_ground_up"] == pytest.approx(
        num_planes * isl.config["update_bytes"], rel=1e-3
    )
    assert entry["bytes_isl"] > 0
    # One sink per plane instead of every satellite: the round ends much sooner.
    assert entry["sim_time_s"] < ground.history[0]["sim_time_s"]


def test_fedasync_merges_and_is_deterministic(small_network, small_data, local_config) -> None:
    kw = {"strategy_kwargs": {"merges_per_round": 6}}
    first = _run("fedasync", small_network, small_data, local_config, rounds=2, **kw)
    again = _run("fedasync", small_network, small_data, local_config, rounds=2, **kw)
    assert [h["num_contributions"] for h in first.history] == [6, 6]
    assert first.history[1]["server_version"] == 12
    assert first.history[1]["sim_time_s"] >= first.history[0]["sim_time_s"]
    assert _without_wall(first.history) == _without_wall(again.history)
    for a, b in zip(
        first.model.state_dict().values(), again.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_split_lam_equals_centralised_sgd_on_the_same_batches(
    small_network, small_data, dropout_free_vit, centralised_sgd_step
) -> None:
    model = dropout_free_vit()
    reference = copy.deepcopy(model)
    strategy = create_strategy("split-lam", batch_size=4, lr=0.1, lora_rank=2)
    result = federate(
        strategy, network=small_network, data=small_data, model=model, rounds=2, seed=0
    )
    assert [h["num_contributions"] for h in result.history] == [small_network.num_sats] * 2
    # Centralised: the same LAM with the same LoRA, one SGD step per round on the
    # concatenation of every satellite's batch, mean cross-entropy.
    from spikesat.federated import add_lora

    add_lora(reference, 2, seed=0)
    for param in reference.stage("patch_embed").parameters():
        param.requires_grad_(True)
    trainable = [p for p in reference.parameters() if p.requires_grad]
    sats = list(range(small_network.num_sats))
    for round_index in range(2):
        centralised_sgd_step(reference, trainable, strategy, sats, round_index)
    for (name, a), b in zip(
        result.model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    entry = result.history[0]
    num_examples = sum(min(4, small_data.num_samples(s)) for s in sats)
    assert entry["bytes_embeddings"] == num_examples * 17 * 64 * 4  # fp32 tokens [b, 17, 64]
    assert entry["bytes_isl"] > 0 and entry["bytes_ground_up"] > entry["bytes_embeddings"]


def test_split_lam_with_a_codec_counts_real_bitstream_bytes(small_network, small_data) -> None:
    result = federate(
        "split-lam",
        network=small_network,
        data=small_data,
        rounds=1,
        strategy_kwargs={"batch_size": 4, "codec": "int8"},
    )
    raw = sum(min(4, small_data.num_samples(s)) for s in range(small_data.num_sats)) * 17 * 64 * 4
    assert 0 < result.history[0]["bytes_embeddings"] < raw / 3


def test_fedisl_rejects_a_shell_without_isl_rings(small_data, local_config) -> None:
    from spikesat.federated import build_network
    from spikesat.orbits import walker_delta

    sparse = build_network(
        walker_delta(20, 5, 1, 550.0, 53.0), "default", horizon_h=12.0, step_s=120.0
    )
    with pytest.raises(ValueError, match="no ISL"):
        federate("fedisl", network=sparse, data=small_data, rounds=1, local=local_config)


def test_fedisl_intra_plane_rounds_keep_learning_between_contacts(
    small_network, small_data, local_config
) -> None:
    one = _run("fedisl", small_network, small_data, local_config)
    four = _run(
        "fedisl",
        small_network,
        small_data,
        local_config,
        strategy_kwargs={"intra_plane_rounds": 3},
    )
    entry = four.history[0]
    assert entry["num_contributions"] == small_network.num_sats
    assert entry["bytes_ground_up"] == one.history[0]["bytes_ground_up"]  # still one per plane
    # One broadcast plus three all-reduces instead of one broadcast plus one.
    assert entry["bytes_isl"] > 2 * one.history[0]["bytes_isl"]
    assert entry["energy_j"] > one.history[0]["energy_j"]
    differs = [
        not torch.equal(a, b)
        for a, b in zip(one.model.parameters(), four.model.parameters(), strict=True)
    ]
    assert any(differs)


def test_split_lam_heterogeneous_ranks_merge_into_one_backbone(small_network, small_data) -> None:
    strategy = create_strategy("split-lam", batch_size=4, lr=0.1, lora_ranks=[2, 4])
    torch.manual_seed(0)
    model = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    result = federate(strategy, network=small_network, data=small_data, model=model, rounds=2)
    assert [h["num_contributions"] for h in result.history] == [small_network.num_sats] * 2
    main = result.model.state_dict()
    qkv = "blocks.0.attn.qkv.weight"
    assert not torch.equal(main[qkv], start[qkv])  # the merged LoRA updates moved the backbone
    for plane_model, rank in zip(strategy.plane_models, [2, 4], strict=True):
        plane = plane_model.state_dict()
        # Every plane restarts from the merged backbone with a fresh adapter of its own rank.
        assert torch.equal(plane["blocks.0.attn.qkv.base_layer.weight"], main[qkv])
        assert plane["blocks.0.attn.qkv.lora_B.default.weight"].shape[1] == rank
        assert not plane["blocks.0.attn.qkv.lora_B.default.weight"].any()
    with pytest.raises(ValueError, match="one rank per plane"):
        federate(
            create_strategy("split-lam", lora_ranks=[2, 4, 8]),
            network=small_network,
            data=small_data,
            rounds=1,
        )


def test_fedasync_one_update_per_pass(small_network, small_data, local_config) -> None:
    runs = {}
    for per_pass in (True, False):
        kwargs = {"merges_per_round": 20, "one_update_per_pass": per_pass}
        runs[per_pass] = _run(
            "fedasync", small_network, small_data, local_config, strategy_kwargs=kwargs
        )
    # Without the rule, the satellites in view at the start cycle again and again in their
    # first pass (milliseconds of training, 25 ms uploads); with it, each visit gives one update.
    greedy = [sat for sat, _ in runs[False].contributions[0]]
    assert len(set(greedy)) < len(greedy)
    assert runs[True].history[0]["sim_time_s"] > runs[False].history[0]["sim_time_s"]
