"""The codec stage of ``spikesat demo``: features through a codec and a link, next to JPEG."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from spikesat.codecs.base import Codec, DecodeResult
from spikesat.codecs.registry import create
from spikesat.codecs.transmission import PacketErrorFn, transmit


@torch.no_grad()
def demo_stage(
    split: nn.Module,
    features: torch.Tensor,
    labels: torch.Tensor,
    link_state: Any,
    images: torch.Tensor,
    *,
    codec: Codec | str = "int8",
    jpeg_quality: int | None = 50,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    arq: bool = True,
    max_retransmissions: int = 3,
    seed: int = 0,
    packet_error_fn: PacketErrorFn | None = None,
) -> dict[str, Any]:
    """Compress split-point features, send them over a link, decode, classify; same for JPEG.

    Parameters
    ----------
    split : SplitModel
        ``spikesat.models.split(lam, at=...)``: ``.onboard`` and ``.remote``.
    features : Tensor
        ``[B, N, D]`` or ``[B, C, H, W]`` on-board features of ``images``.
    labels : Tensor
        ``[B]`` class labels.
    link_state : LinkState
        ``spikesat.channels.LinkState`` (``snr_db``, ``modcod``, ``rate_bps``, ``delay_s``).
    images : Tensor
        ``[B, C, H, W]`` normalised images (JPEG is applied to these, then the whole LAM).
    codec : Codec or str
        A trained codec, or a baseline name (default "int8": an untrained learned codec would
        mean nothing).
    jpeg_quality : int or None
        JPEG quality, 0..100; None skips the JPEG comparison (for images JPEG cannot hold:
        other than 1 or 3 bands, or not 8-bit).
    mean, std : sequence of float, optional
        Pixel normalisation of ``images`` (``Splits.pixel_mean`` / ``pixel_std``); default
        inputs in [0, 1].
    arq : bool
        Retransmit lost packets.
    max_retransmissions : int
        ARQ limit per packet.
    seed : int
        Seed of the packet losses.
    packet_error_fn : callable, optional
        Packet-error model; default ``spikesat.channels.packet_error_probability``.

    Returns
    -------
    dict
        ``codec``, ``bytes_per_image`` (offered on the wire), ``bytes_sent_per_image`` (with
        ARQ), ``accuracy`` (erased images count as wrong), ``num_erased``, ``delay_s``, the
        same figures with a ``jpeg_`` prefix, ``uncompressed_accuracy``, ``snr_db``, ``modcod``.
    """
    if isinstance(codec, str):
        channels = features.shape[-1] if features.dim() == 3 else features.shape[1]
        codec = create(codec, channels)
    if len(labels) != len(features) or len(images) != len(features):
        raise ValueError(
            f"features ({len(features)}), labels ({len(labels)}) and images ({len(images)}) "
            "must hold the same examples"
        )
    labels = labels.cpu()
    modes = (split.training, codec.training)
    split.eval()
    codec.eval()
    try:
        return _compare(
            split,
            features,
            labels,
            link_state,
            images,
            codec,
            jpeg_quality,
            mean,
            std,
            {
                "arq": arq,
                "max_retransmissions": max_retransmissions,
                "seed": seed,
                "packet_error_fn": packet_error_fn,
            },
        )
    finally:
        split.train(modes[0])
        codec.train(modes[1])


def _compare(
    split: nn.Module,
    features: torch.Tensor,
    labels: torch.Tensor,
    link_state: Any,
    images: torch.Tensor,
    codec: Codec,
    jpeg_quality: int | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    uncompressed = float((split.remote(features).argmax(1).cpu() == labels).float().mean())
    ours = _run(codec, features, labels, split.remote, link_state, options)
    theirs = {}
    if jpeg_quality is not None:
        jpeg = create("jpeg", images.shape[1], quality=jpeg_quality, mean=mean, std=std)
        theirs = _run(jpeg, images, labels, split, link_state, options)
    return {
        "codec": codec.name,
        **ours,
        **{f"jpeg_{k}": v for k, v in theirs.items()},
        "jpeg_quality": jpeg_quality,
        "uncompressed_accuracy": uncompressed,
        "snr_db": float(link_state.snr_db),
        "modcod": str(link_state.modcod),
    }


def _run(
    codec: Codec,
    x: torch.Tensor,
    labels: torch.Tensor,
    model: nn.Module,
    link_state: Any,
    options: dict[str, Any],
) -> dict[str, Any]:
    streams = codec.compress(x)
    sent = transmit(streams, link_state, **options)
    result = cast(
        DecodeResult,
        codec.decompress(sent.bitstreams, on_error="flag", shape=tuple(x.shape[1:])),
    )
    device = next(iter(model.parameters()), torch.empty(0)).device
    predictions = model(result.x_hat.to(device)).argmax(1).cpu()
    correct = (predictions == labels) & ~result.erasure_mask.cpu()
    num = len(labels)
    return {
        "bytes_per_image": sent.num_bytes_offered / num,
        "bytes_sent_per_image": sent.num_bytes_sent / num,
        "accuracy": float(correct.float().mean()),
        "num_erased": int(result.erasure_mask.sum()),
        "delay_s": sent.delay_s,
    }
