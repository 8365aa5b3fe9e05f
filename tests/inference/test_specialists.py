"""Specialist recipes: cover classes, stem inflation, cached and resumable training."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import spikesat.models as models
from spikesat.data import band_adapter
from spikesat.data.bands import BAND_SETS
from spikesat.data.sources import Splits
from spikesat.inference import specialists
from spikesat.inference.specialists import (
    CLOUD_COVER_CLASSES,
    cloud_cover_class,
    inflate_stem,
    specialist_splits,
    train_specialist,
)


def test_cloud_cover_classes_follow_the_okta_edges() -> None:
    fraction = torch.tensor([0.0, 0.06, 0.07, 0.31, 0.32, 0.56, 0.57, 0.93, 0.94, 1.0])
    assert cloud_cover_class(fraction).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert len(CLOUD_COVER_CLASSES) == 5


def test_inflated_stem_answers_like_the_rgb_model_on_its_bands() -> None:
    lam = models.create("convnextv2-atto", seed=1).eval()
    inflated = inflate_stem(lam, BAND_SETS["s2-l1c"], BAND_SETS["rgb"]).eval()
    assert inflated.config["in_chans"] == 13
    x13 = torch.randn(2, 13, 64, 64)
    with torch.no_grad():
        expected = lam(band_adapter("s2-l1c", "rgb")(x13))
        torch.testing.assert_close(inflated(x13), expected, atol=1e-5, rtol=1e-4)


def test_unknown_specialist_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="eurosat-rgb, cloud, eurosat-ms"):
        specialist_splits("nope")


def _tiny_splits() -> Splits:
    gen = torch.Generator().manual_seed(0)

    def part(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(n, 3, 32, 32, generator=gen), torch.arange(n) % 5

    return Splits(
        "tiny", part(20), part(10), part(10), CLOUD_COVER_CLASSES, (0.5,) * 3, (0.25,) * 3
    )


def test_training_resumes_and_the_finished_model_is_cached(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path))
    recipe = specialists.SPECIALISTS["cloud"]
    small = dataclasses.replace(recipe, train={**recipe.train, "batch_size": 10})
    monkeypatch.setitem(specialists.SPECIALISTS, "cloud", small)
    data = _tiny_splits()
    run = dict(splits=data, progress=False, epochs=2)
    _, part = train_specialist("cloud", stop_after_epochs=1, **run)
    assert part["epochs_done"] == 1 and not part["finished"]
    lam, meta = train_specialist("cloud", **run)
    assert meta["finished"] and meta["epochs_done"] == 2 and 0 <= meta["test_accuracy"] <= 1
    assert meta["recipe"]["epochs"] == 2 and meta["recipe"]["batch_size"] == 10
    assert meta["train_wall_time_s"] > 0 and meta["machine"]["cpu_count"] >= 1
    assert (tmp_path / "specialists" / "resnet9-tiny-n20-e2-seed0.pt").is_file()
    again, cached = train_specialist("cloud", **run)
    assert cached["test_accuracy"] == meta["test_accuracy"]
    for a, b in zip(lam.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_ms_specialist_data_are_the_real_pairs(data_dir) -> None:
    data = specialist_splits("eurosat-ms", data_dir)
    sizes = [len(part[1]) for part in (data.train, data.val, data.test)]
    assert sum(sizes) == 270 and data.in_chans == 13 and len(data.classes) == 10
