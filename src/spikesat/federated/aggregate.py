"""Aggregation of model updates: weighted averaging, ring all-reduce and staleness weights.

Every function here is pure: it takes state dicts (``dict[str, Tensor]``, e.g. from
``module.state_dict()``) and returns new tensors without touching its inputs. Floating-point
tensors are accumulated in float64 (complex in complex128) and cast back to their own dtype;
integer tensors (such as BatchNorm's ``num_batches_tracked``) are averaged in float64 and
rounded to the nearest integer. Boolean tensors have no meaningful average and raise.

References
----------
McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data",
AISTATS 2017 (FedAvg's sample-weighted average).
Patarasuk and Yuan, "Bandwidth optimal all-reduce algorithms for clusters of workstations",
J. Parallel Distrib. Comput. 69(2), 2009 (ring all-reduce: reduce-scatter + all-gather).
Xie, Koyejo and Gupta, "Asynchronous Federated Optimization", arXiv:1903.03934, 2019
(FedAsync's staleness functions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

STALENESS_KINDS = ("constant", "polynomial", "hinge")
"""Staleness functions of FedAsync (Xie et al. 2019, section 3)."""


def _check_states(states: Sequence[Mapping[str, Tensor]], what: str) -> list[str]:
    """Validate a non-empty list of state dicts with equal keys and shapes; return the keys."""
    if isinstance(states, Mapping) or not isinstance(states, Sequence):
        raise TypeError(
            f"{what} expects a sequence of state dicts (dict[str, Tensor]), got "
            f"{type(states).__name__}; wrap a single state dict in a list"
        )
    if len(states) == 0:
        raise ValueError(f"{what} got no states: pass at least one state dict")
    for i, state in enumerate(states):
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{what}: state {i} is a {type(state).__name__}, expected a mapping of "
                "parameter names to tensors (e.g. module.state_dict())"
            )
    keys = list(states[0].keys())
    key_set = set(keys)
    for i, state in enumerate(states[1:], start=1):
        other = set(state.keys())
        if other != key_set:
            missing = sorted(key_set - other)
            extra = sorted(other - key_set)
            raise ValueError(
                f"{what}: state {i} has different keys from state 0 (missing {missing}, "
                f"extra {extra}); every member must hold the same parameters"
            )
    for key in keys:
        ref = states[0][key]
        if not isinstance(ref, Tensor):
            raise TypeError(
                f"{what}: state 0 entry {key!r} is a {type(ref).__name__}, not a Tensor"
            )
        if ref.dtype == torch.bool:
            raise TypeError(
                f"{what}: entry {key!r} is a bool tensor, which has no average; drop it from "
                "the state dicts before aggregating"
            )
        for i, state in enumerate(states[1:], start=1):
            value = state[key]
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"{what}: state {i} entry {key!r} is a {type(value).__name__}, not a Tensor"
                )
            if value.shape != ref.shape:
                raise ValueError(
                    f"{what}: entry {key!r} has shape {tuple(value.shape)} in state {i} but "
                    f"{tuple(ref.shape)} in state 0; shapes must match across members"
                )
            if value.dtype != ref.dtype:
                raise ValueError(
                    f"{what}: entry {key!r} has dtype {value.dtype} in state {i} but {ref.dtype} "
                    "in state 0; cast the states to one dtype first"
                )
    return keys


def _accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 for real tensors, complex128 for complex ones."""
    return torch.complex128 if dtype.is_complex else torch.float64


def _cast_back(value: Tensor, dtype: torch.dtype) -> Tensor:
    """Cast an accumulated float64 / complex128 tensor back to ``dtype`` (rounding integers)."""
    if dtype.is_floating_point or dtype.is_complex:
        return value.to(dtype)
    return torch.round(value).to(dtype)


def _check_weights(weights: Sequence[float], num_states: int) -> list[float]:
    """Validate weights (finite, non-negative, positive sum); return them as floats."""
    if isinstance(weights, Tensor):
        weights = weights.detach().cpu().reshape(-1).tolist()
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError) as err:
        raise TypeError(f"weights must be a sequence of real numbers, got {weights!r}") from err
    if len(values) != num_states:
        raise ValueError(
            f"got {len(values)} weights for {num_states} states; pass one weight per state "
            "(e.g. its number of training samples)"
        )
    for i, w in enumerate(values):
        if not math.isfinite(w):
            raise ValueError(f"weight {i} is {w}; weights must be finite")
        if w < 0.0:
            raise ValueError(f"weight {i} is {w}; weights must be non-negative")
    if math.fsum(values) <= 0.0:
        raise ValueError(f"weights {values} sum to zero; at least one weight must be positive")
    return values


def normalise_weights(weights: Sequence[float], num_items: int) -> list[float]:
    """Validate ``num_items`` weights and scale them to sum to one.

    Parameters
    ----------
    weights : sequence of float
        Non-negative finite weights (e.g. sample counts) with a positive sum.
    num_items : int
        How many weights are expected.

    Returns
    -------
    list[float]
        The weights divided by their (exactly rounded) sum.

    Raises
    ------
    ValueError
        A wrong count, negative / NaN / infinite weights or a zero sum.
    """
    values = _check_weights(weights, num_items)
    total = math.fsum(values)
    return [w / total for w in values]


def weighted_average(
    states: Sequence[Mapping[str, Tensor]], weights: Sequence[float]
) -> dict[str, Tensor]:
    """Weighted average of state dicts (FedAvg), accumulated in float64.

    The weights are normalised to sum to one: the result is
    ``sum_i w_i * states[i] / sum_i w_i``. Internally every weight is divided by the largest
    one before accumulating, so equal weights multiply by exactly 1.0 and the result is the
    float64 sum of the states divided by their number (which is what :func:`ring_allreduce`
    computes).

    Parameters
    ----------
    states : sequence of mapping str -> Tensor
        ``M`` state dicts with identical keys, shapes and dtypes (any tensor shape).
    weights : sequence of float
        ``M`` non-negative finite weights with a positive sum, e.g. sample counts.

    Returns
    -------
    dict[str, Tensor]
        The averaged state, keys in the order of ``states[0]``, each tensor with its
        original dtype and device (integers rounded to nearest).

    Raises
    ------
    ValueError
        Empty input, a weight count that differs from the state count, negative / NaN /
        infinite weights, weights summing to zero, mismatched keys, shapes or dtypes.
    TypeError
        Non-mapping states, non-tensor entries or bool tensors.
    """
    keys = _check_states(states, "weighted_average")
    values = _check_weights(weights, len(states))
    largest = max(values)
    scaled = [w / largest for w in values]
    total = math.fsum(scaled)
    averaged: dict[str, Tensor] = {}
    for key in keys:
        ref = states[0][key]
        acc_dtype = _accumulation_dtype(ref.dtype)
        acc = torch.zeros(ref.shape, dtype=acc_dtype, device=ref.device)
        for state, w in zip(states, scaled, strict=True):
            if w == 0.0:
                continue
            term = state[key].detach().to(device=ref.device, dtype=acc_dtype)
            acc += term * w
        averaged[key] = _cast_back(acc / total, ref.dtype)
    return averaged


def ring_allreduce(
    states: Sequence[Mapping[str, Tensor]], members: Sequence[int] | None = None
) -> list[dict[str, Tensor]]:
    """Mean of ``n`` members' states by a chunked ring all-reduce; every member's copy.

    Each member flattens its state (keys in the order of ``states[0]``) into one float64
    vector (complex128 if any entry is complex) split into ``n`` chunks. In the
    reduce-scatter phase, at step ``s = 0 .. n-2`` member ``i`` sends its partial sum of chunk
    ``(i - s) mod n`` to member ``(i + 1) mod n``, which adds its own contribution; after
    ``n - 1`` steps member ``i`` holds the full sum of chunk ``(i + 1) mod n`` and divides it by
    ``n``. In the all-gather phase, at step ``s`` member ``i`` forwards its finished chunk
    ``(i + 1 - s) mod n`` to ``(i + 1) mod n``, which overwrites its copy. Each member sends
    ``2 (n - 1)`` chunks, about ``2 (n - 1) / n`` of the state (:func:`ring_allreduce_bytes`).

    The result equals ``weighted_average(states, [1.0] * n)`` bit for bit whenever the float64
    sums are exact (then the summation order does not matter). That holds for float32 states
    whenever each entry's non-zero values across members lie within a factor
    ``2 ** (29 - ceil(log2 n))`` of each other in magnitude (float16 / bfloat16 allow more);
    otherwise, and for float64 states, the two differ only by float64 rounding.

    Parameters
    ----------
    states : sequence of mapping str -> Tensor
        ``n`` state dicts with identical keys, shapes and dtypes; member ``i`` is ``states[i]``
        and its ring successor is ``states[(i + 1) % n]``.
    members : sequence of int, optional
        The members whose copies to return (default all ``n``; every copy is the same mean,
        so a caller that needs one saves rebuilding the others).

    Returns
    -------
    list[dict[str, Tensor]]
        One state dict per requested member (independent tensors), each the mean of the inputs
        in the original dtypes and on ``states[0]``'s devices (integers rounded to nearest).

    Raises
    ------
    ValueError, TypeError
        As :func:`weighted_average` for empty or mismatched states.
    """
    keys = _check_states(states, "ring_allreduce")
    num_members = len(states)
    wanted = range(num_members) if members is None else list(members)
    if any(not 0 <= int(m) < num_members for m in wanted):
        raise ValueError(f"members must lie in [0, {num_members}), got {list(wanted)}")
    refs = [states[0][key] for key in keys]
    acc_dtype = torch.complex128 if any(ref.dtype.is_complex for ref in refs) else torch.float64
    flat = [
        torch.cat(
            [state[key].detach().cpu().to(acc_dtype).reshape(-1) for key in keys]
            or [torch.zeros(0, dtype=acc_dtype)]
        )
        for state in states
    ]
    # chunks[i][c]: member i's buffer for chunk c (independent copies, so members share nothing).
    chunks = [[c.clone() for c in torch.tensor_split(v, num_members)] for v in flat]
    for step in range(num_members - 1):  # reduce-scatter
        sent = [(i, (i - step) % num_members) for i in range(num_members)]
        payloads = [chunks[i][c].clone() for i, c in sent]
        for (i, c), payload in zip(sent, payloads, strict=True):
            receiver = (i + 1) % num_members
            chunks[receiver][c] = payload + chunks[receiver][c]
    for i in range(num_members):
        owned = (i + 1) % num_members
        chunks[i][owned] = chunks[i][owned] / num_members
    for step in range(num_members - 1):  # all-gather
        sent = [(i, (i + 1 - step) % num_members) for i in range(num_members)]
        payloads = [chunks[i][c].clone() for i, c in sent]
        for (i, c), payload in zip(sent, payloads, strict=True):
            chunks[(i + 1) % num_members][c] = payload
    results: list[dict[str, Tensor]] = []
    for member in wanted:
        vector = torch.cat(chunks[int(member)])
        out: dict[str, Tensor] = {}
        offset = 0
        for key, ref in zip(keys, refs, strict=True):
            size = ref.numel()
            piece = vector[offset : offset + size].reshape(ref.shape)
            if not ref.dtype.is_complex:
                piece = piece.real if piece.is_complex() else piece
            out[key] = _cast_back(piece, ref.dtype).to(ref.device)
            offset += size
        results.append(out)
    return results


def ring_chunk_bytes(num_bytes: int, num_members: int) -> list[int]:
    """Sizes [bytes] of the ``n`` chunks a ring all-reduce splits a ``num_bytes`` state into.

    The split follows :func:`torch.tensor_split` (as :func:`ring_allreduce` does): the first
    ``num_bytes % n`` chunks are one byte larger.

    Parameters
    ----------
    num_bytes : int
        Size of one member's state [bytes], >= 0.
    num_members : int
        Ring size ``n`` >= 1.

    Returns
    -------
    list[int]
        ``n`` chunk sizes [bytes] summing to ``num_bytes``.
    """
    _check_ring_sizes(num_bytes, num_members)
    base, extra = divmod(num_bytes, num_members)
    return [base + 1 if c < extra else base for c in range(num_members)]


def ring_allreduce_bytes(num_bytes: int, num_members: int) -> int:
    """Bytes the busiest member sends in a ring all-reduce of a ``num_bytes`` state.

    Member ``i`` sends every chunk but ``(i + 1) mod n`` during the reduce-scatter and every
    chunk but ``(i + 2) mod n`` during the all-gather: ``2 (n - 1)`` chunks, i.e.
    ``2 (n - 1) / n * num_bytes`` when ``n`` divides ``num_bytes``. With uneven chunks the
    largest per-member total is returned. One member sends nothing.

    Parameters
    ----------
    num_bytes : int
        Size of one member's state [bytes], >= 0.
    num_members : int
        Ring size ``n`` >= 1.

    Returns
    -------
    int
        Bytes sent by the busiest member [bytes].
    """
    sizes = ring_chunk_bytes(num_bytes, num_members)
    if num_members == 1:
        return 0
    return max(
        2 * num_bytes - sizes[(i + 1) % num_members] - sizes[(i + 2) % num_members]
        for i in range(num_members)
    )


def _check_ring_sizes(num_bytes: int, num_members: int) -> None:
    """Validate the integer arguments of the ring byte helpers."""
    for name, value, low in (("num_bytes", num_bytes, 0), ("num_members", num_members, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def staleness_weight(staleness: int, kind: str = "polynomial", a: float = 0.5, b: int = 4) -> float:
    """FedAsync's staleness function ``s(t - tau)`` (Xie et al. 2019, section 3).

    The server mixes an update computed on a model ``staleness = t - tau`` versions old with
    weight ``alpha * s(staleness)``. The functions are

    - ``"constant"``: ``s = 1``;
    - ``"polynomial"``: ``s = (staleness + 1) ** (-a)``;
    - ``"hinge"``: ``s = 1`` if ``staleness <= b`` else ``1 / (a * (staleness - b) + 1)``.

    The paper's experiments use ``a = 0.5`` for the polynomial and ``a = 10, b = 4`` for the
    hinge function.

    Parameters
    ----------
    staleness : int
        Number of server model versions since the client downloaded its model, >= 0.
    kind : {"constant", "polynomial", "hinge"}
        The staleness function.
    a : float
        Decay exponent (polynomial) or slope (hinge), >= 0.
    b : int
        Hinge threshold: updates at most ``b`` versions old get full weight, >= 0.

    Returns
    -------
    float
        The weight in ``(0, 1]``, non-increasing in ``staleness``.
    """
    if isinstance(staleness, bool) or not isinstance(staleness, int):
        raise TypeError(f"staleness must be an int (model versions), got {staleness!r}")
    if staleness < 0:
        raise ValueError(f"staleness must be >= 0 model versions, got {staleness}")
    if kind not in STALENESS_KINDS:
        raise ValueError(f"unknown staleness kind {kind!r}; choose one of {list(STALENESS_KINDS)}")
    if not math.isfinite(a) or a < 0.0:
        raise ValueError(f"staleness parameter a must be finite and >= 0, got {a}")
    if isinstance(b, bool) or not isinstance(b, int) or b < 0:
        raise ValueError(f"hinge threshold b must be an int >= 0, got {b!r}")
    if kind == "constant":
        return 1.0
    if kind == "polynomial":
        return float((staleness + 1) ** (-a))
    if staleness <= b:
        return 1.0
    return 1.0 / (a * (staleness - b) + 1.0)
