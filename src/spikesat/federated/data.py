"""Per-satellite data: non-IID partitions of any registered data source (default: synthetic).

Schemes (``scheme=``):

- ``"iid"``: a seeded shuffle cut into near-equal parts;
- ``"dirichlet"``: each class's examples shared among satellites by a Dirichlet(``alpha``)
  draw (Hsu et al. 2019, via :func:`spikesat.data.partition`);
- ``"per-plane"``: a Dirichlet(``alpha``) split among the orbital planes, then an IID split
  among the satellites of each plane, so the satellites of one plane share one label skew
  (they image the same ground tracks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from spikesat.data import label_histogram, load_source, partition

SCHEMES = ("iid", "dirichlet", "per-plane")


@dataclass
class FederatedData:
    """Training images split among satellites, and a held-out test set.

    Attributes
    ----------
    train_images : Tensor
        ``[N, C, H, W]`` float32, normalised.
    train_labels : Tensor
        ``[N]`` int64.
    test_images, test_labels : Tensor
        The server's evaluation set.
    parts : list of np.ndarray
        ``parts[i]``: int64 indices into the training set held by satellite ``i``.
    num_classes : int
        Number of classes.
    source : str
        The data's name (:attr:`spikesat.data.Splits.name`).
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    parts: list[np.ndarray]
    num_classes: int
    source: str

    def __post_init__(self) -> None:
        for sat, part in enumerate(self.parts):
            if len(part) == 0:
                raise ValueError(
                    f"satellite {sat} has no training data: use fewer satellites, more "
                    "examples (num_train) or a larger alpha"
                )

    @property
    def num_sats(self) -> int:
        """Number of satellites."""
        return len(self.parts)

    def num_samples(self, sat: int) -> int:
        """Training examples on satellite ``sat``."""
        return len(self.parts[sat])

    def client(self, sat: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Satellite ``sat``'s ``(images [n, C, H, W], labels [n])``."""
        index = torch.as_tensor(self.parts[sat])
        return self.train_images[index], self.train_labels[index]

    def histogram(self) -> np.ndarray:
        """Class counts per satellite, ``[num_sats, num_classes]``."""
        return label_histogram(self.train_labels.numpy(), self.parts, self.num_classes)


def federated_data(
    num_sats: int,
    source: str = "synthetic",
    data_dir: str | Path | None = None,
    num_train: int = 1000,
    num_test: int = 200,
    image_size: int = 32,
    scheme: str = "dirichlet",
    alpha: float = 0.5,
    planes: np.ndarray | None = None,
    seed: int = 0,
) -> FederatedData:
    """Build per-satellite partitions.

    Parameters
    ----------
    num_sats : int
        Number of satellites.
    source : str
        A data source (:func:`spikesat.data.list_sources`): built-in "synthetic" scenes,
        "eurosat" RGB from ``data_dir`` (default ``$SPIKESAT_DATA_DIR/eurosat_rgb``) or an
        image "folder" ``data_dir``, through :func:`spikesat.data.load_source`.
    num_train, num_test : int
        Training examples shared among the satellites, and test examples.
    image_size : int
        Image side [pixels]; files are resized (antialiased) to it.
    scheme : {"iid", "dirichlet", "per-plane"}
        The partition (module docstring).
    alpha : float
        Dirichlet concentration (smaller: more skewed).
    planes : np.ndarray, optional
        Plane index per satellite (``ContactPlan.planes``); needed by ``"per-plane"``.
    seed : int
        Seed of the data and the partition.

    Returns
    -------
    FederatedData
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if not isinstance(num_sats, int) or num_sats < 1:
        raise ValueError(f"num_sats must be a positive integer, got {num_sats!r}")
    if not isinstance(num_train, int) or num_train < num_sats:
        raise ValueError(
            f"num_train={num_train!r} cannot give each of {num_sats} satellites an example: "
            "raise num_train"
        )
    splits = load_source(
        source,
        data_dir,
        num_train=num_train,
        num_test=num_test,
        seed=seed,
        image_size=image_size,
    )
    train, test = splits.train, splits.test
    labels = train[1].numpy()
    if scheme == "iid":
        parts = partition(labels, num_sats, alpha=None, seed=seed)
    elif scheme == "dirichlet":
        parts = partition(labels, num_sats, alpha=alpha, seed=seed)
    else:
        parts = _per_plane(labels, planes, num_sats, alpha, seed)
    return FederatedData(
        train[0], train[1], test[0], test[1], parts, len(splits.classes), splits.name
    )


def _per_plane(
    labels: np.ndarray, planes: np.ndarray | None, num_sats: int, alpha: float, seed: int
) -> list[np.ndarray]:
    if planes is None or len(planes) != num_sats:
        raise ValueError(
            "scheme='per-plane' needs the plane index of every satellite (planes=plan.planes); "
            "TLE sets have no planes: use scheme='dirichlet'"
        )
    planes = np.asarray(planes)
    num_planes = int(planes.max()) + 1
    plane_parts = partition(labels, num_planes, alpha=alpha, seed=seed)
    parts: list[np.ndarray] = [np.zeros(0, np.int64)] * num_sats
    rng = np.random.default_rng(seed + 1)
    for plane, indices in enumerate(plane_parts):
        members = np.flatnonzero(planes == plane)
        if len(indices) < len(members):
            raise ValueError(
                f"plane {plane} got {len(indices)} examples for {len(members)} satellites: "
                "raise num_train or alpha"
            )
        for sat, chunk in zip(
            members, np.array_split(rng.permutation(indices), len(members)), strict=True
        ):
            parts[int(sat)] = np.sort(chunk)
    return parts
