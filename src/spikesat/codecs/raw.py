"""Uncompressed baselines: "float32" and "float16" (raw little-endian values, no entropy coding)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from spikesat.codecs.base import Codec
from spikesat.codecs.bitstream import DEFAULT_MTU_BYTES
from spikesat.codecs.registry import register_codec

_FLOAT16_MAX = 65504.0


class RawCodec(Codec):
    """Send every feature value as a little-endian float of ``dtype``."""

    dtype: ClassVar[np.dtype]

    def __init__(self, in_channels: int, *, mtu_bytes: int = DEFAULT_MTU_BYTES) -> None:
        super().__init__(in_channels, mtu_bytes=mtu_bytes)

    def round_trip(self, x: Tensor) -> Tensor:
        """The values the receiver gets, as float32 (identity for float32)."""
        return x.detach().to(torch.float32)

    def forward(self, x: Tensor) -> dict[str, object]:
        """Return ``{"x_hat": x rounded to the wire dtype, "likelihoods": {}}``."""
        x = self.check_input(x)
        return {"x_hat": self.round_trip(x), "likelihoods": {}}

    def encode_payloads(self, x: Tensor) -> list[bytes]:
        values = x.detach().to("cpu", torch.float32).numpy().astype(self.dtype.newbyteorder("<"))
        return [row.tobytes() for row in values]

    def decode_payloads(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        count = int(np.prod(shape))
        rows = []
        for body in payloads:
            if len(body) != count * self.dtype.itemsize:
                raise ValueError(
                    f"payload holds {len(body)} bytes, expected {count * self.dtype.itemsize} for "
                    f"shape {shape} in {self.dtype.name}"
                )
            rows.append(np.frombuffer(body, dtype=self.dtype.newbyteorder("<")).reshape(shape))
        return torch.from_numpy(np.stack(rows).astype(np.float32))


@register_codec("float32")
class Float32Codec(RawCodec):
    """Raw float32 features: 4 bytes per value, exact."""

    codec_id = 1
    dtype = np.dtype(np.float32)


@register_codec("float16")
class Float16Codec(RawCodec):
    """Raw float16 features: 2 bytes per value (IEEE half precision, round to nearest).

    Raises ``ValueError`` for a feature beyond the float16 range (+-65504) instead of sending Inf.
    """

    codec_id = 2
    dtype = np.dtype(np.float16)

    def check_input(self, x: object) -> Tensor:
        x = super().check_input(x)
        peak = float(x.detach().abs().max())
        if peak > _FLOAT16_MAX:
            raise ValueError(
                f"a feature of magnitude {peak:.4g} overflows float16 (max {_FLOAT16_MAX}); use "
                "the 'float32' or 'int8' codec for these features"
            )
        return x

    def round_trip(self, x: Tensor) -> Tensor:
        return x.detach().to(torch.float16).to(torch.float32)
