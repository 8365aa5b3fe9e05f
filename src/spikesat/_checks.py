"""Input checks at spikesat's public entry points: one clear error per kind of bad tensor.

Every public entry point that takes a tensor (a channel layer's ``forward``, a LAM or a
:class:`~spikesat.models.SplitModel` part, :func:`~spikesat.energy.count_ops`,
:func:`~spikesat.snn.convert`, :func:`~spikesat.snn.export_nir`, ...) runs its inputs through
:func:`check_tensor` before torch sees them. A wrong type raises ``TypeError``; a wrong number
of dimensions or a wrong size raises ``ValueError`` naming the argument, the expected shape and
the fix; NaN or infinite values raise ``ValueError`` (:func:`check_finite`).

Cost and the switch
-------------------
The type and shape checks read only the tensor's metadata. The finiteness check is a single
``torch.aminmax`` reduction (one pass over the data, no temporary of the input's size; on a GPU
it also waits for the result). Set the environment variable ``SPIKESAT_NO_CHECKS=1`` to skip
the finiteness checks where that pass matters (type and shape checks always run: they cost
nothing). The variable is read at each call, so it can be set or cleared at any time; no other
state is kept.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

NO_CHECKS_ENV = "SPIKESAT_NO_CHECKS"
"""Environment variable: ``1`` (or ``true``/``yes``/``on``) turns the finiteness checks off."""

ShapeSpec = Sequence[object]
"""An expected shape: ints must match, names (``"B"``, ``"H"``) and ``None`` match any size, and
a leading ``...`` stands for a batch dimension and any further leading dimensions, at least
two dimensions in all (``(..., 64)``: ``[B, 64]``, ``[B, T, 64]``, ...)."""


def checks_enabled() -> bool:
    """Whether the finiteness checks run (``False`` when ``SPIKESAT_NO_CHECKS`` is set to 1)."""
    return os.environ.get(NO_CHECKS_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def check_finite(x: torch.Tensor, name: str, hint: str | None = None) -> torch.Tensor:
    """Return ``x``, or raise ``ValueError`` if it holds NaN or infinite values.

    Integer and boolean tensors are always finite and pass. Skipped when
    ``SPIKESAT_NO_CHECKS=1``.

    Parameters
    ----------
    x : Tensor
        The tensor to check.
    name : str
        The argument's name, for the message (``"images"``, ``"x"``, ``"features"``).
    hint : str, optional
        The fix to suggest; by default, cleaning the batch.
    """
    if not (x.is_floating_point() or x.is_complex()) or x.numel() == 0 or not checks_enabled():
        return x
    # One fused min/max pass: NaN propagates into both, an infinity shows in one of them. It
    # allocates nothing of the input's size (12x faster than isfinite(x).all() on 4e5 floats).
    parts = torch.view_as_real(x.resolve_conj()) if x.is_complex() else x
    low, high = torch.aminmax(parts)
    if not bool(torch.isfinite(low) & torch.isfinite(high)):
        finite = torch.isfinite(x)
        num_nan = int(torch.isnan(x).sum())
        num_inf = int((~finite).sum()) - num_nan
        raise ValueError(
            f"{name} holds {num_nan} NaN and {num_inf} infinite value(s) "
            f"(shape {list(x.shape)}); "
            + (hint or "clean the batch (e.g. drop or repair the non-finite examples) first")
        )
    return x


def check_tensor(
    x: object,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: ShapeSpec | None = None,
    finite: bool = True,
    hint: str | None = None,
) -> torch.Tensor:
    """Return ``x`` if it is a tensor of the expected rank and shape (and finite), else raise.

    Parameters
    ----------
    x : object
        The argument to check.
    name : str
        The argument's name, for the message.
    ndim : int or sequence of int, optional
        The accepted number(s) of dimensions (implied by ``shape`` when that is given).
    shape : sequence, optional
        The expected shape: an int must match exactly, a name (``"B"``) or ``None`` matches any
        size, a leading ``...`` matches any leading dimensions. E.g. ``("B", 3, "H", "W")``.
    finite : bool
        Also run :func:`check_finite` (default ``True``).
    hint : str, optional
        The fix to suggest when the shape is wrong.

    Raises
    ------
    TypeError
        If ``x`` is not a ``torch.Tensor``.
    ValueError
        If the rank or a size differs from the expected one, or ``x`` holds NaN/infinity.
    """
    if not isinstance(x, torch.Tensor):
        expected = f" of shape {format_shape(shape)}" if shape is not None else ""
        raise TypeError(f"{name} must be a torch.Tensor{expected}, got {type(x).__name__}")
    if shape is not None:
        _check_shape(x, name, tuple(shape), hint)
    elif ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise ValueError(
                f"{name} must have {want} dimensions, got shape {list(x.shape)}"
                + (f"; {hint}" if hint else "")
            )
    if finite:
        check_finite(x, name)
    return x


def format_shape(shape: ShapeSpec) -> str:
    """``("B", 3, None)`` -> ``"[B, 3, *]"`` (``...`` is written as ``...``)."""
    parts = ["..." if s is Ellipsis else "*" if s is None else str(s) for s in shape]
    return "[" + ", ".join(parts) + "]"


def expected_input_shape(model: nn.Module) -> tuple | None:
    """The input shape ``model`` expects, or ``None`` where it cannot be told in advance.

    A module with an ``expected_input_shape()`` method (LAM, SplitModel, SpikingNetwork) answers
    for itself. For an ``nn.Sequential``, the first Linear/Conv layer decides if only
    shape-preserving layers (activations, dropout, norms) come before it.
    """
    own = getattr(model, "expected_input_shape", None)
    if callable(own):
        return own()
    if isinstance(model, nn.Sequential):
        return first_layer_input_shape(model)
    return None


_SHAPE_PRESERVING = (
    nn.ReLU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Identity,
    nn.Dropout,
    nn.LayerNorm,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
)


def first_layer_input_shape(module: nn.Module) -> tuple | None:
    """The input shape of ``module``'s first Linear/Conv leaf, if nothing before it reshapes."""
    for leaf in module.modules():
        if leaf is not module and len(leaf._modules) > 0:
            continue
        if isinstance(leaf, nn.Linear):
            return (..., leaf.in_features)
        if isinstance(leaf, nn.Conv1d):
            return ("B", leaf.in_channels, "L")
        if isinstance(leaf, nn.Conv2d):
            return ("B", leaf.in_channels, "H", "W")
        if isinstance(leaf, nn.Conv3d):
            return ("B", leaf.in_channels, "D", "H", "W")
        if leaf is not module and not isinstance(leaf, _SHAPE_PRESERVING):
            return None
    return None


def _check_shape(x: torch.Tensor, name: str, shape: tuple, hint: str | None) -> None:
    got = list(x.shape)
    leading = bool(shape) and shape[0] is Ellipsis
    fixed = shape[1:] if leading else shape
    if leading:
        ok_rank = x.dim() >= max(len(fixed), 1) + 1
    else:
        ok_rank = x.dim() == len(fixed)
    ok = ok_rank and all(
        not isinstance(want, int) or have == want
        for want, have in zip(reversed(fixed), reversed(got), strict=False)
    )
    if not ok:
        expected = format_shape(("B", ..., *fixed) if leading else shape)
        extra = " (with a batch dimension)" if leading else ""
        raise ValueError(
            f"{name} must have shape {expected}{extra}, got {got}" + (f"; {hint}" if hint else "")
        )
