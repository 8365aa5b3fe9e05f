"""Weights that ship with the package, as in timm: ``create(name, pretrained=True)``.

Each shipped model is one fp16 file under ``spikesat/models/weights/`` plus its entry in
``manifest.json``: the data it was trained on (``tag``), its test accuracy, the recipe, the
training wall time and hardware, and the file's SHA-256. The files are made by committed
scripts (``scripts/train_reference_lam.py``), never downloaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from spikesat.models.lam import LAM

WEIGHTS_DIR = Path(__file__).with_name("weights")
MANIFEST = WEIGHTS_DIR / "manifest.json"


def pretrained_manifest() -> dict[str, dict[str, Any]]:
    """Every shipped model's manifest entry, keyed by model name (empty when none ship)."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def pretrained_info(name: str) -> dict[str, Any]:
    """The manifest entry of ``name``'s shipped weights (accuracy, recipe, hardware).

    Raises
    ------
    ValueError
        When no weights ship for ``name``; the message lists the models that have them.
    """
    manifest = pretrained_manifest()
    if name not in manifest:
        shipped = ", ".join(sorted(manifest)) or "none"
        raise ValueError(
            f"no pretrained weights ship for {name!r} (models with weights: {shipped}); "
            "create it with pretrained=False and train it, or pass checkpoint="
        )
    return manifest[name]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_pretrained(model: LAM) -> LAM:
    """Load the shipped weights of ``model.name`` into ``model`` (cast to its dtype).

    A model built with another ``num_classes`` gets every weight but the last layer of its
    head, which keeps its fresh initialisation (fine-tuning to a new task, as timm does).

    Raises
    ------
    ValueError
        No weights ship for the model, the file fails its checksum, or the model's
        architecture (``in_chans`` or another option) differs from the shipped one.
    """
    info = pretrained_info(model.name)
    path = WEIGHTS_DIR / info["file"]
    if not path.is_file() or _sha256(path) != info["sha256"]:
        raise ValueError(
            f"the shipped weights {path} are missing or damaged (checksum mismatch); "
            "reinstall spikesat or retrain them with " + info.get("command", "their script")
        )
    shipped = info["config"]
    differs = {
        key: (shipped.get(key), value)
        for key, value in model.config.items()
        if key != "num_classes" and shipped.get(key) != value
    }
    if differs:
        hint = (
            " (map other bands to RGB with spikesat.data.band_adapter)"
            if "in_chans" in differs
            else ""
        )
        raise ValueError(
            f"the shipped {model.name} weights were trained with {shipped}; the requested "
            f"model differs in {differs} (shipped, requested){hint}"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = model.state_dict()
    dtype = next(model.parameters()).dtype
    kept = {
        key: value.to(dtype if value.is_floating_point() else value.dtype)
        for key, value in state.items()
        if own[key].shape == value.shape
    }
    fresh = sorted(set(own) - set(kept))
    if fresh and model.config.get("num_classes") == shipped.get("num_classes"):
        raise ValueError(f"shipped weights for {model.name} do not fit its layers {fresh}")
    model.load_state_dict(kept, strict=not fresh)
    return model


def write_pretrained(model: LAM, tag: str, meta: dict[str, Any]) -> Path:
    """Ship ``model``'s weights in fp16 with a manifest entry (used by the training scripts).

    Parameters
    ----------
    model : LAM
        The trained model.
    tag : str
        What it was trained on, e.g. ``"eurosat-rgb"``.
    meta : dict
        Test accuracy, recipe, wall time, hardware, the reproducing command.

    Returns
    -------
    Path
        The weights file written.
    """
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    path = WEIGHTS_DIR / f"{model.name}-{tag}.pt"
    half = {
        key: value.half() if value.is_floating_point() else value
        for key, value in model.state_dict().items()
    }
    torch.save(half, path)
    manifest = pretrained_manifest()
    manifest[model.name] = {
        "tag": tag,
        "file": path.name,
        "sha256": _sha256(path),
        "bytes": path.stat().st_size,
        "config": dict(model.config),
        **meta,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path
