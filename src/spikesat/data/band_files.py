"""Read one image file of any band count: JPEG and PNG through Pillow, GeoTIFF through tifffile.

:func:`read_bands` decodes a file to ``[C, H, W]`` in its own sample type, :func:`probe_bands`
reads only its header, and :class:`BandReader` is the picklable reader an
:class:`~spikesat.data.image_split.ImageSplit` calls: it checks the band count, scales 8-bit
samples to [0, 1] and resizes to a square side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
TIFF_EXTENSIONS = (".tif", ".tiff")
# Pillow modes read as another mode: palette and 1-bit images become 8-bit RGB / grey.
_CONVERT = {
    "1": "L",
    "P": "RGB",
    "PA": "RGBA",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "La": "LA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
}
_EIGHT_BIT_MODES = ("L", "LA", "RGB", "RGBA")
# What Pillow raises on a file it cannot parse (SyntaxError and ValueError come from some
# plugins' header checks, OSError covers truncated data and unknown formats).
PILLOW_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


def is_image_file(path: str | Path) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_bands(path: str | Path) -> np.ndarray:
    """Decode one image file to ``[C, H, W]`` in its own sample type (uint8, uint16, float32...).

    Raises
    ------
    ValueError
        If the file cannot be decoded, or is not a 2-D image with bands; the message names it.
    """
    path = Path(path)
    if path.suffix.lower() in TIFF_EXTENSIONS:
        array, axes = _read_tiff(path)
        return _bands_first(path, array, axes)
    try:
        with Image.open(path) as image:
            image = image.convert(_CONVERT[image.mode]) if image.mode in _CONVERT else image
            array = np.asarray(image)
    except PILLOW_ERRORS as err:
        raise ValueError(_unreadable(path, err)) from err
    return np.ascontiguousarray(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))


def probe_bands(path: str | Path) -> tuple[int, bool]:
    """The band count of one file and whether its samples are 8-bit, from its header only.

    Raises
    ------
    ValueError
        If the header cannot be read (the message names the file).
    """
    path = Path(path)
    if path.suffix.lower() in TIFF_EXTENSIONS:
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                shape, axes, dtype = series.shape, series.axes, series.dtype
        except Exception as err:  # tifffile raises several types for a damaged file
            raise ValueError(_unreadable(path, err)) from err
        squeezed, band_axis = _layout(path, shape, axes)
        return (1 if band_axis is None else squeezed[band_axis]), np.dtype(dtype) == np.uint8
    try:
        with Image.open(path) as image:
            mode = _CONVERT.get(image.mode, image.mode)
    except PILLOW_ERRORS as err:
        raise ValueError(_unreadable(path, err)) from err
    return Image.getmodebands(mode), mode in _EIGHT_BIT_MODES


class BandReader:
    """Read a file as float32 ``[num_bands, image_size, image_size]`` (a picklable reader).

    8-bit samples are divided by 255 (so they lie in [0, 1]); other sample types keep their
    values. Images of another size are resized (bilinear, antialiased; not cropped, so a
    non-square image is stretched).

    Parameters
    ----------
    image_size : int
        Side of the output [pixels].
    num_bands : int
        Bands every file must have.
    eight_bit : bool
        Whether every file must have 8-bit samples.
    """

    def __init__(self, image_size: int, num_bands: int, eight_bit: bool) -> None:
        self.image_size = image_size
        self.num_bands = num_bands
        self.eight_bit = eight_bit

    def __call__(self, path: str | Path) -> np.ndarray:
        """Raw pixels of ``path``: float32 ``[num_bands, image_size, image_size]``.

        Raises
        ------
        ValueError
            If the file is unreadable, or its band count or sample type differs from the rest.
        """
        raw = read_bands(path)
        if raw.shape[0] != self.num_bands:
            raise ValueError(
                f"{path} has {raw.shape[0]} band(s), but the data set has {self.num_bands}: "
                "convert it to the same band count or remove it"
            )
        if (raw.dtype == np.uint8) != self.eight_bit:
            raise ValueError(
                f"{path} has {raw.dtype} samples, but the data set's are "
                f"{'8-bit' if self.eight_bit else 'not 8-bit'}: convert it or remove it"
            )
        image = torch.from_numpy(raw.astype(np.float32))
        if self.eight_bit:
            image = image / 255.0
        if tuple(image.shape[1:]) != (self.image_size, self.image_size):
            image = F.interpolate(
                image[None],
                size=(self.image_size, self.image_size),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )[0]
        return image.numpy()


def _read_tiff(path: Path) -> tuple[np.ndarray, str]:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            return series.asarray(), series.axes
    except Exception as err:  # tifffile raises several types for a damaged file
        raise ValueError(_unreadable(path, err)) from err


def _bands_first(path: Path, array: np.ndarray, axes: str) -> np.ndarray:
    """``array`` with tifffile ``axes`` (e.g. "YXS", "SYX", "QYX") -> ``[C, H, W]``."""
    shape, band_axis = _layout(path, array.shape, axes)
    squeezed = array.reshape(shape)
    if band_axis is None:
        return np.ascontiguousarray(squeezed[None])
    return np.ascontiguousarray(np.moveaxis(squeezed, band_axis, 0))


def _layout(path: Path, shape: tuple[int, ...], axes: str) -> tuple[tuple[int, ...], int | None]:
    """Drop the length-1 axes of ``shape``; return the rest and the band axis (None: one band)."""
    keep = [(axis, size) for axis, size in zip(axes, shape, strict=True) if size > 1]
    bands = [i for i, (axis, _) in enumerate(keep) if axis not in "YX"]
    if len(keep) - len(bands) != 2 or len(bands) > 1:
        raise ValueError(
            f"{path} holds an array of shape {tuple(shape)} (axes {axes!r}); image_folder reads "
            "2-D images with at most one band axis: save one image per file"
        )
    return tuple(size for _, size in keep), (bands[0] if bands else None)


def _unreadable(path: Path, err: Exception) -> str:
    return (
        f"cannot read the image {path} ({type(err).__name__}: {err}); re-export it as "
        f"JPEG, PNG or GeoTIFF ({', '.join(IMAGE_EXTENSIONS)}) or remove it"
    )
