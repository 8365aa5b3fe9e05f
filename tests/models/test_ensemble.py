"""ensemble(): frozen specialists, a top-k gate that learns, pruning that removes compute."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikesat.models import count_macs, create, ensemble


@pytest.fixture(scope="module")
def specialists():
    return {f"vit{s}": create("vit-micro-p8", seed=s) for s in range(3)}


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, 64, 64, generator=g), torch.randint(10, (4,), generator=g)


def test_the_gate_learns_every_specialist_through_the_straight_through_mask(specialists):
    model = ensemble(specialists, num_classes=10, k=2)
    x, y = _batch()
    nn.functional.cross_entropy(model(x), y).backward()
    grad = model.gate_logits.grad
    assert grad is not None and torch.all(grad != 0)  # the unselected one too
    assert sorted(model.gate_weights().detach().tolist()) == [0.0, 1.0, 1.0]


def test_training_moves_the_gate_and_head_but_never_the_specialists(specialists):
    model = ensemble(specialists, num_classes=10, k=2).train()
    assert all(not m.training for m in model.specialists.values())
    before = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in specialists.items()}
    trainable = list(model.trainable_parameters())
    frozen = {id(p) for m in specialists.values() for p in m.parameters()}
    assert not frozen & {id(p) for p in trainable}
    optimiser = torch.optim.SGD(trainable, lr=0.5)
    logits0 = model.gate_logits.detach().clone()
    for step in range(3):
        x, y = _batch(step)
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
    assert not torch.equal(model.gate_logits.detach(), logits0)
    for name, m in specialists.items():
        assert all(torch.equal(v, before[name][k]) for k, v in m.state_dict().items())
    next(specialists["vit0"].parameters()).requires_grad_(True)
    try:
        with pytest.raises(RuntimeError, match="specialist 'vit0'.*frozen"):
            model(_batch()[0])
    finally:
        next(specialists["vit0"].parameters()).requires_grad_(False)


def test_prune_removes_weights_and_macs_and_answers_like_the_mask(specialists):
    model = ensemble(dict(specialists), num_classes=10, k=2).eval()
    with torch.no_grad():
        model.gate_logits.copy_(torch.tensor([0.3, -1.0, 0.8]))
    x = _batch()[0]
    with torch.no_grad():
        masked = model(x)
    params, macs = sum(p.numel() for p in model.parameters()), count_macs(model, x)
    model.prune()
    assert model.names == ["vit0", "vit2"] and model.k == 2
    with torch.no_grad():
        assert torch.allclose(model(x), masked, atol=1e-6)
    assert sum(p.numel() for p in model.parameters()) < 0.7 * params
    assert count_macs(model, x) == pytest.approx(2 / 3 * macs, rel=0.01)


def test_a_new_specialist_joins_without_changing_the_answers(specialists):
    three = dict(specialists)
    model = ensemble({k: three[k] for k in ("vit0", "vit1")}, num_classes=10, k=2).eval()
    x = _batch()[0]
    with torch.no_grad():
        before = model(x)
        model.add_specialist("vit2", three["vit2"], sample=x)
        after = model(x)
    assert model.names == ["vit0", "vit1", "vit2"] and model.k == 2
    assert model.selected() == ["vit0", "vit1"]
    assert torch.allclose(after, before, atol=1e-6)
    model.set_k(3)
    nn.functional.cross_entropy(model(x), torch.zeros(4, dtype=torch.long)).backward()
    assert model.head.weight.grad[:, -64:].abs().sum() > 0  # the newcomer's columns train


def test_bad_input(specialists):
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
        ensemble(specialists, num_classes=10, k=4)
    with pytest.raises(ValueError, match="unknown gate 'softmax'.*topk"):
        ensemble(specialists, num_classes=10, gate="softmax")
    with pytest.raises(ValueError, match="at least one specialist"):
        ensemble({}, num_classes=10)
    maps = nn.Sequential(nn.Conv2d(3, 8, 3))  # [B, 8, H, W]: not pooled
    with pytest.raises(ValueError, match=r"specialist 'maps' gives features of shape .*\[B, D\]"):
        ensemble({"maps": maps}, num_classes=10)
    model = ensemble(specialists, num_classes=10)
    with pytest.raises(ValueError, match="already in the ensemble"):
        model.add_specialist("vit0", specialists["vit0"], sample=_batch()[0])
