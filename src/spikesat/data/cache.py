"""Where spikesat keeps files: the one cache folder, and the one atomic file writer."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def cache_dir() -> Path:
    """The cache folder: ``$SPIKESAT_CACHE`` or ``~/.cache/spikesat`` (created if needed)."""
    root = Path(os.environ.get("SPIKESAT_CACHE", Path.home() / ".cache" / "spikesat")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def save_atomic(payload: Any, path: str | Path) -> Path:
    """``torch.save`` ``payload`` to ``path`` so that ``path`` is never left half-written.

    The bytes go to a temporary file in the same folder (named after ``path`` and the process
    id), which then replaces ``path`` in one ``os.replace``. If writing fails, the temporary
    file is removed and an earlier ``path`` is left as it was. Parent folders are created.

    Parameters
    ----------
    payload : Any
        What ``torch.save`` accepts (a dict of tensors, numbers and strings).
    path : str or Path
        The checkpoint file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
