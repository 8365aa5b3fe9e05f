"""Shared machinery of the learned, entropy-coded codecs: transforms and entropy-table upkeep.

CompressAI's entropy models code with integer CDF tables that are derived from the learned
densities by ``update()``. Forgetting that call after training (or after loading new weights)
silently codes with stale tables: the classic CompressAI footgun. A :class:`LearnedCodec`
stores a SHA-256 fingerprint of the entropy-model parameters the tables were built from;
``compress``/``decompress`` rebuild stale tables automatically (``auto_update_tables=True``,
the default) or raise a clear ``ValueError`` (``auto_update_tables=False``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models.utils import update_registered_buffers
from torch import Tensor, nn

from spikesat.codecs.base import Codec, DecodeResult, from_maps, to_maps
from spikesat.codecs.bitstream import DEFAULT_MTU_BYTES, Bitstream

SCALES_MIN, SCALES_MAX, SCALES_LEVELS = 0.11, 256.0, 64
"""The GaussianConditional scale table (CompressAI's defaults, Ballé et al. 2018)."""


MAX_LATENT_MAGNITUDE = 2**15
"""Largest latent magnitude the codecs write or read. Latents behind GDN stay within a few
tens; a damaged rANS stream decodes to values near 2^30, and re-encoding those would overflow
CompressAI's int32 escape coder (it loops forever)."""


def require_in_range(latents: Tensor, part: str) -> None:
    """Raise ``ValueError`` unless every latent value is within ``MAX_LATENT_MAGNITUDE``.

    Parameters
    ----------
    latents : Tensor
        Latents ``[B, M, h, w]`` to write, or as decoded.
    part : str
        Which latents (``"latent"``, ``"hyper-latent"``), for the message.
    """
    if latents.numel() == 0:
        return
    low, high = torch.aminmax(latents.detach())
    peak = max(abs(float(low)), abs(float(high)))
    if not peak <= MAX_LATENT_MAGNITUDE:
        raise ValueError(
            f"{part} values reach {peak:.3g}, beyond the coder's range of +-{MAX_LATENT_MAGNITUDE}"
            ": a damaged or forged payload (or, when compressing, an input far outside what the "
            "codec was trained on)"
        )


def require_canonical(recoded: Sequence[bytes], payloads: Sequence[bytes], part: str) -> None:
    """Raise ``ValueError`` unless every payload equals the re-encoding of its decode.

    Parameters
    ----------
    recoded : sequence of bytes
        The entropy coder's encoding of what ``payloads`` decoded to.
    payloads : sequence of bytes
        The bytes received.
    part : str
        Which part of the payload (``"latent"``, ``"hyper-latent"``), for the message.
    """
    for index, (again, got) in enumerate(zip(recoded, payloads, strict=True)):
        if bytes(again) != bytes(got):
            raise ValueError(
                f"example {index}'s {part} bytes ({len(got)} B) are not the encoding of what they "
                f"decode to ({len(again)} B): a payload the encoder did not write (forged, or "
                "damaged past its checks)"
            )


def scale_table() -> list[float]:
    """64 log-spaced scales from 0.11 to 256 (CompressAI's ``get_scale_table``)."""
    import math

    step = (math.log(SCALES_MAX) - math.log(SCALES_MIN)) / (SCALES_LEVELS - 1)
    return [math.exp(math.log(SCALES_MIN) + i * step) for i in range(SCALES_LEVELS)]


def analysis_transform(
    in_channels: int, hidden: int, out_channels: int, downsample: int
) -> nn.Sequential:
    """Features ``[B, C, H, W]`` -> latents ``[B, out, ceil(H / 2**k), ceil(W / 2**k)]``.

    ``downsample`` (k) stride-2 3x3 convolutions with GDN, then 1x1 layers (per position).
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(downsample):
        layers += [nn.Conv2d(channels, hidden, 3, stride=2, padding=1), GDN(hidden)]
        channels = hidden
    layers += [
        nn.Conv2d(channels, hidden, 1),
        GDN(hidden),
        nn.Conv2d(hidden, hidden, 1),
        GDN(hidden),
        nn.Conv2d(hidden, out_channels, 1),
    ]
    return nn.Sequential(*layers)


def synthesis_transform(
    in_channels: int, hidden: int, out_channels: int, upsample: int
) -> nn.Sequential:
    """Latents -> features: 1x1 layers with inverse GDN, then ``upsample`` stride-2 deconvs."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, hidden, 1),
        GDN(hidden, inverse=True),
        nn.Conv2d(hidden, hidden, 1),
        GDN(hidden, inverse=True),
    ]
    for _ in range(upsample):
        layers += [
            nn.ConvTranspose2d(hidden, hidden, 3, stride=2, padding=1, output_padding=1),
            GDN(hidden, inverse=True),
        ]
    layers.append(nn.Conv2d(hidden, out_channels, 1))
    return nn.Sequential(*layers)


class LearnedCodec(Codec):
    """Base of the learned codecs: transforms, input layout, latent geometry and entropy tables.

    Builds the analysis transform ``g_a`` (features -> latents ``[B, M, h, w]``) and the
    synthesis transform ``g_s`` (latents -> features); subclasses add their entropy models.

    Parameters
    ----------
    in_channels : int
        ``D`` of tokens or ``C`` of maps.
    latent_channels : int
        Channels of the coded latent per position.
    hidden_channels : int
        Width of the transforms.
    downsample : int
        Stride-2 stages in the transforms: over H and W of maps, over the token axis of tokens
        (tokens are viewed as ``[B, D, N, 1]``, so the 3x3 kernels act as 1-D kernels along N).
    init_scale : float
        Initial spread of the subclass's EntropyBottleneck density (> 0), kept in ``config``.
    auto_update_tables : bool
        Rebuild stale entropy tables on ``compress``/``decompress`` (True) or raise (False).
    mtu_bytes : int
        Largest packet [bytes].
    """

    def __init__(
        self,
        in_channels: int,
        *,
        latent_channels: int,
        hidden_channels: int,
        downsample: int,
        init_scale: float = 1.0,
        auto_update_tables: bool,
        mtu_bytes: int = DEFAULT_MTU_BYTES,
    ) -> None:
        super().__init__(in_channels, mtu_bytes=mtu_bytes)
        for key, value in (
            ("latent_channels", latent_channels),
            ("hidden_channels", hidden_channels),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        if (
            isinstance(downsample, bool)
            or not isinstance(downsample, int)
            or not 0 <= downsample <= 6
        ):
            raise ValueError(f"downsample must be an int in 0..6, got {downsample!r}")
        if not (isinstance(init_scale, int | float) and init_scale > 0):
            raise ValueError(f"init_scale must be > 0, got {init_scale!r}")
        self.latent_channels = latent_channels
        self.hidden_channels = hidden_channels
        self.downsample = downsample
        self.auto_update_tables = bool(auto_update_tables)
        self.config.update(
            latent_channels=latent_channels,
            hidden_channels=hidden_channels,
            downsample=downsample,
            auto_update_tables=self.auto_update_tables,
            init_scale=float(init_scale),
        )
        self.register_buffer("table_fingerprint", torch.zeros(32, dtype=torch.uint8))
        self.g_a = analysis_transform(in_channels, hidden_channels, latent_channels, downsample)
        self.g_s = synthesis_transform(latent_channels, hidden_channels, in_channels, downsample)

    # -- transforms, input and geometry -----------------------------------------------------
    def analyze(self, x: Tensor) -> Tensor:
        """Latents ``y = g_a(x)`` ``[B, M, h, w]`` of checked features ``x`` (tokens or maps)."""
        return self.g_a(to_maps(x))

    def synthesize(self, y_hat: Tensor, shape: Sequence[int]) -> Tensor:
        """Features from latents: ``g_s(y_hat)`` cropped to the example ``shape``, in its layout."""
        return from_maps(self.crop(self.g_s(y_hat), shape), shape)

    def latent_size(self, shape: Sequence[int]) -> tuple[int, int]:
        """Spatial size of the latent for an example of shape ``(N, D)`` or ``(C, H, W)``."""
        factor = 2**self.downsample
        if len(shape) == 2:
            return (-(-shape[0] // factor), 1)
        return (-(-shape[1] // factor), -(-shape[2] // factor))

    @staticmethod
    def crop(maps: Tensor, shape: Sequence[int]) -> Tensor:
        """Crop decoded maps ``[B, C, H', W']`` to ``(H, W)``, or ``(N, 1)`` for tokens."""
        if len(shape) == 2:
            return maps[..., : shape[0], :1]
        return maps[..., : shape[1], : shape[2]]

    # -- entropy tables ---------------------------------------------------------------------
    def _fingerprint(self) -> Tensor:
        digest = hashlib.sha256()
        for module in self.modules():
            if isinstance(module, EntropyBottleneck):
                for name, param in sorted(module.named_parameters()):
                    digest.update(name.encode())
                    digest.update(param.detach().to("cpu", torch.float32).numpy().tobytes())
            if isinstance(module, GaussianConditional):
                digest.update(module.scale_table.detach().cpu().numpy().tobytes())
        return torch.frombuffer(bytearray(digest.digest()), dtype=torch.uint8)

    def tables_fresh(self) -> bool:
        """Whether the CDF tables exist and match the current entropy-model parameters."""
        for module in self.modules():
            if isinstance(module, EntropyBottleneck | GaussianConditional):
                if module._quantized_cdf.numel() == 0:
                    return False
        current = self._fingerprint().to(self.table_fingerprint.device)
        return bool(torch.equal(current, self.table_fingerprint))

    def update_tables(self) -> None:
        """Rebuild every CDF table from the current parameters (CompressAI's ``update``)."""
        for module in self.modules():
            if isinstance(module, EntropyBottleneck):
                module.update(force=True)
            if isinstance(module, GaussianConditional):
                module.update_scale_table(scale_table(), force=True)
        self.table_fingerprint.copy_(self._fingerprint())

    def ensure_tables(self) -> None:
        """Update stale tables (``auto_update_tables``) or raise.

        Raises
        ------
        ValueError
            If the tables are stale and ``auto_update_tables`` is False.
        """
        if self.tables_fresh():
            return
        if not self.auto_update_tables:
            raise ValueError(
                f"the {self.name!r} codec's entropy tables are stale (missing, or built from "
                "other weights than the current ones); call codec.update_tables() after training "
                "or loading weights, or create the codec with auto_update_tables=True"
            )
        self.update_tables()

    def aux_loss(self) -> Tensor:
        """CompressAI's auxiliary loss fitting the entropy bottlenecks' quantiles."""
        losses = [m.loss() for m in self.modules() if isinstance(m, EntropyBottleneck)]
        return torch.stack(losses).sum()

    def load_state_dict(
        self, state_dict: dict[str, Tensor], strict: bool = True, assign: bool = False
    ):
        """Load weights, resizing the CDF-table buffers to the sizes stored in ``state_dict``."""
        for name, module in self.named_modules():
            buffers = None
            if isinstance(module, EntropyBottleneck):
                buffers = ["_quantized_cdf", "_offset", "_cdf_length"]
            if isinstance(module, GaussianConditional):
                buffers = ["_quantized_cdf", "_offset", "_cdf_length", "scale_table"]
            if buffers and all(f"{name}.{b}" in state_dict for b in buffers):
                update_registered_buffers(module, name, buffers, state_dict, policy="resize")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # -- the contract with fresh tables -----------------------------------------------------
    def compress(
        self, x: Tensor, first_example_id: int = 0, *, stream_id: int | None = None
    ) -> list[Bitstream]:
        self.ensure_tables()
        return super().compress(x, first_example_id, stream_id=stream_id)

    def decompress(
        self,
        bitstreams: Sequence[Bitstream],
        on_error: str = "raise",
        shape: Sequence[int] | None = None,
        fill_value: float = 0.0,
        first_example_id: int = 0,
        stream_id: int | None = None,
    ) -> Tensor | DecodeResult:
        self.ensure_tables()
        return super().decompress(
            bitstreams, on_error, shape, fill_value, first_example_id, stream_id
        )

    def identity_extra(self) -> bytes:
        """The entropy-table fingerprint: a stream decodes only with the tables that coded it."""
        return self.table_fingerprint.detach().cpu().numpy().tobytes()

    def decode_latents(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        """Entropy-decode payloads to the quantised latents ``[B, M, h, w]``.

        Implementations re-encode what they decoded and refuse a payload that is not exactly
        the encoding of it (:func:`require_canonical`): the rANS decoder reads any bytes to
        some latents, so bytes the encoder did not write would otherwise decode to finite
        nonsense.
        """
        raise NotImplementedError

    def quantized_latents(self, x: Tensor) -> Tensor:
        """The quantised latents ``[B, M, h, w]`` that ``compress(x)`` codes."""
        raise NotImplementedError

    @torch.no_grad()
    def decompress_latents(self, bitstreams: Sequence[Bitstream]) -> Tensor:
        """Verify and entropy-decode bitstreams to the quantised latents (no synthesis).

        Raises
        ------
        ValueError
            If a bitstream is damaged or the examples differ in shape.
        """
        self.ensure_tables()
        key = self.identity()
        parts = [self._split_shape(s.payload(self.codec_id, key)) for s in bitstreams]
        shapes = {s for s, _ in parts}
        if len(shapes) != 1:
            raise ValueError(f"bitstreams hold examples of different shapes {sorted(shapes)}")
        return self.decode_latents([p for _, p in parts], shapes.pop())

    def decode_payloads(self, payloads: list[bytes], shape: tuple[int, ...]) -> Tensor:
        return self.synthesize(self.decode_latents(payloads, shape), shape)
