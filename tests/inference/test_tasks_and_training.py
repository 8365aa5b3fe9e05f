"""Clouds, task targets and multi-task training (tiny, synthetic scenes)."""

from __future__ import annotations

import pytest
import torch

from spikesat.data import synthetic_scenes
from spikesat.data.eurosat import MS_BANDS, MS_MEAN, MS_STD, RGB_MEAN, RGB_STD
from spikesat.inference import add_clouds, cloud_fields, get_task, mean_ndvi, multitask_lam
from spikesat.inference.data import TaskData
from spikesat.inference.modalities import RGB_BANDS
from spikesat.inference.training import MultitaskConfig, evaluate_multitask, train_multitask


def test_cloud_fields_are_seeded_and_their_fraction_is_what_the_mask_flags():
    alpha, fraction = cloud_fields(200, (32, 32), clear_prob=0.3, seed=4)
    again, _ = cloud_fields(200, (32, 32), clear_prob=0.3, seed=4)
    assert torch.equal(alpha, again)
    assert not torch.equal(alpha, cloud_fields(200, (32, 32), clear_prob=0.3, seed=5)[0])
    assert torch.equal(fraction, (alpha[:, 0] >= 0.5).float().mean((1, 2)))
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0
    clear = (alpha.flatten(1).amax(1) == 0).float().mean()
    assert 0.2 < float(clear) < 0.4  # 30% of the scenes are left clear (binomial, n = 200)
    cloudy = fraction[alpha.flatten(1).amax(1) > 0]
    assert float(cloudy.std()) > 0.2  # covers spread over (0, 1]


def test_clouds_brighten_the_scene_towards_the_cloud_reflectance():
    images = synthetic_scenes(8, image_size=32, seed=0).images
    cloudy, fraction = add_clouds(images, RGB_BANDS, RGB_MEAN, RGB_STD, 1.0, seed=1)
    alpha, same = cloud_fields(8, (32, 32), seed=1)
    assert torch.equal(fraction, same)
    mean = torch.tensor(RGB_MEAN)[:, None, None]
    std = torch.tensor(RGB_STD)[:, None, None]
    raw, raw_cloudy = images * std + mean, cloudy * std + mean
    # x' = (1 - alpha) x + alpha 0.85 in reflectance units, per pixel and band
    assert torch.allclose(raw_cloudy, (1 - alpha) * raw + alpha * 0.85, atol=1e-5)
    covered = (alpha[:, 0] >= 0.5)[:, None].expand_as(raw)
    assert float(raw_cloudy[covered].mean()) > float(raw[covered].mean()) + 0.1
    with pytest.raises(ValueError, match="no cloud reflectance for bands"):
        add_clouds(images, ("R", "G", "B"), RGB_MEAN, RGB_STD, 1.0)


def test_mean_ndvi_from_known_reflectances():
    """A scene with B08 = 3 x B04 everywhere has NDVI (3 - 1) / (3 + 1) = 0.5."""
    red, nir = MS_BANDS.index("B04"), MS_BANDS.index("B08")
    raw = torch.full((2, 13, 4, 4), 1000.0)
    raw[:, nir] = 3000.0
    raw[1, nir] = 1000.0  # bare: NDVI 0
    images = (raw - torch.tensor(MS_MEAN)[:, None, None]) / torch.tensor(MS_STD)[:, None, None]
    assert torch.allclose(mean_ndvi(images), torch.tensor([0.5, 0.0]), atol=1e-4)
    assert red != nir


def test_task_answers_losses_and_scores():
    cloud = get_task("cloud")
    raw = torch.tensor([[0.0], [100.0]])
    assert torch.allclose(cloud.answer(raw), torch.tensor([0.5, 1.0]))
    assert cloud.score(torch.tensor([0.5, 1.0]), torch.tensor([0.25, 1.0])) == pytest.approx(0.125)
    landcover = get_task("landcover")
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    assert landcover.score(logits, torch.tensor([0, 0])) == 0.5
    assert landcover.metric == "accuracy" and cloud.metric == "mae"


def _tiny_data(num: int, seed: int) -> dict[str, TaskData]:
    rgb = synthetic_scenes(num, image_size=64, seed=seed)
    ms = synthetic_scenes(num, image_size=64, seed=seed + 1, num_bands=13).images
    cloudy, fraction = add_clouds(rgb.images, RGB_BANDS, RGB_MEAN, RGB_STD, 1.0, seed=seed)
    return {
        "landcover": TaskData({"rgb": rgb.images}, rgb.labels),
        "cloud": TaskData({"rgb": cloudy}, fraction),
        "ndvi": TaskData({"rgb": rgb.images, "ms": ms}, mean_ndvi(ms)),
    }


def test_heads_and_adapters_train_on_a_frozen_backbone():
    mtl = multitask_lam("vit-micro-p8", seed=0)
    before = {n: p.clone() for n, p in mtl.named_parameters()}
    train, test = _tiny_data(96, 0), _tiny_data(64, 10)
    untrained = evaluate_multitask(mtl, test)
    state = torch.get_rng_state()
    history = train_multitask(mtl, train, MultitaskConfig(epochs=4, batch_size=32, lr=3e-3))
    assert torch.equal(torch.get_rng_state(), state)  # the caller's generator is left alone
    assert len(history) == 4 and history[-1]["loss_cloud"] < history[0]["loss_cloud"]
    trained = evaluate_multitask(mtl, test)
    assert trained["cloud"] < untrained["cloud"]
    changed = {n for n, p in mtl.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(n.startswith(("heads.", "tokenizers.ms.")) for n in changed)
    assert any(n.startswith("tokenizers.ms.") for n in changed)
    assert all(p.requires_grad for p in mtl.parameters())  # frozen for the run only


def test_training_everything_is_the_single_task_baseline():
    mtl = multitask_lam("vit-micro-p8", modalities=("rgb",), tasks=("cloud",), seed=0)
    before = mtl.blocks[0].mlp.fc1.weight.clone()
    data = _tiny_data(32, 0)
    train_multitask(mtl, {"cloud": data["cloud"]}, MultitaskConfig(epochs=1, trainable="all"))
    assert not torch.equal(before, mtl.blocks[0].mlp.fc1.weight)
    with pytest.raises(ValueError, match="data for unknown task 'ndvi'"):
        train_multitask(mtl, {"ndvi": data["ndvi"]})
    with pytest.raises(ValueError, match="unknown trainable"):
        MultitaskConfig(trainable="some")
