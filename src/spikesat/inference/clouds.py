"""Seeded synthetic clouds laid over real scenes, for the cloud-screening task.

EuroSAT holds no cloud labels (its patches were picked cloud-free), so the ``cloud`` task lays
clouds over real scenes with a documented generator and asks for their cover:

1. **Shape**: fractal noise by spectral synthesis: white Gaussian noise on the image grid,
   filtered in the Fourier domain by ``1 / f^beta`` (``beta`` drawn in [2.5, 3.5], the range
   of natural cloud fields), normalised to zero mean and unit variance.
2. **Cover**: a target cover ``c`` is drawn per scene: 0 (clear) with probability
   ``clear_prob``, else uniform in (0, 1]. The field is thresholded at its ``1 - c`` quantile,
   with a soft edge one unit of noise wide, and scaled by an opacity drawn in [0.6, 1.0]:
   ``alpha`` in [0, 1] per pixel.
3. **Radiometry**: each band moves towards the cloud's brightness: ``x' = (1 - alpha) x +
   alpha b``, in the band's physical units (reflectance fraction for RGB, Sentinel-2 digital
   numbers for MS), where ``b`` is a bright, nearly white top-of-cloud reflectance
   (:data:`CLOUD_REFLECTANCE`, lower in the SWIR bands as for water clouds).

The label is the **cloud fraction**: the share of pixels with ``alpha >= 0.5`` (what a cloud
mask would flag). Every draw comes from a ``torch.Generator`` seeded per call, so the same seed
gives the same clouds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from spikesat._checks import check_tensor

CLOUD_REFLECTANCE = {
    "B01": 0.85, "B02": 0.85, "B03": 0.85, "B04": 0.85, "B05": 0.84, "B06": 0.83, "B07": 0.82,
    "B08": 0.82, "B8A": 0.81, "B09": 0.5, "B10": 0.35, "B11": 0.55, "B12": 0.4,
}  # fmt: skip
"""Top-of-cloud reflectance per Sentinel-2 band (a thick water cloud: flat and bright in the
visible and near infrared, darker in the water-absorption and SWIR bands)."""
S2_REFLECTANCE_SCALE = 10_000.0
"""Sentinel-2 L1C digital numbers per unit of reflectance."""


def cloud_fields(
    num: int, size: tuple[int, int], clear_prob: float = 0.3, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cloud opacity maps and their cloud fractions.

    Parameters
    ----------
    num : int
        Scenes.
    size : (int, int)
        Height and width.
    clear_prob : float
        Probability that a scene gets no cloud.
    seed : int
        Seed of every draw.

    Returns
    -------
    alpha : Tensor
        ``[num, 1, H, W]`` opacity in [0, 1].
    fraction : Tensor
        ``[num]`` share of pixels with ``alpha >= 0.5``.
    """
    if not 0.0 <= clear_prob <= 1.0:
        raise ValueError(f"clear_prob must be in [0, 1], got {clear_prob!r}")
    height, width = size
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(num, height, width, generator=gen)
    fy = torch.fft.fftfreq(height).abs()[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    radius = torch.sqrt(fy**2 + fx**2).clamp_min(1.0 / max(height, width))
    beta = 2.5 + torch.rand(num, 1, 1, generator=gen)
    field = torch.fft.irfft2(torch.fft.rfft2(noise) / radius ** (beta / 2), s=(height, width))
    field = (field - field.mean((1, 2), keepdim=True)) / field.std((1, 2), keepdim=True)
    cover = torch.rand(num, generator=gen).clamp_min(1e-3)
    clear = torch.rand(num, generator=gen) < clear_prob
    opacity = 0.6 + 0.4 * torch.rand(num, generator=gen)
    ordered = field.flatten(1).sort(dim=1).values
    rank = ((1.0 - cover) * (ordered.shape[1] - 1)).round().long()
    threshold = ordered.gather(1, rank[:, None])[:, 0]
    alpha = (field - threshold[:, None, None] + 0.5).clamp(0, 1) * opacity[:, None, None]
    alpha[clear] = 0.0
    fraction = (alpha >= 0.5).float().mean((1, 2))
    return alpha[:, None], fraction


def add_clouds(
    images: torch.Tensor,
    bands: Sequence[str],
    pixel_mean: Sequence[float],
    pixel_std: Sequence[float],
    scale: float,
    clear_prob: float = 0.3,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lay seeded clouds over normalised images; returns ``(cloudy images, cloud fraction)``.

    Parameters
    ----------
    images : Tensor
        ``[B, C, H, W]`` normalised as ``(raw / scale_units - mean) / std`` (the data set's
        statistics, e.g. :data:`spikesat.data.eurosat.RGB_MEAN`).
    bands : sequence of str
        The ``C`` Sentinel-2 band names (:data:`CLOUD_REFLECTANCE` keys).
    pixel_mean, pixel_std : sequence of float
        The normalisation, in the data's units.
    scale : float
        Data units per unit of reflectance: 1.0 for RGB fractions, 10,000 for MS digital
        numbers (:data:`S2_REFLECTANCE_SCALE`).
    clear_prob, seed
        As for :func:`cloud_fields`.

    Returns
    -------
    images : Tensor
        ``[B, C, H, W]`` cloudy, normalised the same way.
    fraction : Tensor
        ``[B]`` cloud fraction.
    """
    images = check_tensor(images, "images", shape=("B", len(bands), "H", "W"))
    unknown = [b for b in bands if b not in CLOUD_REFLECTANCE]
    if unknown:
        raise ValueError(
            f"no cloud reflectance for bands {unknown}; known: {list(CLOUD_REFLECTANCE)}"
        )
    mean = torch.tensor(pixel_mean, dtype=images.dtype)[:, None, None]
    std = torch.tensor(pixel_std, dtype=images.dtype)[:, None, None]
    bright = torch.tensor([CLOUD_REFLECTANCE[b] * scale for b in bands], dtype=images.dtype)
    alpha, fraction = cloud_fields(len(images), tuple(images.shape[-2:]), clear_prob, seed)
    raw = images * std + mean
    cloudy = (1 - alpha) * raw + alpha * bright[:, None, None]
    return (cloudy - mean) / std, fraction
