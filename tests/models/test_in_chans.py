"""Any band count: ``create(name, in_chans=N)`` builds and runs for N >= 1, and rejects the rest."""

from __future__ import annotations

import pytest
import torch

import spikesat.models as models


@pytest.mark.parametrize("name", ["vit-micro-p8", "resnet18"])
@pytest.mark.parametrize("in_chans", [1, 5, 12])
def test_forward_with_any_band_count(name: str, in_chans: int) -> None:
    torch.manual_seed(0)
    lam = models.create(name, in_chans=in_chans, num_classes=4).eval()
    assert lam.in_chans == in_chans
    with torch.no_grad():
        logits = lam(torch.randn(2, in_chans, 64, 64))
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()
    sm = models.split(lam, at=models.split_points(lam, (in_chans, 64, 64))[0].at)
    with torch.no_grad():
        x = torch.randn(1, in_chans, 64, 64)
        assert torch.allclose(sm.remote(sm.onboard(x)), lam(x), atol=1e-5)


@pytest.mark.parametrize("bad", [0, -1, 2.0, "5", None, True])
def test_bad_band_counts_raise(bad: object) -> None:
    with pytest.raises(ValueError, match="in_chans must be an integer >= 1"):
        models.create("vit-micro-p8", in_chans=bad)  # type: ignore[arg-type]
