"""Tests of spikesat.federated.aggregate: FedAvg averaging, ring all-reduce, staleness."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from spikesat.federated.aggregate import (
    normalise_weights,
    ring_allreduce,
    ring_allreduce_bytes,
    ring_chunk_bytes,
    staleness_weight,
    weighted_average,
)


def _states(num_members: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> list[dict]:
    """Random state dicts of a small conv + linear model with an int buffer."""
    gen = torch.Generator().manual_seed(seed)
    states = []
    for _ in range(num_members):
        states.append(
            {
                "conv.weight": torch.randn(4, 3, 3, 3, generator=gen).to(dtype),
                "conv.bias": torch.randn(4, generator=gen).to(dtype),
                "fc.weight": torch.randn(5, 37, generator=gen).to(dtype),
                "bn.num_batches_tracked": torch.randint(0, 100, (), generator=gen),
            }
        )
    return states


def test_weighted_average_matches_float64_reference() -> None:
    states = _states(3)
    weights = [10.0, 30.0, 60.0]
    avg = weighted_average(states, weights)
    assert list(avg) == list(states[0])
    for key, value in avg.items():
        assert value.dtype == states[0][key].dtype
        ref = sum(w / 100.0 * s[key].double() for s, w in zip(states, weights, strict=True))
        if value.dtype.is_floating_point:
            # float64 accumulation: the only error is the final cast to float32 (half an ulp).
            torch.testing.assert_close(value.double(), ref, rtol=2**-24, atol=1e-30)
        else:
            assert value.item() == round(ref.item())


def test_weighted_average_normalises_weights() -> None:
    """Scaling all weights leaves the result unchanged: they are normalised to sum to one."""
    states = _states(4, seed=1)
    a = weighted_average(states, [1.0, 2.0, 3.0, 4.0])
    b = weighted_average(states, [0.1, 0.2, 0.3, 0.4])
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)


def test_normalise_weights_sum_to_one() -> None:
    weights = normalise_weights([3, 1, 0, 6], 4)
    assert weights == [0.3, 0.1, 0.0, 0.6]
    assert math.fsum(weights) == 1.0
    with pytest.raises(ValueError, match="sum to zero"):
        normalise_weights([0, 0], 2)


def test_weighted_average_single_and_one_hot() -> None:
    states = _states(3, seed=2)
    only = weighted_average(states[:1], [5.0])
    pick = weighted_average(states, [0.0, 7.0, 0.0])
    for key in states[0]:
        assert torch.equal(only[key], states[0][key])
        assert torch.equal(pick[key], states[1][key])


def test_weighted_average_does_not_modify_inputs() -> None:
    states = _states(2, seed=3)
    before = [{k: v.clone() for k, v in s.items()} for s in states]
    avg = weighted_average(states, [1.0, 1.0])
    avg["conv.weight"].add_(1.0)
    for s, b in zip(states, before, strict=True):
        for key in s:
            assert torch.equal(s[key], b[key])


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([1.0, -1.0], "non-negative"),
        ([0.0, 0.0], "sum to zero"),
        ([float("nan"), 1.0], "finite"),
        ([float("inf"), 1.0], "finite"),
        ([1.0], "one weight per state"),
    ],
)
def test_weighted_average_rejects_bad_weights(weights: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        weighted_average(_states(2), weights)


def test_weighted_average_rejects_bad_states() -> None:
    with pytest.raises(ValueError, match="no states"):
        weighted_average([], [])
    a, b = _states(2)
    with pytest.raises(ValueError, match="missing"):
        weighted_average([a, {k: v for k, v in b.items() if k != "conv.bias"}], [1, 1])
    with pytest.raises(ValueError, match="shape"):
        weighted_average([a, {**b, "conv.bias": torch.zeros(5)}], [1, 1])
    with pytest.raises(ValueError, match="dtype"):
        weighted_average([a, {**b, "conv.bias": b["conv.bias"].double()}], [1, 1])
    with pytest.raises(TypeError, match="sequence of state dicts"):
        weighted_average(a, [1.0])
    with pytest.raises(TypeError, match="bool"):
        weighted_average([{"m": torch.ones(2, dtype=torch.bool)}] * 2, [1, 1])


@pytest.mark.parametrize("num_members", [1, 2, 3, 5, 8])
def test_ring_allreduce_equals_mean_exactly(num_members: int) -> None:
    states = _states(num_members, seed=num_members)
    reduced = ring_allreduce(states)
    expected = weighted_average(states, [1.0] * num_members)
    assert len(reduced) == num_members
    for member in reduced:
        assert list(member) == list(states[0])
        for key in expected:
            assert member[key].dtype == states[0][key].dtype
            assert torch.equal(member[key], expected[key]), key


def test_ring_allreduce_copies_are_independent() -> None:
    reduced = ring_allreduce(_states(3))
    reduced[0]["fc.weight"].zero_()
    assert reduced[1]["fc.weight"].abs().sum() > 0


def test_ring_allreduce_returns_the_requested_members_copies() -> None:
    states = _states(5, seed=2)
    every = ring_allreduce(states)
    some = ring_allreduce(states, members=[3, 0])
    assert len(some) == 2
    for got, member in zip(some, (3, 0), strict=True):
        for key in got:
            assert torch.equal(got[key], every[member][key]), key
    with pytest.raises(ValueError, match="members must lie in \\[0, 5\\)"):
        ring_allreduce(states, members=[5])


def test_ring_allreduce_float64_matches_mean_to_rounding() -> None:
    states = _states(4, seed=9, dtype=torch.float64)
    reduced = ring_allreduce(states)
    mean = torch.stack([s["fc.weight"] for s in states]).mean(dim=0)
    for member in reduced:
        torch.testing.assert_close(member["fc.weight"], mean, rtol=1e-15, atol=1e-15)


def test_ring_allreduce_fewer_elements_than_members() -> None:
    """Chunks may be empty when the state has fewer entries than ring members."""
    states = [{"w": torch.tensor([float(i), 2.0 * i])} for i in range(5)]
    for member in ring_allreduce(states):
        assert torch.equal(member["w"], torch.tensor([2.0, 4.0]))


@pytest.mark.parametrize(("num_bytes", "num_members"), [(1000, 4), (1_000_000, 10), (12, 3)])
def test_ring_allreduce_bytes_is_two_n_minus_one_over_n(num_bytes: int, num_members: int) -> None:
    assert ring_allreduce_bytes(num_bytes, num_members) == 2 * (num_members - 1) * (
        num_bytes // num_members
    )


def test_ring_allreduce_bytes_uneven_and_edge_cases() -> None:
    sizes = ring_chunk_bytes(10, 4)
    assert sizes == [3, 3, 2, 2] and sum(sizes) == 10
    # busiest member skips the two smallest consecutive chunks (2 + 2): 2 * 10 - 4.
    assert ring_allreduce_bytes(10, 4) == 16
    assert ring_allreduce_bytes(10, 4) >= math.ceil(2 * 3 / 4 * 10)
    assert ring_allreduce_bytes(123, 1) == 0
    assert ring_allreduce_bytes(0, 7) == 0
    with pytest.raises(ValueError, match="num_members"):
        ring_allreduce_bytes(10, 0)
    with pytest.raises(TypeError, match="num_bytes"):
        ring_allreduce_bytes(10.5, 2)  # type: ignore[arg-type]


def test_staleness_weight_values() -> None:
    # Xie et al. 2019: s(t - tau) = (t - tau + 1) ** -a, hinge 1 / (a (t - tau - b) + 1).
    assert staleness_weight(0) == 1.0
    assert staleness_weight(3) == pytest.approx(0.5)  # (3 + 1) ** -0.5
    assert staleness_weight(8, a=1.0) == pytest.approx(1 / 9)
    assert staleness_weight(4, kind="hinge", a=10.0, b=4) == 1.0
    assert staleness_weight(6, kind="hinge", a=10.0, b=4) == pytest.approx(1 / 21)
    assert staleness_weight(1000, kind="constant") == 1.0
    values = [staleness_weight(s, kind="hinge", a=2.0) for s in range(20)]
    assert all(x >= y for x, y in itertools.pairwise(values))
    assert all(0.0 < v <= 1.0 for v in values)


def test_staleness_weight_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="polynomial"):
        staleness_weight(1, kind="exp")
    with pytest.raises(ValueError, match=">= 0"):
        staleness_weight(-1)
    with pytest.raises(TypeError, match="int"):
        staleness_weight(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parameter a"):
        staleness_weight(1, a=-0.5)
