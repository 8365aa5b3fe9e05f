"""The one deterministic, stratified train / val / test split every file reader uses.

Within each class, files are sorted by name, shuffled with ``seed`` and cut into 70% train,
10% val and 20% test (rounded down for val and test, the rest to train). A class with fewer
than ten files may therefore have no val (or test) example.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPLIT_FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}


def check_split(split: str) -> None:
    """Raise ``ValueError`` unless ``split`` is "train", "val" or "test"."""
    if split not in SPLIT_FRACTIONS:
        raise ValueError(f"split must be one of {sorted(SPLIT_FRACTIONS)}, got {split!r}")


def stratified_split(
    samples: list[tuple[Path, int]], split: str, seed: int
) -> list[tuple[Path, int]]:
    """Pick ``split`` out of ``samples`` per class: 70/10/20, deterministic for a seed.

    Parameters
    ----------
    samples : list of (Path, int)
        Every file and its label.
    split : {"train", "val", "test"}
        The part to return.
    seed : int
        Seed of the shuffle; the same seed gives the same split.

    Returns
    -------
    list of (Path, int)
        The files of ``split``, ordered by label, then by position in the sorted class.
    """
    check_split(split)
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[tuple[Path, int]]] = {}
    for sample in sorted(samples, key=lambda s: (s[1], s[0].name)):
        by_class.setdefault(sample[1], []).append(sample)
    chosen: list[tuple[Path, int]] = []
    for label in sorted(by_class):
        items = by_class[label]
        order = rng.permutation(len(items))
        num_val = int(len(items) * SPLIT_FRACTIONS["val"])
        num_test = int(len(items) * SPLIT_FRACTIONS["test"])
        cuts = {
            "test": order[:num_test],
            "val": order[num_test : num_test + num_val],
            "train": order[num_test + num_val :],
        }
        chosen.extend(items[i] for i in sorted(cuts[split]))
    return chosen
