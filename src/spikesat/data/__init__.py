"""Data: EuroSAT RGB/MS readers, built-in synthetic scenes and per-satellite partitions."""

from spikesat.data.eurosat import (
    EUROSAT_CLASSES,
    MS_BANDS,
    EuroSAT,
    EuroSATPairs,
    band_statistics,
    eurosat,
    eurosat_pairs,
)
from spikesat.data.partition import label_histogram, partition
from spikesat.data.synthetic import SYNTHETIC_CLASSES, SyntheticScenes, synthetic_scenes

__all__ = [
    "EUROSAT_CLASSES",
    "MS_BANDS",
    "SYNTHETIC_CLASSES",
    "EuroSAT",
    "EuroSATPairs",
    "SyntheticScenes",
    "band_statistics",
    "eurosat",
    "eurosat_pairs",
    "label_histogram",
    "partition",
    "synthetic_scenes",
]
