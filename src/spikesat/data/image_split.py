"""One split of a labelled image data set: files, per-band normalisation and cached decoding.

:class:`ImageSplit` is what :func:`spikesat.data.eurosat` and :func:`spikesat.data.image_folder`
return. A reader turns one file into raw pixels ``[C, H, W]``; the split normalises them as
``(raw / scale - mean) / std`` and can decode all its files at once (:meth:`ImageSplit.tensors`),
caching the raw pixels under the spikesat cache folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from spikesat._progress import progress_bar
from spikesat.data.cache import cache_dir


def data_cache_file(name: str) -> Path:
    """The path of ``name`` in the data cache: ``<cache_dir()>/data/<name>``."""
    return cache_dir() / "data" / name


def files_key(paths: Sequence[Path], *extra: object) -> str:
    """A short hash of the files (path, size, modification time) and ``extra`` values.

    A cache entry keyed by it goes stale, and is rebuilt, when a file is replaced.
    """
    digest = hashlib.sha1()
    for value in extra:
        digest.update(f"{value}\n".encode())
    for path in paths:
        stat = Path(path).stat()
        digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def band_mean_std(raw: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-band mean and standard deviation of ``raw`` ``[N, C, H, W]`` (float64 sums).

    A constant band (standard deviation 0) gets a standard deviation of 1, so it normalises
    to ``raw - mean`` instead of dividing by zero.
    """
    mean = raw.mean(axis=(0, 2, 3), dtype=np.float64)
    std = raw.std(axis=(0, 2, 3), dtype=np.float64)
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


class ImageSplit(Dataset):
    """One split of labelled image files, normalised per band.

    Items are ``(image, label)``: ``image`` float32 ``[C, H, W]``, normalised per band;
    ``label`` an int index into :attr:`classes`. An optional ``transform`` acts on the
    normalised tensor.

    Parameters
    ----------
    samples : list of (Path, int)
        Files and labels of this split.
    classes : tuple of str
        Class names, in label order.
    reader : callable
        ``reader(path)`` -> raw pixels ``[C, H, W]`` (a picklable function or object).
    pixel_mean, pixel_std : sequence of float
        Per-band statistics of ``raw / scale``, one value per band.
    scale : float
        Raw pixels are divided by it before normalising (255 for 8-bit files read as uint8).
    cache_prefix : str
        File-name prefix of the cached raw pixels (names what was read and how).
    transform : callable, optional
        Applied to each normalised image tensor (augmentation).

    Attributes
    ----------
    samples, classes, pixel_mean, pixel_std, scale, transform
        As given.
    """

    def __init__(
        self,
        samples: list[tuple[Path, int]],
        classes: tuple[str, ...],
        reader: Callable[[Path], np.ndarray],
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        scale: float = 1.0,
        cache_prefix: str = "images",
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if len(pixel_mean) != len(pixel_std):
            raise ValueError(
                f"pixel_mean has {len(pixel_mean)} bands but pixel_std has {len(pixel_std)}"
            )
        self.samples = samples
        self.classes = classes
        self.reader = reader
        self.pixel_mean = tuple(float(m) for m in pixel_mean)
        self.pixel_std = tuple(float(s) for s in pixel_std)
        self.scale = float(scale)
        self.cache_prefix = cache_prefix
        self.transform = transform
        self._mean = torch.tensor(self.pixel_mean).view(-1, 1, 1)
        self._std = torch.tensor(self.pixel_std).view(-1, 1, 1)

    @property
    def targets(self) -> list[int]:
        """The labels, in sample order (the torchvision convention)."""
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        image = self.normalise(torch.from_numpy(self.reader(path)))
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    def normalise(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw pixels ``[..., C, H, W]`` -> normalised float32 ``[..., C, H, W]``."""
        return (raw.float() / self.scale - self._mean) / self._std

    def tensors(self, cache: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode the whole split at once: normalised images ``[N, C, H, W]`` and labels ``[N]``.

        The decoded raw pixels are cached under ``SPIKESAT_CACHE`` (keyed by the files), so
        later calls take a fraction of a second. ``transform`` is not applied.
        """
        raw = self.raw_pixels(cache)
        labels = torch.tensor(self.targets, dtype=torch.long)
        return self.normalise(torch.from_numpy(raw)), labels

    def raw_pixels(self, cache: bool = True) -> np.ndarray:
        """The raw pixels of every file, ``[N, C, H, W]`` (cached when ``cache``)."""
        paths = [p for p, _ in self.samples]
        path = data_cache_file(f"{self.cache_prefix}_{files_key(paths)}.npy")
        if cache and path.is_file():
            return np.load(path)
        with progress_bar() as bar:
            description = f"decoding {len(paths)} images ({self.cache_prefix})"
            raw = np.stack([self.reader(p) for p in bar.track(paths, description=description)])
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, raw)
            tmp.replace(path)
        return raw
