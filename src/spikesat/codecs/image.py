"""Image-codec baselines on the raw image: "jpeg", "webp" and "avif" via Pillow.

These codecs take the normalised images ``[B, C, H, W]`` (C = 1 or 3) that the on-board model
would have seen, undo the normalisation with the data's own ``mean`` / ``std`` (pass
``Splits.pixel_mean`` / ``pixel_std``, or a data set's ``pixel_mean`` / ``pixel_std``), round to
8-bit pixels, and encode each image with Pillow at a given ``quality``. The ground side
decodes and re-normalises, then runs the whole LAM. The payload is the complete file Pillow
writes (headers included), as a real downlink would carry it.

The de-normalised pixels must lie in [0, 1]: values further than half a quantisation step
(1/510) outside raise ``ValueError`` (usually: normalised input without ``mean`` / ``std``, or
data that are not 8-bit images), rather than being clipped into a wrong image.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image, features
from torch import Tensor

from spikesat.codecs.base import Codec
from spikesat.codecs.bitstream import DEFAULT_MTU_BYTES
from spikesat.codecs.registry import register_codec

_HALF_STEP = 0.5 / 255.0


class ImageCodec(Codec):
    """Encode raw images with a Pillow format.

    Parameters
    ----------
    in_channels : int
        Image channels: 1 (grey) or 3 (RGB).
    quality : int
        Encoder quality, 0 (smallest) .. 100 (best).
    mean, std : sequence of float, optional
        Per-channel normalisation of the input, ``x = (pixel / 255 - mean) / std``; default
        mean 0 and std 1 (inputs already in [0, 1]). Pass the data's own values
        (``Splits.pixel_mean`` / ``pixel_std`` from :func:`spikesat.data.load_source`, or a
        data set's ``pixel_mean`` / ``pixel_std``); normalised input without them raises.
    mtu_bytes : int
        Largest packet [bytes].
    """

    accepts_tokens = False
    pil_format: ClassVar[str] = ""
    pil_feature: ClassVar[str] = ""
    save_options: ClassVar[dict[str, Any]] = {}
    decode_errors: ClassVar[tuple[type[Exception], ...]] = (OSError, SyntaxError, ValueError)
    """What Pillow raises on damaged data of this format (caught and re-raised as ValueError)."""

    def __init__(
        self,
        in_channels: int = 3,
        *,
        quality: int = 75,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        mtu_bytes: int = DEFAULT_MTU_BYTES,
    ) -> None:
        super().__init__(in_channels, mtu_bytes=mtu_bytes)
        if in_channels not in (1, 3):
            raise ValueError(
                f"{self.name} encodes grey (1) or RGB (3) images, got in_channels={in_channels}; "
                "for multispectral data use a feature codec ('int8', 'factorized', ...)"
            )
        if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
            raise ValueError(f"quality must be an int in 0..100, got {quality!r}")
        if not features.check(self.pil_feature):
            raise RuntimeError(
                f"this Pillow build cannot write {self.pil_format}; install Pillow >= 11.3 "
                f"(which bundles it) to use the {self.name!r} codec"
            )
        mean = (0.0,) * in_channels if mean is None else tuple(float(m) for m in mean)
        std = (1.0,) * in_channels if std is None else tuple(float(s) for s in std)
        if len(mean) != in_channels or len(std) != in_channels or min(std) <= 0:
            raise ValueError(
                f"mean and std need {in_channels} values each (std > 0), got {mean} / {std}"
            )
        self.quality = quality
        self.mean, self.std = mean, std
        self.config.update(quality=quality, mean=mean, std=std)

    def to_pixels(self, x: Tensor) -> np.ndarray:
        """Normalised images ``[B, C, H, W]`` -> uint8 pixels ``[B, H, W, C]``.

        Raises
        ------
        ValueError
            If the de-normalised pixels leave [0, 1] by more than half a quantisation step
            (the message gives their range and the fix).
        """
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        unit = x.detach().to("cpu", torch.float32) * std + mean
        low, high = (float(unit.min()), float(unit.max())) if unit.numel() else (0.0, 1.0)
        if low < -_HALF_STEP or high > 1.0 + _HALF_STEP:
            raise ValueError(
                f"{self.name} encodes 8-bit pixels in [0, 1], but undoing the normalisation "
                f"(mean={self.mean}, std={self.std}) gives values in [{low:.4g}, {high:.4g}]. "
                "Pass the data's normalisation: create(..., mean=splits.pixel_mean, "
                "std=splits.pixel_std); data that are not 8-bit images (e.g. uint16 GeoTIFF "
                "bands) need a feature codec ('int8', 'factorized', ...)"
            )
        # Within half a step of [0, 1], rounding lands on 0..255 (the clamp only catches the
        # round-half-to-even of exactly -0.5 / 255.5).
        pixels = torch.round(unit * 255.0).clamp(0.0, 255.0).to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).numpy()

    def from_pixels(self, pixels: np.ndarray) -> Tensor:
        """uint8 pixels ``[B, H, W, C]`` -> normalised float32 images ``[B, C, H, W]``."""
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        unit = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float() / 255.0
        return (unit - mean) / std

    def encode_payloads(self, x: Tensor) -> list[bytes]:
        out = []
        for pixels in self.to_pixels(x):
            image = Image.fromarray(pixels[..., 0] if self.in_channels == 1 else pixels)
            buffer = io.BytesIO()
            image.save(buffer, format=self.pil_format, quality=self.quality, **self.save_options)
            out.append(buffer.getvalue())
        return out

    def decode_payloads(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        mode = "L" if self.in_channels == 1 else "RGB"
        rows = []
        for body in payloads:
            try:
                with Image.open(io.BytesIO(body), formats=[self.pil_format]) as image:
                    if image.size != (shape[2], shape[1]):  # before Pillow allocates anything
                        raise ValueError(f"image is {image.size[::-1]}, header says {shape[1:]}")
                    pixels = np.asarray(image.convert(mode))
            except self.decode_errors as err:
                raise ValueError(
                    f"undecodable {self.pil_format} payload ({type(err).__name__}: {err})"
                ) from None
            pixels = pixels[..., None] if pixels.ndim == 2 else pixels
            if pixels.shape[:2] != tuple(shape[1:]):
                raise ValueError(f"decoded image is {pixels.shape[:2]}, header says {shape[1:]}")
            rows.append(pixels)
        return self.from_pixels(np.stack(rows))

    def forward(self, x: Tensor) -> dict[str, object]:
        """Encode and decode with Pillow: ``{"x_hat": decoded images, "likelihoods": {}}``."""
        x = self.check_input(x)
        payloads = self.encode_payloads(x)
        return {"x_hat": self.decode_payloads(payloads, tuple(x.shape[1:])), "likelihoods": {}}


@register_codec("jpeg")
class JpegCodec(ImageCodec):
    """Baseline JPEG (libjpeg via Pillow, optimised Huffman tables, 4:2:0 chroma)."""

    codec_id = 10
    pil_format = "JPEG"
    pil_feature = "jpg"
    save_options: ClassVar[dict[str, Any]] = {"optimize": True}


@register_codec("webp")
class WebpCodec(ImageCodec):
    """Lossy WebP (libwebp via Pillow, slowest/best method 6)."""

    codec_id = 11
    pil_format = "WEBP"
    pil_feature = "webp"
    save_options: ClassVar[dict[str, Any]] = {"method": 6}


@register_codec("avif")
class AvifCodec(ImageCodec):
    """AVIF (libavif/AV1 via Pillow >= 11.3, encoder speed 4)."""

    codec_id = 12
    pil_format = "AVIF"
    pil_feature = "avif"
    save_options: ClassVar[dict[str, Any]] = {"speed": 4}
    # libavif reports some damaged frames as RuntimeError ("Failed to decode ...").
    decode_errors: ClassVar[tuple[type[Exception], ...]] = (
        OSError,
        SyntaxError,
        ValueError,
        RuntimeError,
    )
