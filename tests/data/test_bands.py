"""band_adapter: Sentinel-2 band sets mapped by name (13 -> 3, 12 -> 13, 4 -> 3)."""

from __future__ import annotations

import pytest
import torch

from spikesat.data import MS_BANDS, band_adapter
from spikesat.data.bands import BAND_SETS, EUROSAT_MEAN_FILL


def _scene(bands):
    """A [2, len(bands), 4, 4] image whose band ``b`` holds the number of ``b`` in MS_BANDS."""
    values = torch.tensor([float(MS_BANDS.index(b)) for b in bands])
    return values.view(1, -1, 1, 1).expand(2, -1, 4, 4).clone()


def test_13_bands_to_rgb_selects_b4_b3_b2():
    out = band_adapter("s2-l1c", "rgb")(_scene(MS_BANDS))
    assert out.shape == (2, 3, 4, 4)
    assert torch.equal(out, _scene(("B04", "B03", "B02")))


def test_12_band_l2a_to_13_fills_b10():
    adapter = band_adapter("s2-l2a", "s2-l1c", fill="eurosat-mean")
    assert "B10" not in BAND_SETS["s2-l2a"] and len(BAND_SETS["s2-l2a"]) == 12
    out = adapter(_scene(BAND_SETS["s2-l2a"]))
    b10 = MS_BANDS.index("B10")
    expected = _scene(MS_BANDS)
    expected[:, b10] = EUROSAT_MEAN_FILL["B10"]
    assert torch.equal(out, expected)
    own = band_adapter("s2-l2a", "s2-l1c", fill={"B10": -1.0})(_scene(BAND_SETS["s2-l2a"]))
    assert torch.all(own[:, b10] == -1.0)


def test_4_bands_to_rgb_and_any_order():
    out = band_adapter("rgbn", "rgb")(_scene(BAND_SETS["rgbn"]))
    assert torch.equal(out, _scene(("B04", "B03", "B02")))
    custom = band_adapter(["B08", "B04"], ["B04", "B08"])(_scene(("B08", "B04")))
    assert torch.equal(custom, _scene(("B04", "B08")))


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="unknown source band set 'landsat'"):
        band_adapter("landsat", "rgb")
    with pytest.raises(ValueError, match=r"unknown target bands \['B13'\]"):
        band_adapter("s2-l1c", ["B04", "B13"])
    with pytest.raises(ValueError, match="repeat"):
        band_adapter(["B04", "B04"], "rgb")
    with pytest.raises(ValueError, match=r"lack the target bands \['B10'\].*fill"):
        band_adapter("s2-l2a", "s2-l1c")
    with pytest.raises(ValueError, match="fill names bands"):
        band_adapter("s2-l1c", "rgb", fill={"B04": 0.0})
    with pytest.raises(ValueError, match=r"takes \[B, 13, H, W\]"):
        band_adapter("s2-l1c", "rgb")(torch.zeros(2, 12, 4, 4))
