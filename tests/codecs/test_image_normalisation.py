"""Image codecs undo the data's normalisation, refuse pixels outside [0, 1] and turn every
Pillow decode error into ValueError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesat.codecs import create, list_codecs

MEAN = (0.35, 0.40, 0.45)
STD = (0.20, 0.12, 0.15)
IMAGE_CODECS = list_codecs(kind="image")


def _smooth_images() -> torch.Tensor:
    """Two smooth RGB images in [0, 1], ``[2, 3, 32, 32]`` (JPEG keeps them closely)."""
    axis = torch.linspace(0, 1, 32)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    planes = [0.5 + 0.4 * torch.sin(3 * xx + k) * torch.cos(2 * yy - k) for k in range(6)]
    return torch.stack(planes).view(2, 3, 32, 32)


def _normalise(raw: torch.Tensor) -> torch.Tensor:
    return (raw - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


@pytest.mark.parametrize("name", IMAGE_CODECS)
def test_normalised_round_trip_is_close(name: str) -> None:
    raw = _smooth_images()
    x = _normalise(raw)
    assert float(x.min()) < -0.5 and float(x.max()) > 1.5  # far outside [0, 1]
    codec = create(name, 3, quality=95, mean=MEAN, std=STD)
    x_hat = codec.decompress(codec.compress(x))
    assert x_hat.shape == x.shape
    # back in pixel units the error is a few grey levels at most on average
    error = (x_hat - x) * torch.tensor(STD).view(1, 3, 1, 1)
    assert float(error.abs().mean()) < 4 / 255
    assert torch.equal(codec(x)["x_hat"], x_hat)


@pytest.mark.parametrize("name", IMAGE_CODECS)
def test_out_of_range_input_without_normalisation_raises(name: str) -> None:
    x = _normalise(_smooth_images())
    codec = create(name, 3, quality=50)
    with pytest.raises(ValueError, match=r"\[0, 1\].*mean=splits.pixel_mean"):
        codec.compress(x)
    with pytest.raises(ValueError, match="mean="):
        codec(x)
    # Wrong statistics are caught the same way: nothing is clipped silently.
    with pytest.raises(ValueError, match="undoing the normalisation"):
        create(name, 3, mean=(0.5,) * 3, std=(2.0,) * 3).compress(x)


def test_in_range_input_and_rounding_slack_pass() -> None:
    codec = create("jpeg", 1, quality=90)
    x = torch.full((1, 1, 16, 16), 1.0 + 1e-4)
    x[..., :8] = -1e-4
    x_hat = codec.decompress(codec.compress(x))
    assert float(x_hat.min()) >= 0.0 and float(x_hat.max()) <= 1.0
    with pytest.raises(ValueError, match="NaN"):
        codec.compress(torch.full((1, 1, 16, 16), float("nan")))


@pytest.mark.parametrize("name", IMAGE_CODECS)
def test_damaged_payloads_raise_value_error_only(name: str) -> None:
    codec = create(name, 3, quality=50)
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    (payload,) = codec.encode_payloads(images)
    rng = np.random.default_rng(0)
    for trial in range(120):
        bad = bytearray(payload)
        for i in rng.integers(0, len(bad), int(rng.integers(1, 8))):
            bad[i] = int(rng.integers(0, 256))
        if trial % 3 == 0:
            bad = bad[: int(rng.integers(1, len(bad)))]
        try:
            decoded = codec.decode_payloads([bytes(bad)], (3, 32, 32))
        except ValueError as err:
            assert codec.pil_format in str(err)
        else:
            assert decoded.shape == (1, 3, 32, 32)
