"""The warm-up + cosine schedule against its formula, and AdamW with it."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

from spikesat.train.optim import WarmupCosine, adamw_warmup_cosine, warmup_cosine


def _analytic(step: int, warmup: int, total: int, floor: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    t = min((step - warmup) / (total - warmup), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


@pytest.mark.parametrize(("warmup", "total", "floor"), [(0, 10, 0.0), (3, 12, 0.0), (4, 9, 0.05)])
def test_warmup_cosine_matches_its_formula(warmup: int, total: int, floor: float) -> None:
    factor = WarmupCosine(warmup, total, floor)
    for step in range(total + 3):  # past the end it stays at the floor
        assert factor(step) == pytest.approx(_analytic(step, warmup, total, floor), abs=1e-15)
    assert factor(total) == pytest.approx(floor, abs=1e-15)
    if warmup:
        assert factor(warmup - 1) == 1.0
    else:
        assert factor(0) == 1.0


def test_schedule_sets_the_learning_rate_every_step_and_pickles() -> None:
    weight = torch.nn.Parameter(torch.zeros(2))
    optimiser = torch.optim.SGD([weight], lr=0.1)
    schedule = warmup_cosine(optimiser, 2, 6, floor=0.05)
    seen = []
    for _ in range(6):
        seen.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        schedule.step()
    assert seen == pytest.approx([0.1 * _analytic(s, 2, 6, 0.05) for s in range(6)], abs=1e-15)
    restored = pickle.loads(pickle.dumps(schedule.lr_lambdas[0]))
    assert [restored(s) for s in range(6)] == [schedule.lr_lambdas[0](s) for s in range(6)]


def test_adamw_warmup_cosine_spans_the_run() -> None:
    weight = torch.nn.Parameter(torch.zeros(3))
    optimiser, schedule = adamw_warmup_cosine(
        [weight],
        lr=1e-2,
        weight_decay=0.1,
        warmup_epochs=0.5,
        num_epochs=3,
        steps_per_epoch=4,
        betas=(0.9, 0.95),
    )
    assert isinstance(optimiser, torch.optim.AdamW)
    group = optimiser.param_groups[0]
    assert (group["weight_decay"], group["betas"]) == (0.1, (0.9, 0.95))
    factor = schedule.lr_lambdas[0]
    assert (factor.warmup_steps, factor.total_steps) == (2, 12)
    assert group["lr"] == pytest.approx(1e-2 / 2)  # first warm-up step


def test_bad_schedule_arguments() -> None:
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupCosine(-1, 10)
    with pytest.raises(ValueError, match="floor"):
        WarmupCosine(0, 10, floor=1.0)
