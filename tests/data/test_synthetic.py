"""Synthetic scenes: shapes, determinism, balance, and the texture-not-colour property."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikesat.data import synthetic_scenes
from spikesat.train import TrainConfig, evaluate, fit


def test_shapes_determinism_and_balance() -> None:
    a = synthetic_scenes(40, image_size=32, seed=3)
    b = synthetic_scenes(40, image_size=32, seed=3)
    c = synthetic_scenes(40, image_size=32, seed=4)
    assert a.images.shape == (40, 3, 32, 32) and a.images.dtype == torch.float32
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert torch.bincount(a.labels, minlength=10).tolist() == [4] * 10
    ms = synthetic_scenes(20, num_bands=13)
    assert ms.images.shape == (20, 13, 64, 64)
    image, label = ms[0]
    assert image.shape == (13, 64, 64) and isinstance(label, int)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_bands must be 3"):
        synthetic_scenes(10, num_bands=4)
    with pytest.raises(ValueError, match="num_samples"):
        synthetic_scenes(0)
    with pytest.raises(ValueError, match="image_size"):
        synthetic_scenes(10, image_size=8)


def test_texture_not_colour_separates_the_classes() -> None:
    """A linear probe on per-band mean colour stays near chance; a small CNN does far better."""
    train = synthetic_scenes(1200, image_size=32, seed=0)
    test = synthetic_scenes(400, image_size=32, seed=1)
    torch.manual_seed(0)
    probe = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 10))
    fit(
        probe,
        train,
        config=TrainConfig(
            epochs=40, batch_size=200, lr=0.05, weight_decay=0.0, augment=False, warmup_epochs=0.0
        ),
        progress=False,
    )
    probe_acc = evaluate(probe, test)["accuracy"]
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    fit(
        cnn,
        train,
        config=TrainConfig(epochs=8, batch_size=64, lr=3e-3, warmup_epochs=0.3),
        progress=False,
    )
    cnn_acc = evaluate(cnn, test)["accuracy"]
    # Chance is 0.1. Measured with these seeds: probe ~0.11, CNN ~0.7.
    assert probe_acc < 0.2, probe_acc
    assert cnn_acc > 0.5, cnn_acc
    assert cnn_acc > probe_acc + 0.35
