"""The "factorized" codec: learned analysis/synthesis transforms + CompressAI's EntropyBottleneck.

The factorized-prior model of Ballé et al., "Variational image compression with a scale
hyperprior" (ICLR 2018, the baseline "factorized prior"), applied to split-point features:
``y = g_a(x)``, ``y_hat = Q(y)`` coded with a learned per-channel density, ``x_hat = g_s(y_hat)``.
Trained for the task (see :mod:`spikesat.codecs.training`), it keeps only what the ground-side
model needs.
"""

from __future__ import annotations

import torch
from compressai.entropy_models import EntropyBottleneck
from compressai.ops import quantize_ste
from torch import Tensor

from spikesat.codecs.base import example_shape
from spikesat.codecs.bitstream import DEFAULT_MTU_BYTES
from spikesat.codecs.learned import LearnedCodec, require_canonical, require_in_range
from spikesat.codecs.registry import register_codec


@register_codec("factorized")
class FactorizedCodec(LearnedCodec):
    """Factorized-prior codec for tokens ``[B, N, D]`` or maps ``[B, C, H, W]``.

    Parameters
    ----------
    in_channels : int
        ``D`` of tokens or ``C`` of maps.
    latent_channels : int
        Coded channels per position (token or latent pixel).
    hidden_channels : int
        Width of the transforms.
    init_scale : float
        Initial spread of the EntropyBottleneck density (CompressAI's default of 10 suits
        image latents; task latents are driven towards zero, and a narrow start reaches low
        rates in far fewer steps).
    downsample : int
        Stride-2 stages of the transforms (over H, W of maps; over N of tokens).
    auto_update_tables : bool
        Rebuild stale entropy tables automatically (True) or raise (False).
    mtu_bytes : int
        Largest packet [bytes].
    """

    codec_id = 20

    def __init__(
        self,
        in_channels: int,
        *,
        latent_channels: int = 8,
        hidden_channels: int = 128,
        downsample: int = 0,
        init_scale: float = 1.0,
        auto_update_tables: bool = True,
        mtu_bytes: int = DEFAULT_MTU_BYTES,
    ) -> None:
        super().__init__(
            in_channels,
            latent_channels=latent_channels,
            hidden_channels=hidden_channels,
            downsample=downsample,
            init_scale=init_scale,
            auto_update_tables=auto_update_tables,
            mtu_bytes=mtu_bytes,
        )
        self.entropy_bottleneck = EntropyBottleneck(latent_channels, init_scale=init_scale)

    def forward(self, x: Tensor) -> dict[str, object]:
        """Code ``x``: in training, rates with additive noise and a straight-through rounded
        latent for the decoder; in eval, rounding.

        Returns
        -------
        dict
            ``"x_hat"``: features like ``x``; ``"likelihoods"``: ``{"y": [B, M, h, w]}``.
        """
        x = self.check_input(x)
        y = self.analyze(x)
        y_hat, likelihoods = self.entropy_bottleneck(y)
        if self.training:
            # Rates from additive noise, but the decoder sees the rounded latents it will get
            # at test time (straight-through gradients): no train/test mismatch.
            medians = self.entropy_bottleneck._get_medians()
            y_hat = quantize_ste(y - medians) + medians
        x_hat = self.synthesize(y_hat, example_shape(x))
        return {"x_hat": x_hat, "likelihoods": {"y": likelihoods}}

    @torch.no_grad()
    def quantized_latents(self, x: Tensor) -> Tensor:
        y = self.analyze(self.check_input(x))
        y_hat, _ = self.entropy_bottleneck(y, training=False)
        return y_hat

    def encode_payloads(self, x: Tensor) -> list[bytes]:
        y = self.analyze(x)
        require_in_range(y, "latent")
        return list(self.entropy_bottleneck.compress(y))

    def decode_latents(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        y_hat = self.entropy_bottleneck.decompress(list(payloads), self.latent_size(shape))
        require_in_range(y_hat, "latent")
        require_canonical(self.entropy_bottleneck.compress(y_hat), payloads, "latent")
        return y_hat
