"""The data-source registry: names, errors, and the same Splits from every source."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import spikesat.train as train
from spikesat.data import Splits, list_sources, load_source, register_source


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPIKESAT_NO_PROGRESS", "1")


def test_registered_sources_and_unknown_name() -> None:
    assert {"synthetic", "eurosat", "folder"} <= set(list_sources())
    with pytest.raises(ValueError, match=r"unknown data source 'imagenet'.*eurosat, folder"):
        load_source("imagenet")
    with pytest.raises(ValueError, match="already registered"):
        register_source("synthetic")(lambda **kw: None)


def test_load_splits_is_the_registry() -> None:
    assert train.load_splits is load_source
    assert train.list_sources() == list_sources()


def test_synthetic_splits() -> None:
    splits = load_source("synthetic", num_train=40, num_test=20, seed=3, image_size=32)
    assert isinstance(splits, Splits) and splits.name == "synthetic"
    assert splits.train[0].shape == (40, 3, 32, 32) and splits.test[0].shape == (20, 3, 32, 32)
    assert splits.in_chans == 3 and len(splits.classes) == 10
    ms = load_source("synthetic", modality="ms", num_train=10, num_test=10)
    assert ms.in_chans == 13 and len(ms.pixel_mean) == 13
    with pytest.raises(ValueError, match="modality must be"):
        load_source("synthetic", modality="sar", num_train=10)
    with pytest.raises(ValueError, match="no data_dir"):
        load_source("synthetic", "/some/folder")


def test_folder_source(tmp_path) -> None:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 256, (12, 12), dtype=np.uint8)  # grey: one band
            Image.fromarray(pixels).save(tmp_path / "imgs" / name / f"{i}.png")
    splits = load_source("folder", tmp_path / "imgs", num_train=10, image_size=16, seed=1)
    assert splits.in_chans == 1 and splits.classes == ("a", "b")
    assert splits.train[0].shape == (10, 1, 16, 16)
    assert len(splits.val[1]) == 4 and len(splits.test[1]) == 8
    assert splits.name.startswith("folder-imgs-") and len(splits.pixel_mean) == 1
    same = load_source("folder", tmp_path / "imgs", num_train=10, image_size=16, seed=1)
    assert torch.equal(same.train[0], splits.train[0])
    with pytest.raises(ValueError, match="needs data_dir"):
        load_source("folder")
    with pytest.raises(ValueError, match="takes no modality"):
        load_source("folder", tmp_path / "imgs", modality="ms")
