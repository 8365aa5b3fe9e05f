"""Pooled LAM features for the spiking heads: the shipped reference LAM, and its bad input."""

from __future__ import annotations

import pytest

from spikesat.models.pretrained import WEIGHTS_DIR
from spikesat.snn import lam_features, task_head_of


def test_shipped_reference_lam_features_answer_like_the_lam(data_dir) -> None:
    data = lam_features("eurosat", model="resnet9", num_samples=64, data_dir=data_dir,
                        pretrained=True, progress=False)  # fmt: skip
    assert data.checkpoint.parent == WEIGHTS_DIR
    assert data.train_features.shape == (64, 256) and data.test_features.shape == (64, 256)
    head = task_head_of(data.lam)
    accuracy = (head(data.test_features).argmax(1) == data.test_labels).float().mean()
    assert accuracy >= 0.9  # the shipped LAM scores 98.1% on the whole test split


def test_pretrained_needs_shipped_weights_that_fit_the_data() -> None:
    with pytest.raises(ValueError, match="no pretrained weights ship for 'vit-micro-p8'"):
        lam_features("synthetic", model="vit-micro-p8", num_samples=20, pretrained=True)
