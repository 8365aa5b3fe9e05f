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

import hashlib
import json
import math
import operator
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from spikesat.codecs.bitstream import (
    DEFAULT_MTU_BYTES,
    MAX_STREAM_ID,
    MIN_MTU_BYTES,
    Bitstream,
    decode_varint,
)
from spikesat.codecs.bitstream import encode_varint as _varint

OnError = Literal["raise", "flag"]

MAX_EXAMPLE_VALUES = 1 << 24
"""Default bound on the values of one example (16.8 M: 64 MiB of float32), checked before any
decoding allocates; a codec class may set its own ``max_example_values``."""

MAX_AXIS_LENGTH = 1 << 16
"""Longest axis (N, H or W) of one example."""

IDENTITY_BYTES = 16
"""Size of a codec's identity (:meth:`Codec.identity`) [bytes]."""

_IDENTITY_IGNORES = frozenset({"mtu_bytes", "auto_update_tables", "init_scale"})


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
    :meth:`decode_payloads`. Analog codecs, which produce no bytes, set
    ``produces_bytes = False``.
    """

    codec_id: ClassVar[int] = 0
    name: ClassVar[str] = ""
    accepts_tokens: ClassVar[bool] = True
    produces_bytes: ClassVar[bool] = True
    max_example_values: ClassVar[int] = MAX_EXAMPLE_VALUES
    """Most values in one example; a payload declaring more is refused before decoding."""

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
        self.seed_stream_ids(None)

    # -- subclass hooks ---------------------------------------------------------------------
    def encode_payloads(self, x: Tensor) -> list[bytes]:
        """Encode a validated batch ``[B, ...]`` to one payload per example (no shape prefix)."""
        raise NotImplementedError

    def decode_payloads(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        """Decode payloads of examples of shape ``shape`` to ``[len(payloads), *shape]``.

        Any exception is reported as a ``ValueError`` naming the example (see
        :meth:`decompress`); the output's shape and finiteness are checked there too.
        """
        raise NotImplementedError

    def identity_extra(self) -> bytes:
        """Bytes that, with the name and configuration, identify what this codec decodes."""
        return b""

    # -- stream identity --------------------------------------------------------------------
    def seed_stream_ids(self, seed: int | None) -> None:
        """Seed the generator of stream ids (None, the default: operating-system entropy).

        Each :meth:`compress` call draws one stream id: by default from ``secrets`` (so copies
        of a codec never repeat each other's ids), once seeded from this codec's own
        ``numpy.random.Generator``, so that a seeded codec writes the same bytes for the same
        input. Torch's global generator is never used.
        """
        self._stream_rng = None if seed is None else np.random.default_rng(seed)

    def identity(self) -> bytes:
        """The 16-byte identity that keys every example digest this codec writes and reads.

        A SHA-256 of the codec's name, wire id, ``in_channels`` and configuration (without the
        options that do not change the decoded values: ``mtu_bytes``, ``auto_update_tables``,
        ``init_scale``) and of :meth:`identity_extra` (the learned codecs' entropy-table
        fingerprint). A stream made by a codec of another configuration fails the digest.
        """
        config = {k: v for k, v in self.config.items() if k not in _IDENTITY_IGNORES}
        text = json.dumps(
            {
                "codec": self.name,
                "codec_id": self.codec_id,
                "in_channels": self.in_channels,
                "config": config,
            },
            sort_keys=True,
            default=repr,
        )
        return hashlib.sha256(text.encode() + self.identity_extra()).digest()[:IDENTITY_BYTES]

    # -- the contract -----------------------------------------------------------------------
    def check_input(self, x: Any) -> Tensor:
        """Validate ``x`` for this codec (see :func:`check_features`)."""
        return check_features(x, self.in_channels, allow_tokens=self.accepts_tokens)

    @torch.no_grad()
    def compress(
        self, x: Tensor, first_example_id: int = 0, *, stream_id: int | None = None
    ) -> list[Bitstream]:
        """Compress a batch to one bitstream per example.

        Parameters
        ----------
        x : Tensor
            ``[B, N, D]`` or ``[B, C, H, W]`` features.
        first_example_id : int
            Example id written into the packets of ``x[0]``; ``x[i]`` gets
            ``first_example_id + i``. Pass the same value to :meth:`decompress`.
        stream_id : int, optional
            The stream id written into every packet (0 .. 2**32 - 1); default: drawn from this
            codec's generator (see :meth:`seed_stream_ids`).

        Returns
        -------
        list of Bitstream
            ``B`` bitstreams, each a list of packets of at most ``mtu_bytes`` bytes.
        """
        x = self.check_input(x)
        first_example_id = _check_first_example_id(first_example_id)
        shape = example_shape(x)
        self._check_shape_bounds(shape)
        if stream_id is None:
            rng = self._stream_rng
            stream_id = (
                secrets.randbits(MAX_STREAM_ID.bit_length())
                if rng is None
                else int(rng.integers(0, MAX_STREAM_ID + 1))
            )
        elif isinstance(stream_id, bool) or not isinstance(stream_id, int):
            raise TypeError(f"stream_id must be an int, got {type(stream_id).__name__}")
        elif not 0 <= stream_id <= MAX_STREAM_ID:
            raise ValueError(f"stream_id must be in 0..{MAX_STREAM_ID}, got {stream_id}")
        prefix = self._shape_prefix(shape)
        key = self.identity()
        return [
            Bitstream.from_payload(
                prefix + body,
                codec_id=self.codec_id,
                example_id=first_example_id + i,
                stream_id=stream_id,
                key=key,
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
        first_example_id: int = 0,
        stream_id: int | None = None,
    ) -> Tensor | DecodeResult:
        """Verify and decode bitstreams to a feature batch.

        A batch must be one :meth:`compress` call's output, in order: ``bitstreams[i]`` must
        hold example ``first_example_id + i`` of one stream, made by a codec of this
        configuration. Anything else (packets of another stream, swapped, duplicated or
        foreign examples, a damaged or undecodable payload, a decoded example of the wrong
        shape or with NaN/Inf) is damage.

        Parameters
        ----------
        bitstreams : sequence of Bitstream
            One per example, in the order of the output rows.
        on_error : {"raise", "flag"}
            "raise" (default): any damaged example raises ``ValueError`` naming it. "flag":
            return a :class:`DecodeResult` whose ``erasure_mask`` marks exactly the damaged
            examples (the others decode as usual); it never fails the batch for damage.
        shape : sequence of int, optional
            The expected example shape ``(N, D)`` or ``(C, H, W)``: examples declaring
            another are damaged. Without it the shape most examples declare is used (with a
            tie, every example is damaged). Needed with ``on_error="flag"`` to return a
            result when every example is damaged.
        fill_value : float
            Value written into the rows of damaged examples.
        first_example_id : int
            The example id of ``bitstreams[0]`` (as passed to :meth:`compress`).
        stream_id : int, optional
            The stream the batch must be (when the receiver knows it). Without it, the stream
            most intact examples carry is the batch's, and examples of other streams are
            damaged; when no stream has a majority, every intact example is. (An example moved
            whole from another stream into its own slot is, without ``stream_id``,
            indistinguishable from that stream's example and decodes as such when its stream
            has the majority.)

        Returns
        -------
        Tensor or DecodeResult
            ``[B, ...]`` features (``on_error="raise"``) or a :class:`DecodeResult`.

        Raises
        ------
        ValueError
            On a damaged example (``on_error="raise"``), naming its position; on a bad option;
            or when every example is damaged and ``shape`` is not given.
        TypeError
            If an item of ``bitstreams`` is not a :class:`Bitstream`.
        """
        if on_error not in ("raise", "flag"):
            raise ValueError(f"on_error must be 'raise' or 'flag', got {on_error!r}")
        if isinstance(bitstreams, Bitstream):
            bitstreams = [bitstreams]
        bitstreams = list(bitstreams)
        if not bitstreams:
            raise ValueError("no bitstreams to decompress")
        for pos, stream in enumerate(bitstreams):
            if not isinstance(stream, Bitstream):
                raise TypeError(f"bitstreams[{pos}] is a {type(stream).__name__}, not a Bitstream")
        first_example_id = _check_first_example_id(first_example_id)
        expected_shape = None if shape is None else self._check_shape_arg(shape)
        reasons: dict[int, str] = {}
        labels = [
            f"bitstreams[{p}] (example {first_example_id + p})" for p in range(len(bitstreams))
        ]
        if stream_id is not None and (
            isinstance(stream_id, bool)
            or not isinstance(stream_id, int)
            or not 0 <= stream_id <= MAX_STREAM_ID
        ):
            raise ValueError(f"stream_id must be an int in 0..{MAX_STREAM_ID}, got {stream_id!r}")
        found = self._read_examples(
            bitstreams, first_example_id, stream_id, expected_shape, reasons, labels
        )
        if on_error == "raise" and reasons:
            raise _first_error(reasons)
        if expected_shape is not None:
            out_shape = expected_shape
        elif found:
            out_shape = next(iter(found.values()))[1]
        else:
            raise ValueError(
                f"every one of the {len(bitstreams)} bitstreams is damaged ({reasons[0]}); pass "
                "shape=(N, D) or (C, H, W) to get an all-erased result"
            )
        rows = self._decode_examples(found, out_shape, reasons, labels)
        if on_error == "raise" and reasons:
            raise _first_error(reasons)
        device, dtype = self._output_device_dtype()
        x_hat = torch.full((len(bitstreams), *out_shape), fill_value, device=device, dtype=dtype)
        for pos, row in rows.items():
            x_hat[pos] = row.to(device=device, dtype=dtype)
        if on_error == "raise":
            return x_hat
        mask = torch.zeros(len(bitstreams), dtype=torch.bool, device=device)
        mask[sorted(reasons)] = True
        return DecodeResult(x_hat, mask, bool(reasons), dict(sorted(reasons.items())))

    # -- decoding steps ---------------------------------------------------------------------
    def _read_examples(
        self,
        bitstreams: list[Bitstream],
        first_example_id: int,
        stream_id: int | None,
        expected_shape: tuple[int, ...] | None,
        reasons: dict[int, str],
        labels: list[str],
    ) -> dict[int, tuple[int, tuple[int, ...], bytes]]:
        """Verify each bitstream and its place in the batch; ``pos -> (stream, shape, body)``.

        Records why each damaged example is damaged in ``reasons``: one that does not hold
        example ``first_example_id + pos``, or (see :meth:`_check_batch_agrees`) one of
        another stream or shape than the batch's.
        """
        key = self.identity()
        found: dict[int, tuple[int, tuple[int, ...], bytes]] = {}
        for pos, stream in enumerate(bitstreams):
            try:
                check = stream.check(self.codec_id, key)
                if not check.ok:
                    raise ValueError(f"damaged bitstream: {check.reason}")
                payload = stream.reassemble()
                packet = next(p for p in stream.packets if p.crc_ok)
                expected_id = first_example_id + pos
                if packet.example_id != expected_id:
                    raise ValueError(
                        f"it holds example {packet.example_id} of its stream where example "
                        f"{expected_id} belongs: a batch must be one compress call's output in "
                        "order (examples swapped, duplicated, or of another batch; pass "
                        "first_example_id= if the batch does not start at example 0)"
                    )
                example_shape_, body = self._split_shape(payload)
                if expected_shape is not None and example_shape_ != expected_shape:
                    raise ValueError(
                        f"it declares example shape {example_shape_}, expected {expected_shape}"
                    )
                found[pos] = (packet.stream_id, example_shape_, body)
            except ValueError as err:
                reasons[pos] = f"{labels[pos]}: {err}"
        self._check_batch_agrees(found, stream_id, expected_shape, reasons, labels)
        return found

    @staticmethod
    def _check_batch_agrees(
        found: dict[int, tuple[int, tuple[int, ...], bytes]],
        stream_id: int | None,
        expected_shape: tuple[int, ...] | None,
        reasons: dict[int, str],
        labels: list[str],
    ) -> None:
        """Keep in ``found`` only the examples of the batch's stream and shape.

        The batch's stream is ``stream_id`` when given, else the one a plurality of the intact
        examples carry; with a tie no stream is trusted and every intact example is damaged
        (the decoder cannot tell which stream the batch is). The shape likewise.
        """
        if not found:
            return
        streams = [sid for sid, _, _ in found.values()]
        batch_stream = stream_id if stream_id is not None else _plurality(streams)
        for pos, (sid, _, _) in list(found.items()):
            if sid == batch_stream:
                continue
            if stream_id is not None:
                why = f"not the expected stream {stream_id:08x}"
            elif batch_stream is None:
                why = (
                    f"and the batch's intact examples belong to {len(set(streams))} streams, "
                    "none of them in the majority"
                )
            else:
                why = f"but most of the batch's examples to stream {batch_stream:08x}"
            reasons[pos] = (
                f"{labels[pos]}: it belongs to stream {sid:08x}, {why}: bitstreams of different "
                "compress calls are mixed"
            )
            del found[pos]
        if expected_shape is not None or not found:
            return
        shapes = [shp for _, shp, _ in found.values()]
        batch_shape = _plurality(shapes)
        for pos, (_, shp, _) in list(found.items()):
            if shp != batch_shape:
                others = "no shape in the majority" if batch_shape is None else batch_shape
                reasons[pos] = (
                    f"{labels[pos]}: it declares example shape {shp}, the batch's examples {others}"
                )
                del found[pos]

    def _decode_examples(
        self,
        found: dict[int, tuple[int, tuple[int, ...], bytes]],
        shape: tuple[int, ...],
        reasons: dict[int, str],
        labels: list[str],
    ) -> dict[int, Tensor]:
        """Decode the intact examples; ``pos -> row``. Failures go to ``reasons``.

        The batch is decoded at once; if that fails, one example at a time, so that any
        exception (a ``ValueError``, or whatever a third-party decoder raises) is reported
        against the example that caused it. Every row must have ``shape`` and be finite.
        """
        order = sorted(found)
        if not order:
            return {}
        bodies = [found[p][2] for p in order]
        try:
            batch = self.decode_payloads(bodies, shape)
        except Exception:  # attributed to an example below
            batch = None
        if batch is None or tuple(batch.shape) != (len(order), *shape):
            rows: dict[int, Tensor] = {}
            for pos, body in zip(order, bodies, strict=True):
                try:
                    row = self.decode_payloads([body], shape)
                    if tuple(row.shape) != (1, *shape):
                        raise ValueError(
                            f"it decodes to shape {tuple(row.shape)[1:]}, not the declared {shape}"
                        )
                    rows[pos] = row[0]
                except Exception as err:  # every decoder failure is damage
                    reasons[pos] = (
                        f"{labels[pos]}: intact packets but an undecodable "
                        f"payload ({type(err).__name__}: {err})"
                    )
        else:
            rows = dict(zip(order, batch, strict=True))
        for pos, row in list(rows.items()):
            row = row.to(torch.float32)
            if not bool(torch.isfinite(row).all()):
                reasons[pos] = (
                    f"{labels[pos]}: intact packets but the payload decodes "
                    f"to {int((~torch.isfinite(row)).sum())} NaN/Inf values"
                )
                del rows[pos]
            else:
                rows[pos] = row
        return rows

    # -- helpers ----------------------------------------------------------------------------
    def _output_device_dtype(self) -> tuple[torch.device, torch.dtype]:
        param = next(iter(self.parameters()), None)
        if param is None:
            return torch.device("cpu"), torch.float32
        return param.device, torch.float32

    def _check_shape_bounds(self, shape: tuple[int, ...]) -> None:
        """Refuse example shapes with a zero, a too-long axis or too many values."""
        if 0 in shape:
            raise ValueError(f"empty example shape {shape}")
        longest = max(shape)
        if longest > MAX_AXIS_LENGTH:
            raise ValueError(
                f"example shape {shape} has an axis of {longest}; at most {MAX_AXIS_LENGTH}"
            )
        values = math.prod(shape)
        if values > self.max_example_values:
            raise ValueError(
                f"example shape {shape} holds {values} values; this codec takes at most "
                f"{self.max_example_values} per example (max_example_values)"
            )

    def _check_shape_arg(self, shape: Sequence[int]) -> tuple[int, ...]:
        try:
            out = tuple(operator.index(s) for s in shape)
        except TypeError:
            raise TypeError(f"shape must be a sequence of ints, got {shape!r}") from None
        channels_ok = (len(out) == 2 and out[1] == self.in_channels and self.accepts_tokens) or (
            len(out) == 3 and out[0] == self.in_channels
        )
        if not channels_ok:
            layouts = "(N, D) or (C, H, W)" if self.accepts_tokens else "(C, H, W)"
            raise ValueError(f"shape must be {layouts} with {self.in_channels} channels, got {out}")
        self._check_shape_bounds(out)
        return out

    def _shape_prefix(self, shape: tuple[int, ...]) -> bytes:
        dims = (shape[0],) if len(shape) == 2 else shape[1:]
        return _varint(len(shape)) + b"".join(_varint(d) for d in dims)

    def _split_shape(self, payload: bytes) -> tuple[tuple[int, ...], bytes]:
        """Read the shape prefix, bounded (see :meth:`_check_shape_bounds`) before decoding."""
        ndim, pos = decode_varint(payload, 0)
        ranks = (2, 3) if self.accepts_tokens else (3,)
        if ndim not in ranks:
            raise ValueError(
                f"payload declares a feature rank of {ndim}; expected "
                f"{' or '.join(map(str, ranks))}"
            )
        dims = []
        for _ in range(ndim - 1):
            value, pos = decode_varint(payload, pos)
            dims.append(value)
        shape = (dims[0], self.in_channels) if ndim == 2 else (self.in_channels, *dims)
        try:
            self._check_shape_bounds(shape)
        except ValueError as err:
            raise ValueError(f"payload declares {err}") from None
        return shape, payload[pos:]

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, " + ", ".join(
            f"{k}={v!r}" for k, v in self.config.items()
        )


def _check_first_example_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"first_example_id must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"first_example_id must be >= 0, got {value}")
    return value


def _plurality(items: list[Any]) -> Any:
    """The most frequent item, or None when two or more tie for first place."""
    ranked = Counter(items).most_common(2)
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def _first_error(reasons: dict[int, str]) -> ValueError:
    first = min(reasons)
    more = len(reasons) - 1
    tail = f" (and {more} more damaged: bitstreams{sorted(reasons)[1:9]})" if more else ""
    return ValueError(reasons[first] + tail)
