"""MAE pretraining: masking arithmetic, patchify, the loss falls, errors."""

from __future__ import annotations

import pytest
import torch

import spikesat.models as models
from spikesat.data import synthetic_scenes
from spikesat.train import MaskedAutoencoder, PretrainConfig, pretrain_mae


def test_patchify_is_a_raster_order_reshape() -> None:
    mae = MaskedAutoencoder(models.create("vit-micro-p8"))
    x = torch.randn(2, 3, 64, 64)
    patches = mae.patchify(x)
    assert patches.shape == (2, 64, 8 * 8 * 3)
    # Patch (row 1, col 2) holds pixels [8:16, 16:24] in (y, x, channel) order.
    expected = x[0, :, 8:16, 16:24].permute(1, 2, 0).reshape(-1)
    assert torch.equal(patches[0, 1 * 8 + 2], expected)


def test_pretraining_lowers_the_loss_without_labels() -> None:
    torch.manual_seed(0)
    lam = models.create("vit-micro-p8", img_size=32)
    images = synthetic_scenes(64, image_size=32, seed=0).images
    history = pretrain_mae(
        lam,
        images,
        PretrainConfig(epochs=4, batch_size=32, lr=2e-3, warmup_epochs=0.5),
        progress=False,
    )
    assert history[-1]["loss"] < history[0]["loss"]


def test_mae_needs_a_vit() -> None:
    with pytest.raises(TypeError, match="needs a ViT"):
        MaskedAutoencoder(models.create("resnet18"))
    with pytest.raises(ValueError, match="mask_ratio"):
        MaskedAutoencoder(models.create("vit-micro-p8"), mask_ratio=1.0)
