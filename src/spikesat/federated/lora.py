"""LoRA on a LAM's backbone with heterogeneous ranks per client, and its aggregation.

The adapters are peft's LoRA layers (``peft.inject_adapter_in_model``) placed on the linear
layers of the chosen backbone stages (for a ViT: attention ``qkv`` / ``proj`` and MLP
``fc1`` / ``fc2`` of ``blocks.*``). The model stays a :class:`spikesat.models.LAM`, so
:func:`spikesat.models.split` still cuts it. Client ``i`` of rank ``r_i`` and ``lora_alpha``
``alpha_i`` adds ``s_i * B_i @ A_i`` to each frozen weight ``W`` (``[out, in]``), with
``A_i`` ``[r_i, in]``, ``B_i`` ``[out, r_i]`` and scaling ``s_i = alpha_i / r_i``.

Two server aggregations of heterogeneous ranks are offered by :func:`aggregate_lora`:

- ``"stack"`` (FLoRA, Wang et al., "FLoRA: Federated Fine-Tuning Large Language Models with
  Heterogeneous Low-Rank Adaptations", NeurIPS 2024): ``A = [A_1; ...; A_n]``
  (``[sum r_i, in]``) and ``B = [w_1 s_1 B_1, ..., w_n s_n B_n]`` (``[out, sum r_i]``), so
  ``B @ A = sum_i w_i s_i B_i A_i``, exactly the weighted sum of the client updates. The server
  merges it into the frozen weights (:func:`merge_lora_delta`) and every client restarts from
  fresh LoRA of its own rank.
- ``"zero-pad"`` (HetLoRA, Cho et al., "Heterogeneous LoRA for Federated Fine-tuning of
  On-Device Foundation Models", EMNLP 2024): every ``A_i`` / ``s_i B_i`` is zero-padded to the
  largest rank and the two are averaged separately. The product of averages is biased:
  ``B @ A = sum_i sum_j w_i w_j s_i B_i A_j``, which weights a client's own update by ``w_i^2``
  instead of ``w_i`` and adds cross terms ``B_i A_j`` between clients; the rank directions only
  high-rank clients have are diluted by the zeros of the others. Clients take the leading
  ``r_i`` rows / columns back (:func:`load_lora_state`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from torch import Tensor, nn

from spikesat.federated.aggregate import normalise_weights

DEFAULT_TARGET_MODULES = ("qkv", "proj", "fc1", "fc2")
"""Leaf names of the ViT block linears that get LoRA by default (timm ``Block``)."""

AGGREGATION_METHODS = ("stack", "zero-pad")
"""Heterogeneous-rank LoRA aggregations of :func:`aggregate_lora`."""

ADAPTER_NAME = "default"
"""The peft adapter name used for the LAM's LoRA."""


@dataclass
class LoraUpdate:
    """A low-rank weight update per LoRA module, in delta form (scaling folded into ``B``).

    Attributes
    ----------
    state : dict[str, Tensor]
        ``"<module>.lora_A"`` -> ``A`` ``[R, in]`` and ``"<module>.lora_B"`` -> ``B``
        ``[out, R]`` in float64; the update of module ``<module>``'s weight is ``B @ A``.
    method : str
        The aggregation that produced it ("stack" or "zero-pad").
    ranks : list[int]
        The client ranks that went in.
    """

    state: dict[str, Tensor]
    method: str
    ranks: list[int] = field(default_factory=list)

    @property
    def modules(self) -> list[str]:
        """Names of the updated modules, in order."""
        return [k[: -len(".lora_A")] for k in self.state if k.endswith(".lora_A")]

    @property
    def rank(self) -> int:
        """The update's rank dimension ``R`` (sum of ranks for "stack", max for "zero-pad")."""
        first = self.modules[0]
        return int(self.state[f"{first}.lora_A"].shape[0])

    def delta(self, module: str) -> Tensor:
        """The dense update ``B @ A`` ``[out, in]`` (float64) of one module."""
        if f"{module}.lora_A" not in self.state:
            raise ValueError(f"{module!r} is not in this update; its modules are {self.modules}")
        return self.state[f"{module}.lora_B"] @ self.state[f"{module}.lora_A"]


def add_lora(
    lam: nn.Module,
    rank: int,
    alpha: float | None = None,
    target_modules: Sequence[str] | None = None,
    blocks: Sequence[str | int] | None = None,
    dropout: float = 0.0,
    seed: int = 0,
) -> nn.Module:
    """Inject peft LoRA adapters into a LAM's backbone linears, in place.

    Afterwards only the LoRA matrices and the task head ``lam.head`` are trainable; every
    other parameter is frozen. ``A`` is initialised as peft does (Kaiming-uniform,
    ``a = sqrt(5)``) from ``seed`` and ``B`` is zero, so the model's output is unchanged.

    Parameters
    ----------
    lam : LAM
        A model from :func:`spikesat.models.create` (``deepcopy`` it first to keep the
        original).
    rank : int
        LoRA rank ``r`` >= 1.
    alpha : float, optional
        peft's ``lora_alpha``; the update is scaled by ``alpha / rank``. Default: ``rank``
        (scaling 1, which :func:`aggregate_lora` assumes when it is given no ``alphas``).
    target_modules : sequence of str, optional
        Leaf names of the ``nn.Linear`` layers to adapt inside the chosen stages. Default
        :data:`DEFAULT_TARGET_MODULES` (ViT attention qkv/proj and MLP fc1/fc2).
    blocks : sequence of str or int, optional
        The stages to adapt, as stage names (``"blocks.2"``) or indices into the expanded
        block stages (``2`` -> the third of ``blocks.*`` / ``stages.*``). Default: all of them.
        For the split-LAM architecture pass the ground-side blocks only.
    dropout : float
        LoRA dropout probability in ``[0, 1)``.
    seed : int
        Seed of the initialisation of ``A``.

    Returns
    -------
    nn.Module
        ``lam`` itself, with peft LoRA layers in place of the targeted linears.

    Raises
    ------
    ValueError
        Bad rank / alpha / dropout, unknown stages, no matching linear layer, or a model
        that already has LoRA.
    """
    if not hasattr(lam, "stage_names") or not hasattr(lam, "head"):
        raise TypeError(
            f"add_lora expects a spikesat LAM (spikesat.models.create), got {type(lam).__name__}"
        )
    if _lora_layers(lam):
        raise ValueError("this model already has LoRA adapters; add_lora once per model")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a positive int, got {rank!r}")
    alpha = float(rank if alpha is None else alpha)
    if not math.isfinite(alpha) or alpha <= 0.0:
        raise ValueError(f"alpha must be a finite positive number, got {alpha!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    stages = _resolve_blocks(lam, blocks)
    targets = tuple(DEFAULT_TARGET_MODULES if target_modules is None else target_modules)
    if isinstance(target_modules, str) or not targets:
        raise ValueError(
            f"target_modules must be a non-empty sequence of leaf names, got {target_modules!r}"
        )
    pattern = (
        rf"(?:{'|'.join(re.escape(s) for s in stages)})\.(?:.+\.)?"
        rf"(?:{'|'.join(re.escape(t) for t in targets)})"
    )
    matched = [
        name
        for name, module in lam.named_modules()
        if re.fullmatch(pattern, name) and isinstance(module, nn.Linear)
    ]
    if not matched:
        linears = sorted(
            {
                name.rsplit(".", 1)[-1]
                for name, module in lam.named_modules()
                if isinstance(module, nn.Linear) and any(name.startswith(f"{s}.") for s in stages)
            }
        )
        raise ValueError(
            f"no nn.Linear named {list(targets)} inside stages {stages} of "
            f"{getattr(lam, 'name', type(lam).__name__)}; the linear layers there are "
            f"{linears}: pass some of them as target_modules"
        )
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=rf"(?:{'|'.join(re.escape(m) for m in matched)})",
        bias="none",
    )
    inject_adapter_in_model(config, lam, adapter_name=ADAPTER_NAME)
    for parameter in lam.head.parameters():
        parameter.requires_grad_(True)
    reset_lora(lam, seed=seed)
    return lam


def _resolve_blocks(lam: nn.Module, blocks: Sequence[str | int] | None) -> list[str]:
    """Stage names to adapt: the expanded block stages, or the ones the caller named."""
    expanded = [n for n in lam.stage_names if re.fullmatch(r"[A-Za-z_]\w*\.\d+", n)]
    if blocks is None:
        if not expanded:
            raise ValueError(
                f"{getattr(lam, 'name', 'this model')} has no block stages (stages: "
                f"{lam.stage_names}); pass blocks= with stage names holding nn.Linear layers"
            )
        return expanded
    if isinstance(blocks, str | int):
        blocks = [blocks]
    names: list[str] = []
    for block in blocks:
        if isinstance(block, bool):
            raise TypeError(f"blocks entries must be stage names or ints, got {block!r}")
        if isinstance(block, int):
            if not 0 <= block < len(expanded):
                raise ValueError(
                    f"block index {block} is out of range: the model has {len(expanded)} "
                    f"block stages {expanded}"
                )
            names.append(expanded[block])
        elif block in lam.stage_names and block != "head":
            names.append(block)
        else:
            raise ValueError(
                f"{block!r} is not a backbone stage; choose from {lam.stage_names[:-1]}"
            )
    if not names:
        raise ValueError("blocks is empty: name at least one stage to adapt")
    return list(dict.fromkeys(names))


def _lora_layers(model: nn.Module) -> dict[str, LoraLayer]:
    """The model's peft LoRA layers holding the spikesat adapter, by module name."""
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, LoraLayer) and ADAPTER_NAME in module.lora_A
    }


def _require_lora(model: nn.Module) -> dict[str, LoraLayer]:
    layers = _lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA adapters: call add_lora(model, rank) first")
    return layers


def reset_lora(model: nn.Module, seed: int = 0) -> None:
    """Re-initialise every LoRA adapter: ``A`` Kaiming-uniform from ``seed``, ``B`` zero.

    The model's output becomes that of its (possibly merged) frozen weights again.
    """
    gen = torch.Generator().manual_seed(seed)
    for layer in _require_lora(model).values():
        a = layer.lora_A[ADAPTER_NAME].weight
        b = layer.lora_B[ADAPTER_NAME].weight
        with torch.no_grad():
            fresh = torch.empty(a.shape, dtype=a.dtype)
            nn.init.kaiming_uniform_(fresh, a=math.sqrt(5), generator=gen)
            a.copy_(fresh)
            b.zero_()


def lora_rank_alpha(model: nn.Module) -> tuple[int, float]:
    """The ``(rank, lora_alpha)`` shared by the model's LoRA layers (see :func:`add_lora`)."""
    pairs = {
        (int(layer.r[ADAPTER_NAME]), float(layer.lora_alpha[ADAPTER_NAME]))
        for layer in _require_lora(model).values()
    }
    if len(pairs) != 1:
        raise ValueError(f"the model's LoRA layers have mixed (rank, alpha) {sorted(pairs)}")
    return pairs.pop()


def lora_state(model: nn.Module) -> dict[str, Tensor]:
    """The LoRA matrices of a model, under names that do not depend on the rank.

    Returns
    -------
    dict[str, Tensor]
        ``"<module>.lora_A"`` -> ``A`` ``[r, in]`` and ``"<module>.lora_B"`` -> ``B``
        ``[out, r]`` (detached copies, the model's dtype), e.g. ``"blocks.0.attn.qkv.lora_A"``.
    """
    state: dict[str, Tensor] = {}
    for name, layer in _require_lora(model).items():
        state[f"{name}.lora_A"] = layer.lora_A[ADAPTER_NAME].weight.detach().clone()
        state[f"{name}.lora_B"] = layer.lora_B[ADAPTER_NAME].weight.detach().clone()
    return state


def lora_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The model's live LoRA parameters, under the names :func:`lora_state` gives them.

    Returns
    -------
    dict[str, nn.Parameter]
        ``"<module>.lora_A"`` -> the ``A`` parameter ``[r, in]`` and ``"<module>.lora_B"`` ->
        the ``B`` parameter ``[out, r]`` (not copies: stepping them changes the model), in
        :func:`lora_state`'s order.
    """
    params: dict[str, nn.Parameter] = {}
    for name, layer in _require_lora(model).items():
        params[f"{name}.lora_A"] = layer.lora_A[ADAPTER_NAME].weight
        params[f"{name}.lora_B"] = layer.lora_B[ADAPTER_NAME].weight
    return params


def load_lora_state(model: nn.Module, state: Mapping[str, Tensor] | LoraUpdate) -> None:
    """Load LoRA matrices into a model, truncating or zero-padding them to its rank.

    A plain ``state`` (from :func:`lora_state`) is taken as trained with the model's own
    scaling. A :class:`LoraUpdate` is in delta form (scaling 1), so its ``B`` is divided by
    the model's scaling ``alpha / r``. When the ranks differ, the model takes the leading
    ``r`` rows of ``A`` and columns of ``B`` (HetLoRA's truncation), or pads with zeros.

    Parameters
    ----------
    model : nn.Module
        A model with LoRA (:func:`add_lora`).
    state : mapping or LoraUpdate
        ``"<module>.lora_A"`` / ``"<module>.lora_B"`` for every LoRA module of the model.
    """
    layers = _require_lora(model)
    scale = 1.0
    if isinstance(state, LoraUpdate):
        rank, alpha = lora_rank_alpha(model)
        scale = rank / alpha
        state = state.state
    _check_lora_keys(state, list(layers), "load_lora_state")
    with torch.no_grad():
        for name, layer in layers.items():
            a = layer.lora_A[ADAPTER_NAME].weight
            b = layer.lora_B[ADAPTER_NAME].weight
            new_a, new_b = state[f"{name}.lora_A"], state[f"{name}.lora_B"]
            if new_a.shape[1] != a.shape[1] or new_b.shape[0] != b.shape[0]:
                raise ValueError(
                    f"{name}: state has A {tuple(new_a.shape)} / B {tuple(new_b.shape)} but the "
                    f"model's layer is [{b.shape[0]} x {a.shape[1]}]"
                )
            r = a.shape[0]
            a.zero_()
            b.zero_()
            keep = min(r, new_a.shape[0])
            a[:keep] = new_a[:keep].to(a)
            b[:, :keep] = (new_b[:, :keep].double() * scale).to(b)


def _check_lora_keys(state: Mapping[str, Tensor], modules: list[str], what: str) -> None:
    expected = {f"{m}.lora_{s}" for m in modules for s in "AB"}
    if set(state) != expected:
        raise ValueError(
            f"{what}: LoRA state keys differ from the model's (missing "
            f"{sorted(expected - set(state))[:4]}, extra {sorted(set(state) - expected)[:4]}); "
            "use lora_state() of a model adapted on the same blocks and target modules"
        )


def aggregate_lora(
    states: Sequence[Mapping[str, Tensor]],
    weights: Sequence[float],
    ranks: Sequence[int],
    method: str = "stack",
    alphas: Sequence[float] | None = None,
) -> LoraUpdate:
    """Aggregate client LoRA matrices of heterogeneous ranks into one low-rank update.

    Parameters
    ----------
    states : sequence of mapping str -> Tensor
        ``n`` client states from :func:`lora_state`, with the same modules; client ``i`` has
        ``A`` ``[r_i, in]`` and ``B`` ``[out, r_i]``.
    weights : sequence of float
        ``n`` non-negative weights (e.g. sample counts), normalised to sum to one; clients
        of weight zero are left out.
    ranks : sequence of int
        ``n`` client ranks ``r_i`` (checked against the matrices).
    method : {"stack", "zero-pad"}
        ``"stack"`` (FLoRA): exact, ``B @ A = sum_i w_i s_i B_i A_i`` with rank ``sum r_i``.
        ``"zero-pad"`` (HetLoRA): separate averages of zero-padded ``A_i`` and ``s_i B_i``,
        rank ``max r_i``; biased (see the module docstring).
    alphas : sequence of float, optional
        The clients' ``lora_alpha`` (scaling ``s_i = alpha_i / r_i``); default ``alpha_i = r_i``
        (scaling 1, :func:`add_lora`'s default).

    Returns
    -------
    LoraUpdate
        float64 ``A`` / ``B`` per module in delta form (``delta W = B @ A``).
    """
    if method not in AGGREGATION_METHODS:
        raise ValueError(
            f"unknown LoRA aggregation {method!r}; choose one of {AGGREGATION_METHODS}"
        )
    if isinstance(states, Mapping) or not isinstance(states, Sequence) or not states:
        raise ValueError("aggregate_lora needs a non-empty sequence of lora_state() dicts")
    num_clients = len(states)
    norm = normalise_weights(weights, num_clients)
    ranks = list(ranks)
    if len(ranks) != num_clients or any(
        isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in ranks
    ):
        raise ValueError(f"ranks must be {num_clients} positive ints, one per state; got {ranks}")
    if alphas is None:
        scalings = [1.0] * num_clients
    else:
        alphas = [float(a) for a in alphas]
        if len(alphas) != num_clients or not all(math.isfinite(a) and a > 0 for a in alphas):
            raise ValueError(f"alphas must be {num_clients} positive finite numbers, got {alphas}")
        scalings = [a / r for a, r in zip(alphas, ranks, strict=True)]
    modules = [k[: -len(".lora_A")] for k in states[0] if k.endswith(".lora_A")]
    if not modules:
        raise ValueError("states[0] holds no '<module>.lora_A' entries; pass lora_state() dicts")
    for i, state in enumerate(states):
        _check_lora_keys(state, modules, f"aggregate_lora (state {i})")
    kept = [i for i in range(num_clients) if norm[i] > 0.0]
    max_rank = max(ranks[i] for i in kept)
    out: dict[str, Tensor] = {}
    for module in modules:
        a_list, b_list = [], []
        for i in kept:
            a = states[i][f"{module}.lora_A"].detach().double().cpu()
            b = states[i][f"{module}.lora_B"].detach().double().cpu()
            if a.ndim != 2 or b.ndim != 2 or a.shape[0] != ranks[i] or b.shape[1] != ranks[i]:
                raise ValueError(
                    f"client {i}, module {module}: A {tuple(a.shape)} / B {tuple(b.shape)} do not "
                    f"have rank {ranks[i]}; pass each client's true rank"
                )
            if a.shape[1] != states[kept[0]][f"{module}.lora_A"].shape[1] or (
                b.shape[0] != states[kept[0]][f"{module}.lora_B"].shape[0]
            ):
                raise ValueError(f"module {module}: clients disagree on the layer's in/out sizes")
            if method == "zero-pad":
                a = torch.nn.functional.pad(a, (0, 0, 0, max_rank - ranks[i]))
                b = torch.nn.functional.pad(b, (0, max_rank - ranks[i]))
                a = a * norm[i]
            b = b * (norm[i] * scalings[i])
            a_list.append(a)
            b_list.append(b)
        if method == "stack":
            out[f"{module}.lora_A"] = torch.cat(a_list, dim=0)
            out[f"{module}.lora_B"] = torch.cat(b_list, dim=1)
        else:
            out[f"{module}.lora_A"] = torch.stack(a_list).sum(dim=0)
            out[f"{module}.lora_B"] = torch.stack(b_list).sum(dim=0)
    return LoraUpdate(state=out, method=method, ranks=ranks)


def merge_lora_delta(model: nn.Module, update: LoraUpdate, seed: int | None = 0) -> nn.Module:
    """Add an aggregated update to the frozen weights, then restart the model's LoRA.

    Every module ``m`` of the update gets ``W_m <- W_m + B_m @ A_m`` (computed in float64,
    cast to ``W``'s dtype). ``m`` is either a peft LoRA layer (its ``base_layer`` weight is
    changed) or a plain ``nn.Linear`` (a server model without adapters). Afterwards the
    model's own LoRA adapters, if any, are re-initialised from ``seed`` (``B = 0``), so the
    model computes exactly the merged weights and clients restart from fresh LoRA of their
    own rank.

    Parameters
    ----------
    model : nn.Module
        The LAM to update in place (with or without LoRA).
    update : LoraUpdate
        From :func:`aggregate_lora`.
    seed : int or None
        Seed of the fresh LoRA ``A``; ``None`` keeps the adapters as they are.

    Returns
    -------
    nn.Module
        ``model``.
    """
    if not isinstance(update, LoraUpdate):
        raise TypeError(
            "merge_lora_delta expects a LoraUpdate from aggregate_lora, got "
            f"{type(update).__name__}"
        )
    named = dict(model.named_modules())
    targets: dict[str, tuple[nn.Linear, Tensor]] = {}
    for module in update.modules:
        layer = named.get(module)
        if isinstance(layer, LoraLayer):
            layer = layer.get_base_layer()
        if not isinstance(layer, nn.Linear):
            raise ValueError(
                f"module {module!r} of the update is not an nn.Linear (or LoRA layer) of the "
                "model; merge into a model with the same architecture"
            )
        delta = update.delta(module)
        if tuple(delta.shape) != tuple(layer.weight.shape):
            raise ValueError(
                f"{module}: update is {tuple(delta.shape)} but the weight is "
                f"{tuple(layer.weight.shape)}"
            )
        targets[module] = (layer, delta)
    with torch.no_grad():
        for layer, delta in targets.values():
            merged = layer.weight.double() + delta.to(layer.weight.device)
            layer.weight.copy_(merged.to(layer.weight.dtype))
    if seed is not None and _lora_layers(model):
        reset_lora(model, seed=seed)
    return model


def base_state(model: nn.Module) -> dict[str, Tensor]:
    """The model's non-LoRA parameters and buffers under the plain LAM's names.

    peft renames an adapted layer's weight ``<m>.weight`` to ``<m>.base_layer.weight``; this
    maps it back and leaves out the LoRA matrices, so models of different ranks (or without
    LoRA) exchange the same dict (e.g. the server broadcasting merged weights).
    """
    layers = _lora_layers(model)
    lora_prefixes = tuple(f"{m}.lora_" for m in layers)
    state: dict[str, Tensor] = {}
    for key, value in model.state_dict().items():
        if key.startswith(lora_prefixes):
            continue
        state[key.replace(".base_layer.", ".")] = value.detach().clone()
    return state


def load_base_state(model: nn.Module, state: Mapping[str, Tensor]) -> None:
    """Load a :func:`base_state` dict into a model with or without LoRA (LoRA untouched)."""
    layers = _lora_layers(model)
    lora_prefixes = tuple(f"{m}.lora_" for m in layers)
    mapped: dict[str, Tensor] = {}
    own = [k for k in model.state_dict() if not k.startswith(lora_prefixes)]
    for key in own:
        plain = key.replace(".base_layer.", ".")
        if plain not in state:
            raise ValueError(f"base state lacks {plain!r}; pass base_state() of the same model")
        mapped[key] = state[plain]
    extra = set(state) - {k.replace(".base_layer.", ".") for k in own}
    if extra:
        raise ValueError(f"base state has unknown entries {sorted(extra)[:4]}")
    model.load_state_dict(mapped, strict=False)
