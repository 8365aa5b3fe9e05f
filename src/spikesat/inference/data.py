"""Per-task training and test data on real scenes: what each head of the multi-task LAM learns.

- ``landcover``: EuroSAT RGB scenes and their classes;
- ``cloud``: EuroSAT RGB scenes with seeded synthetic clouds
  (:func:`~spikesat.inference.add_clouds`, 30% left clear) and their cloud fraction; the
  clouds of each split use their own seed;
- ``ndvi``: the paired EuroSAT RGB + MS scenes and the mean NDVI computed from their MS bands
  (:func:`~spikesat.inference.mean_ndvi`); requests may carry either modality or both.

Splits are EuroSAT's deterministic stratified 70/10/20 (:func:`spikesat.data.eurosat`), so no
test scene of one task is a training scene of another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from spikesat.data.eurosat import RGB_MEAN, RGB_STD, eurosat, eurosat_pairs
from spikesat.inference.clouds import add_clouds
from spikesat.inference.modalities import RGB_BANDS
from spikesat.inference.tasks import mean_ndvi

CLOUD_SEEDS = {"train": 101, "val": 102, "test": 103}
"""Seeds of the cloud fields laid over each split."""


@dataclass
class TaskData:
    """One task's examples: the requests' images and the targets.

    Attributes
    ----------
    inputs : dict of str to Tensor
        Modality -> ``[N, bands, H, W]`` normalised images.
    target : Tensor
        ``[N]`` labels (classification) or values (regression).
    source : str
        Where the examples come from (for reports).
    """

    inputs: dict[str, Tensor]
    target: Tensor
    source: str = ""

    def __post_init__(self) -> None:
        sizes = {len(x) for x in self.inputs.values()} | {len(self.target)}
        if not self.inputs or len(sizes) != 1:
            raise ValueError(f"TaskData needs inputs and targets of one length, got {sizes}")

    def __len__(self) -> int:
        return len(self.target)

    def subset(self, index: Tensor | slice) -> TaskData:
        """The examples at ``index``."""
        return TaskData(
            {m: x[index] for m, x in self.inputs.items()}, self.target[index], self.source
        )

    def only(self, modalities: tuple[str, ...]) -> TaskData:
        """The same examples with only ``modalities`` in the requests."""
        return TaskData({m: self.inputs[m] for m in modalities}, self.target, self.source)


def task_data(
    task: str,
    split: str = "train",
    root: str | Path | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> TaskData:
    """Real examples of ``task`` from EuroSAT (see the module docstring).

    Parameters
    ----------
    task : {"landcover", "cloud", "ndvi"}
        The task.
    split : {"train", "val", "test"}
        EuroSAT split.
    root : path, optional
        The shared data folder (holding ``eurosat_rgb/`` and ``eurosat_ms/``); default
        ``$SPIKESAT_DATA_DIR``.
    limit : int, optional
        Keep the first ``limit`` examples of a seeded shuffle.
    seed : int
        Seed of the split and of the shuffle.
    """
    base = None if root is None else Path(root)
    if task in ("landcover", "cloud"):
        images, labels = eurosat(
            None if base is None else base / "eurosat_rgb", split, seed=seed
        ).tensors()
        images, labels = _limit(images, labels, limit, seed)
        if task == "landcover":
            return TaskData({"rgb": images}, labels, f"EuroSAT RGB {split}")
        cloudy, fraction = add_clouds(
            images, RGB_BANDS, RGB_MEAN, RGB_STD, 1.0, seed=CLOUD_SEEDS[split]
        )
        return TaskData({"rgb": cloudy}, fraction, f"EuroSAT RGB {split} + seeded clouds")
    if task == "ndvi":
        pairs = eurosat_pairs(base, split, seed=seed)
        rgb, _ = pairs.rgb.tensors()
        ms, labels = pairs.ms.tensors()
        rgb, _ = _limit(rgb, labels, limit, seed)
        ms, _ = _limit(ms, labels, limit, seed)
        return TaskData({"rgb": rgb, "ms": ms}, mean_ndvi(ms), f"EuroSAT RGB+MS pairs {split}")
    raise ValueError(f"no real data for task {task!r}; tasks with data: landcover, cloud, ndvi")


def _limit(images: Tensor, target: Tensor, limit: int | None, seed: int) -> tuple[Tensor, Tensor]:
    if limit is None or limit >= len(images):
        return images, target
    if limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:limit]
    return images[order], target[order]


def check_task_data(data: Mapping[str, TaskData], tasks: Mapping[str, object]) -> None:
    """Raise ``ValueError`` unless ``data`` maps known tasks to :class:`TaskData`."""
    if not data:
        raise ValueError(f"no task data: give at least one of {list(tasks)}")
    for name, value in data.items():
        if name not in tasks:
            raise ValueError(f"data for unknown task {name!r}; this model has {list(tasks)}")
        if not isinstance(value, TaskData):
            raise TypeError(f"data[{name!r}] must be a TaskData, got {type(value).__name__}")
