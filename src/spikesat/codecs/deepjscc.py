"""The "deepjscc" analog codec: features -> power-normalised channel symbols -> fading -> features.

Deep joint source-channel coding (Bourtsoulatze, Kurka and Gündüz, "Deep joint source-channel
coding for wireless image transmission", IEEE TCCN 2019) with SNR side information as in
ADJSCC (Xu et al., "Wireless image transmission using deep source channel coding with attention
modules", IEEE TCSVT 2022), applied to split-point features. The encoder maps one example to
``num_symbols`` complex symbols of unit mean power; a spikesat channel layer
(``spikesat.channels.create``) adds fading and noise; the decoder, told the SNR, rebuilds the
features. Trained over a range of SNRs, one model serves them all and degrades gracefully
(no cliff). Nothing is quantised and no bytes exist, so :meth:`compress` raises: the unit of
cost is channel uses (complex symbols), not bytes.

When the channel layer exposes ``generate``/``apply`` (the spikesat channel contract), the
receiver equalises with the drawn coefficients (perfect CSI, MMSE:
``conj(h) y / (|h|^2 + 1/snr)``); a layer with only ``forward(x, snr_db)`` is used as is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from spikesat.codecs.base import Codec, example_shape, from_maps, to_maps
from spikesat.codecs.registry import register_codec


class SnrFilm(nn.Module):
    """Feature-wise affine modulation by the SNR: ``h * (1 + gamma(snr)) + beta(snr)``."""

    def __init__(self, channels: int, snr_range_db: tuple[float, float]) -> None:
        super().__init__()
        self.center_db = (snr_range_db[0] + snr_range_db[1]) / 2
        self.half_width_db = max((snr_range_db[1] - snr_range_db[0]) / 2, 1.0)
        self.net = nn.Sequential(nn.Linear(1, 64), nn.GELU(), nn.Linear(64, 2 * channels))

    def forward(self, h: Tensor, snr_db: Tensor) -> Tensor:
        """``h`` ``[B, channels]``, ``snr_db`` ``[B]`` [dB] -> ``[B, channels]``."""
        s = ((snr_db.to(h.dtype) - self.center_db) / self.half_width_db).unsqueeze(1)
        gamma, beta = self.net(s).chunk(2, dim=1)
        return h * (1 + gamma) + beta


@register_codec("deepjscc")
class DeepJSCC(Codec):
    """SNR-adaptive analog JSCC for tokens ``[B, N, D]`` or maps ``[B, C, H, W]``.

    Parameters
    ----------
    in_channels : int
        ``D`` of tokens or ``C`` of maps.
    feature_shape : sequence of int
        One example's shape, ``(N, D)`` or ``(C, H, W)`` (the symbol count is fixed per example).
    num_symbols : int
        Complex channel symbols per example (channel uses).
    hidden_channels : int
        Width of the dense layers.
    reduce_channels : int
        Channels per position after the per-position reduction.
    snr_range_db : (float, float)
        SNR range [dB] trained over; ``forward`` refuses SNRs outside it.
    channel : str or nn.Module
        A ``spikesat.channels`` name ("awgn", "rayleigh", ...) or a module with
        ``forward(x, snr_db)``.
    channel_kwargs : dict, optional
        Options of the named channel.
    """

    codec_id = 30
    produces_bytes = False

    def __init__(
        self,
        in_channels: int,
        *,
        feature_shape: Sequence[int],
        num_symbols: int = 64,
        hidden_channels: int = 256,
        reduce_channels: int = 16,
        snr_range_db: Sequence[float] = (-5.0, 20.0),
        channel: str | nn.Module = "awgn",
        channel_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(in_channels)
        shape = tuple(int(s) for s in feature_shape)
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ValueError(f"feature_shape must be (N, D) or (C, H, W), got {feature_shape!r}")
        channels = shape[1] if len(shape) == 2 else shape[0]
        if channels != in_channels:
            raise ValueError(
                f"feature_shape {shape} has {channels} channels but in_channels={in_channels}"
            )
        for key, value in (
            ("num_symbols", num_symbols),
            ("hidden_channels", hidden_channels),
            ("reduce_channels", reduce_channels),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        low, high = (float(v) for v in snr_range_db)
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(f"snr_range_db must be finite (low, high), got {snr_range_db!r}")
        self.feature_shape = shape
        self.num_symbols = num_symbols
        self.snr_range_db = (low, high)
        self.channel = _make_channel(channel, channel_kwargs)
        self.checkpointable = isinstance(channel, str)
        self.config.update(
            feature_shape=shape,
            num_symbols=num_symbols,
            hidden_channels=hidden_channels,
            reduce_channels=reduce_channels,
            snr_range_db=(low, high),
            channel=channel if isinstance(channel, str) else type(channel).__name__,
            channel_kwargs=dict(channel_kwargs or {}),
        )
        del self.config["mtu_bytes"]
        positions = math.prod(shape) // in_channels
        flat = positions * reduce_channels
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, reduce_channels, 1), nn.GELU())
        self.enc_in = nn.Linear(flat, hidden_channels)
        self.enc_film = SnrFilm(hidden_channels, self.snr_range_db)
        self.enc_out = nn.Linear(hidden_channels, 2 * num_symbols)
        self.dec_in = nn.Linear(2 * num_symbols, hidden_channels)
        self.dec_film = SnrFilm(hidden_channels, self.snr_range_db)
        self.dec_out = nn.Linear(hidden_channels, flat)
        self.expand = nn.Sequential(
            nn.GELU(),
            nn.Conv2d(reduce_channels, hidden_channels, 1),
            nn.GELU(),
            nn.Conv2d(hidden_channels, in_channels, 1),
        )
        self.reduce_channels = reduce_channels

    # -- input checks -----------------------------------------------------------------------
    def check_input(self, x: Any) -> Tensor:
        x = super().check_input(x)
        if example_shape(x) != self.feature_shape:
            raise ValueError(
                f"this deepjscc codec was built for examples of shape {self.feature_shape}, got "
                f"{example_shape(x)}; create one with feature_shape={example_shape(x)}"
            )
        return x

    def check_snr(self, snr_db: float | Tensor, batch_size: int, device: torch.device) -> Tensor:
        """Return ``snr_db`` as ``[B]`` float32 [dB], inside the trained range.

        Raises
        ------
        ValueError
            If an SNR is NaN/Inf or outside ``snr_range_db``.
        """
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=device).flatten()
        if snr.numel() == 1:
            snr = snr.expand(batch_size)
        if snr.numel() != batch_size:
            raise ValueError(f"snr_db needs 1 or {batch_size} values, got {snr.numel()}")
        if not bool(torch.isfinite(snr).all()):
            raise ValueError(f"snr_db must be finite, got {snr.tolist()[:4]}")
        low, high = self.snr_range_db
        if bool((snr < low - 1e-6).any() or (snr > high + 1e-6).any()):
            raise ValueError(
                f"snr_db {snr.min().item():.2f}..{snr.max().item():.2f} dB is outside the range "
                f"this codec was trained for, {low}..{high} dB; train one over a wider "
                "snr_range_db"
            )
        return snr

    # -- the analog link --------------------------------------------------------------------
    def encode(self, x: Tensor, snr_db: float | Tensor) -> Tensor:
        """Features -> complex symbols ``[B, num_symbols]`` of unit mean power per example."""
        x = self.check_input(x)
        snr = self.check_snr(snr_db, x.shape[0], x.device)
        h = self.reduce(to_maps(x)).flatten(1)
        h = self.enc_out(nn.functional.gelu(self.enc_film(self.enc_in(h), snr)))
        symbols = torch.view_as_complex(h.view(x.shape[0], self.num_symbols, 2).contiguous())
        power = symbols.abs().square().mean(dim=1, keepdim=True)
        return symbols / torch.sqrt(power + 1e-12)

    def decode(self, received: Tensor, snr_db: float | Tensor) -> Tensor:
        """Received (equalised) complex symbols ``[B, num_symbols]`` -> features."""
        if not torch.is_complex(received) or received.dim() != 2:
            raise ValueError(
                f"received symbols must be complex [B, {self.num_symbols}], got "
                f"{received.dtype} {tuple(received.shape)}"
            )
        snr = self.check_snr(snr_db, received.shape[0], received.device)
        h = torch.view_as_real(received.to(torch.complex64)).flatten(1)
        h = self.dec_out(nn.functional.gelu(self.dec_film(self.dec_in(h), snr)))
        positions = h.shape[1] // self.reduce_channels
        maps = self.expand(h.view(h.shape[0], self.reduce_channels, positions, 1))
        if len(self.feature_shape) == 3:
            maps = maps.reshape(h.shape[0], *self.feature_shape)
        return from_maps(maps, self.feature_shape)

    def transmit_symbols(
        self, symbols: Tensor, snr_db: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Pass symbols through the channel layer and equalise (see the module docstring)."""
        if hasattr(self.channel, "generate") and hasattr(self.channel, "apply"):
            realization = self.channel.generate(symbols, generator)
            received = self.channel.apply(symbols, snr_db, realization)
            h = realization.expanded().reshape(symbols.shape).to(received.dtype)
            noise_var = torch.pow(10.0, -snr_db / 10.0).to(received.real.dtype).unsqueeze(1)
            return received * h.conj() / (h.abs().square() + noise_var)
        if generator is not None:
            return self.channel(symbols, snr_db, generator=generator)
        return self.channel(symbols, snr_db)

    def forward(
        self,
        x: Tensor,
        snr_db: float | Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, object]:
        """Encode, send over the channel at ``snr_db`` and decode.

        Parameters
        ----------
        x : Tensor
            ``[B, N, D]`` or ``[B, C, H, W]`` features of ``feature_shape``.
        snr_db : float or Tensor, optional
            ``[B]`` or scalar SNR [dB]. In training mode, None draws one SNR per example
            uniformly from ``snr_range_db``; in eval mode it is required.
        generator : torch.Generator, optional
            Randomness of the SNR draw and the channel.

        Returns
        -------
        dict
            ``"x_hat"``, ``"likelihoods"`` (empty: nothing is entropy coded), ``"symbols"``
            ``[B, num_symbols]`` complex and ``"snr_db"`` ``[B]``.
        """
        x = self.check_input(x)
        if snr_db is None:
            if not self.training:
                raise ValueError("deepjscc in eval mode needs snr_db (the link's SNR in dB)")
            low, high = self.snr_range_db
            u = torch.rand(x.shape[0], generator=generator, device="cpu").to(x.device)
            snr_db = low + (high - low) * u
        snr = self.check_snr(snr_db, x.shape[0], x.device)
        symbols = self.encode(x, snr)
        received = self.transmit_symbols(symbols, snr, generator)
        return {
            "x_hat": self.decode(received, snr),
            "likelihoods": {},
            "symbols": symbols,
            "snr_db": snr,
        }

    def compress(self, x: Tensor, first_example_id: int = 0) -> list:
        raise TypeError(
            "deepjscc is an analog codec: it sends channel symbols, not bytes. Use "
            "codec(x, snr_db=...) or codec.encode / codec.transmit_symbols / codec.decode; for "
            "bytes pick a digital codec ('factorized', 'hyperprior', 'int8', ...)"
        )

    def decompress(self, bitstreams: Sequence[Any], *args: Any, **kwargs: Any) -> Tensor:
        raise TypeError(
            "deepjscc is an analog codec and has no bitstreams to decompress; use codec.decode "
            "on received symbols"
        )


def _make_channel(channel: str | nn.Module, channel_kwargs: dict[str, Any] | None) -> nn.Module:
    if isinstance(channel, nn.Module):
        if channel_kwargs:
            raise ValueError("channel_kwargs only apply to a channel given by name")
        return channel
    if not isinstance(channel, str):
        raise TypeError(f"channel must be a name or an nn.Module, got {type(channel).__name__}")
    try:
        from spikesat.channels import create as create_channel
    except ImportError as err:
        raise ImportError(
            f"spikesat.channels is needed to build the {channel!r} channel ({err}); pass "
            "channel=<nn.Module with forward(x, snr_db)> instead"
        ) from err
    return create_channel(channel, **dict(channel_kwargs or {}))
