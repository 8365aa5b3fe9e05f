"""The "spikes" codec: lossless coding of the binary spike trains of an on-board spiking network.

Input and output are spike tensors ``[T, B, *feature]`` of exact 0/1 values over ``T`` time
steps for ``B`` examples, where ``feature`` is ``(C,)``, tokens ``(N, D)`` (``D ==
in_channels``) or maps ``(C, H, W)`` (``C == in_channels``). Each example (its whole spike
train ``[T, *feature]``) becomes one bitstream, like the examples of the other codecs, and
``decompress(compress(x))`` equals ``x`` exactly (float32).

Payload of one example, after the shape prefix (varints: the feature rank 1, 2 or 3, then
``T``, then ``N`` for tokens or ``H, W`` for maps)::

    mode     1 byte    0 "maps", 1 "maps-zlib", 2 "maps-lzma", 3 "events-zlib"
    data     the rest

The ``n = T * prod(feature)`` neuron-steps are flattened time-major (index ``t * prod(feature)
+ j``). "maps" modes send them as ``numpy.packbits`` bits (big bit order, zero padding to a
whole byte), stored as is, or compressed with zlib (level 9) or raw LZMA2 (the "int8" codec's
filter); "events-zlib" sends the sorted indices of the ones as gaps ``i_k - i_{k-1} - 1``
(``i_{-1} = -1``) in unsigned LEB128 varints, compressed with zlib (level 9): small at low
spike rates. The encoder writes, per example, whichever mode is smallest (ties: the lowest
mode id), so no example costs more than ``ceil(n / 8) + 1`` payload bytes after the prefix.

zlib and LZMA are general-purpose lossless coders, not an arithmetic coder with a model of spike
statistics; the rates they reach are an upper bound on what an entropy coder would.
"""

from __future__ import annotations

import dataclasses
import lzma
import math
import operator
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikesat.codecs.base import Codec, DecodeResult, OnError
from spikesat.codecs.bitstream import Bitstream, decode_varint, encode_varint
from spikesat.codecs.int8 import LZMA_FILTERS
from spikesat.codecs.registry import register_codec

MODES: tuple[str, ...] = ("maps", "maps-zlib", "maps-lzma", "events-zlib")
"""The payload modes, indexed by the mode byte."""

_MAPS, _MAPS_ZLIB, _MAPS_LZMA, _EVENTS_ZLIB = range(len(MODES))
_MAP_COMPRESSORS = {_MAPS_ZLIB: "zlib", _MAPS_LZMA: "lzma"}
_MAX_VARINT_BYTES = 5  # gaps < 2**35, far above any example size
_LAYOUTS = "[T, B, C], tokens [T, B, N, D] or maps [T, B, C, H, W]"


@dataclass(frozen=True)
class SpikeRate:
    """What a spike batch costs on the wire.

    Attributes
    ----------
    num_bytes : int
        Wire bytes of every bitstream, packet headers, digests and CRCs included.
    num_spikes : int
        Ones in the spike tensor.
    num_neuron_steps : int
        Values in the spike tensor, ``T * B * prod(feature)``.
    bits_per_spike : float
        ``8 * num_bytes / num_spikes`` [bit/spike]; ``inf`` when there is no spike.
    bits_per_neuron_step : float
        ``8 * num_bytes / num_neuron_steps`` [bit/neuron-step]; 1.0 is the cost of raw bits.
    """

    num_bytes: int
    num_spikes: int
    num_neuron_steps: int
    bits_per_spike: float
    bits_per_neuron_step: float


def check_spikes(x: Any, in_channels: int) -> Tensor:
    """Validate a spike tensor and return it.

    Parameters
    ----------
    x : Tensor
        ``[T, B, C]``, ``[T, B, N, D]`` or ``[T, B, C, H, W]`` floating point, every value
        exactly 0 or 1.
    in_channels : int
        Expected ``C`` (dim 2 of ``[T, B, C]`` and of maps) or ``D`` (last dim of tokens).

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    ValueError
        If the rank or channel count is wrong, ``T`` or ``B`` is 0, or a value is NaN/Inf or
        not exactly 0 or 1.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"spikes must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"spikes must be floating point, got dtype {x.dtype}; call x.float()")
    if x.dim() not in (3, 4, 5):
        raise ValueError(
            f"expected spikes {_LAYOUTS} (time steps on dim 0, examples on dim 1), got a "
            f"tensor of shape {tuple(x.shape)}; stack the per-step outputs with "
            "torch.stack(steps) and add a batch dim if there is one example"
        )
    if x.shape[0] < 1:
        raise ValueError(f"spikes of shape {tuple(x.shape)} hold T = 0 time steps; T must be >= 1")
    if x.shape[1] < 1 or x.numel() == 0:
        raise ValueError(f"empty spike batch of shape {tuple(x.shape)}")
    channels = x.shape[-1] if x.dim() == 4 else x.shape[2]
    if channels != in_channels:
        where = "last dim D" if x.dim() == 4 else "dim 2 (C)"
        raise ValueError(
            f"this codec was built for in_channels={in_channels} but the spikes' {where} is "
            f"{channels} (shape {tuple(x.shape)}); create the codec with "
            f"in_channels={channels} or pass the layer it was built for"
        )
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        num_nan = int(torch.isnan(x).sum())
        num_inf = int(torch.isinf(x).sum())
        bad = torch.nonzero(~finite)[0].tolist()
        raise ValueError(
            f"spikes hold {num_nan} NaN and {num_inf} Inf values (first at index {bad}); "
            "a spike is exactly 0 or 1: check the spiking layer's output"
        )
    binary = (x == 0) | (x == 1)
    if not bool(binary.all()):
        bad = torch.nonzero(~binary)[0].tolist()
        raise ValueError(
            f"spikes must be exactly 0 or 1, but {int((~binary).sum())} values are not (first "
            f"{float(x[tuple(bad)]):.6g} at index {bad}); this lossless codec takes the binary "
            "output of a spiking layer, not membrane potentials or rates (use the 'int8' or "
            "'float16' codec for those)"
        )
    return x


@register_codec("spikes")
class SpikeCodec(Codec):
    """Lossless codec of binary spike trains ``[T, B, *feature]`` (see the module docstring).

    Parameters
    ----------
    in_channels : int
        ``C`` of ``[T, B, C]`` and of maps ``[T, B, C, H, W]``, ``D`` of tokens
        ``[T, B, N, D]``.
    mtu_bytes : int
        Largest packet [bytes].

    Notes
    -----
    An example's shape here is its spike train ``(T, *feature)``: that is the ``shape`` that
    :meth:`decompress` takes, and the shape that the bitstreams declare.
    """

    codec_id = 40
    input_kind = "spikes"  # codec_kind: takes spike trains, not the features of the others

    def check_input(self, x: Any) -> Tensor:
        """Validate spikes ``[T, B, *feature]`` (see :func:`check_spikes`).

        Returns
        -------
        Tensor
            ``[B, T, *feature]``: one example's spike train per row, the layout in which
            :meth:`compress` packs examples.
        """
        return check_spikes(x, self.in_channels).movedim(1, 0)

    def forward(self, x: Tensor) -> dict[str, object]:
        """Return ``{"x_hat": x as float32, "likelihoods": {}}``: the codec is lossless."""
        return {
            "x_hat": check_spikes(x, self.in_channels).detach().to(torch.float32),
            "likelihoods": {},
        }

    @torch.no_grad()
    def decompress(
        self,
        bitstreams: Sequence[Bitstream],
        on_error: OnError = "raise",
        shape: Sequence[int] | None = None,
        fill_value: float = 0.0,
        first_example_id: int = 0,
        stream_id: int | None = None,
    ) -> Tensor | DecodeResult:
        """Verify and decode bitstreams to spikes ``[T, B, *feature]``.

        Every check and option is that of :meth:`Codec.decompress`, with ``shape`` the
        example's spike-train shape ``(T, *feature)``, e.g. ``(4, 64, 8, 8)``. With
        ``on_error="flag"`` the :class:`DecodeResult`'s ``x_hat`` is ``[T, B, *feature]``
        (damaged examples, ``x_hat[:, b]``, filled with ``fill_value``) and its
        ``erasure_mask`` is ``[B]``.
        """
        out = super().decompress(
            bitstreams, on_error, shape, fill_value, first_example_id, stream_id
        )
        if isinstance(out, DecodeResult):
            return dataclasses.replace(out, x_hat=out.x_hat.movedim(0, 1).contiguous())
        return out.movedim(0, 1).contiguous()

    def encode_payloads(self, x: Tensor) -> list[bytes]:
        bits = x.detach().to("cpu").flatten(1).numpy().astype(np.uint8)
        return [_encode_example(row) for row in bits]

    def decode_payloads(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        size = math.prod(shape)
        rows = [_decode_example(body, size) for body in payloads]
        return torch.from_numpy(np.stack(rows).astype(np.float32)).reshape(len(rows), *shape)

    def mode_of(self, bitstream: Bitstream) -> str:
        """The payload mode (one of :data:`MODES`) the encoder chose for one example.

        Raises
        ------
        ValueError
            If the bitstream is damaged or not of this codec (see :meth:`Bitstream.payload`),
            or its mode byte is unknown.
        """
        _, body = self._split_shape(bitstream.payload(self.codec_id, self.identity()))
        if not body or body[0] >= len(MODES):
            raise ValueError(f"unknown spikes payload mode {body[:1]!r}; known: {MODES}")
        return MODES[body[0]]

    @staticmethod
    def rate(bitstreams: Sequence[Bitstream], x: Tensor) -> SpikeRate:
        """The wire cost of ``bitstreams`` (the output of :meth:`compress` on spikes ``x``).

        Parameters
        ----------
        bitstreams : sequence of Bitstream
            One per example.
        x : Tensor
            ``[T, B, *feature]`` the spikes they code.
        """
        num_bytes = sum(s.num_bytes for s in bitstreams)
        num_spikes = int(torch.count_nonzero(x))
        return SpikeRate(
            num_bytes=num_bytes,
            num_spikes=num_spikes,
            num_neuron_steps=x.numel(),
            bits_per_spike=8 * num_bytes / num_spikes if num_spikes else math.inf,
            bits_per_neuron_step=8 * num_bytes / x.numel(),
        )

    # -- the spike-train shape on the wire: (T, *feature) ---------------------------------------
    def _shape_prefix(self, shape: tuple[int, ...]) -> bytes:
        steps, feature = shape[0], shape[1:]
        dims = {1: (), 2: feature[:1], 3: feature[1:]}[len(feature)]
        return b"".join(encode_varint(d) for d in (len(feature), steps, *dims))

    def _split_shape(self, payload: bytes) -> tuple[tuple[int, ...], bytes]:
        rank, pos = decode_varint(payload, 0)
        if rank not in (1, 2, 3):
            raise ValueError(f"payload declares a feature rank of {rank}; expected 1, 2 or 3")
        dims = []
        for _ in range(rank):  # T, then N (tokens) or H, W (maps)
            value, pos = decode_varint(payload, pos)
            dims.append(value)
        steps, rest = dims[0], dims[1:]
        feature = (rest[0], self.in_channels) if rank == 2 else (self.in_channels, *rest)
        shape = (steps, *feature)
        try:
            self._check_shape_bounds(shape)
        except ValueError as err:
            raise ValueError(f"payload declares {err}") from None
        return shape, payload[pos:]

    def _check_shape_arg(self, shape: Sequence[int]) -> tuple[int, ...]:
        try:
            out = tuple(operator.index(s) for s in shape)
        except TypeError:
            raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
        feature = out[1:]
        channels_ok = (len(feature) == 2 and feature[1] == self.in_channels) or (
            len(feature) in (1, 3) and feature[0] == self.in_channels
        )
        if not channels_ok:
            raise ValueError(
                "shape must be a spike train (T, C), (T, N, D) or (T, C, H, W) with "
                f"{self.in_channels} channels, got {out}"
            )
        self._check_shape_bounds(out)
        return out


def _encode_example(bits: np.ndarray) -> bytes:
    """The smallest payload body (mode byte + data) of one example's flat 0/1 ``uint8 [n]``."""
    packed = np.packbits(bits).tobytes()
    gaps = np.diff(np.flatnonzero(bits), prepend=-1) - 1
    candidates = {
        _MAPS: packed,
        _MAPS_ZLIB: zlib.compress(packed, 9),
        _MAPS_LZMA: lzma.compress(packed, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS),
        _EVENTS_ZLIB: zlib.compress(_encode_varints(gaps), 9),
    }
    mode = min(candidates, key=lambda m: len(candidates[m]))
    return bytes([mode]) + candidates[mode]


def _decode_example(body: bytes, size: int) -> np.ndarray:
    """One example's flat 0/1 ``uint8 [size]`` from its payload body.

    Raises
    ------
    ValueError
        On an unknown mode, a corrupt or truncated compressed stream, a map of the wrong size
        or with set padding bits, or an event index out of range.
    """
    if not body:
        raise ValueError("empty spikes payload: no mode byte")
    mode, data = body[0], body[1:]
    if mode >= len(MODES):
        raise ValueError(f"unknown spikes payload mode {mode}; known: {dict(enumerate(MODES))}")
    map_bytes = (size + 7) // 8
    if mode == _EVENTS_ZLIB:
        limit = size * len(encode_varint(size))
        gaps = _decode_varints(_inflate(data, limit, "zlib"))
        if gaps.size > size:
            raise ValueError(f"event list holds {gaps.size} events for {size} neuron-steps")
        indices = np.cumsum(gaps + 1) - 1
        if indices.size and indices[-1] >= size:
            raise ValueError(f"event index {int(indices[-1])} out of range for {size} neuron-steps")
        bits = np.zeros(size, dtype=np.uint8)
        bits[indices] = 1
        return bits
    packed = data if mode == _MAPS else _inflate(data, map_bytes, _MAP_COMPRESSORS[mode])
    if len(packed) != map_bytes:
        raise ValueError(
            f"spike map holds {len(packed)} bytes, expected {map_bytes} for {size} neuron-steps"
        )
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8))
    if bits[size:].any():
        raise ValueError("spike map has set padding bits after its last neuron-step")
    return bits[:size]


def _inflate(data: bytes, limit: int, compressor: str) -> bytes:
    """Decompress a whole zlib or raw-LZMA2 stream of at most ``limit`` bytes.

    Raises
    ------
    ValueError
        If the stream is corrupt, truncated, followed by extra bytes, or longer than ``limit``
        (checked while decompressing, so a small payload never expands without bound).
    """
    inflater = (
        zlib.decompressobj()
        if compressor == "zlib"
        else lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)
    )
    try:
        out = inflater.decompress(data, limit + 1)
    except (zlib.error, lzma.LZMAError) as err:
        raise ValueError(f"corrupt {compressor} stream: {err}") from None
    if len(out) > limit:
        raise ValueError(f"{compressor} stream expands to more than {limit} bytes")
    if not inflater.eof:
        raise ValueError(f"truncated {compressor} stream")
    if inflater.unused_data:
        raise ValueError(f"{len(inflater.unused_data)} bytes after the {compressor} stream")
    return out


def _encode_varints(values: np.ndarray) -> bytes:
    """Unsigned LEB128 of every value of ``values`` (``int [k]``, each below 2**35)."""
    values = values.astype(np.uint64)
    lengths = np.ones(values.shape, dtype=np.int64)
    for k in range(1, _MAX_VARINT_BYTES):
        lengths += values >= np.uint64(1 << (7 * k))
    position = np.arange(_MAX_VARINT_BYTES)
    groups = (values[:, None] >> (np.uint64(7) * position.astype(np.uint64))) & np.uint64(0x7F)
    groups |= np.where(position < lengths[:, None] - 1, np.uint64(0x80), np.uint64(0))
    return groups[position < lengths[:, None]].astype(np.uint8).tobytes()


def _decode_varints(data: bytes) -> np.ndarray:
    """Invert :func:`_encode_varints`: ``int64 [k]``.

    Raises
    ------
    ValueError
        If the bytes end inside a varint or a varint is longer than 5 bytes.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    last = (raw & 0x80) == 0
    if not last[-1]:
        raise ValueError("event list ends inside a varint (truncated)")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if int(lengths.max()) > _MAX_VARINT_BYTES:
        raise ValueError(f"event list holds a varint longer than {_MAX_VARINT_BYTES} bytes")
    shift = 7 * (np.arange(raw.size) - np.repeat(starts, lengths))
    return np.add.reduceat((raw & 0x7F).astype(np.int64) << shift, starts)
