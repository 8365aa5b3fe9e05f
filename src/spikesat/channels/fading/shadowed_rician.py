"""Shadowed-Rician land-mobile-satellite fading (Abdi, Lau, Alouini and Kaveh 2003).

The LOS amplitude is Nakagami-m distributed (shadowing), the scatter is complex Gaussian:
``h = A e^{j phi} + Z`` with ``A^2 ~ Gamma(m, Omega / m)``, ``phi`` uniform and
``Z ~ CN(0, 2 b0)``. The power gain ``x = |h|^2`` has the density (Abdi et al. eq. 5)

``f(x) = (2 b0 m / (2 b0 m + Omega))^m / (2 b0) exp(-x / (2 b0))``
``       x 1F1(m; 1; Omega x / (2 b0 (2 b0 m + Omega)))``.

Source of the parameter sets: A. Abdi, W. C. Lau, M.-S. Alouini and M. Kaveh, "A new simple
model for land mobile satellite channels: first- and second-order statistics", IEEE Trans.
Wireless Commun. 2(3), pp. 519-528, May 2003, fitted to Loo's measurements: infrequent light
shadowing ("light"), average shadowing ("average") and frequent heavy shadowing ("heavy").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from spikesat.channels._checks import check_positive
from spikesat.channels.fading.base import CHANNELS, CoefficientDraw, Coefficients, FadingChannel
from spikesat.channels.fading.gamma import sample_gamma


@dataclass(frozen=True)
class ShadowedRicianParameters:
    """Abdi's parameters: scatter half-power ``b0``, Nakagami ``m`` and LOS power ``omega``."""

    b0: float
    m: float
    omega: float
    source: str = ""
    status: str = "measured"


ABDI_2003_SOURCE = (
    "Abdi, Lau, Alouini, Kaveh, IEEE Trans. Wireless Commun. 2(3):519-528, 2003, "
    "fitted to Loo's land-mobile-satellite measurements"
)

SHADOWING_LEVELS: dict[str, ShadowedRicianParameters] = {
    "light": ShadowedRicianParameters(0.158, 19.4, 1.29, ABDI_2003_SOURCE + " (ILS)"),
    "average": ShadowedRicianParameters(0.126, 10.1, 0.835, ABDI_2003_SOURCE + " (AS)"),
    "heavy": ShadowedRicianParameters(0.063, 0.739, 8.97e-4, ABDI_2003_SOURCE + " (FHS)"),
}
"""Abdi 2003 parameter sets (measured): infrequent light, average, frequent heavy shadowing."""

_SERIES_TERMS = 200


@CHANNELS.register("shadowed-rician")
class ShadowedRician(FadingChannel):
    """Shadowed-Rician fading with Abdi 2003 parameters.

    Parameters
    ----------
    shadowing : {"light", "average", "heavy"} or None
        A measured parameter set; ``None`` to give ``b0``, ``m`` and ``omega`` yourself.
    b0, m, omega : float, optional
        Custom parameters (all > 0), only with ``shadowing=None``.
    normalize : bool
        Scale ``h`` to unit mean power ``E|h|^2 = 2 b0 + omega = 1`` (default), so ``snr_db``
        is the mean SNR; ``False`` keeps the measured mean power (a real mean loss).
    block_size, signal_power, seed
        As in :class:`FadingChannel`.
    """

    def __init__(
        self,
        shadowing: str | None = "average",
        b0: float | None = None,
        m: float | None = None,
        omega: float | None = None,
        normalize: bool = True,
        block_size: int | None = None,
        signal_power: str = "measured",
        seed: int = 0,
    ) -> None:
        super().__init__(block_size=block_size, signal_power=signal_power, seed=seed)
        custom = (b0, m, omega)
        if shadowing is None:
            if any(v is None for v in custom):
                raise ValueError(
                    "with shadowing=None give all of b0, m and omega, or pick a measured set: "
                    f"shadowing in {sorted(SHADOWING_LEVELS)}"
                )
            params = ShadowedRicianParameters(
                check_positive(b0, "b0"),
                check_positive(m, "m"),
                check_positive(omega, "omega"),
                source="user-supplied",
                status="user-supplied",
            )
        else:
            if shadowing not in SHADOWING_LEVELS:
                raise ValueError(
                    f"unknown shadowing level {shadowing!r}; choose one of "
                    f"{', '.join(SHADOWING_LEVELS)} or pass shadowing=None with b0, m, omega"
                )
            if any(v is not None for v in custom):
                raise ValueError(
                    f"b0/m/omega were given together with shadowing={shadowing!r}; pass either "
                    "a measured set or shadowing=None with custom parameters, not both"
                )
            params = SHADOWING_LEVELS[shadowing]
        self.shadowing = shadowing
        self.parameters = params
        self.normalize = bool(normalize)

    @property
    def _scale(self) -> float:
        p = self.parameters
        return 2.0 * p.b0 + p.omega if self.normalize else 1.0

    def draw_coefficients(self, draw: CoefficientDraw) -> Coefficients:
        p = self.parameters
        gamma = sample_gamma(draw.shape, p.m, draw.generator, draw.real_dtype, draw.device)
        los_power = gamma * (p.omega / p.m)
        los = draw.uniform_phase() * los_power.sqrt().to(draw.dtype)
        scatter = draw.complex_normal() * (2.0 * p.b0) ** 0.5
        return (los + scatter) / self._scale**0.5, {"los_power": los_power / self._scale}

    def mean_power_gain(self) -> float:
        p = self.parameters
        return (2.0 * p.b0 + p.omega) / self._scale

    def second_moment_power(self) -> float:
        """``E|h|^4 = [Omega^2 (1 + 1/m) + 8 b0 Omega + 8 b0^2] / scale^2``."""
        p = self.parameters
        raw = p.omega**2 * (1.0 + 1.0 / p.m) + 8.0 * p.b0 * p.omega + 8.0 * p.b0**2
        return raw / self._scale**2

    def power_gain_cdf(self, gain: np.ndarray) -> np.ndarray:
        """CDF of ``|h|^2`` by the series of the 1F1 density, integrated term by term.

        ``F(x) = (alpha / beta) sum_k (m)_k / k! (delta / beta)^k P(k + 1, beta x)`` with
        ``alpha = (2 b0 m / (2 b0 m + Omega))^m / (2 b0)``, ``beta = 1 / (2 b0)``,
        ``delta = Omega / (2 b0 (2 b0 m + Omega))`` and ``P`` the regularised lower incomplete
        Gamma function; ``delta / beta < 1`` so the series converges geometrically.
        """
        p = self.parameters
        x = np.clip(np.asarray(gain, dtype=np.float64), 0.0, None) * self._scale
        beta = 1.0 / (2.0 * p.b0)
        ratio = p.omega / (2.0 * p.b0 * p.m + p.omega)  # delta / beta
        log_alpha_over_beta = p.m * np.log(2.0 * p.b0 * p.m / (2.0 * p.b0 * p.m + p.omega))
        k = np.arange(_SERIES_TERMS, dtype=np.float64)
        log_weights = (
            special.gammaln(p.m + k)
            - special.gammaln(p.m)
            - special.gammaln(k + 1.0)
            + k * np.log(ratio)
            + log_alpha_over_beta
        )
        weights = np.exp(log_weights)
        # The weights sum to 1; keep the terms until the rest is below 1e-15.
        num_terms = int(np.searchsorted(np.cumsum(weights), 1.0 - 1e-15)) + 1
        weights, k = weights[:num_terms], k[:num_terms]
        terms = special.gammainc(k[:, None] + 1.0, beta * x.reshape(1, -1))
        return np.clip(weights @ terms, 0.0, 1.0).reshape(x.shape)

    def extra_repr(self) -> str:
        p = self.parameters
        return (
            f"shadowing={self.shadowing!r}, b0={p.b0}, m={p.m}, omega={p.omega}, "
            f"normalize={self.normalize}, " + super().extra_repr()
        )
