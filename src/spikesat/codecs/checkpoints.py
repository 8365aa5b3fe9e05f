"""Codec checkpoints: the registry name, constructor options and weights, under the cache.

A checkpoint is a ``torch.save`` dict readable with ``weights_only=True``:
``{"format_version", "codec", "in_channels", "config", "state_dict", "meta"}``. Checkpoints
live under ``$SPIKESAT_CACHE/codecs`` (default ``~/.cache/spikesat/codecs``), never in the
repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spikesat.codecs.base import Codec
from spikesat.codecs.registry import create
from spikesat.data.cache import cache_dir, save_atomic

FORMAT_VERSION = 1


def codec_cache_dir() -> Path:
    """``$SPIKESAT_CACHE/codecs`` (default ``~/.cache/spikesat/codecs``), created if needed."""
    path = cache_dir() / "codecs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_codec(codec: Codec, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``codec`` (name, options, weights, entropy tables) to ``path`` atomically.

    Raises
    ------
    ValueError
        If the codec's options cannot be stored (e.g. a deepjscc channel given as a module).
    """
    if not getattr(codec, "checkpointable", True):
        raise ValueError(
            f"this {codec.name!r} codec holds a component given as an object (e.g. a deepjscc "
            "channel module); create it from names only (channel='awgn') to checkpoint it"
        )
    payload = {
        "format_version": FORMAT_VERSION,
        "codec": codec.name,
        "in_channels": codec.in_channels,
        "config": dict(codec.config),
        "state_dict": codec.state_dict(),
        "meta": dict(meta or {}),
    }
    return save_atomic(payload, path)


def load_codec(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[Codec, dict]:
    """Rebuild a codec saved by :func:`save_codec`; returns ``(codec, meta)`` in eval mode.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a codec checkpoint of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no codec checkpoint at {path}; train one with `spikesat codec train`"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"{path} is not a readable codec checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is not a spikesat codec checkpoint of format {FORMAT_VERSION}")
    codec = create(payload["codec"], payload["in_channels"], **payload["config"])
    codec.load_state_dict(payload["state_dict"])
    return codec.eval(), payload["meta"]
