"""The one cache folder of spikesat: decoded data, model and codec checkpoints."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache folder: ``$SPIKESAT_CACHE`` or ``~/.cache/spikesat`` (created if needed)."""
    root = Path(os.environ.get("SPIKESAT_CACHE", Path.home() / ".cache" / "spikesat")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root
