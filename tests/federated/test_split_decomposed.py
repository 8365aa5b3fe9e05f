"""split-decomposed: exact split SGD, per-block FLoRA aggregation, decompose's choice end to end,
bad input, and the bytes the clock moves."""

from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from spikesat.federated import (
    FaultModel,
    Federation,
    add_lora,
    aggregate_lora,
    candidate_costs,
    create_strategy,
    decompose,
    federate,
    lora_state,
    merge_lora_delta,
)
from spikesat.federated.lora import load_lora_state
from spikesat.federated.payload import UpdateId, encode_update
from spikesat.federated.strategies.split_decomposed import adapter_seed, ground_seed, split_costs
from spikesat.models import count_macs, create, split

FAST = {"batch_size": 4, "local_steps": 1, "lr": 0.1}
ACTIVATION_BYTES = 17 * 64 * 4  # fp32 tokens [17, 64] of vit-micro-p8 at 32 x 32, per example


def _only(sats, num_sats) -> FaultModel:
    """Every other satellite fails before round 0: ``sats`` alone participate."""
    return FaultModel(failures={s: 0 for s in range(num_sats) if s not in sats})


def _run(network, data, model, sats, rounds=1, **kwargs):
    strategy = create_strategy("split-decomposed", **{**FAST, **kwargs})
    result = federate(
        strategy,
        network=network,
        data=data,
        model=model,
        rounds=rounds,
        faults=_only(sats, network.num_sats),
        seed=0,
    )
    return strategy, result


def _linears(model):
    return {
        name: module.weight
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.startswith("blocks.")
    }


@pytest.mark.parametrize("local_steps", [1, 2])
def test_split_steps_equal_sgd_of_the_whole_lora_model(
    small_network, small_data, dropout_free_vit, local_steps
) -> None:
    model = dropout_free_vit()
    base = copy.deepcopy(model)
    sat = 1
    strategy, result = _run(
        small_network, small_data, model, [sat], split_at="blocks.0", lora_rank=2,
        ground_rank=2, local_steps=local_steps,
    )  # fmt: skip
    # Reference: the whole LAM with the satellite's fresh adapters on block 0 and the ground's
    # on blocks 1-3 (the same seeds), plain autograd SGD steps on the satellite's batches.
    reference = add_lora(copy.deepcopy(base), 2)
    on_board = lora_state(
        add_lora(copy.deepcopy(base), 2, blocks=["blocks.0"], seed=adapter_seed(0, 0, sat))
    )
    ground = lora_state(add_lora(copy.deepcopy(base), 2, seed=ground_seed(0, 0)))
    load_lora_state(
        reference,
        {**{k: v for k, v in ground.items() if not k.startswith("blocks.0.")}, **on_board},
    )
    reference.train()
    trainable = [p for p in reference.parameters() if p.requires_grad]
    losses = []
    for step in range(local_steps):
        images, labels = strategy.batches(SimpleNamespace(data=small_data, seed=0), sat, 0, step)
        loss = F.cross_entropy(reference(images), labels)
        with torch.no_grad():
            for param, grad in zip(trainable, torch.autograd.grad(loss, trainable), strict=True):
                param -= 0.1 * grad
        losses.append(float(loss.detach()))
    # Block 0 was trained on board only and blocks 1-3 on the ground only: each gets its B @ A.
    expected = copy.deepcopy(base)
    merge_lora_delta(expected, aggregate_lora([lora_state(reference)], [1], [2]), seed=None)
    expected.head.load_state_dict(reference.head.state_dict())
    for (name, a), b in zip(
        result.model.state_dict().items(), expected.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    entry = result.history[0]
    assert entry["train_loss"] == pytest.approx(sum(losses) / local_steps, rel=1e-6)
    assert entry["num_contributions"] == 1 and result.contributions[0] == [[sat, 0]]


def test_blocks_get_the_example_weighted_flora_of_their_updates(
    small_network, small_data, dropout_free_vit, monkeypatch
) -> None:
    model = dropout_free_vit()
    base = copy.deepcopy(model)
    sent = {}
    send = Federation.send

    def recording(self, sender, state, *args, **kwargs):
        sent[sender] = ({k: v.clone() for k, v in state.items()}, kwargs["num_samples"])
        return send(self, sender, state, *args, **kwargs)

    monkeypatch.setattr(Federation, "send", recording)
    # sat 1 holds blocks 0-1 at rank 2, sat 6 block 0 at rank 4 (the rest fail in round 0).
    decomposition = dict.fromkeys(range(small_network.num_sats), ("patch_embed", 0))
    decomposition.update({1: ("blocks.1", 2), 6: ("blocks.0", 4)})
    strategy, result = _run(
        small_network, small_data, model, [1, 6], decomposition=decomposition, ground_rank=3
    )
    assert sorted(sent) == [1, 6]
    assert sent[1][0]["blocks.1.mlp.fc1.lora_A"].shape == (2, 64)
    assert sent[6][0]["blocks.0.attn.qkv.lora_B"].shape == (192, 4)
    ground = lora_state(strategy.ground)  # the ground's trained adapters of the round
    n1, n6 = sent[1][1], sent[6][1]
    assert (n1, n6) == (4, 4)

    def delta(state, module):
        return state[f"{module}.lora_B"].double() @ state[f"{module}.lora_A"].double()

    for module, weight in _linears(result.model).items():
        block = ".".join(module.split(".")[:2])
        if block == "blocks.0":  # both satellites hold it: FLoRA of their adapters
            change = (n1 * delta(sent[1][0], module) + n6 * delta(sent[6][0], module)) / (n1 + n6)
        elif block == "blocks.1":  # sat 1 on board, sat 6's examples through the ground
            change = (n1 * delta(sent[1][0], module) + n6 * delta(ground, module)) / (n1 + n6)
        else:  # in both suffixes: the ground's adapter alone
            change = delta(ground, module)
        start = dict(base.named_parameters())[f"{module}.weight"]
        torch.testing.assert_close(
            weight, (start.double() + change).float(), atol=1e-7, rtol=0, msg=module
        )
    assert result.history[0]["num_contributions"] == 2
    assert result.history[0]["splits"] == {"blocks.0": 1, "blocks.1": 1}


def test_decompose_choice_runs_end_to_end(small_network, small_data) -> None:
    lam = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, seed=0)
    start = copy.deepcopy(lam.state_dict())
    counts = [small_data.num_samples(s) for s in range(small_network.num_sats)]
    memory = [[3e5, 6e5, 1e6, 8e9][s % 4] for s in range(small_network.num_sats)]
    decomposition = decompose(
        lam, small_network, counts, ranks=(1, 2, 4), memory_bytes=memory, batch_size=4,
        local_steps=1, objective="rank", deadline_s=1.0,
    )  # fmt: skip
    chosen = {(d.split_at, d.lora_rank) for d in decomposition.values()}
    assert len(chosen) >= 3  # heterogeneous: the memory budgets decide
    sats = list(range(8))  # two of each memory class
    _, result = _run(
        small_network, small_data, lam, sats, rounds=2, decomposition=decomposition, local_steps=2
    )
    first, second = result.history
    for entry in result.history:
        assert entry["num_contributions"] == len(sats)
        assert entry["bytes_ground_up"] > entry["bytes_activations"] > 0
        assert entry["bytes_ground_down"] >= entry["bytes_gradients"] > 0
        assert entry["energy_j"] > 0 and math.isfinite(entry["accuracy"])
        assert entry["bytes_isl"] == 0
    assert 0 < first["sim_time_s"] < second["sim_time_s"]
    assert first["bytes_adapters_down"] == 0 < second["bytes_adapters_down"]
    expected = {}
    for sat in sats:
        expected[decomposition[sat].split_at] = expected.get(decomposition[sat].split_at, 0) + 1
    assert first["splits"] == dict(sorted(expected.items()))
    assert second["train_loss"] < first["train_loss"]
    changed = [k for k, v in result.model.state_dict().items() if not torch.equal(v, start[k])]
    assert any(k.startswith("blocks.") for k in changed) and any("head" in k for k in changed)
    config = result.config["strategy_config"]
    json.dumps(config)
    assert config["decomposition"]["1"] == [decomposition[1].split_at, decomposition[1].lora_rank]


def test_bytes_of_one_step_are_the_analytic_count(small_network, small_data) -> None:
    sat, rank = 6, 2
    lam = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, seed=0)
    plain = copy.deepcopy(lam)
    _, result = _run(
        small_network, small_data, lam, [sat], rounds=2, split_at="blocks.0", lora_rank=rank
    )
    prefix = add_lora(copy.deepcopy(plain), rank, blocks=["blocks.0"])
    like = lora_state(prefix)
    adapter_bytes = len(encode_update(like, {"num_samples": 4}, UpdateId(1, sat, 0, 0)))
    first, second = result.history
    for entry in result.history:  # activations + labels, then the adapters, up
        assert entry["bytes_ground_up"] == 4 * ACTIVATION_BYTES + 4 + adapter_bytes
        assert entry["bytes_adapters_up"] == adapter_bytes
    assert first["bytes_ground_down"] == 4 * ACTIVATION_BYTES  # the gradients only
    # Round 2 first downloads block 0's merge: its stacked rank is 2 (only the satellite held
    # it), so per linear 2 (in + out) fp32 values, fewer than the dense in x out.
    linears = [plain.get_submodule(f"blocks.0.{n}") for n in ("attn.qkv", "attn.proj")]
    linears += [plain.get_submodule(f"blocks.0.mlp.{n}") for n in ("fc1", "fc2")]
    stacked = sum(min(rank * (m.in_features + m.out_features), m.weight.numel()) for m in linears)
    assert stacked == rank * (192 + 64 + 64 + 64 + 64 + 256 + 256 + 64)
    assert second["bytes_ground_down"] == 4 * ACTIVATION_BYTES + 4 * stacked
    assert first["energy_j"] > 0 and 0 < first["sim_time_s"] < second["sim_time_s"]
    # The clock's MACs are count_macs of the LoRA-injected prefix, decompose's candidate costs.
    costs = split_costs(plain, (3, 32, 32), [("blocks.0", rank)], ground_rank=4)[("blocks.0", rank)]
    sample = torch.zeros(1, 3, 32, 32)
    assert costs.prefix_macs == count_macs(split(prefix, at="blocks.0").onboard.eval(), sample)
    (candidate,) = [
        c for c in candidate_costs(plain, (3, 32, 32), ["blocks.0"], (rank,)) if c["rank"] == rank
    ]
    assert costs.prefix_macs == candidate["macs"] and costs.lora_numel == candidate["lora_params"]
    ground = add_lora(copy.deepcopy(plain), 4)
    features = split(ground, at="blocks.0").onboard.eval()(sample)
    assert costs.suffix_macs == count_macs(split(ground, at="blocks.0").remote.eval(), features)


def test_resume_reproduces_the_downloads(small_network, small_data, tmp_path) -> None:
    kwargs = {**FAST, "split_at": "blocks.1", "lora_rank": 2}
    common = {
        "network": small_network,
        "data": small_data,
        "rounds": 2,
        "faults": _only([1, 6], small_network.num_sats),
        "strategy_kwargs": kwargs,
    }

    def lam():
        return create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, seed=0)

    whole = federate("split-decomposed", model=lam(), **common)
    federate(
        "split-decomposed", model=lam(), checkpoint_dir=tmp_path, stop_after_rounds=1, **common
    )
    resumed = federate(
        "split-decomposed", model=lam(), checkpoint_dir=tmp_path, resume=True, **common
    )
    strip = [{k: v for k, v in h.items() if k != "wall_s"} for h in whole.history]
    assert [{k: v for k, v in h.items() if k != "wall_s"} for h in resumed.history] == strip
    assert whole.history[1]["bytes_adapters_down"] > 0
    for a, b in zip(
        whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_bad_input_is_refused(small_network, small_data) -> None:
    lam = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, seed=0)
    common = {"network": small_network, "data": small_data, "rounds": 1}
    with pytest.raises(ValueError, match=r"blocks\.9.*choose from patch_embed, blocks\.0"):
        federate("split-decomposed", model=lam, strategy_kwargs={"split_at": "blocks.9"}, **common)
    with pytest.raises(ValueError, match=r"no entry for satellites \[1, 2, 3"):
        federate(
            "split-decomposed",
            model=lam,
            strategy_kwargs={"decomposition": {0: ("blocks.0", 2)}},
            **common,
        )
    with pytest.raises(ValueError, match="rank must be >= 1"):
        create_strategy("split-decomposed", lora_rank=0)
    with pytest.raises(ValueError, match=r"decomposition\[3\].*rank must be >= 1"):
        create_strategy("split-decomposed", decomposition={3: ("blocks.1", 0)})
    with pytest.raises(ValueError, match="ground_rank must be a positive integer"):
        create_strategy("split-decomposed", ground_rank=0)
    with pytest.raises(ValueError, match="decomposition must be a non-empty mapping"):
        create_strategy("split-decomposed", decomposition=[("blocks.0", 2)])
    resnet = create("resnet9", in_chans=3, num_classes=10, width=8)
    with pytest.raises(ValueError, match="a ViT LAM.*resnet9"):
        federate("split-decomposed", model=resnet, **common)
    with pytest.raises(ValueError, match=r"priced model \(price_as=resnet9\) is resnet9"):
        federate("split-decomposed", model=lam, price_as="resnet9", **common)
    with pytest.raises(ValueError, match="trainable='full'"):
        federate("split-decomposed", model=copy.deepcopy(lam), trainable="lora", **common)
    # At the patch embedding nothing is on board: the rank is 0 whatever was given.
    strategy = create_strategy("split-decomposed", split_at="patch_embed", lora_rank=8)
    assert strategy.config()["lora_rank"] == 0


def test_a_priced_run_charges_the_priced_lam(small_network, small_data) -> None:
    lam = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, seed=0)
    like = lora_state(add_lora(copy.deepcopy(lam), 2, blocks=["blocks.0", "blocks.1"]))
    _, result = _run(
        small_network, small_data, lam, [6], split_at="blocks.1", lora_rank=2,
    )  # fmt: skip
    priced = federate(
        "split-decomposed", network=small_network, data=small_data, rounds=1,
        model=create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, seed=0),
        faults=_only([6], small_network.num_sats), price_as="vit-small-p8",
        strategy_kwargs={**FAST, "split_at": "blocks.1", "lora_rank": 2},
    ).history[0]  # fmt: skip
    assert priced["bytes_activations"] == 4 * 17 * 384 * 4  # vit-small-p8's tokens [17, 384]
    assert result.history[0]["bytes_activations"] == 4 * ACTIVATION_BYTES
    # The adapters go up at the priced size: rank 2 x (in + out) of vit-small's blocks 0-1
    # (qkv, proj, fc1, fc2: 1536 + 768 + 1920 + 1920) instead of vit-micro's (1024 per block).
    encoded = len(encode_update(like, {"num_samples": 4}, UpdateId()))
    assert result.history[0]["bytes_adapters_up"] == encoded
    assert priced["bytes_adapters_up"] == encoded + 4 * 2 * 2 * (6144 - 1024)
    assert priced["energy_j"] > result.history[0]["energy_j"]
