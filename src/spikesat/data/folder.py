"""The user's own data: any labelled image folder (``root/<class>/<image>``), any band count.

:func:`image_folder` lists the files with torchvision's ``ImageFolder`` (classes sorted by
name), splits them with the same deterministic, stratified 70/10/20 split as EuroSAT
(:func:`spikesat.data.splits.stratified_split`), reads JPEG/PNG/GeoTIFF files of any band
count (:mod:`spikesat.data.band_files`), resizes them to one square side, and normalises each
band with the mean and standard deviation of the *training* split.

Those statistics are computed once per data set (its files, ``image_size`` and ``seed``) and
cached as ``data/folder_stats_<key>.json`` in the spikesat cache folder (``SPIKESAT_CACHE``,
default ``~/.cache/spikesat``); a changed file (size or modification time) gives a new key.
8-bit files are scaled to [0, 1] first, so their statistics are in the units of
``spikesat.data.eurosat.RGB_MEAN``; other sample types (uint16 GeoTIFFs, ...) keep their values.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch
from torchvision.datasets import ImageFolder

from spikesat.data.band_files import IMAGE_EXTENSIONS, BandReader, is_image_file, probe_bands
from spikesat.data.image_split import ImageSplit, band_mean_std, data_cache_file, files_key
from spikesat.data.splits import check_split, stratified_split

_LAYOUT = "image_folder expects root/<class>/<image> (one sub-folder of images per class)"


def image_folder(
    root: str | Path,
    split: str = "train",
    image_size: int = 64,
    seed: int = 0,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> ImageSplit:
    """Load one split of a labelled image folder.

    Parameters
    ----------
    root : path
        The folder that holds one sub-folder per class, each holding JPEG, PNG or GeoTIFF
        files (:data:`~spikesat.data.band_files.IMAGE_EXTENSIONS`); other files are ignored.
    split : {"train", "val", "test"}
        70% / 10% / 20% of each class (see :mod:`spikesat.data.splits`).
    image_size : int
        Side [pixels] every image is resized to.
    seed : int
        Seed of the split; the same seed gives the same split.
    transform : callable, optional
        Applied to each normalised image tensor ``[C, image_size, image_size]`` (augmentation).

    Returns
    -------
    ImageSplit
        Items ``(image [C, image_size, image_size], label)``; ``tensors()`` gives the whole
        split, ``classes`` the class names, ``pixel_mean`` / ``pixel_std`` the statistics.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or holds no class folders.
    ValueError
        If a class folder holds no images, the files disagree in band count or sample type,
        or a file cannot be read (the message names the file).
    """
    check_split(split)
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer [pixels], got {image_size!r}")
    samples, classes = _scan(Path(root).expanduser().resolve())
    num_bands, eight_bit, mean, std = _statistics(samples, classes, image_size, seed)
    return ImageSplit(
        stratified_split(samples, split, seed),
        classes,
        BandReader(image_size, num_bands, eight_bit),
        mean,
        std,
        cache_prefix=f"folder_s{image_size}",
        transform=transform,
    )


def _scan(root: Path) -> tuple[list[tuple[Path, int]], tuple[str, ...]]:
    """Every image file and its label, and the class names (sorted), checked for emptiness."""
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist; {_LAYOUT}")
    if not any(entry.is_dir() for entry in root.iterdir()):
        loose = sum(1 for p in root.iterdir() if is_image_file(p))
        hint = (
            f" It holds {loose} image(s) directly: move them into class folders." if loose else ""
        )
        raise FileNotFoundError(f"no class folders in {root}; {_LAYOUT}.{hint}")
    folder = ImageFolder(str(root), is_valid_file=is_image_file, allow_empty=True)
    counts = Counter(label for _, label in folder.samples)
    empty = [name for i, name in enumerate(folder.classes) if counts[i] == 0]
    if empty:
        raise ValueError(
            f"class folder(s) {', '.join(str(root / n) for n in empty)} hold no images "
            f"({', '.join(IMAGE_EXTENSIONS)}): add images or remove the folder(s)"
        )
    return [(Path(p), label) for p, label in folder.samples], tuple(folder.classes)


def _statistics(
    samples: list[tuple[Path, int]], classes: tuple[str, ...], image_size: int, seed: int
) -> tuple[int, bool, tuple[float, ...], tuple[float, ...]]:
    """Band count, 8-bit flag and per-band mean / std of the training split (cached)."""
    cache = data_cache_file(
        f"folder_stats_{files_key([p for p, _ in samples], image_size, seed)}.json"
    )
    if cache.is_file():
        stored = json.loads(cache.read_text())
        return stored["num_bands"], stored["eight_bit"], tuple(stored["mean"]), tuple(stored["std"])
    num_bands, eight_bit = _common_layout(samples)
    reader = BandReader(image_size, num_bands, eight_bit)
    train = ImageSplit(
        stratified_split(samples, "train", seed),
        classes,
        reader,
        (0.0,) * num_bands,
        (1.0,) * num_bands,
        cache_prefix=f"folder_s{image_size}",
    )
    mean, std = band_mean_std(train.raw_pixels(cache=True))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    payload = {"num_bands": num_bands, "eight_bit": eight_bit, "mean": mean, "std": std}
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    tmp.replace(cache)
    return num_bands, eight_bit, tuple(mean), tuple(std)


def _common_layout(samples: list[tuple[Path, int]]) -> tuple[int, bool]:
    """The band count and 8-bit flag all files share (from their headers)."""
    layouts: dict[tuple[int, bool], list[Path]] = {}
    for path, _ in samples:
        layouts.setdefault(probe_bands(path), []).append(path)
    if len(layouts) > 1:
        found = "; ".join(
            f"{bands} band(s), {'8-bit' if eight else 'not 8-bit'}: {len(paths)} file(s), "
            f"e.g. {paths[0]}"
            for (bands, eight), paths in sorted(layouts.items(), key=lambda kv: -len(kv[1]))
        )
        raise ValueError(
            f"the images disagree in band count or sample type ({found}); convert them to one "
            "layout or remove the odd ones"
        )
    return next(iter(layouts))
