"""EuroSAT readers: RGB (JPEG), multispectral (13-band GeoTIFF) and RGB+MS pairs.

EuroSAT (Helber et al., IEEE JSTARS 2019) holds 27,000 Sentinel-2 patches of 64x64 pixels
in 10 land-cover classes. Download it from the publishers (https://github.com/phelber/EuroSAT):
``EuroSAT.zip`` unpacks to ``2750/<Class>/<Class>_<n>.jpg``, ``EuroSATallBands.zip`` to
``<Class>/<Class>_<n>.tif``. Tests and benchmarks find a copy through ``SPIKESAT_DATA_DIR``.

Splits
------
Every reader builds the same deterministic, stratified split of whatever images it finds
(:func:`spikesat.data.splits.stratified_split`): within each class, images are sorted by file
name, shuffled with ``seed`` and cut into 70% train, 10% val and 20% test.

Normalisation
-------------
RGB: per-channel mean and standard deviation of all 27,000 EuroSAT RGB images in [0, 1]
(computed once over the full data set, listed in :data:`RGB_MEAN` / :data:`RGB_STD`).
MS: per-band mean and standard deviation of the raw uint16 digital numbers over the 270
EuroSAT MS patches in the shared data (:data:`MS_MEAN` / :data:`MS_STD`); recompute them
for another copy with :func:`band_statistics`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.datasets import DatasetFolder
from torchvision.datasets.folder import find_classes

from spikesat.data.image_split import ImageSplit, band_mean_std
from spikesat.data.splits import check_split, stratified_split

EUROSAT_CLASSES = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
MS_BANDS = (
    "B01",
    "B02",
    "B03",
    "B04",
    "B05",
    "B06",
    "B07",
    "B08",
    "B09",
    "B10",
    "B11",
    "B12",
    "B8A",
)
RGB_MEAN = (0.3444, 0.3803, 0.4078)
RGB_STD = (0.2027, 0.1369, 0.1156)
MS_MEAN = (
    1360.9,
    1128.8,
    1060.5,
    968.4,
    1218.6,
    2010.2,
    2377.2,
    2302.4,
    729.1,
    12.0,
    1848.4,
    1151.9,
    2595.8,
)
MS_STD = (
    243.6,
    334.7,
    399.4,
    602.7,
    570.0,
    860.1,
    1087.3,
    1118.9,
    403.5,
    4.2,
    1027.4,
    782.3,
    1232.9,
)
_DOWNLOAD_HINT = (
    "Set SPIKESAT_DATA_DIR to a folder holding eurosat_rgb/2750 (or pass the folder that "
    "holds 2750/), or download EuroSAT from https://github.com/phelber/EuroSAT "
    "(EuroSAT.zip for RGB, EuroSATallBands.zip for MS)."
)


class EuroSAT(ImageSplit):
    """One split of EuroSAT RGB or MS (an :class:`~spikesat.data.image_split.ImageSplit`).

    Items are ``(image, label)``: ``image`` float32 ``[3, 64, 64]`` (RGB) or
    ``[13, 64, 64]`` (MS), normalised per band; ``label`` an int index into
    :attr:`classes`. An optional ``transform`` acts on the normalised tensor.

    Attributes
    ----------
    samples : list of (Path, int)
        Files and labels of this split.
    classes : tuple of str
        Class names, in label order.
    modality : str
        ``"rgb"`` or ``"ms"``.
    pixel_mean, pixel_std : tuple of float
        :data:`RGB_MEAN` / :data:`RGB_STD` or :data:`MS_MEAN` / :data:`MS_STD`.
    """

    def __init__(
        self,
        samples: list[tuple[Path, int]],
        classes: tuple[str, ...],
        modality: str,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        rgb = modality == "rgb"
        super().__init__(
            samples,
            classes,
            read_raw,
            RGB_MEAN if rgb else MS_MEAN,
            RGB_STD if rgb else MS_STD,
            scale=255.0 if rgb else 1.0,
            cache_prefix=f"eurosat_{modality}",
            transform=transform,
        )
        self.modality = modality


def read_raw(path: Path) -> np.ndarray:
    """Read one EuroSAT file as ``[C, H, W]``: uint8 for a JPEG, uint16 for a 13-band GeoTIFF.

    Raises
    ------
    ValueError
        If the file cannot be decoded (names the file) or a GeoTIFF does not have 13 bands.
    """
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        try:
            array = tifffile.imread(path)
        except Exception as err:  # tifffile raises several types for a damaged file
            raise ValueError(f"cannot read the GeoTIFF {path}: {err}") from err
        if array.ndim != 3 or 13 not in (array.shape[0], array.shape[-1]):
            raise ValueError(f"{path} has shape {array.shape}; EuroSAT MS needs 13 bands")
        if array.shape[0] != 13:
            array = np.moveaxis(array, -1, 0)
        return np.ascontiguousarray(array.astype(np.uint16))
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot decode the image {path}: {err}") from err
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def eurosat(
    root: str | Path | None = None,
    split: str = "train",
    modality: str = "rgb",
    seed: int = 0,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> EuroSAT:
    """Load one split of EuroSAT.

    Parameters
    ----------
    root : path, optional
        RGB: the folder that holds ``2750/`` (or ``2750`` itself). MS: the folder of class
        folders of ``.tif`` files (class folders may sit under ``train/`` and ``test/``, as in
        the shared data). Default: ``$SPIKESAT_DATA_DIR/eurosat_rgb`` or ``/eurosat_ms``.
    split : {"train", "val", "test"}
        70% / 10% / 20% of each class (see the module docstring).
    modality : {"rgb", "ms"}
        RGB JPEGs or 13-band GeoTIFFs.
    seed : int
        Seed of the split; the same seed gives the same split.
    transform : callable, optional
        Applied to each normalised image tensor (augmentation).

    Returns
    -------
    EuroSAT
    """
    if modality not in ("rgb", "ms"):
        raise ValueError(f"modality must be 'rgb' or 'ms', got {modality!r}")
    check_split(split)
    folders = _class_roots(_resolve_root(root, modality), modality)
    samples, classes = _scan(folders, modality)
    return EuroSAT(stratified_split(samples, split, seed), classes, modality, transform)


def band_statistics(dataset: EuroSAT) -> tuple[list[float], list[float]]:
    """Per-band mean and standard deviation of the raw pixels of ``dataset``.

    Returns values in the units :data:`RGB_MEAN` (fractions of 255) or :data:`MS_MEAN`
    (uint16 digital numbers) use.
    """
    return band_mean_std(dataset.raw_pixels(cache=False) / dataset.scale)


class EuroSATPairs(Dataset):
    """RGB and MS images of the same scenes: items ``(rgb [3,64,64], ms [13,64,64], label)``."""

    def __init__(self, rgb: EuroSAT, ms: EuroSAT) -> None:
        self.rgb = rgb
        self.ms = ms
        self.classes = rgb.classes

    @property
    def targets(self) -> list[int]:
        """The labels, in sample order."""
        return self.rgb.targets

    def __len__(self) -> int:
        return len(self.rgb)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        rgb, label = self.rgb[index]
        ms, _ = self.ms[index]
        return rgb, ms, label


def eurosat_pairs(
    root: str | Path | None = None, split: str = "train", seed: int = 0
) -> EuroSATPairs:
    """Paired RGB + MS EuroSAT scenes listed in ``pairs.csv``.

    Parameters
    ----------
    root : path, optional
        The folder holding ``eurosat_ms/pairs.csv`` (paths in it are relative to that
        folder's parent). Default: ``$SPIKESAT_DATA_DIR``.
    split, seed
        As for :func:`eurosat`; the stratified split is taken over the pairs.
    """
    check_split(split)
    base = Path(root) if root is not None else _data_dir()
    table = base / "eurosat_ms" / "pairs.csv"
    if not table.is_file():
        raise FileNotFoundError(f"no pairs.csv at {table}. {_DOWNLOAD_HINT}")
    label_of = {name: i for i, name in enumerate(EUROSAT_CLASSES)}
    pairs: list[tuple[Path, Path, int]] = []
    with table.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["class"] not in label_of:
                raise ValueError(f"{table}: unknown class {row['class']!r} in row {row}")
            ms_path, rgb_path = base / row["ms_path"], base / row["rgb_path"]
            for path in (ms_path, rgb_path):
                if not path.is_file():
                    raise FileNotFoundError(f"{table} lists {path}, which does not exist")
            pairs.append((rgb_path, ms_path, label_of[row["class"]]))
    by_rgb = {rgb: (ms, label) for rgb, ms, label in pairs}
    rgb_split = stratified_split([(rgb, label) for rgb, _, label in pairs], split, seed)
    ms_split = [(by_rgb[rgb][0], label) for rgb, label in rgb_split]
    return EuroSATPairs(
        EuroSAT(rgb_split, EUROSAT_CLASSES, "rgb"), EuroSAT(ms_split, EUROSAT_CLASSES, "ms")
    )


def _data_dir() -> Path:
    env = os.environ.get("SPIKESAT_DATA_DIR")
    if not env:
        raise FileNotFoundError(
            f"no EuroSAT root given and SPIKESAT_DATA_DIR is not set. {_DOWNLOAD_HINT}"
        )
    return Path(env)


def _resolve_root(root: str | Path | None, modality: str) -> Path:
    if root is None:
        root = _data_dir() / ("eurosat_rgb" if modality == "rgb" else "eurosat_ms")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"EuroSAT {modality.upper()} folder {root} does not exist. {_DOWNLOAD_HINT}"
        )
    return root


def _class_roots(root: Path, modality: str) -> list[Path]:
    """Folders whose children are the class folders (``root/2750``, ``root``, or its splits)."""
    if modality == "rgb":
        for candidate in (root / "2750", root / "eurosat_rgb" / "2750", root):
            if _has_class_folders(candidate):
                return [candidate]
    else:
        if _has_class_folders(root):
            return [root]
        nested = sorted(p for p in root.iterdir() if p.is_dir() and _has_class_folders(p))
        if nested:
            return nested
    raise FileNotFoundError(
        f"no EuroSAT class folders ({', '.join(EUROSAT_CLASSES[:3])}, ...) under {root}. "
        f"{_DOWNLOAD_HINT}"
    )


def _has_class_folders(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).is_dir() for name in EUROSAT_CLASSES)


def _scan(folders: list[Path], modality: str) -> tuple[list[tuple[Path, int]], tuple[str, ...]]:
    """List ``(file, label)`` with torchvision's folder machinery (classes sorted by name)."""
    extensions = (".jpg", ".jpeg") if modality == "rgb" else (".tif", ".tiff")
    samples: list[tuple[Path, int]] = []
    classes: tuple[str, ...] = ()
    for folder in folders:
        found = find_classes(str(folder))[0]
        for name in found:
            class_dir = folder / name
            if not any(p.suffix.lower() in extensions for p in class_dir.iterdir()):
                raise ValueError(
                    f"class folder {class_dir} holds no {'/'.join(extensions)} files; "
                    "restore it from the EuroSAT download or remove it"
                )
        if not classes:
            classes = tuple(found)
        elif tuple(found) != classes:
            raise ValueError(f"{folder} has classes {found}, but {folders[0]} has {classes}")
        class_to_idx = {name: i for i, name in enumerate(classes)}
        entries = DatasetFolder.make_dataset(str(folder), class_to_idx, extensions=extensions)
        samples.extend((Path(path), label) for path, label in entries)
    return samples, classes
