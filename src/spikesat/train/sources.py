"""Named training sources: built-in synthetic scenes or EuroSAT, as in-memory tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from spikesat.data import eurosat, synthetic_scenes
from spikesat.data.eurosat import MS_MEAN, MS_STD, RGB_MEAN, RGB_STD
from spikesat.data.synthetic import PIXEL_MEAN, PIXEL_STD

SOURCES = ("synthetic", "eurosat")


@dataclass
class Splits:
    """Train / val / test tensors of one source: each a pair ``(images [N,C,H,W], labels [N])``.

    ``pixel_mean`` / ``pixel_std`` (one per band) undo the normalisation:
    ``raw = image * std + mean`` (in [0, 1] for RGB, digital numbers for EuroSAT MS).
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


def load_splits(
    source: str = "synthetic",
    data_dir: str | Path | None = None,
    modality: str = "rgb",
    num_train: int | None = None,
    num_test: int | None = None,
    seed: int = 0,
) -> Splits:
    """Load a source's splits as tensors.

    Parameters
    ----------
    source : {"synthetic", "eurosat"}
        Built-in scenes (``num_train`` defaults to 4000, val and test to a quarter) or EuroSAT
        from ``data_dir`` (the folder holding ``2750/`` or the MS folder).
    data_dir : path, optional
        EuroSAT root; default ``$SPIKESAT_DATA_DIR/eurosat_rgb`` (or ``/eurosat_ms``).
    modality : {"rgb", "ms"}
        Bands: 3 or 13 (synthetic scenes have both variants).
    num_train, num_test : int, optional
        Keep only the first examples of the shuffled train (and val, test) splits.
    seed : int
        Seed of the split (EuroSAT) or of the generator (synthetic).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    if source == "synthetic":
        bands = 3 if modality == "rgb" else 13
        n_train = num_train or 4000
        n_test = num_test or max(n_train // 4, 10)
        parts = [
            synthetic_scenes(n, seed=seed + offset, num_bands=bands).tensors()
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
    sets = {
        s: eurosat(data_dir, split=s, modality=modality, seed=seed)
        for s in ("train", "val", "test")
    }
    tensors = {}
    for split, ds in sets.items():
        limit = num_train if split == "train" else num_test
        images, labels = ds.tensors()
        if limit is not None and limit < len(labels):
            keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[
                :limit
            ]
            images, labels = images[keep], labels[keep]
        tensors[split] = (images, labels)
    return Splits(
        f"eurosat-{modality}",
        tensors["train"],
        tensors["val"],
        tensors["test"],
        sets["train"].classes,
        pixel_mean=RGB_MEAN if modality == "rgb" else MS_MEAN,
        pixel_std=RGB_STD if modality == "rgb" else MS_STD,
    )
