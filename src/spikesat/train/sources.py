"""Training data: :func:`load_splits` is :func:`spikesat.data.load_source` (the source registry).

Kept under this name because recipes and the public API know it as
``spikesat.train.load_splits(source, data_dir, modality, num_train, num_test, seed)``.
"""

from __future__ import annotations

from spikesat.data.sources import Splits, list_sources, load_source

load_splits = load_source

__all__ = ["Splits", "list_sources", "load_splits"]
