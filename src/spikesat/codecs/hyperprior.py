"""The "hyperprior" codec: a scale hyperprior with CompressAI's GaussianConditional.

Ballé et al., "Variational image compression with a scale hyperprior" (ICLR 2018): the latent
``y = g_a(x)`` is coded with a zero-mean Gaussian whose per-element scale comes from a
hyper-latent ``z = h_a(|y|)``, itself coded with an EntropyBottleneck and sent first. Payload:
``varint(len(z_string)) + z_string + y_string``.

The scales are recomputed from the decoded ``z_hat`` one example at a time on both sides, so
the encoder and decoder derive the same CDF indexes whatever the batch composition.
"""

from __future__ import annotations

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.ops import quantize_ste
from torch import Tensor, nn

from spikesat.codecs.base import example_shape
from spikesat.codecs.bitstream import DEFAULT_MTU_BYTES, decode_varint, encode_varint
from spikesat.codecs.learned import (
    LearnedCodec,
    require_canonical,
    require_in_range,
    scale_table,
)
from spikesat.codecs.registry import register_codec


@register_codec("hyperprior")
class HyperpriorCodec(LearnedCodec):
    """Scale-hyperprior codec for tokens ``[B, N, D]`` or maps ``[B, C, H, W]``.

    Parameters
    ----------
    in_channels : int
        ``D`` of tokens or ``C`` of maps.
    latent_channels : int
        Channels of ``y`` per position.
    hyper_channels : int
        Channels of ``z`` per position.
    hidden_channels : int
        Width of the transforms.
    init_scale : float
        Initial spread of the EntropyBottleneck density (CompressAI's default of 10 suits
        image latents; task latents are driven towards zero, and a narrow start reaches low
        rates in far fewer steps).
    downsample : int
        Stride-2 stages of ``g_a`` / ``g_s`` (over H, W of maps; over N of tokens).
    auto_update_tables : bool
        Rebuild stale entropy tables automatically (True) or raise (False).
    mtu_bytes : int
        Largest packet [bytes].
    """

    codec_id = 21

    def __init__(
        self,
        in_channels: int,
        *,
        latent_channels: int = 8,
        hyper_channels: int = 4,
        hidden_channels: int = 128,
        downsample: int = 0,
        init_scale: float = 1.0,
        auto_update_tables: bool = True,
        mtu_bytes: int = DEFAULT_MTU_BYTES,
    ) -> None:
        if (
            isinstance(hyper_channels, bool)
            or not isinstance(hyper_channels, int)
            or hyper_channels < 1
        ):
            raise ValueError(f"hyper_channels must be a positive int, got {hyper_channels!r}")
        super().__init__(
            in_channels,
            latent_channels=latent_channels,
            hidden_channels=hidden_channels,
            downsample=downsample,
            init_scale=init_scale,
            auto_update_tables=auto_update_tables,
            mtu_bytes=mtu_bytes,
        )
        self.config["hyper_channels"] = hyper_channels
        self.h_a = nn.Sequential(
            nn.Conv2d(latent_channels, hidden_channels, 1),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, hyper_channels, 1),
        )
        self.h_s = nn.Sequential(
            nn.Conv2d(hyper_channels, hidden_channels, 1),
            nn.ReLU(),
            nn.Conv2d(hidden_channels, latent_channels, 1),
            nn.ReLU(),
        )
        self.entropy_bottleneck = EntropyBottleneck(hyper_channels, init_scale=init_scale)
        self.gaussian_conditional = GaussianConditional(scale_table())

    def forward(self, x: Tensor) -> dict[str, object]:
        """Code ``x``; ``"likelihoods"`` holds ``"y"`` and ``"z"``."""
        x = self.check_input(x)
        y = self.analyze(x)
        z_hat, z_likelihoods = self.entropy_bottleneck(self.h_a(torch.abs(y)))
        y_hat, y_likelihoods = self.gaussian_conditional(y, self.h_s(z_hat))
        if self.training:  # the decoder sees rounded latents (straight-through gradients)
            y_hat = quantize_ste(y)
        x_hat = self.synthesize(y_hat, example_shape(x))
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    @torch.no_grad()
    def quantized_latents(self, x: Tensor) -> Tensor:
        return torch.round(self.analyze(self.check_input(x)))

    def _indexes(self, z_string: bytes, size: tuple[int, int]) -> Tensor:
        z_hat = self.entropy_bottleneck.decompress([z_string], size)
        return self.gaussian_conditional.build_indexes(self.h_s(z_hat))

    def encode_payloads(self, x: Tensor) -> list[bytes]:
        y = self.analyze(x)
        z = self.h_a(torch.abs(y))
        require_in_range(y, "latent")
        require_in_range(z, "hyper-latent")
        z_strings = self.entropy_bottleneck.compress(z)
        out = []
        for i, z_string in enumerate(z_strings):
            indexes = self._indexes(z_string, tuple(z.shape[-2:]))
            (y_string,) = self.gaussian_conditional.compress(y[i : i + 1], indexes)
            out.append(encode_varint(len(z_string)) + z_string + y_string)
        return out

    def decode_latents(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        size = self.latent_size(shape)
        rows = []
        for body in payloads:
            z_len, pos = decode_varint(body, 0)
            if pos + z_len > len(body):
                raise ValueError(
                    f"hyperprior payload declares {z_len} z bytes, holds {len(body) - pos}"
                )
            z_string, y_string = body[pos : pos + z_len], body[pos + z_len :]
            z_hat = self.entropy_bottleneck.decompress([z_string], size)
            require_in_range(z_hat, "hyper-latent")
            require_canonical(self.entropy_bottleneck.compress(z_hat), [z_string], "hyper-latent")
            indexes = self.gaussian_conditional.build_indexes(self.h_s(z_hat))
            y_hat = self.gaussian_conditional.decompress([y_string], indexes)
            require_in_range(y_hat, "latent")
            require_canonical(
                self.gaussian_conditional.compress(y_hat, indexes), [y_string], "latent"
            )
            if encode_varint(z_len) != body[:pos]:
                raise ValueError("hyperprior payload's length prefix is not in its shortest form")
            rows.append(y_hat)
        return torch.cat(rows)
