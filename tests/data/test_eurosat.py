"""EuroSAT readers on the shared real data: counts, splits, MS, pairs and bad input."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from spikesat.data import EUROSAT_CLASSES, band_statistics, eurosat, eurosat_pairs

# Per-class counts of EuroSAT RGB, from the shared data's README (and Helber et al. 2019).
EXPECTED_COUNTS = {
    "AnnualCrop": 3000,
    "Forest": 3000,
    "HerbaceousVegetation": 3000,
    "Highway": 2500,
    "Industrial": 2500,
    "Pasture": 2000,
    "PermanentCrop": 2500,
    "Residential": 3000,
    "River": 2500,
    "SeaLake": 3000,
}


@pytest.fixture(scope="module")
def rgb_splits(data_dir: Path):
    root = data_dir / "eurosat_rgb"
    return {split: eurosat(root, split=split) for split in ("train", "val", "test")}


def test_counts_and_classes(rgb_splits) -> None:
    total = Counter()
    for ds in rgb_splits.values():
        assert ds.classes == EUROSAT_CLASSES
        total.update(ds.classes[label] for label in ds.targets)
    assert sum(total.values()) == 27_000
    assert dict(total) == EXPECTED_COUNTS


def test_splits_are_disjoint_stratified_and_deterministic(rgb_splits, data_dir: Path) -> None:
    files = {split: {p for p, _ in ds.samples} for split, ds in rgb_splits.items()}
    assert not files["train"] & files["val"] and not files["train"] & files["test"]
    assert not files["val"] & files["test"]
    test_counts = Counter(rgb_splits["test"].targets)
    for label, name in enumerate(EUROSAT_CLASSES):
        assert test_counts[label] == int(EXPECTED_COUNTS[name] * 0.2)
    assert len(rgb_splits["val"]) == 2_700 and len(rgb_splits["test"]) == 5_400
    again = eurosat(data_dir / "eurosat_rgb", split="test", seed=0)
    assert again.samples == rgb_splits["test"].samples
    other = eurosat(data_dir / "eurosat_rgb", split="test", seed=1)
    assert other.samples != again.samples


def test_rgb_items_are_normalised_tensors(rgb_splits) -> None:
    image, label = rgb_splits["val"][0]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    assert 0 <= label < 10
    assert abs(float(image.mean())) < 3


def test_official_layout_root_and_2750_folder_both_work(data_dir: Path) -> None:
    a = eurosat(data_dir / "eurosat_rgb", split="val")
    b = eurosat(data_dir / "eurosat_rgb" / "2750", split="val")
    assert a.samples == b.samples


def test_multispectral(data_dir: Path) -> None:
    parts = [
        eurosat(data_dir / "eurosat_ms", split=s, modality="ms") for s in ("train", "val", "test")
    ]
    assert sum(len(p) for p in parts) == 270
    image, _ = parts[2][0]
    assert image.shape == (13, 64, 64) and torch.isfinite(image).all()
    # The documented band statistics were computed over exactly these 270 patches.
    merged = parts[0]
    merged.samples = [s for p in parts for s in p.samples]
    mean, std = band_statistics(merged)
    from spikesat.data.eurosat import MS_MEAN, MS_STD

    np.testing.assert_allclose(mean, MS_MEAN, atol=0.06)
    np.testing.assert_allclose(std, MS_STD, atol=0.06)


def test_pairs_match_scenes(data_dir: Path) -> None:
    pairs = [eurosat_pairs(data_dir, split=s) for s in ("train", "val", "test")]
    assert sum(len(p) for p in pairs) == 270
    rgb, ms, _ = pairs[0][0]
    assert rgb.shape == (3, 64, 64) and ms.shape == (13, 64, 64)
    for (rgb_path, lab), (ms_path, lab2) in zip(
        pairs[0].rgb.samples, pairs[0].ms.samples, strict=True
    ):
        assert rgb_path.stem == ms_path.stem and lab == lab2


def test_missing_root_names_the_fix(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(FileNotFoundError, match="SPIKESAT_DATA_DIR"):
        eurosat(tmp_path / "nowhere")
    monkeypatch.delenv("SPIKESAT_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="github.com/phelber/EuroSAT"):
        eurosat(None)
    with pytest.raises(FileNotFoundError, match="no EuroSAT class folders"):
        eurosat(tmp_path)


def test_bad_arguments(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        eurosat(data_dir / "eurosat_rgb", split="training")
    with pytest.raises(ValueError, match="modality must be"):
        eurosat(data_dir / "eurosat_rgb", modality="sar")


def _tiny_copy(data_dir: Path, dest: Path, per_class: int = 3) -> Path:
    root = dest / "2750"
    for name in EUROSAT_CLASSES:
        (root / name).mkdir(parents=True)
        for src in sorted((data_dir / "eurosat_rgb" / "2750" / name).glob("*.jpg"))[:per_class]:
            shutil.copy(src, root / name / src.name)
    return dest


def test_corrupt_image_names_the_file(data_dir: Path, tmp_path: Path) -> None:
    root = _tiny_copy(data_dir, tmp_path)
    bad = root / "2750" / "Forest" / "Forest_corrupt.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    ds = eurosat(root, split="train")
    index = next(i for i, (p, _) in enumerate(ds.samples) if p == bad)
    with pytest.raises(ValueError, match="Forest_corrupt.jpg"):
        ds[index]


def test_empty_class_folder_names_the_folder(data_dir: Path, tmp_path: Path) -> None:
    root = _tiny_copy(data_dir, tmp_path)
    for f in (root / "2750" / "River").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match=r"River holds no"):
        eurosat(root, split="train")
