"""Data: EuroSAT RGB/MS readers, any image folder, built-in synthetic scenes, the data-source
registry and per-satellite partitions."""

from spikesat.data.bands import BAND_SETS, BandAdapter, band_adapter
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
from spikesat.data.sources import Splits, list_sources, load_source, register_source
from spikesat.data.synthetic import SYNTHETIC_CLASSES, SyntheticScenes, synthetic_scenes

__all__ = [
    "BAND_SETS",
    "EUROSAT_CLASSES",
    "MS_BANDS",
    "SYNTHETIC_CLASSES",
    "BandAdapter",
    "EuroSAT",
    "EuroSATPairs",
    "ImageSplit",
    "Splits",
    "SyntheticScenes",
    "band_adapter",
    "band_statistics",
    "eurosat",
    "eurosat_pairs",
    "image_folder",
    "label_histogram",
    "list_sources",
    "load_source",
    "partition",
    "register_source",
    "synthetic_scenes",
]
