"""Training: a step lowers the loss, resume equals an uninterrupted run, augmentation, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import spikesat.models as models
from spikesat.data import synthetic_scenes
from spikesat.train import TrainConfig, augment_batch, evaluate, fit


def test_one_training_step_lowers_the_loss() -> None:
    torch.manual_seed(0)
    data = synthetic_scenes(32, seed=0)
    lam = models.create("vit-micro-p8", drop_path_rate=0.0)
    images, labels = data.tensors()
    lam.train()
    before = F.cross_entropy(lam(images), labels).item()
    fit(
        lam,
        data,
        config=TrainConfig(
            epochs=1, batch_size=32, lr=1e-3, warmup_epochs=0.0, augment=False, label_smoothing=0.0
        ),
        progress=False,
    )
    lam.head.drop.p = 0.0
    after = F.cross_entropy(lam(images), labels).item()
    assert after < before


def test_resume_equals_uninterrupted_run(tmp_path) -> None:
    data = synthetic_scenes(48, image_size=32, seed=1)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e-3, seed=5)

    def fresh():
        torch.manual_seed(0)
        return models.create("vit-micro-p8", img_size=32)

    full = fresh()
    fit(full, data, config=cfg, progress=False)
    # Stop after one epoch, as an interrupted run would, then resume from the checkpoint.
    ckpt = tmp_path / "state.pt"
    fit(fresh(), data, config=cfg, checkpoint_path=ckpt, progress=False, stop_after_epochs=1)
    resumed = fresh()
    result = fit(resumed, data, config=cfg, checkpoint_path=ckpt, resume=True, progress=False)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_augmentation_preserves_content_and_is_seeded() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    a = augment_batch(x, torch.Generator().manual_seed(0), max_shift=0)
    b = augment_batch(x, torch.Generator().manual_seed(0), max_shift=0)
    assert torch.equal(a, b)
    # Without shifts, each image is a dihedral transform: same multiset of pixel values.
    for i in range(2):
        assert torch.equal(a[i].flatten().sort().values, x[i].flatten().sort().values)
    shifted = augment_batch(x, torch.Generator().manual_seed(1), max_shift=2)
    assert shifted.shape == x.shape


def test_evaluate_counts_correctly() -> None:
    class Oracle(torch.nn.Module):
        def forward(self, images):
            return F.one_hot(images[:, 0, 0, 0].long(), 3).float()

    images = torch.zeros(4, 1, 2, 2)
    images[:, 0, 0, 0] = torch.tensor([0.0, 1.0, 2.0, 1.0])
    labels = torch.tensor([0, 1, 2, 0])
    assert evaluate(Oracle(), (images, labels))["accuracy"] == 0.75


def test_bad_training_input() -> None:
    lam = models.create("vit-micro-p8")
    with pytest.raises(ValueError, match="NaN"):
        fit(
            lam,
            (torch.full((2, 3, 64, 64), float("nan")), torch.zeros(2, dtype=torch.long)),
            progress=False,
        )
    with pytest.raises(ValueError, match=r"images \[N,C,H,W\]"):
        fit(lam, (torch.zeros(2, 64, 64), torch.zeros(2, dtype=torch.long)), progress=False)
    with pytest.raises(TypeError, match="tensors"):
        fit(lam, [1, 2, 3], progress=False)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
