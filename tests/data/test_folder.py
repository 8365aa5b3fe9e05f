"""``image_folder`` on tiny generated folders: PNG (mixed sizes), 5-band GeoTIFF and JPEG.

Checks shapes, the deterministic stratified split, the normalisation statistics against
numpy, the statistics cache, and the errors for bad folders and files.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

import spikesat.data.folder as folder_module
from spikesat.data import image_folder
from spikesat.data.band_files import read_bands

CLASSES = ("beach", "forest", "town")
PER_CLASS = 10  # 7 train, 1 val, 2 test per class


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPIKESAT_NO_PROGRESS", "1")


def _png_folder(root: Path, seed: int = 0) -> Path:
    """RGB PNGs of mixed sizes (16..40 pixels, some not square)."""
    rng = np.random.default_rng(seed)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            h, w = int(rng.integers(16, 41)), int(rng.integers(16, 41))
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}_{i}.png")
    (root / CLASSES[0] / "notes.txt").write_text("not an image: ignored")
    return root


def _tiff_folder(root: Path, size: int = 16, bands: int = 5) -> Path:
    """uint16 GeoTIFFs of ``bands`` bands, ``size`` x ``size``, bands first (planar)."""
    rng = np.random.default_rng(1)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            array = rng.integers(0, 4000, (bands, size, size), dtype=np.uint16) + 500 * i
            tifffile.imwrite(root / name / f"{name}_{i}.tif", array, photometric="minisblack")
    return root


def _jpeg_folder(root: Path, size: int = 24) -> Path:
    rng = np.random.default_rng(2)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}_{i}.jpg", quality=90)
    return root


def test_png_mixed_sizes_are_resized(tmp_path) -> None:
    root = _png_folder(tmp_path / "png")
    splits = {s: image_folder(root, split=s, image_size=32) for s in ("train", "val", "test")}
    assert {len(ds) for ds in splits.values()} == {7 * 3, 1 * 3, 2 * 3}
    image, label = splits["train"][0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 0
    images, labels = splits["test"].tensors()
    assert images.shape == (6, 3, 32, 32) and labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert splits["train"].classes == CLASSES
    # 8-bit files are in [0, 1] before normalising: the raw pixels undo exactly.
    raw = images * torch.tensor(splits["test"].pixel_std).view(1, 3, 1, 1)
    raw = raw + torch.tensor(splits["test"].pixel_mean).view(1, 3, 1, 1)
    assert float(raw.min()) >= -1e-5 and float(raw.max()) <= 1 + 1e-5


def test_splits_are_stratified_disjoint_and_deterministic(tmp_path) -> None:
    root = _png_folder(tmp_path / "png")
    files = {}
    for split in ("train", "val", "test"):
        ds = image_folder(root, split=split, image_size=16)
        assert set(Counter(ds.targets)) == {0, 1, 2}  # every class in every split
        files[split] = {p for p, _ in ds.samples}
        assert image_folder(root, split=split, image_size=16).samples == ds.samples
    assert not files["train"] & files["val"] and not files["train"] & files["test"]
    assert not files["val"] & files["test"]
    assert len(set().union(*files.values())) == PER_CLASS * len(CLASSES)
    other = image_folder(root, split="test", image_size=16, seed=1)
    assert {p for p, _ in other.samples} != files["test"]


def test_tiff_statistics_equal_numpy_of_training_images(tmp_path) -> None:
    root = _tiff_folder(tmp_path / "tif", size=16, bands=5)
    train = image_folder(root, split="train", image_size=16)
    raw = np.stack([tifffile.imread(p).astype(np.float64) for p, _ in train.samples])
    assert raw.shape == (21, 5, 16, 16)
    np.testing.assert_allclose(train.pixel_mean, raw.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(train.pixel_std, raw.std(axis=(0, 2, 3)), rtol=1e-6)
    images, _ = train.tensors()
    assert images.shape == (21, 5, 16, 16)
    assert torch.allclose(images.mean(dim=(0, 2, 3)), torch.zeros(5), atol=1e-4)
    assert torch.allclose(images.std(dim=(0, 2, 3), unbiased=False), torch.ones(5), atol=1e-4)
    # val and test use the training split's statistics
    test = image_folder(root, split="test", image_size=16)
    assert test.pixel_mean == train.pixel_mean and test[0][0].shape == (5, 16, 16)


def test_bands_last_tiff_reads_bands_first(tmp_path) -> None:
    array = np.arange(8 * 6 * 4, dtype=np.uint16).reshape(8, 6, 4)  # H, W, bands
    tifffile.imwrite(tmp_path / "a.tif", array, planarconfig="contig", photometric="minisblack")
    assert np.array_equal(read_bands(tmp_path / "a.tif"), array.transpose(2, 0, 1))


def test_jpeg_folder(tmp_path) -> None:
    root = _jpeg_folder(tmp_path / "jpg")
    train = image_folder(root, split="train", image_size=24)
    raw = np.stack([np.asarray(Image.open(p)).astype(np.float64) / 255 for p, _ in train.samples])
    np.testing.assert_allclose(train.pixel_mean, raw.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(train.pixel_std, raw.std(axis=(0, 1, 2)), rtol=1e-5)
    assert train.tensors()[0].shape == (21, 3, 24, 24)


def test_statistics_are_computed_once_and_cached(tmp_path, monkeypatch) -> None:
    root = _tiff_folder(tmp_path / "tif")
    first = image_folder(root, split="train", image_size=16)
    (cache,) = (tmp_path / "cache" / "data").glob("folder_stats_*.json")
    stamp = cache.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("statistics recomputed")

    monkeypatch.setattr(folder_module, "band_mean_std", fail)
    again = image_folder(root, split="val", image_size=16)
    assert again.pixel_mean == first.pixel_mean and again.pixel_std == first.pixel_std
    assert cache.stat().st_mtime_ns == stamp
    # another image size or seed is another data set: its statistics are computed anew
    with pytest.raises(AssertionError, match="recomputed"):
        image_folder(root, split="train", image_size=8)


def test_missing_and_empty_folders(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder(tmp_path / "nowhere")
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(flat / "a.png")
    with pytest.raises(FileNotFoundError, match="no class folders.*1 image"):
        image_folder(flat)
    empty = _png_folder(tmp_path / "png")
    (empty / "desert").mkdir()
    (empty / "desert" / "readme.md").write_text("no images yet")
    with pytest.raises(ValueError, match=r"desert hold no images.*\.png"):
        image_folder(empty)
    with pytest.raises(ValueError, match="split must be one of"):
        image_folder(empty, split="training")
    with pytest.raises(ValueError, match="image_size"):
        image_folder(empty, image_size=0)


def test_inconsistent_band_counts_name_the_files(tmp_path) -> None:
    root = _png_folder(tmp_path / "png")
    odd = root / "town" / "town_grey.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(odd)
    with pytest.raises(ValueError, match=r"disagree in band count.*1 band\(s\).*town_grey\.png"):
        image_folder(root)


def test_unreadable_file_is_named(tmp_path) -> None:
    root = _png_folder(tmp_path / "png")
    bad = root / "forest" / "forest_3.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"cannot read the image .*forest_3\.png.*remove it"):
        image_folder(root)
    tif = _tiff_folder(tmp_path / "tif")
    (tif / "beach" / "beach_0.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(ValueError, match=r"cannot read the image .*beach_0\.tif"):
        image_folder(tif, image_size=16)


def test_split_pickles(tmp_path) -> None:
    root = _tiff_folder(tmp_path / "tif")
    ds = image_folder(root, split="val", image_size=16)
    again = torch.load(_saved(ds, tmp_path / "ds.pt"), weights_only=False)
    assert torch.equal(again[0][0], ds[0][0])


def _saved(obj: object, path: Path) -> Path:
    torch.save(obj, path)
    return path
