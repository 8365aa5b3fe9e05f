"""Model checkpoints: weights plus the recipe to rebuild the model.

A checkpoint is a ``torch.save`` dict with ``model`` (the registry name), ``config`` (the
keyword arguments of :func:`spikesat.models.create`), ``state_dict`` and free ``meta``
(accuracy, epochs, data). Checkpoints live under ``SPIKESAT_CACHE`` (default
``~/.cache/spikesat``, :func:`spikesat.data.cache.cache_dir`), never in the repository.
:func:`save_atomic` is the one atomic checkpoint writer of spikesat (models, codecs and
training state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spikesat.data.cache import save_atomic
from spikesat.models.lam import LAM

FORMAT_VERSION = 1


def save_checkpoint(model: LAM, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and recipe to ``path`` atomically (parent folders are created)."""
    payload = {
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "config": dict(model.config),
        "state_dict": model.state_dict(),
        "meta": dict(meta or {}),
    }
    return save_atomic(payload, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint dict, checking that it is one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train one with `spikesat train`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"{path} is not a readable spikesat checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} is not a spikesat checkpoint of format {FORMAT_VERSION}; "
            "write checkpoints with spikesat.models.save_checkpoint"
        )
    return payload


def load_weights(model: LAM, path: str | Path) -> LAM:
    """Load the weights in ``path`` into ``model`` after checking they were made for it."""
    payload = read_checkpoint(path)
    mismatch = {
        key: (payload["config"].get(key), model.config.get(key))
        for key in ("in_chans", "num_classes")
        if payload["config"].get(key) != model.config.get(key)
    }
    if payload["model"] != model.name or mismatch:
        raise ValueError(
            f"checkpoint {path} holds a {payload['model']} with {payload['config']}, which "
            f"does not fit the requested {model.name} with {model.config}"
        )
    model.load_state_dict(payload["state_dict"])
    return model


def load_checkpoint(path: str | Path) -> tuple[LAM, dict[str, Any]]:
    """Rebuild the model stored in ``path``; returns ``(model, meta)``."""
    from spikesat.models.registry import create

    payload = read_checkpoint(path)
    config = dict(payload["config"])
    model = create(payload["model"], **config)
    model.load_state_dict(payload["state_dict"])
    return model, payload["meta"]
