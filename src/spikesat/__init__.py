"""spikesat: satellite edge AI with large models.

``import spikesat`` is cheap: each area is a subpackage imported on first use (PEP 562), so
``spikesat.models`` loads torch and timm only when it is touched.

>>> import spikesat
>>> lam = spikesat.models.create("vit-micro-p8")
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

SUBPACKAGES = (
    "units",
    "data",
    "models",
    "train",
    "orbits",
    "channels",
    "energy",
    "snn",
    "codecs",
    "federated",
)

__all__ = ["__version__", *SUBPACKAGES]


def __getattr__(name: str) -> ModuleType:
    if name in SUBPACKAGES:
        return importlib.import_module(f"spikesat.{name}")
    raise AttributeError(
        f"module 'spikesat' has no attribute {name!r}; its areas are {', '.join(SUBPACKAGES)}"
    )


def __dir__() -> list[str]:
    return sorted(__all__)
