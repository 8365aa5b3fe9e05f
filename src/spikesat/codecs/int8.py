"""The "int8" baseline: per-channel affine 8-bit quantisation plus zlib or LZMA.

Each example is quantised on its own: for every channel ``c`` (``D`` of tokens, ``C`` of maps)
the minimum ``lo_c`` and step ``scale_c = (max_c - min_c) / 255`` are sent as float16, and every
value as ``q = round((x - lo_c) / scale_c)`` in ``0..255``. The side information and the codes
(channel-major) are then compressed losslessly with zlib (level 9) or raw LZMA2 (preset 9 with
a 1 MiB dictionary, no container header).
"""

from __future__ import annotations

import lzma
import zlib
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from spikesat.codecs.base import Codec
from spikesat.codecs.bitstream import DEFAULT_MTU_BYTES
from spikesat.codecs.registry import register_codec

Compressor = Literal["zlib", "lzma", "none"]
_COMPRESSORS: tuple[str, ...] = ("none", "zlib", "lzma")
LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9, "dict_size": 1 << 20}]
"""The raw LZMA2 filter chain of the int8 and spikes codecs' payloads (preset 9, 1 MiB
dictionary: examples are far smaller)."""
_FLOAT16_MAX = 65504.0


def _channel_major(x: Tensor) -> Tensor:
    """``[B, N, D]`` -> ``[B, D, N]``; ``[B, C, H, W]`` -> ``[B, C, H*W]``."""
    return x.transpose(1, 2) if x.dim() == 3 else x.flatten(2)


def _from_channel_major(values: Tensor, shape: tuple[int, ...]) -> Tensor:
    if len(shape) == 2:
        return values.transpose(1, 2)
    return values.reshape(values.shape[0], *shape)


@register_codec("int8")
class Int8Codec(Codec):
    """Per-channel affine int8 quantisation + lossless compression.

    Parameters
    ----------
    in_channels : int
        ``D`` of tokens or ``C`` of maps.
    compressor : {"zlib", "lzma", "none"}
        Lossless stage applied to side information and codes.
    mtu_bytes : int
        Largest packet [bytes].
    """

    codec_id = 3

    def __init__(
        self,
        in_channels: int,
        *,
        compressor: Compressor = "zlib",
        mtu_bytes: int = DEFAULT_MTU_BYTES,
    ) -> None:
        super().__init__(in_channels, mtu_bytes=mtu_bytes)
        if compressor not in _COMPRESSORS:
            raise ValueError(f"compressor must be one of {_COMPRESSORS}, got {compressor!r}")
        self.compressor = compressor
        self.config["compressor"] = compressor

    def quantize(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Return ``(codes uint8 [B, C, P], lo float16 [B, C], scale float16 [B, C])``."""
        values = _channel_major(x.detach().to(torch.float32))
        lo = values.amin(dim=2)
        hi = values.amax(dim=2)
        peak = float(torch.maximum(lo.abs(), hi.abs()).max())
        if peak > _FLOAT16_MAX:
            raise ValueError(
                f"a feature of magnitude {peak:.4g} overflows the float16 side information "
                f"(max {_FLOAT16_MAX}); use the 'float32' codec for these features"
            )
        lo16 = lo.to(torch.float16)
        scale16 = ((hi - lo16.float()) / 255.0).to(torch.float16)
        scale16 = torch.where(scale16 > 0, scale16, torch.ones_like(scale16))
        codes = torch.round((values - lo16.float()[..., None]) / scale16.float()[..., None])
        return codes.clamp_(0, 255).to(torch.uint8), lo16, scale16

    @staticmethod
    def dequantize(codes: Tensor, lo16: Tensor, scale16: Tensor) -> Tensor:
        """``codes * scale + lo`` in float32, ``[B, C, P]``."""
        return codes.float() * scale16.float()[..., None] + lo16.float()[..., None]

    def forward(self, x: Tensor) -> dict[str, object]:
        """Return ``{"x_hat": dequantised x, "likelihoods": {}}`` (exactly what decodes)."""
        x = self.check_input(x)
        codes, lo16, scale16 = self.quantize(x)
        x_hat = _from_channel_major(self.dequantize(codes, lo16, scale16), tuple(x.shape[1:]))
        return {"x_hat": x_hat, "likelihoods": {}}

    def encode_payloads(self, x: Tensor) -> list[bytes]:
        codes, lo16, scale16 = (t.cpu().numpy() for t in self.quantize(x))
        kind = _COMPRESSORS.index(self.compressor)
        out = []
        for i in range(codes.shape[0]):
            raw = lo16[i].astype("<f2").tobytes() + scale16[i].astype("<f2").tobytes()
            raw += codes[i].tobytes()
            out.append(bytes([kind]) + self._pack(raw))
        return out

    def decode_payloads(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        channels = self.in_channels
        positions = int(np.prod(shape)) // channels
        codes, lo16, scale16 = [], [], []
        for body in payloads:
            if not body or body[0] >= len(_COMPRESSORS):
                raise ValueError(f"unknown int8 compressor id {body[:1]!r}")
            raw = self._unpack(body[1:], _COMPRESSORS[body[0]])
            if len(raw) != 4 * channels + channels * positions:
                raise ValueError(f"int8 payload holds {len(raw)} bytes, wrong for shape {shape}")
            lo16.append(np.frombuffer(raw[: 2 * channels], dtype="<f2"))
            scale16.append(np.frombuffer(raw[2 * channels : 4 * channels], dtype="<f2"))
            codes.append(np.frombuffer(raw[4 * channels :], dtype=np.uint8))
        values = self.dequantize(
            torch.from_numpy(np.stack(codes).reshape(len(payloads), channels, positions)),
            torch.from_numpy(np.stack(lo16).astype(np.float16)),
            torch.from_numpy(np.stack(scale16).astype(np.float16)),
        )
        return _from_channel_major(values, shape)

    def _pack(self, raw: bytes) -> bytes:
        if self.compressor == "zlib":
            return zlib.compress(raw, 9)
        if self.compressor == "lzma":
            return lzma.compress(raw, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)
        return raw

    @staticmethod
    def _unpack(data: bytes, compressor: str) -> bytes:
        try:
            if compressor == "zlib":
                return zlib.decompress(data)
            if compressor == "lzma":
                return lzma.decompress(data, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)
        except (zlib.error, lzma.LZMAError) as err:
            raise ValueError(f"corrupt {compressor} payload: {err}") from None
        return data
