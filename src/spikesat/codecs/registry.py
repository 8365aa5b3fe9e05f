"""The codec registry: ``create(name, in_channels, **kw)``, ``list_codecs()``, wire ids.

Every codec class registers itself with :func:`register_codec` and carries a ``codec_id`` (one
byte, written into every packet header). The id is part of the wire format, so it is fixed per
class and never reused; the id-to-name table is derived from the registry, not kept by hand.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spikesat._registry import Registry

if TYPE_CHECKING:
    from spikesat.codecs.base import Codec

CODECS: Registry[Codec] = Registry("codec")
"""The one table of codec factories (classes)."""


def register_codec(name: str) -> Callable[[type], type]:
    """Register a codec class under ``name``; its ``codec_id`` must be unique too.

    Raises
    ------
    ValueError
        If ``name`` or the class's ``codec_id`` is already taken.
    """
    outer = CODECS.register(name)

    def decorator(cls: type) -> type:
        codec_id = getattr(cls, "codec_id", None)
        if not isinstance(codec_id, int) or not 1 <= codec_id <= 255:
            raise ValueError(f"codec {name!r} needs a class attribute codec_id in 1..255")
        taken = codec_names_by_id()
        if codec_id in taken:
            raise ValueError(
                f"codec id {codec_id} of {name!r} is already used by {taken[codec_id]!r}"
            )
        cls.name = name
        return outer(cls)

    return decorator


def codec_names_by_id() -> dict[int, str]:
    """Map every registered wire id to its codec name."""
    return {CODECS.get(name).codec_id: name for name in CODECS.names()}


def create(name: str, in_channels: int, **kwargs: Any) -> Codec:
    """Build the codec registered under ``name``.

    Parameters
    ----------
    name : str
        One of :func:`list_codecs`.
    in_channels : int
        Channels of the features the codec takes: ``D`` for ViT tokens ``[B, N, D]``, ``C`` for
        CNN maps ``[B, C, H, W]`` (or the image channels for the image codecs).
    **kwargs
        The codec's own options (see its class).

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the choices and the closest match).
    TypeError
        If a keyword is not an option of that codec (the message lists the valid ones).
    """
    factory = CODECS.get(name)
    params = inspect.signature(factory).parameters
    valid = [p for p in params if p not in ("self", "in_channels")]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(
            f"codec {name!r} got unknown option(s) {unknown}; valid options: {', '.join(valid)}"
        )
    return factory(in_channels, **kwargs)


CODEC_KINDS = ("feature", "image", "analog", "spikes")
"""The kinds of codec: byte codecs of features, byte codecs of images, analog (no bytes), and
byte codecs of binary spike trains ``[T, B, ...]``."""


def codec_kind(name: str) -> str:
    """The kind of the codec registered as ``name``, read from its class.

    ``"analog"`` for a codec that sends channel symbols, not bytes (its class sets
    ``produces_bytes = False``, or its ``forward`` takes ``snr_db``); ``"image"`` for a byte
    codec of images only (``accepts_tokens = False``); ``"spikes"`` for a byte codec of spike
    trains (``input_kind = "spikes"``); ``"feature"`` for the other byte codecs.
    """
    cls = CODECS.get(name)
    if getattr(cls, "input_kind", None) == "spikes":
        return "spikes"
    if (
        not getattr(cls, "produces_bytes", True)
        or "snr_db" in inspect.signature(cls.forward).parameters
    ):
        return "analog"
    return "feature" if getattr(cls, "accepts_tokens", True) else "image"


def list_codecs(kind: str | None = None) -> list[str]:
    """The registered codec names, sorted; only those of ``kind`` (see :func:`codec_kind`)."""
    if kind is None:
        return CODECS.names()
    if kind not in CODEC_KINDS:
        raise ValueError(
            f"kind={kind!r} is not a codec kind; choose one of {', '.join(CODEC_KINDS)}"
        )
    return [name for name in CODECS.names() if codec_kind(name) == kind]
