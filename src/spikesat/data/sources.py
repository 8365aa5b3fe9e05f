"""The data-source registry: "synthetic", "eurosat" and "folder" as train / val / test tensors.

Every command and recipe that takes data asks :func:`load_source` for a :class:`Splits`; a new
source registers a factory with :func:`register_source` and is then available everywhere
(``--data NAME`` on the CLI). A factory takes the keyword arguments of :func:`load_source`
(``data_dir``, ``modality``, ``num_train``, ``num_test``, ``image_size``, ``seed``) and
returns a :class:`Splits`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from spikesat._registry import Registry

if TYPE_CHECKING:
    from spikesat.data.image_split import ImageSplit


@dataclass
class Splits:
    """Train / val / test tensors of one source: each a pair ``(images [N,C,H,W], labels [N])``.

    ``pixel_mean`` / ``pixel_std`` (one per band) undo the normalisation:
    ``raw = image * std + mean`` (in [0, 1] for 8-bit images, digital numbers for EuroSAT MS
    and other non-8-bit GeoTIFFs).

    Attributes
    ----------
    name : str
        Names the data (``"synthetic"``, ``"eurosat-rgb"``, ``"folder-<name>-<hash>"``); used
        in checkpoint file names.
    train, val, test : (Tensor, Tensor)
        Normalised float32 images ``[N, C, H, W]`` and int64 labels ``[N]``.
    classes : tuple of str
        Class names, in label order.
    pixel_mean, pixel_std : tuple of float
        Per-band normalisation.
    """

    name: str
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    classes: tuple[str, ...]
    pixel_mean: tuple[float, ...]
    pixel_std: tuple[float, ...]

    @property
    def in_chans(self) -> int:
        """Bands of the images."""
        return int(self.train[0].shape[1])


SOURCES: Registry[Splits] = Registry("data source")
"""The one table of data-source factories."""


def register_source(name: str) -> Callable[[Callable[..., Splits]], Callable[..., Splits]]:
    """Register a data-source factory under ``name`` (a duplicate name raises)."""
    return SOURCES.register(name)


def list_sources() -> list[str]:
    """The registered data-source names, sorted."""
    return SOURCES.names()


def load_source(
    source: str = "synthetic",
    data_dir: str | Path | None = None,
    modality: str | None = None,
    num_train: int | None = None,
    num_test: int | None = None,
    seed: int = 0,
    image_size: int | None = None,
) -> Splits:
    """Load a source's train, val and test splits as tensors.

    Parameters
    ----------
    source : str
        One of :func:`list_sources`: ``"synthetic"`` (built-in scenes; ``num_train`` defaults
        to 4000, val and test to a quarter of it), ``"eurosat"`` (EuroSAT from ``data_dir``) or
        ``"folder"`` (any labelled image folder ``data_dir/<class>/<image>``, see
        :func:`spikesat.data.image_folder`).
    data_dir : path, optional
        eurosat: the folder holding ``2750/`` (or the MS folder), default
        ``$SPIKESAT_DATA_DIR/eurosat_rgb`` (``/eurosat_ms``). folder: the image folder
        (required). synthetic: must be None.
    modality : {"rgb", "ms"}, optional
        Bands of synthetic and EuroSAT data: 3 or 13 (default "rgb"). The folder source reads
        the bands its files hold and takes no modality.
    num_train, num_test : int, optional
        Keep only a seeded random subset of this many train (and val, test) examples.
    seed : int
        Seed of the split and the subsets (EuroSAT, folder) or of the generator (synthetic).
    image_size : int, optional
        Image side [pixels]: synthetic scenes are rendered, folder images read, and EuroSAT
        images resized (antialiased) at this size. Default 64.

    Returns
    -------
    Splits

    Raises
    ------
    ValueError
        If ``source`` is unknown (the message lists the registered sources), or an argument
        does not apply to it.
    """
    factory = SOURCES.get(source)
    return factory(
        data_dir=data_dir,
        modality=modality,
        num_train=num_train,
        num_test=num_test,
        seed=seed,
        image_size=image_size,
    )


@register_source("synthetic")
def _synthetic(
    data_dir: str | Path | None,
    modality: str | None,
    num_train: int | None,
    num_test: int | None,
    seed: int,
    image_size: int | None,
) -> Splits:
    from spikesat.data.synthetic import PIXEL_MEAN, PIXEL_STD, synthetic_scenes

    if data_dir is not None:
        raise ValueError(
            f"synthetic scenes are built in and read no data_dir (got {data_dir}); use "
            "source='eurosat' or 'folder' to read files"
        )
    bands = _bands_of(modality)
    n_train = num_train or 4000
    n_test = num_test or max(n_train // 4, 10)
    size = image_size or 64
    parts = [
        synthetic_scenes(n, image_size=size, seed=seed + offset, num_bands=bands).tensors()
        for offset, n in ((0, n_train), (1000, n_test), (2000, n_test))
    ]
    classes = synthetic_scenes(1, seed=seed).classes
    return Splits(
        "synthetic",
        *parts,
        classes,
        pixel_mean=(PIXEL_MEAN,) * bands,
        pixel_std=(PIXEL_STD,) * bands,
    )


@register_source("eurosat")
def _eurosat(
    data_dir: str | Path | None,
    modality: str | None,
    num_train: int | None,
    num_test: int | None,
    seed: int,
    image_size: int | None,
) -> Splits:
    from spikesat.data.eurosat import eurosat

    modality = modality or "rgb"
    sets = {s: eurosat(data_dir, split=s, modality=modality, seed=seed) for s in _SPLITS}
    train = sets["train"]
    return Splits(
        f"eurosat-{modality}",
        *_subsets(sets, num_train, num_test, seed, image_size),
        train.classes,
        pixel_mean=train.pixel_mean,
        pixel_std=train.pixel_std,
    )


@register_source("folder")
def _folder(
    data_dir: str | Path | None,
    modality: str | None,
    num_train: int | None,
    num_test: int | None,
    seed: int,
    image_size: int | None,
) -> Splits:
    from spikesat.data.folder import image_folder

    if data_dir is None:
        raise ValueError(
            "the folder source needs data_dir: the folder holding one sub-folder of images "
            "per class (on the CLI: --data folder --data-dir PATH)"
        )
    if modality is not None:
        raise ValueError(
            f"the folder source reads the bands its files hold and takes no modality (got "
            f"{modality!r}); leave modality unset"
        )
    root = Path(data_dir).expanduser().resolve()
    size = image_size or 64
    sets = {s: image_folder(root, split=s, image_size=size, seed=seed) for s in _SPLITS}
    train = sets["train"]
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:8]
    return Splits(
        f"folder-{root.name}-{digest}-s{size}",
        *_subsets(sets, num_train, num_test, seed, None),
        train.classes,
        pixel_mean=train.pixel_mean,
        pixel_std=train.pixel_std,
    )


_SPLITS = ("train", "val", "test")


def _bands_of(modality: str | None) -> int:
    if modality in (None, "rgb"):
        return 3
    if modality == "ms":
        return 13
    raise ValueError(f"modality must be 'rgb' or 'ms', got {modality!r}")


def _subsets(
    sets: dict[str, ImageSplit],
    num_train: int | None,
    num_test: int | None,
    seed: int,
    image_size: int | None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each split's tensors, cut to a seeded random subset and resized to ``image_size``."""
    out = []
    for split in _SPLITS:
        images, labels = sets[split].tensors()
        limit = num_train if split == "train" else num_test
        if limit is not None and limit < len(labels):
            generator = torch.Generator().manual_seed(seed)
            keep = torch.randperm(len(labels), generator=generator)[:limit]
            images, labels = images[keep], labels[keep]
        if image_size is not None and images.shape[-1] != image_size:
            images = F.interpolate(
                images, size=(image_size, image_size), mode="bilinear", antialias=True
            )
        out.append((images, labels))
    return out
