"""Built-in synthetic scenes: the embedded default data set.

Ten land-cover-like classes told apart by texture and structure, never by colour: every
scene paints a class-specific spatial pattern (a mask in [0, 1]) with a background and
a foreground spectrum drawn from one distribution shared by all classes (the foreground
a random 0.3-0.7 away from the background in every band, so the pattern always shows).
The per-band mean of a scene therefore carries almost no class information, while a small
CNN separates the classes easily (``tests/data/test_synthetic.py`` checks both).

Classes and patterns (all randomly oriented, scaled and phased per scene):

================  =========================================================
AnnualCrop        parallel stripes of fields
Forest            fine blobby noise (tree crowns)
HerbaceousVeg.    coarse, smooth noise
Highway           one straight band across the scene
Industrial        large blocky rectangles
Pasture           pixel-scale grain, no structure
PermanentCrop     a lattice of dots (orchards, vineyards)
Residential       a street grid of small, mostly built-up lots (houses)
River             one sinuous band
SeaLake           a smooth shoreline between two half planes
================  =========================================================
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

SYNTHETIC_CLASSES = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
PIXEL_MEAN = 0.5
"""Scenes are rendered in [0, 1] and normalised as ``(pixel - PIXEL_MEAN) / PIXEL_STD``."""
PIXEL_STD = 0.25


class SyntheticScenes(Dataset):
    """A seeded, in-memory data set of procedurally generated scenes.

    Attributes
    ----------
    images : torch.Tensor
        ``[N, num_bands, image_size, image_size]`` float32, normalised to zero mean and
        about unit variance (pixel values in [0, 1] minus 0.5, divided by 0.25).
    labels : torch.Tensor
        ``[N]`` int64 class indices into :attr:`classes`.
    classes : tuple of str
        The class names.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images
        self.labels = labels
        self.classes = SYNTHETIC_CLASSES

    @property
    def targets(self) -> list[int]:
        """The labels as a list (the torchvision convention)."""
        return self.labels.tolist()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images ``[N, C, H, W]`` and labels ``[N]``."""
        return self.images, self.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


def synthetic_scenes(
    num_samples: int, image_size: int = 64, seed: int = 0, num_bands: int = 3
) -> SyntheticScenes:
    """Generate ``num_samples`` scenes, balanced over the ten classes.

    Parameters
    ----------
    num_samples : int
        Number of scenes (class ``i % 10`` for scene ``i``).
    image_size : int
        Height and width [pixels], at least 16.
    seed : int
        Seed of the generator; the same seed gives the same scenes.
    num_bands : int
        3 (RGB-like) or 13 (Sentinel-2-like multispectral).

    Returns
    -------
    SyntheticScenes
    """
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    if not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"image_size must be an integer >= 16, got {image_size!r}")
    if num_bands not in (3, 13):
        raise ValueError(f"num_bands must be 3 (RGB) or 13 (multispectral), got {num_bands!r}")
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(num_samples) % len(SYNTHETIC_CLASSES)
    labels = labels[torch.randperm(num_samples, generator=gen)]
    masks = torch.empty(num_samples, image_size, image_size)
    for cls, pattern in enumerate(_PATTERNS):
        idx = (labels == cls).nonzero().flatten()
        if len(idx):
            masks[idx] = pattern(len(idx), image_size, gen)
    # Both spectra come from one class-independent distribution; the foreground sits a
    # random 0.3-0.7 away (wrapping around [0, 1]) so the pattern is always visible.
    background = torch.rand(num_samples, num_bands, 1, 1, generator=gen)
    offset = 0.3 + 0.4 * torch.rand(num_samples, 1, 1, 1, generator=gen)
    foreground = (background + offset) % 1.0
    m = masks.unsqueeze(1)
    images = background * (1 - m) + foreground * m
    images = images + 0.03 * torch.randn(images.shape, generator=gen)
    images = (images.clamp(0, 1) - PIXEL_MEAN) / PIXEL_STD
    return SyntheticScenes(images.float(), labels.long())


# ---- patterns: each returns masks [n, size, size] in [0, 1] --------------------------------


def _coords(n: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Randomly rotated coordinates u, v in about [-0.7, 0.7]: ``[n, size, size]`` each."""
    axis = torch.linspace(-0.5, 0.5, size)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    theta = torch.rand(n, 1, 1, generator=gen) * math.pi
    u = xx * torch.cos(theta) + yy * torch.sin(theta)
    v = -xx * torch.sin(theta) + yy * torch.cos(theta)
    return u, v


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, 1, 1, generator=gen)


def _smooth_noise(n: int, size: int, cells: int, gen: torch.Generator) -> torch.Tensor:
    coarse = torch.rand(n, 1, cells, cells, generator=gen)
    return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[:, 0]


def _blocks(n: int, size: int, cells: int, fill: float, gen: torch.Generator) -> torch.Tensor:
    coarse = (torch.rand(n, 1, cells, cells, generator=gen) < fill).float()
    return F.interpolate(coarse, size=(size, size), mode="nearest")[:, 0]


def _stripes(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    u, _ = _coords(n, size, gen)
    freq = _uniform(n, 3.0, 7.0, gen)
    phase = _uniform(n, 0.0, 2 * math.pi, gen)
    return (torch.sin(2 * math.pi * freq * u + phase) > 0).float()


def _forest(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    return (_smooth_noise(n, size, max(6, size // 3), gen) > 0.5).float()


def _herbaceous(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    return _smooth_noise(n, size, 4, gen).clamp(0, 1)


def _highway(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    u, _ = _coords(n, size, gen)
    offset = _uniform(n, -0.25, 0.25, gen)
    width = _uniform(n, 0.02, 0.04, gen)
    return ((u - offset).abs() < width).float()


def _industrial(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    return _blocks(n, size, 4, 0.5, gen)


def _pasture(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    return 0.5 + 0.5 * (torch.rand(n, size, size, generator=gen) - 0.5)


def _dots(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    u, v = _coords(n, size, gen)
    freq = _uniform(n, 5.0, 9.0, gen)
    wave = torch.sin(2 * math.pi * freq * u) * torch.sin(2 * math.pi * freq * v)
    return (wave > 0.5).float()


def _residential(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    cells = 8
    houses = _blocks(n, size, cells, 0.75, gen)
    axis = torch.arange(size) * cells / size % 1.0 < 0.6
    lots = (axis[:, None] & axis[None, :]).float()
    return houses * lots


def _river(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    u, v = _coords(n, size, gen)
    amplitude = _uniform(n, 0.12, 0.22, gen)
    cycles = _uniform(n, 0.8, 2.0, gen)
    phase = _uniform(n, 0.0, 2 * math.pi, gen)
    centre = amplitude * torch.sin(2 * math.pi * cycles * v + phase)
    return ((u - centre).abs() < _uniform(n, 0.07, 0.11, gen)).float()


def _shoreline(n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    u, v = _coords(n, size, gen)
    edge = _uniform(n, -0.15, 0.15, gen) + 0.06 * torch.sin(
        2 * math.pi * _uniform(n, 0.5, 1.5, gen) * v + _uniform(n, 0, 2 * math.pi, gen)
    )
    return (u > edge).float()


_PATTERNS = (
    _stripes,
    _forest,
    _herbaceous,
    _highway,
    _industrial,
    _pasture,
    _dots,
    _residential,
    _river,
    _shoreline,
)
