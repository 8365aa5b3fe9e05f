"""Partitions: coverage, IID balance, Dirichlet skew, reproducibility, no empty client."""

from __future__ import annotations

import numpy as np
import pytest

from spikesat.data import label_histogram, partition

LABELS = np.repeat(np.arange(10), 100)


def _check_cover(parts: list[np.ndarray]) -> None:
    merged = np.sort(np.concatenate(parts))
    np.testing.assert_array_equal(merged, np.arange(len(LABELS)))


def test_iid_is_balanced_and_covers_everything() -> None:
    parts = partition(LABELS, num_clients=7, seed=0)
    _check_cover(parts)
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1


def test_dirichlet_is_skewed_reproducible_and_non_empty() -> None:
    parts = partition(LABELS, num_clients=20, alpha=0.1, seed=1)
    _check_cover(parts)
    again = partition(LABELS, num_clients=20, alpha=0.1, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))
    assert min(len(p) for p in parts) >= 1
    hist = label_histogram(LABELS, parts, 10)
    # Strong skew: most clients hold most of their data in one or two classes.
    top2 = np.sort(hist, axis=1)[:, -2:].sum(1) / hist.sum(1)
    assert np.median(top2) > 0.7
    iid_hist = label_histogram(LABELS, partition(LABELS, 20, alpha=1000.0, seed=1), 10)
    assert np.median(np.sort(iid_hist, axis=1)[:, -2:].sum(1) / iid_hist.sum(1)) < 0.4


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_clients"):
        partition(LABELS, 0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        partition(LABELS, 3, alpha=0.0)
    with pytest.raises(ValueError, match="min_size=0"):
        partition(LABELS[:5], 10)
    with pytest.raises(TypeError, match="cannot read labels"):
        partition(object(), 3)
    assert len(partition(LABELS[:5], 10, min_size=0)) == 10
