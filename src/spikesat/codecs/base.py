"""The codec contract shared by every digital codec, and feature-input validation.

A codec is an ``nn.Module``:

- ``codec(x)`` returns ``{"x_hat": tensor like x, "likelihoods": {name: tensor}}`` (the
  likelihoods are empty for codecs without a learned entropy model);
- ``codec.compress(x)`` returns one :class:`~spikesat.codecs.bitstream.Bitstream` per example;
- ``codec.decompress(bitstreams)`` returns the tensor, or, with ``on_error="flag"``, a
  :class:`DecodeResult` that marks the examples whose bitstream was damaged.

Features are ViT tokens ``[B, N, D]`` (``D == in_channels``) or CNN maps ``[B, C, H, W]``
(``C == in_channels``). Each payload starts with the example's shape as varints (``2, N`` for
tokens, ``3, H, W`` for maps), so a bitstream decodes on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from spikesat.codecs.bitstream import DEFAULT_MTU_BYTES, MIN_MTU_BYTES, Bitstream, decode_varint
from spikesat.codecs.bitstream import encode_varint as _varint

OnError = Literal["raise", "flag"]


@dataclass
class DecodeResult:
    """A decoded batch that may be degraded.

    Attributes
    ----------
    x_hat : Tensor
        ``[B, ...]`` decoded features; rows of damaged examples are filled with ``fill_value``
        (zeros by default), never with a guess.
    erasure_mask : Tensor
        ``[B]`` bool, True where the example's bitstream was missing or corrupted.
    corrupted : bool
        True if any example is erased.
    reasons : dict
        Example position -> why it was erased.
    """

    x_hat: Tensor
    erasure_mask: Tensor
    corrupted: bool
    reasons: dict[int, str] = field(default_factory=dict)


def check_features(x: Any, in_channels: int, *, allow_tokens: bool = True) -> Tensor:
    """Validate a feature batch and return it.

    Parameters
    ----------
    x : Tensor
        ``[B, N, D]`` tokens (when ``allow_tokens``) or ``[B, C, H, W]`` maps, floating point,
        all finite.
    in_channels : int
        Expected ``D`` (tokens) or ``C`` (maps).

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    ValueError
        If the rank, channel count or batch size is wrong, or ``x`` holds NaN/Inf.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"features must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"features must be floating point, got dtype {x.dtype}; call x.float()")
    shapes = "tokens [B, N, D] or maps [B, C, H, W]" if allow_tokens else "images [B, C, H, W]"
    if x.dim() not in ((3, 4) if allow_tokens else (4,)):
        raise ValueError(f"expected {shapes}, got a tensor of shape {tuple(x.shape)}")
    channels = x.shape[-1] if x.dim() == 3 else x.shape[1]
    if channels != in_channels:
        where = "last dim D" if x.dim() == 3 else "dim 1 (C)"
        raise ValueError(
            f"this codec was built for in_channels={in_channels} but the input's {where} is "
            f"{channels} (shape {tuple(x.shape)}); create the codec with "
            f"in_channels={channels} or pass the matching split-point features"
        )
    if x.shape[0] == 0 or x.numel() == 0:
        raise ValueError(f"empty feature batch of shape {tuple(x.shape)}")
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        num_nan = int(torch.isnan(x).sum())
        num_inf = int(torch.isinf(x).sum())
        bad = torch.nonzero(~finite)[0].tolist()
        raise ValueError(
            f"features hold {num_nan} NaN and {num_inf} Inf values (first at index {bad}); "
            "a codec cannot encode them: check the on-board model and input normalisation"
        )
    return x


def to_maps(x: Tensor) -> Tensor:
    """Tokens ``[B, N, D]`` -> ``[B, D, N, 1]``; maps ``[B, C, H, W]`` unchanged."""
    return x.transpose(1, 2).unsqueeze(-1) if x.dim() == 3 else x


def from_maps(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Invert :func:`to_maps` for an example shape ``(N, D)`` or ``(C, H, W)``."""
    return x.squeeze(-1).transpose(1, 2) if len(shape) == 2 else x


def example_shape(x: Tensor) -> tuple[int, ...]:
    """The shape of one example: ``(N, D)`` or ``(C, H, W)``."""
    return tuple(int(s) for s in x.shape[1:])


class Codec(nn.Module):
    """Base class of the digital codecs (see the module docstring for the contract).

    Parameters
    ----------
    in_channels : int
        ``D`` of tokens or ``C`` of maps.
    mtu_bytes : int
        Largest packet on the wire [bytes], header and CRC included.

    Subclasses set ``codec_id`` and implement :meth:`forward`, :meth:`encode_payloads` and
    :meth:`decode_payloads`.
    """

    codec_id: ClassVar[int] = 0
    name: ClassVar[str] = ""
    accepts_tokens: ClassVar[bool] = True

    def __init__(self, in_channels: int, *, mtu_bytes: int = DEFAULT_MTU_BYTES) -> None:
        super().__init__()
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
        if isinstance(mtu_bytes, bool) or not isinstance(mtu_bytes, int):
            raise TypeError(f"mtu_bytes must be an int, got {type(mtu_bytes).__name__}")
        if mtu_bytes < MIN_MTU_BYTES:
            raise ValueError(f"mtu_bytes must be >= {MIN_MTU_BYTES}, got {mtu_bytes}")
        self.in_channels = in_channels
        self.mtu_bytes = mtu_bytes
        self.config: dict[str, Any] = {"mtu_bytes": mtu_bytes}

    # -- subclass hooks ---------------------------------------------------------------------
    def encode_payloads(self, x: Tensor) -> list[bytes]:
        """Encode a validated batch ``[B, ...]`` to one payload per example (no shape prefix)."""
        raise NotImplementedError

    def decode_payloads(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        """Decode payloads of examples of shape ``shape`` to ``[len(payloads), *shape]``."""
        raise NotImplementedError

    # -- the contract -----------------------------------------------------------------------
    def check_input(self, x: Any) -> Tensor:
        """Validate ``x`` for this codec (see :func:`check_features`)."""
        return check_features(x, self.in_channels, allow_tokens=self.accepts_tokens)

    @torch.no_grad()
    def compress(self, x: Tensor, first_example_id: int = 0) -> list[Bitstream]:
        """Compress a batch to one bitstream per example.

        Parameters
        ----------
        x : Tensor
            ``[B, N, D]`` or ``[B, C, H, W]`` features.
        first_example_id : int
            Example id written into the packets of ``x[0]``; ``x[i]`` gets
            ``first_example_id + i``.

        Returns
        -------
        list of Bitstream
            ``B`` bitstreams, each a list of packets of at most ``mtu_bytes`` bytes.
        """
        x = self.check_input(x)
        if first_example_id < 0:
            raise ValueError(f"first_example_id must be >= 0, got {first_example_id}")
        shape = example_shape(x)
        prefix = self._shape_prefix(shape)
        return [
            Bitstream.from_payload(
                prefix + body,
                codec_id=self.codec_id,
                example_id=first_example_id + i,
                mtu_bytes=self.mtu_bytes,
            )
            for i, body in enumerate(self.encode_payloads(x))
        ]

    @torch.no_grad()
    def decompress(
        self,
        bitstreams: Sequence[Bitstream],
        on_error: OnError = "raise",
        shape: Sequence[int] | None = None,
        fill_value: float = 0.0,
    ) -> Tensor | DecodeResult:
        """Verify and decode bitstreams to a feature batch.

        Parameters
        ----------
        bitstreams : sequence of Bitstream
            One per example, in the order of the output rows.
        on_error : {"raise", "flag"}
            "raise" (default): any damaged bitstream raises ``ValueError``. "flag": return a
            :class:`DecodeResult` whose ``erasure_mask`` marks damaged examples.
        shape : sequence of int, optional
            The example shape to use when every bitstream is damaged (``on_error="flag"``).
        fill_value : float
            Value written into erased rows.

        Returns
        -------
        Tensor or DecodeResult
            ``[B, ...]`` features (``on_error="raise"``) or a :class:`DecodeResult`.

        Raises
        ------
        ValueError
            On a damaged bitstream (``on_error="raise"``), an unknown ``on_error``, or mixed
            example shapes.
        """
        if on_error not in ("raise", "flag"):
            raise ValueError(f"on_error must be 'raise' or 'flag', got {on_error!r}")
        if isinstance(bitstreams, Bitstream):
            bitstreams = [bitstreams]
        if not bitstreams:
            raise ValueError("no bitstreams to decompress")
        decoded: dict[int, tuple[tuple[int, ...], bytes]] = {}
        reasons: dict[int, str] = {}
        for pos, stream in enumerate(bitstreams):
            if not isinstance(stream, Bitstream):
                raise TypeError(f"bitstreams[{pos}] is a {type(stream).__name__}, not a Bitstream")
            try:
                decoded[pos] = self._split_shape(stream.payload(self.codec_id))
            except ValueError as err:
                if on_error == "raise":
                    raise ValueError(f"bitstreams[{pos}]: {err}") from None
                reasons[pos] = str(err)
        shapes = {s for s, _ in decoded.values()}
        if len(shapes) > 1:
            raise ValueError(
                f"bitstreams hold examples of different shapes {sorted(shapes)}; decompress "
                "each shape separately"
            )
        if shapes:
            out_shape = shapes.pop()
        elif shape is not None:
            out_shape = tuple(int(s) for s in shape)
        else:
            raise ValueError(
                f"every one of the {len(bitstreams)} bitstreams is damaged ({reasons[0]}); pass "
                "shape=(N, D) or (C, H, W) to get an all-erased result"
            )
        order = sorted(decoded)
        rows: Tensor | None = None
        if order:
            try:
                rows = self.decode_payloads([decoded[p][1] for p in order], out_shape)
            except ValueError as err:
                raise ValueError(f"intact packets but an undecodable payload: {err}") from None
        device, dtype = self._output_device_dtype()
        x_hat = torch.full((len(bitstreams), *out_shape), fill_value, device=device, dtype=dtype)
        if rows is not None:
            x_hat[order] = rows.to(device=device, dtype=dtype)
        if on_error == "raise":
            return x_hat
        mask = torch.zeros(len(bitstreams), dtype=torch.bool, device=device)
        mask[sorted(reasons)] = True
        return DecodeResult(x_hat, mask, bool(reasons), reasons)

    # -- helpers ----------------------------------------------------------------------------
    def _output_device_dtype(self) -> tuple[torch.device, torch.dtype]:
        param = next(iter(self.parameters()), None)
        if param is None:
            return torch.device("cpu"), torch.float32
        return param.device, torch.float32

    def _shape_prefix(self, shape: tuple[int, ...]) -> bytes:
        dims = (shape[0],) if len(shape) == 2 else shape[1:]
        return _varint(len(shape)) + b"".join(_varint(d) for d in dims)

    def _split_shape(self, payload: bytes) -> tuple[tuple[int, ...], bytes]:
        ndim, pos = decode_varint(payload, 0)
        if ndim not in (2, 3):
            raise ValueError(f"payload declares a feature rank of {ndim}; expected 2 or 3")
        dims = []
        for _ in range(ndim - 1):
            value, pos = decode_varint(payload, pos)
            dims.append(value)
        shape = (dims[0], self.in_channels) if ndim == 2 else (self.in_channels, *dims)
        if 0 in shape:
            raise ValueError(f"payload declares an empty feature shape {shape}")
        return shape, payload[pos:]

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, " + ", ".join(
            f"{k}={v!r}" for k, v in self.config.items()
        )
