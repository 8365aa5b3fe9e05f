"""Seeded Gamma variates in torch (Marsaglia and Tsang 2000), for Nakagami-m amplitudes.

``torch.distributions.Gamma`` draws from the global RNG only; this sampler takes a
``torch.Generator`` so that every draw is reproducible. Method: G. Marsaglia and W. W. Tsang,
"A simple method for generating gamma variables", ACM TOMS 26(3), 2000, with the
``U^(1/a)`` boost for shapes below 1.
"""

from __future__ import annotations

import torch


def sample_gamma(
    shape: tuple[int, ...],
    concentration: float,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Draw Gamma(``concentration``, scale 1) variates of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        Output shape.
    concentration : float
        Shape parameter ``a > 0``.
    generator : torch.Generator
        Source of randomness (on ``device``).
    dtype, device
        Real dtype and device of the output.
    """
    if not concentration > 0.0:
        raise ValueError(f"the Gamma concentration must be > 0, got {concentration!r}")
    boost = concentration < 1.0
    a = concentration + 1.0 if boost else concentration
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    out = torch.empty(shape, dtype=dtype, device=device).reshape(-1)
    pending = torch.arange(out.numel(), device=device)
    while pending.numel():
        n = pending.numel()
        z = torch.randn(n, generator=generator, dtype=dtype, device=device)
        u = torch.rand(n, generator=generator, dtype=dtype, device=device)
        v = (1.0 + c * z) ** 3
        ok = v > 0
        log_v = torch.log(torch.where(ok, v, torch.ones_like(v)))
        accept = ok & (torch.log(u) < 0.5 * z * z + d - d * v + d * log_v)
        out[pending[accept]] = d * v[accept]
        pending = pending[~accept]
    if boost:
        u = torch.rand(out.numel(), generator=generator, dtype=dtype, device=device)
        out = out * u.pow(1.0 / concentration)
    return out.reshape(shape)
