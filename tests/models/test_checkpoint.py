"""Checkpoints: round trip, recipe checks, damaged files, and torch.save of whole models."""

from __future__ import annotations

import io

import pytest
import torch

import spikesat.models as models


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    lam = models.create("vit-micro-p8", in_chans=13, num_classes=5).eval()
    path = models.save_checkpoint(lam, tmp_path / "ckpt" / "m.pt", meta={"accuracy": 0.5})
    again, meta = models.load_checkpoint(path)
    assert meta == {"accuracy": 0.5}
    x = torch.randn(2, 13, 64, 64)
    with torch.no_grad():
        assert torch.equal(again.eval()(x), lam(x))
    same = models.create("vit-micro-p8", in_chans=13, num_classes=5, checkpoint=path).eval()
    with torch.no_grad():
        assert torch.equal(same(x), lam(x))


def test_checkpoint_for_another_model_is_refused(tmp_path) -> None:
    path = models.save_checkpoint(models.create("vit-micro-p8"), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="does not fit"):
        models.create("vit-micro-p8", num_classes=4, checkpoint=path)
    with pytest.raises(ValueError, match="does not fit"):
        models.create("resnet18", checkpoint=path)


def test_missing_and_damaged_checkpoints(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="spikesat train"):
        models.load_checkpoint(tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable spikesat checkpoint"):
        models.load_checkpoint(bad)


def test_whole_model_and_split_pickle() -> None:
    lam = models.create("convnextv2-atto").eval()
    sm = models.split(lam, at="stages.1")
    buffer = io.BytesIO()
    torch.save(sm, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(again(x), sm(x))
