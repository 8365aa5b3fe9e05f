"""decompose: per-satellite split and LoRA rank, MILP against exact enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesat.federated.decompose import (
    SatelliteResources,
    candidate_costs,
    decompose,
    satellite_resources,
)
from spikesat.models import create

SHAPE = (3, 32, 32)
SPLITS = ["patch_embed", "blocks.1", "blocks.3"]


@pytest.fixture(scope="module")
def lam():
    return create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32)


def _sat(sat, plane, macs_per_s=1e11, rate_bps=5e6, contact_s=60.0, memory=1e9, energy=1e4):
    return SatelliteResources(
        sat=sat, plane=plane, macs_per_s=macs_per_s, power_w=15.0, tx_power_w=10.0,
        memory_bytes=memory, energy_budget_j=energy, link_rate_bps=rate_bps,
        contact_s=contact_s, num_examples=10 + 5 * sat,
    )  # fmt: skip


def _plan(lam, sats, splits, **kw):
    """decompose on hand-made resources, as a list in satellite order."""
    out = decompose(lam, sats, splits=splits, input_shape=SHAPE, **kw)
    assert sorted(out) == [s.sat for s in sats]
    return [out[s.sat] for s in sats]


def _makespan(plan):
    return max(d.round_s for d in plan)


def _capacity(plan, lam):
    params = {
        (c["split"], c["rank"]): c["lora_params"]
        for c in candidate_costs(lam, SHAPE, SPLITS, (1, 2, 4, 8))
    }
    return sum((10 + 5 * d.sat) * math.log2(1 + params[(d.split_at, d.lora_rank)]) for d in plan)


def _heterogeneous():
    """Two planes; a slow CubeSat-class member, a fast one, a poorly linked one."""
    return [
        _sat(0, 0, macs_per_s=2e9),
        _sat(1, 0, macs_per_s=1e13),
        _sat(2, 1, rate_bps=1e6),
        _sat(3, 1, macs_per_s=5e10, contact_s=20.0),
    ]


@pytest.mark.parametrize("local_steps", [1, 4])
def test_milp_matches_enumeration_on_time(lam, local_steps) -> None:
    kw = {"ranks": (1, 2, 4, 8), "batch_size": 8, "local_steps": local_steps}
    milp = _plan(lam, _heterogeneous(), SPLITS, solver="milp", **kw)
    exact = _plan(lam, _heterogeneous(), SPLITS, solver="enumerate", **kw)
    assert _makespan(milp) == pytest.approx(_makespan(exact), rel=1e-9)
    # Without a binding downlink the makespan is the slowest satellite's fastest round, and
    # every satellite fills it with the most adapters that fit (never slower than it).
    alone = [_plan(lam, [sat], SPLITS, **kw)[0].round_s for sat in _heterogeneous()]
    assert _makespan(milp) == pytest.approx(max(alone), rel=1e-12)
    deadline = _makespan(milp) * (1 + 1e-9)
    fill = [
        _plan(lam, [sat], SPLITS, objective="rank", deadline_s=deadline, **kw)[0]
        for sat in _heterogeneous()
    ]
    assert _capacity(milp, lam) == pytest.approx(_capacity(fill, lam), rel=1e-12)
    if local_steps == 4:  # the slowest round leaves the fast satellites room for adapters
        assert any(d.lora_rank > 1 for d in milp)


def test_milp_matches_enumeration_on_capacity_within_a_deadline(lam) -> None:
    sats = [_sat(0, 0, macs_per_s=2e8), _sat(1, 0, macs_per_s=1e13), _sat(2, 1)]
    kw = {"batch_size": 8, "local_steps": 2}
    deepest = [_plan(lam, [s], ["blocks.3"], ranks=(8,), **kw)[0].round_s for s in sats]
    kw["ranks"] = (1, 2, 4, 8)
    deadline = 0.5 * (deepest[0] + deepest[1])  # the fast satellite fits it, the slow not
    kw["objective"] = "rank"
    milp = _plan(lam, sats, SPLITS, deadline_s=deadline, **kw)
    exact = _plan(lam, sats, SPLITS, deadline_s=deadline, solver="enumerate", **kw)
    assert _capacity(milp, lam) == pytest.approx(_capacity(exact, lam), rel=1e-12)
    assert all(d.round_s <= deadline for d in milp)
    assert (milp[1].split_at, milp[1].lora_rank) == ("blocks.3", 8)
    assert (milp[0].split_at, milp[0].lora_rank) != ("blocks.3", 8)


def test_a_shared_downlink_couples_the_plane(lam) -> None:
    kw = {
        "ranks": (1, 8),
        "batch_size": 8,
        "local_steps": 1,
        "objective": "rank",
        "deadline_s": 1e3,
    }
    loose = _plan(lam, [_sat(0, 0), _sat(1, 0)], SPLITS, **kw)
    per_sat_bits = [8 * d.bytes_per_round for d in loose]
    # The relay carries less than both members' rank-8 rounds: one of them must give way.
    tight_contact = 0.75 * sum(per_sat_bits) / 5e6
    tight = [_sat(0, 0, contact_s=tight_contact), _sat(1, 0, contact_s=tight_contact)]
    milp = _plan(lam, tight, SPLITS, **kw)
    exact = _plan(lam, tight, SPLITS, solver="enumerate", **kw)
    assert sum(8 * d.bytes_per_round for d in milp) <= 5e6 * tight_contact
    assert _capacity(milp, lam) == pytest.approx(_capacity(exact, lam), rel=1e-12)
    assert _capacity(milp, lam) < _capacity(loose, lam)


def test_infeasible_satellites_name_their_tightest_resource(lam) -> None:
    with pytest.raises(ValueError, match="satellite 0 .*memory"):
        _plan(lam, [_sat(0, 0, memory=1e3)], SPLITS)
    with pytest.raises(ValueError, match="contact time"):
        _plan(lam, [_sat(0, 0, contact_s=1e-4)], SPLITS)
    with pytest.raises(ValueError, match="unknown split points \\['blocks.9'\\]"):
        _plan(lam, [_sat(0, 0)], ["blocks.9"])
    with pytest.raises(ValueError, match="needs deadline_s"):
        _plan(lam, [_sat(0, 0)], SPLITS, objective="rank")
    with pytest.raises(ValueError, match="unknown solver 'cplex'"):
        _plan(lam, [_sat(0, 0)], SPLITS, solver="cplex")


def test_lora_parameters_are_rank_times_the_adapted_widths(lam) -> None:
    costs = {(c["split"], c["rank"]): c for c in candidate_costs(lam, SHAPE, SPLITS, (1, 4))}
    # vit-micro-p8: width 64, MLP 256; per block qkv (64+192) + proj (64+64) + fc1 (64+256)
    # + fc2 (256+64) = 1024 per rank.
    assert costs[("blocks.1", 1)]["lora_params"] == 2 * 1024
    assert costs[("blocks.3", 4)]["lora_params"] == 4 * 4 * 1024
    assert costs[("patch_embed", 0)]["lora_params"] == 0  # no block linears on board


def test_resources_come_from_the_contact_plan(small_network) -> None:
    res = satellite_resources(small_network, [5] * small_network.num_sats, round_s=3600.0)
    rounds = small_network.horizon_s / 3600.0
    seg = [small_network.ground(0, k) for k in range(small_network.num_stations)]
    seconds = sum(float(np.sum(s.end_s - s.start_s)) for s in seg)
    assert res[0].contact_s * rounds == pytest.approx(seconds)
    assert min(r.link_rate_bps for r in res) > 0
    assert [r.plane for r in res] == small_network.planes.tolist()
    with pytest.raises(ValueError, match="num_examples has 3 entries for 20 satellites"):
        satellite_resources(small_network, [5] * 3, round_s=3600.0)


def test_decompose_takes_a_contact_plan_or_a_network(lam, small_network) -> None:
    by_network = decompose(lam, small_network, ranks=(1, 4), local_steps=1)
    by_plan = decompose(lam, small_network.plan, ranks=(1, 4), local_steps=1)
    assert sorted(by_network) == list(range(small_network.num_sats))
    assert by_network == by_plan  # the same link budget: the same choice and costs
    first = by_network[0]
    assert first.split_at in lam.stage_names and first.lora_rank in (0, 1, 4)
    assert set(first.cost) == {"round_s", "energy_j", "memory_bytes", "bytes_per_round"}
    with pytest.raises(TypeError, match="plan must be a ContactPlan"):
        decompose(lam, "research-5x10")


def test_round_costs_follow_what_split_decomposed_moves(lam) -> None:
    costs = {(c["split"], c["rank"]): c for c in candidate_costs(lam, SHAPE, SPLITS, (4,))}
    sat, batch, steps = _sat(0, 0), 8, 2
    examples = batch * steps
    plan = {
        (d.split_at, d.lora_rank): d
        for split in SPLITS
        for d in _plan(lam, [sat], [split], ranks=(4,), batch_size=batch, local_steps=steps)
    }
    # patch_embed: the forward only, the activations and labels up, nothing down.
    embed, cand = plan[("patch_embed", 0)], costs[("patch_embed", 0)]
    assert embed.bytes_per_round == examples * (cand["feature_bytes"] + 1)
    forward_s = cand["macs"] * examples / sat.macs_per_s
    assert embed.round_s == pytest.approx(forward_s + 8 * embed.bytes_per_round / 5e6)
    # blocks.1 r4: forward and backward (3x), activations, labels and adapters up; gradients and
    # the dense merged update of the 8 adapted linears down.
    deep, cand = plan[("blocks.1", 4)], costs[("blocks.1", 4)]
    assert cand["dense_params"] == 2 * (64 * 192 + 64 * 64 + 64 * 256 + 256 * 64)
    moved = 2 * examples * cand["feature_bytes"] + examples
    moved += 4 * (cand["lora_params"] + cand["dense_params"])
    assert deep.bytes_per_round == moved
    train_s = 3 * cand["macs"] * examples / sat.macs_per_s
    assert deep.round_s == pytest.approx(train_s + 8 * moved / 5e6)
