"""The channel-layer contract: a *generate* step (replayable realisations), an *apply* step.

Every fading model is an ``nn.Module`` whose ``forward(x, snr_db)`` returns ``h * x + n``:

- ``x`` is complex baseband ``[B, ...]`` (any dtype ``complex64``/``complex128``), or real
  ``[B, ..., 2]`` holding (I, Q) pairs, which is returned in the same real layout.
- ``snr_db`` is a float or a ``[B]`` tensor: the mean signal power per complex symbol over the
  noise power per complex symbol, so AWGN at 10 dB on a unit-power signal adds complex noise of
  power 0.1. By default the signal power is measured per example (``signal_power="measured"``);
  ``signal_power="unit"`` takes it as 1.
- The fading coefficients ``h`` have unit mean power (unless a model documents a real mean
  loss, like the TR 38.811 clutter loss), so ``snr_db`` is the mean received SNR.
- ``block_size=None`` draws one coefficient per example (block fading over the example, the
  default); an integer ``k`` draws a new independent coefficient every ``k`` symbols (``k=1``
  is fast fading). Symbols are counted along the example flattened in C order.

``generate(x)`` returns a :class:`ChannelRealization` (coefficients and unit noise) that can be
logged with ``torch.save`` and replayed with ``apply(x, snr_db, realization)``. Randomness comes
from a ``torch.Generator`` passed in, or else from the module's ``seed`` and a call counter, so
the same seed gives the same sequence of draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from spikesat._checks import check_finite
from spikesat._registry import Registry
from spikesat.channels._checks import check_choice, check_snr_db

CHANNELS: Registry[FadingChannel] = Registry("channel")
"""The registry of channel layers: ``CHANNELS.create(name, **kw)``."""

SIGNAL_POWER_MODES = ("measured", "unit")

NEPER_PER_DB = math.log(10.0) / 10.0
"""``ln(10) / 10``: a power gain of ``g_db`` dB is ``exp(g_db * NEPER_PER_DB)``."""


@dataclass
class ChannelRealization:
    """One draw of a channel for a batch: what ``generate`` returns and ``apply`` replays.

    Attributes
    ----------
    coefficients : Tensor
        Complex fading coefficients ``[B, num_blocks]``; block ``j`` covers symbols
        ``j * block_size`` to ``(j + 1) * block_size - 1``.
    noise : Tensor
        Complex unit-power Gaussian noise ``[B, num_symbols]`` (scaled by the SNR in ``apply``).
    block_size : int
        Symbols per fading block.
    info : dict
        Model-specific draws to log (e.g. LOS state and shadow fading in dB for TR 38.811).
    """

    coefficients: torch.Tensor
    noise: torch.Tensor
    block_size: int
    info: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def num_symbols(self) -> int:
        """Complex symbols per example."""
        return int(self.noise.shape[1])

    def expanded(self) -> torch.Tensor:
        """The coefficient of every symbol, ``[B, num_symbols]`` complex."""
        h = self.coefficients.repeat_interleave(self.block_size, dim=1)
        return h[:, : self.num_symbols]

    def power_gain(self) -> torch.Tensor:
        """``|h|^2`` of every block, ``[B, num_blocks]`` (real)."""
        return self.coefficients.abs().square()

    def to(self, device: torch.device | str) -> ChannelRealization:
        """Move the realisation to ``device``."""
        return ChannelRealization(
            self.coefficients.to(device),
            self.noise.to(device),
            self.block_size,
            {k: v.to(device) for k, v in self.info.items()},
        )


Coefficients = tuple[torch.Tensor, dict[str, torch.Tensor]]
"""What a model's draw returns: complex coefficients ``[B, num_blocks]`` and info to log."""


@dataclass(frozen=True)
class CoefficientDraw:
    """One request for fading coefficients ``[batch_size, num_blocks]``, and its random sources.

    :meth:`FadingChannel.sample_coefficients` hands one to the model's
    :meth:`FadingChannel.draw_coefficients`. The draw methods take their randomness from
    ``generator`` and work in the precision of ``dtype`` (``complex64`` draws ``float32``
    reals, ``complex128`` draws ``float64``); ``shape`` defaults to ``[batch_size, num_blocks]``.
    """

    batch_size: int
    num_blocks: int
    generator: torch.Generator
    dtype: torch.dtype
    device: torch.device

    @property
    def shape(self) -> tuple[int, int]:
        """``(batch_size, num_blocks)``."""
        return (self.batch_size, self.num_blocks)

    @property
    def real_dtype(self) -> torch.dtype:
        """The real dtype of the complex ``dtype``'s parts."""
        return real_dtype_of(self.dtype)

    def _shape(self, shape: tuple[int, ...] | None) -> tuple[int, ...]:
        return self.shape if shape is None else shape

    def complex_normal(self, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """``CN(0, 1)`` samples (complex ``dtype``)."""
        return complex_normal(self._shape(shape), self.generator, self.dtype, self.device)

    def uniform_phase(self, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """``exp(j phi)`` with ``phi`` uniform on ``[0, 2 pi)`` (complex ``dtype``)."""
        return uniform_phase(self._shape(shape), self.generator, self.dtype, self.device)

    def randn(self, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """Standard normal samples (``real_dtype``)."""
        return torch.randn(
            self._shape(shape), generator=self.generator, dtype=self.real_dtype, device=self.device
        )

    def rand(self, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """Uniform samples on ``[0, 1)`` (``real_dtype``)."""
        return torch.rand(
            self._shape(shape), generator=self.generator, dtype=self.real_dtype, device=self.device
        )


class FadingChannel(nn.Module):
    """Base class: ``y = h * x + sqrt(P_s / snr) * w`` with ``w ~ CN(0, 1)``.

    Subclasses implement :meth:`draw_coefficients` (and, where a closed form exists,
    :meth:`power_gain_cdf` and :meth:`mean_power_gain`); the base class does the rest.

    Parameters
    ----------
    block_size : int or None
        Symbols per independent fading block; ``None`` draws one coefficient per example.
    signal_power : {"measured", "unit"}
        How the mean signal power ``P_s`` in the SNR is obtained: measured per example from
        ``x`` (the default), or taken as 1.
    seed : int
        Seed of the module's own sequence of draws (used when no generator is passed).
    """

    def __init__(
        self, block_size: int | None = None, signal_power: str = "measured", seed: int = 0
    ) -> None:
        super().__init__()
        if block_size is not None and (
            isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1
        ):
            raise ValueError(
                f"block_size must be None (one fading draw per example) or an int >= 1, "
                f"got {block_size!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        self.block_size = block_size
        self.signal_power = check_choice(signal_power, SIGNAL_POWER_MODES, "signal_power")
        self.seed = seed
        self._num_calls = 0

    # -- what subclasses provide ---------------------------------------------------------------
    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        """Draw ``draw.shape`` complex coefficients (``draw.dtype``) and any info to log."""
        raise NotImplementedError

    def mean_power_gain(self) -> float:
        """The analytic mean ``E|h|^2``."""
        raise NotImplementedError

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """The analytic CDF ``P(|h|^2 <= gain)`` of the power gain (linear)."""
        raise NotImplementedError

    # -- generate / apply ----------------------------------------------------------------------
    def sample_coefficients(
        self,
        batch_size: int,
        num_blocks: int,
        generator: torch.Generator,
        dtype: torch.dtype,
        device: torch.device,
    ) -> Coefficients:
        """Draw ``[batch_size, num_blocks]`` complex coefficients and any info to log.

        Bundles the arguments into a :class:`CoefficientDraw` for :meth:`draw_coefficients`.
        """
        return self.draw_coefficients(
            CoefficientDraw(batch_size, num_blocks, generator, dtype, device)
        )

    def reset(self, seed: int | None = None) -> None:
        """Restart the module's sequence of draws (optionally with a new ``seed``)."""
        if seed is not None:
            self.seed = int(seed)
        self._num_calls = 0

    def make_generator(self, device: torch.device | str = "cpu") -> torch.Generator:
        """The generator of the module's next draw: seeded from ``seed`` and the call count."""
        generator = torch.Generator(device=device)
        generator.manual_seed((self.seed * 1_000_003 + self._num_calls) % 2**63)
        self._num_calls += 1
        return generator

    def generate(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> ChannelRealization:
        """Draw a channel realisation for inputs shaped like ``x``.

        Parameters
        ----------
        x : Tensor
            Complex ``[B, ...]`` or real ``[B, ..., 2]``; only its shape, dtype and device are used.
        generator : torch.Generator, optional
            Source of randomness (on ``x.device``); the module's own sequence if omitted.
        """
        xc = _to_complex(x)
        if xc.ndim < 1 or xc.shape[0] == 0 or xc[0].numel() == 0:
            raise ValueError(
                f"x must have a batch dimension and at least one symbol, got shape {tuple(x.shape)}"
            )
        batch_size, num_symbols = int(xc.shape[0]), int(xc[0].numel())
        generator = generator if generator is not None else self.make_generator(xc.device)
        block = num_symbols if self.block_size is None else min(self.block_size, num_symbols)
        num_blocks = -(-num_symbols // block)
        h, info = self.sample_coefficients(batch_size, num_blocks, generator, xc.dtype, xc.device)
        noise = complex_normal((batch_size, num_symbols), generator, xc.dtype, xc.device)
        return ChannelRealization(h, noise, block, info)

    def apply(
        self, x: torch.Tensor, snr_db: float | torch.Tensor, realization: ChannelRealization
    ) -> torch.Tensor:
        """Apply a realisation: ``y = h * x + sqrt(P_s / snr) * w`` (differentiable in ``x``).

        Parameters
        ----------
        x : Tensor
            Complex ``[B, ...]`` or real ``[B, ..., 2]``.
        snr_db : float or Tensor
            Mean SNR per complex symbol [dB], a scalar or ``[B]``.
        realization : ChannelRealization
            From :meth:`generate` for the same shape.

        Returns
        -------
        Tensor
            The channel output, in the layout and shape of ``x``.

        Raises
        ------
        ValueError
            If ``x`` or ``snr_db`` holds NaN or infinity (skipped with ``SPIKESAT_NO_CHECKS=1``,
            see :mod:`spikesat._checks`), or the shapes do not fit.
        """
        xc = check_finite(_to_complex(x), "x", "pass finite symbols (check the encoder's output)")
        real_pairs = not x.is_complex()
        batch_size = xc.shape[0]
        flat = xc.reshape(batch_size, -1)
        if realization.noise.shape != flat.shape:
            raise ValueError(
                f"the realisation was drawn for {tuple(realization.noise.shape)} "
                f"[batch, symbols], but x has {tuple(flat.shape)}; call generate(x) for this x"
            )
        snr = check_snr_db(snr_db, batch_size, flat.device).to(flat.real.dtype)
        if self.signal_power == "measured":
            power = flat.abs().square().mean(dim=1)
        else:
            power = torch.ones(batch_size, dtype=flat.real.dtype, device=flat.device)
        noise_std = torch.sqrt(power / torch.pow(10.0, snr / 10.0)).unsqueeze(1)
        h = realization.expanded().to(flat.dtype)
        y = h * flat + noise_std * realization.noise.to(flat.dtype)
        y = y.reshape(xc.shape)
        return torch.view_as_real(y) if real_pairs else y

    def forward(
        self,
        x: torch.Tensor,
        snr_db: float | torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw a realisation and apply it: ``apply(x, snr_db, generate(x, generator))``."""
        return self.apply(x, snr_db, self.generate(x, generator))

    def sample_power_gain(
        self,
        num_samples: int,
        generator: torch.Generator,
        elevation_deg: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw ``num_samples`` independent power gains ``|h|^2`` (float64 numpy, CPU).

        ``elevation_deg`` (one value per sample) is used by elevation-dependent models
        (TR 38.811); the statistics of the other models do not depend on it.
        """
        h, _ = self.sample_coefficients(
            num_samples, 1, generator, torch.complex128, torch.device("cpu")
        )
        return h[:, 0].abs().square().numpy()

    def extra_repr(self) -> str:
        return f"block_size={self.block_size}, signal_power={self.signal_power!r}, seed={self.seed}"


def real_dtype_of(dtype: torch.dtype) -> torch.dtype:
    """The dtype of a complex dtype's parts: ``float64`` for ``complex128``, else ``float32``."""
    return torch.float64 if dtype == torch.complex128 else torch.float32


def complex_normal(
    shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Circularly symmetric complex Gaussian samples ``CN(0, 1)`` (unit power)."""
    parts = torch.randn((*shape, 2), generator=generator, dtype=real_dtype_of(dtype), device=device)
    return torch.view_as_complex(parts * (0.5**0.5))


def uniform_phase(
    shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``exp(j phi)`` with ``phi`` uniform on ``[0, 2 pi)``."""
    real_dtype = real_dtype_of(dtype)
    phase = 2.0 * torch.pi * torch.rand(shape, generator=generator, dtype=real_dtype, device=device)
    return torch.polar(torch.ones_like(phase), phase)


def power_gain_db(gain: np.ndarray) -> np.ndarray:
    """``10 log10 g`` of power gains ``g`` (negative gains count as 0, which gives ``-inf``)."""
    g = np.asarray(gain, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.clip(g, 0.0, None))


def _to_complex(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.is_complex():
        return x
    if not x.is_floating_point() or x.ndim < 2 or x.shape[-1] != 2:
        raise ValueError(
            f"x must be complex [B, ...] or real [B, ..., 2] (I/Q pairs), got "
            f"{x.dtype} of shape {tuple(x.shape)}; use torch.view_as_real/complex to convert"
        )
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    return torch.view_as_complex(x.contiguous())
