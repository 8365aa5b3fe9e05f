"""Shipped weights: ``create(name, pretrained=True)``, ``list_models(pretrained=True)``."""

from __future__ import annotations

import json

import pytest
import torch

import spikesat.models as models
from spikesat.models import pretrained


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """Ship into a temporary folder instead of the package."""
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(pretrained, "MANIFEST", tmp_path / "manifest.json")
    return tmp_path


def _ship(name: str = "vit-micro-p8", **kwargs) -> torch.nn.Module:
    lam = models.create(name, seed=3, **kwargs)
    pretrained.write_pretrained(lam, tag="unit", meta={"test_accuracy": 0.5})
    return lam


def test_pretrained_loads_the_fp16_weights(weights_dir) -> None:
    lam = _ship()
    assert models.list_models(pretrained=True) == ["vit-micro-p8"]
    loaded = models.create("vit-micro-p8", pretrained=True)
    for key, value in lam.state_dict().items():
        expected = value.half().float() if value.is_floating_point() else value
        assert torch.equal(loaded.state_dict()[key], expected), key
    info = models.pretrained_info("vit-micro-p8")
    assert info["tag"] == "unit" and info["test_accuracy"] == 0.5
    assert info["bytes"] == (weights_dir / info["file"]).stat().st_size


def test_other_num_classes_keeps_a_fresh_last_layer(weights_dir) -> None:
    lam = _ship()
    five = models.create("vit-micro-p8", num_classes=5, pretrained=True)
    fresh = models.create("vit-micro-p8", num_classes=5)
    changed = []
    for key, value in five.state_dict().items():
        if value.shape == lam.state_dict()[key].shape:
            assert torch.equal(value, lam.state_dict()[key].half().float()), key
        else:
            changed.append(key)
            assert torch.equal(value, fresh.state_dict()[key])
    assert changed and all(key.startswith("head.") for key in changed)


def test_pretrained_errors(weights_dir) -> None:
    with pytest.raises(ValueError, match="no pretrained weights ship for 'vit-micro-p8'"):
        models.create("vit-micro-p8", pretrained=True)
    _ship()
    with pytest.raises(ValueError, match="band_adapter"):
        models.create("vit-micro-p8", in_chans=13, pretrained=True)
    with pytest.raises(ValueError, match="not both"):
        models.create("vit-micro-p8", pretrained=True, checkpoint="x.pt")
    manifest = json.loads((weights_dir / "manifest.json").read_text())
    path = weights_dir / manifest["vit-micro-p8"]["file"]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="damaged"):
        models.create("vit-micro-p8", pretrained=True)


def test_shipped_manifest_is_consistent() -> None:
    """Every shipped file exists, fits the 8 MB budget and its model builds from it."""
    manifest = pretrained.pretrained_manifest()
    for name, info in manifest.items():
        path = pretrained.WEIGHTS_DIR / info["file"]
        assert path.is_file() and path.stat().st_size <= 8 * 1024 * 1024
        lam = models.create(name, pretrained=True, **info["config"])
        assert lam.name == name
