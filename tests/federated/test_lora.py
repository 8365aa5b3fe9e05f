"""Tests of spikesat.federated.lora: peft LoRA on vit-micro-p8, heterogeneous-rank aggregation."""

from __future__ import annotations

import copy
import io

import pytest
import torch

import spikesat.models as models
from spikesat.data import synthetic_scenes
from spikesat.federated.lora import (
    LoraUpdate,
    add_lora,
    aggregate_lora,
    base_state,
    load_base_state,
    load_lora_state,
    lora_rank_alpha,
    lora_state,
    merge_lora_delta,
    reset_lora,
)
from spikesat.train import TrainConfig, fit

IMAGE_SIZE = 32
TARGETS_PER_BLOCK = 4  # qkv, proj, fc1, fc2


def _lam(seed: int = 0) -> models.LAM:
    torch.manual_seed(seed)
    return models.create("vit-micro-p8", img_size=IMAGE_SIZE).eval()


def _images(num: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(
        num, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(seed)
    )


def _randomise_lora(model: torch.nn.Module, seed: int) -> None:
    """Give every LoRA matrix (B too) random values, as after local training."""
    gen = torch.Generator().manual_seed(seed)
    state = {k: 0.1 * torch.randn(v.shape, generator=gen) for k, v in lora_state(model).items()}
    load_lora_state(model, state)


def _client(base: models.LAM, rank: int, alpha: float | None, seed: int) -> models.LAM:
    model = add_lora(copy.deepcopy(base), rank, alpha=alpha, seed=seed)
    _randomise_lora(model, seed + 100)
    return model


def test_add_lora_freezes_backbone_and_keeps_output() -> None:
    base = _lam()
    x = _images()
    with torch.no_grad():
        before = base(x)
    model = add_lora(copy.deepcopy(base), rank=4)
    assert isinstance(model, models.LAM)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(".lora_A." in n or ".lora_B." in n or n.startswith("head.") for n in trainable)
    assert {n for n in trainable if n.startswith("head.")} == {
        f"head.{n}" for n, _ in base.head.named_parameters()
    }
    num_lora = sum(1 for n in trainable if ".lora_" in n)
    assert num_lora == 2 * TARGETS_PER_BLOCK * len(base.blocks)
    with torch.no_grad():
        assert torch.equal(model(x), before)  # B = 0: the adapters add nothing yet
    assert lora_rank_alpha(model) == (4, 4.0)


def test_add_lora_blocks_and_targets() -> None:
    model = add_lora(_lam(), rank=2, blocks=["blocks.2", 3], target_modules=["qkv"])
    assert sorted(k for k in lora_state(model) if k.endswith("lora_A")) == [
        "blocks.2.attn.qkv.lora_A",
        "blocks.3.attn.qkv.lora_A",
    ]
    # The adapted LAM still splits: the ground side holds the adapted blocks.
    split = models.split(model, at="blocks.1")
    x = _images()
    _randomise_lora(model, 1)
    with torch.no_grad():
        assert torch.equal(split(x), model(x))


def test_add_lora_is_seeded() -> None:
    a = lora_state(add_lora(_lam(), rank=3, seed=7))
    b = lora_state(add_lora(_lam(), rank=3, seed=7))
    c = lora_state(add_lora(_lam(), rank=3, seed=8))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["blocks.0.attn.qkv.lora_A"], c["blocks.0.attn.qkv.lora_A"])
    assert all(v.abs().sum() == 0 for k, v in a.items() if k.endswith("lora_B"))


def test_add_lora_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="rank"):
        add_lora(_lam(), rank=0)
    with pytest.raises(ValueError, match="not a backbone stage"):
        add_lora(_lam(), rank=2, blocks=["blocks.9"])
    with pytest.raises(ValueError, match="out of range"):
        add_lora(_lam(), rank=2, blocks=[4])
    with pytest.raises(ValueError, match="linear layers there are"):
        add_lora(_lam(), rank=2, target_modules=["query"])
    with pytest.raises(ValueError, match="already has LoRA"):
        add_lora(add_lora(_lam(), rank=2), rank=2)
    with pytest.raises(TypeError, match="LAM"):
        add_lora(torch.nn.Linear(3, 3), rank=2)


def test_lora_state_names_do_not_depend_on_rank() -> None:
    small = lora_state(add_lora(_lam(), rank=2))
    large = lora_state(add_lora(_lam(), rank=8))
    assert list(small) == list(large)
    assert small["blocks.0.attn.qkv.lora_A"].shape == (2, 64)
    assert large["blocks.0.attn.qkv.lora_B"].shape == (192, 8)


def test_stack_reproduces_weighted_sum_of_client_updates() -> None:
    base = _lam()
    ranks, alphas, weights = [2, 4, 8], [4.0, 4.0, 16.0], [10.0, 30.0, 60.0]
    clients = [
        _client(base, r, a, seed=i) for i, (r, a) in enumerate(zip(ranks, alphas, strict=True))
    ]
    states = [lora_state(c) for c in clients]
    update = aggregate_lora(states, weights, ranks, method="stack", alphas=alphas)
    assert update.rank == sum(ranks)
    total = sum(weights)
    for module in update.modules:
        expected = sum(
            (w / total)
            * (a / r)
            * (s[f"{module}.lora_B"].double() @ s[f"{module}.lora_A"].double())
            for s, r, a, w in zip(states, ranks, alphas, weights, strict=True)
        )
        torch.testing.assert_close(update.delta(module), expected, rtol=0, atol=1e-10)


def test_zero_pad_is_the_biased_product_of_averages() -> None:
    base = _lam()
    ranks, weights = [2, 6], [1.0, 3.0]
    states = [lora_state(_client(base, r, None, seed=i)) for i, r in enumerate(ranks)]
    update = aggregate_lora(states, weights, ranks, method="zero-pad")
    assert update.rank == max(ranks)
    w = [0.25, 0.75]
    module = "blocks.1.mlp.fc1"
    a = [
        torch.nn.functional.pad(s[f"{module}.lora_A"].double(), (0, 0, 0, 6 - r))
        for s, r in zip(states, ranks, strict=True)
    ]
    b = [
        torch.nn.functional.pad(s[f"{module}.lora_B"].double(), (0, 6 - r))
        for s, r in zip(states, ranks, strict=True)
    ]
    biased = sum(w[i] * w[j] * b[i] @ a[j] for i in range(2) for j in range(2))
    exact = sum(w[i] * b[i] @ a[i] for i in range(2))
    torch.testing.assert_close(update.delta(module), biased, rtol=0, atol=1e-10)
    assert (update.delta(module) - exact).abs().max() > 1e-3  # the documented bias is real
    single = aggregate_lora(states[:1], [1.0], ranks[:1], method="zero-pad")
    torch.testing.assert_close(single.delta(module), b[0][:, :2] @ a[0][:2], rtol=0, atol=1e-12)


def test_merge_stacked_update_matches_client_model() -> None:
    """Merging one client's update into the plain base model reproduces the client's outputs."""
    base = _lam()
    client = _client(base, rank=4, alpha=8.0, seed=3)
    update = aggregate_lora([lora_state(client)], [1.0], [4], method="stack", alphas=[8.0])
    server = merge_lora_delta(copy.deepcopy(base), update)
    x = _images(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(server(x), client(x), rtol=1e-5, atol=1e-5)


def test_merge_into_lora_model_restarts_adapters() -> None:
    base = _lam()
    ranks = [2, 4]
    clients = [_client(base, r, None, seed=i) for i, r in enumerate(ranks)]
    update = aggregate_lora([lora_state(c) for c in clients], [1.0, 1.0], ranks)
    plain = merge_lora_delta(copy.deepcopy(base), update)
    for client in clients:
        merge_lora_delta(client, update, seed=5)
        assert all(v.abs().sum() == 0 for k, v in lora_state(client).items() if k.endswith("B"))
        merged = base_state(client)
        expected = plain.state_dict()
        assert list(merged) == list(expected)
        for key in expected:
            assert torch.equal(merged[key], expected[key]), key
        x = _images(seed=2)
        with torch.no_grad():
            assert torch.equal(client(x), plain(x))
    expected_w = base.blocks[0].attn.qkv.weight.double() + update.delta("blocks.0.attn.qkv")
    torch.testing.assert_close(plain.blocks[0].attn.qkv.weight, expected_w.float(), rtol=0, atol=0)


def test_load_update_truncates_and_rescales() -> None:
    base = _lam()
    states = [lora_state(_client(base, r, None, seed=i)) for i, r in enumerate([4, 4])]
    update = aggregate_lora(states, [1.0, 2.0], [4, 4], method="zero-pad")
    module = "blocks.0.attn.proj"
    full = add_lora(copy.deepcopy(base), rank=4, alpha=16.0)  # scaling 4
    load_lora_state(full, update)
    got = lora_state(full)
    scaled = 4.0 * got[f"{module}.lora_B"].double() @ got[f"{module}.lora_A"].double()
    torch.testing.assert_close(scaled, update.delta(module), rtol=1e-5, atol=1e-6)
    small = add_lora(copy.deepcopy(base), rank=2)  # HetLoRA truncation to the leading 2
    load_lora_state(small, update)
    got = lora_state(small)
    truncated = update.state[f"{module}.lora_B"][:, :2] @ update.state[f"{module}.lora_A"][:2]
    product = got[f"{module}.lora_B"].double() @ got[f"{module}.lora_A"].double()
    torch.testing.assert_close(product, truncated, rtol=1e-5, atol=1e-6)


def test_aggregate_lora_rejects_bad_input() -> None:
    base = _lam()
    states = [lora_state(_client(base, r, None, seed=i)) for i, r in enumerate([2, 4])]
    with pytest.raises(ValueError, match="choose one of"):
        aggregate_lora(states, [1, 1], [2, 4], method="mean")
    with pytest.raises(ValueError, match="do not have rank 2"):
        aggregate_lora(states, [1, 1], [2, 2])
    with pytest.raises(ValueError, match="non-negative"):
        aggregate_lora(states, [1, -1], [2, 4])
    with pytest.raises(ValueError, match="missing"):
        aggregate_lora([states[0], {}], [1, 1], [2, 4])
    with pytest.raises(TypeError, match="LoraUpdate"):
        merge_lora_delta(base, states[0])  # type: ignore[arg-type]


def test_base_state_round_trip_between_ranks() -> None:
    source = add_lora(_lam(seed=1), rank=2)
    target = add_lora(_lam(seed=2), rank=8)
    plain_keys = list(_lam().state_dict())
    assert list(base_state(source)) == plain_keys
    before = lora_state(target)
    load_base_state(target, base_state(source))
    assert all(torch.equal(before[k], v) for k, v in lora_state(target).items())
    reset_lora(source, seed=0)
    reset_lora(target, seed=0)
    x = _images()
    with torch.no_grad():
        assert torch.equal(source(x), target(x))


def test_lora_model_pickles_and_trains_only_adapters() -> None:
    model = add_lora(_lam(), rank=2)
    frozen = {k: v.clone() for k, v in base_state(model).items() if not k.startswith("head.")}
    data = synthetic_scenes(16, image_size=IMAGE_SIZE, seed=0)
    fit(model, data, config=TrainConfig(epochs=1, batch_size=8, augment=False), progress=False)
    after = base_state(model)
    assert all(torch.equal(after[k], v) for k, v in frozen.items())
    assert any(v.abs().sum() > 0 for k, v in lora_state(model).items() if k.endswith("lora_B"))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    x = _images()
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), model(x))
    assert isinstance(aggregate_lora([lora_state(model)], [1.0], [2]), LoraUpdate)
