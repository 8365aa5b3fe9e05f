"""Per-satellite data partitions: IID, or non-IID by a Dirichlet prior over labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _labels_of(dataset: object) -> np.ndarray:
    """Labels of a data set: ``.targets``, ``.labels`` or a sequence of labels."""
    for attr in ("targets", "labels"):
        if hasattr(dataset, attr):
            return np.asarray(getattr(dataset, attr)).astype(np.int64).reshape(-1)
    if isinstance(dataset, Sequence | np.ndarray):
        return np.asarray(dataset).astype(np.int64).reshape(-1)
    raise TypeError(
        f"cannot read labels from a {type(dataset).__name__}: pass a data set with .targets "
        "or .labels, or the label sequence itself"
    )


def partition(
    dataset: object,
    num_clients: int,
    alpha: float | None = None,
    seed: int = 0,
    min_size: int = 1,
    max_tries: int = 100,
) -> list[np.ndarray]:
    """Split a data set's indices among clients (satellites).

    Parameters
    ----------
    dataset : data set or sequence of int
        Anything with ``.targets`` / ``.labels``, or the labels themselves.
    num_clients : int
        Number of clients.
    alpha : float, optional
        ``None``: IID (a seeded shuffle cut into near-equal parts). Otherwise the
        concentration of a Dirichlet prior over each class's shares across clients (Hsu et
        al. 2019): small ``alpha`` (0.1) is strongly non-IID, large (100) nearly IID.
    seed : int
        The same seed gives the same partition.
    min_size : int
        Every client gets at least this many examples (0 allows empty clients). Dirichlet
        draws are repeated, up to ``max_tries`` times, until this holds.
    max_tries : int
        Maximum number of Dirichlet draws.

    Returns
    -------
    list of np.ndarray
        ``num_clients`` sorted int64 index arrays that together cover every example once.
    """
    labels = _labels_of(dataset)
    num = len(labels)
    if not isinstance(num_clients, int) or num_clients < 1:
        raise ValueError(f"num_clients must be a positive integer, got {num_clients!r}")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size!r}")
    if num < num_clients * min_size:
        raise ValueError(
            f"{num} examples cannot give {num_clients} clients at least {min_size} each; "
            "use fewer clients or pass min_size=0 to allow empty clients"
        )
    rng = np.random.default_rng(seed)
    if alpha is None:
        return [np.sort(part) for part in np.array_split(rng.permutation(num), num_clients)]
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0 (or None for IID), got {alpha!r}")
    for _ in range(max_tries):
        parts: list[list[int]] = [[] for _ in range(num_clients)]
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            shares = rng.dirichlet(np.full(num_clients, float(alpha)))
            cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(int)
            for client, chunk in enumerate(np.split(idx, cuts)):
                parts[client].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
    raise ValueError(
        f"no Dirichlet(alpha={alpha}) draw in {max_tries} tries gave every one of "
        f"{num_clients} clients at least {min_size} examples; raise alpha, use fewer clients "
        "or pass min_size=0"
    )


def label_histogram(dataset: object, parts: list[np.ndarray], num_classes: int) -> np.ndarray:
    """Per-client class counts ``[num_clients, num_classes]`` of a partition."""
    labels = _labels_of(dataset)
    return np.stack([np.bincount(labels[p], minlength=num_classes) for p in parts])
