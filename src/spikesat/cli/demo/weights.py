"""Where the demo finds its trained weights: shipped with the package, then the cache.

The package ships the demo's small trained LAM and codec under ``spikesat/cli/demo/weights/``
(made by ``python scripts/make_demo_weights.py``, which runs the demo's own training recipe),
so a fresh install needs no training. A file that is not shipped (another seed, other data,
another training size) is looked up in, and trained into, ``$SPIKESAT_CACHE/demo``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHIPPED_DIR = Path(__file__).with_name("weights")
MANIFEST = "manifest.json"


def weights_path(file_name: str, cache_folder: Path) -> tuple[Path, bool]:
    """The shipped file ``file_name`` if the package has it, else its path in ``cache_folder``.

    Returns
    -------
    (Path, bool)
        The path, and whether it is a shipped file.
    """
    shipped = SHIPPED_DIR / file_name
    if shipped.is_file():
        return shipped, True
    return cache_folder / file_name, False


def shipped_manifest() -> dict[str, Any]:
    """The recorded figures of the shipped weights (empty when none are shipped)."""
    path = SHIPPED_DIR / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}
