"""Data: EuroSAT RGB/MS readers, any image folder, built-in synthetic scenes and per-satellite
partitions."""

from spikesat.data.eurosat import (
    EUROSAT_CLASSES,
    MS_BANDS,
    EuroSAT,
    EuroSATPairs,
    band_statistics,
    eurosat,
    eurosat_pairs,
)
from spikesat.data.folder import image_folder
from spikesat.data.image_split import ImageSplit
from spikesat.data.partition import label_histogram, partition
from spikesat.data.synthetic import SYNTHETIC_CLASSES, SyntheticScenes, synthetic_scenes

__all__ = [
    "EUROSAT_CLASSES",
    "MS_BANDS",
    "SYNTHETIC_CLASSES",
    "EuroSAT",
    "EuroSATPairs",
    "ImageSplit",
    "SyntheticScenes",
    "band_statistics",
    "eurosat",
    "eurosat_pairs",
    "image_folder",
    "label_histogram",
    "partition",
    "synthetic_scenes",
]
