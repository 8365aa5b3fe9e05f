"""``ensemble``: frozen specialists, a learnable top-k gate, concatenation fusion and a head.

After EoS-FM (Adorni et al.), built from the paper's description: each specialist is a frozen
feature extractor (a :class:`~spikesat.models.LAM`'s ``forward_features``, or any module mapping
images ``[B, C, H, W]`` to features ``[B, D_i]``), optionally behind its own input adapter (e.g.
a :func:`~spikesat.data.band_adapter`); its features get their own normalisation (LayerNorm
over ``D_i``), are scaled by the gate and concatenated, and a linear head maps the
concatenation to logits.

**The gate** holds one logit per specialist. Its top-k mask selects the specialists; the
weight of specialist ``i`` is ``mask_i + s_i - stop_gradient(s_i)`` with ``s = sigmoid(logits)``
(straight-through): its value is the hard 0/1 mask, its gradient that of the sigmoid, so the
gate learns which specialists help, unselected ones included. In training every specialist
runs, so the masked ones still get a gradient; :meth:`SpecialistEnsemble.prune` then removes
the unselected specialists physically (their modules, their head columns, their gate logits),
so their weights and MACs are gone, and the pruned ensemble answers exactly like the masked
one.

Specialists stay frozen: their parameters never require gradients and stay out of
:meth:`SpecialistEnsemble.trainable_parameters` (and of ``parameters()`` seen by an optimiser
built on it); a specialist unfrozen by accident is an error at the next forward. A new
specialist joins a trained ensemble with :meth:`SpecialistEnsemble.add_specialist`: its head
columns start at zero, so the ensemble answers as before until the gate and head train.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import Tensor, nn

GATES = ("topk",)


class SpecialistEnsemble(nn.Module):
    """Frozen specialists fused by a top-k gate (see the module docstring).

    Parameters
    ----------
    specialists : mapping of str to nn.Module
        Name -> feature extractor (``forward_features`` if it has one, else ``forward``).
    num_classes : int
    k : int
        Specialists the gate selects.
    sample : Tensor
        An input batch ``[B, C, H, W]`` to measure each specialist's feature width.
    adapters : mapping of str to nn.Module, optional
        Per specialist, a module applied to the input first (a band adapter).

    Attributes
    ----------
    names : list of str
        The specialists, in fusion order.
    feature_dims : dict of str to int
    """

    def __init__(
        self,
        specialists: Mapping[str, nn.Module],
        num_classes: int,
        k: int,
        sample: Tensor,
        adapters: Mapping[str, nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if not specialists:
            raise ValueError("an ensemble needs at least one specialist")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.specialists = nn.ModuleDict()
        self.adapters = nn.ModuleDict()
        self.norms = nn.ModuleDict()
        self.feature_dims: dict[str, int] = {}
        self.k = 0
        for name, model in specialists.items():
            self._attach(name, model, (adapters or {}).get(name), sample)
        self.gate_logits = nn.Parameter(torch.zeros(len(self.names)))
        self.head = nn.Linear(sum(self.feature_dims.values()), num_classes)
        self.set_k(k)

    @property
    def names(self) -> list[str]:
        return list(self.specialists)

    def set_k(self, k: int) -> None:
        """Select ``k`` specialists (1 <= k <= number of specialists)."""
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(self.names):
            raise ValueError(
                f"k must be an integer in [1, {len(self.names)}] (the number of specialists), "
                f"got {k!r}"
            )
        self.k = k

    def selected(self) -> list[str]:
        """The ``k`` specialists with the largest gate logits, in fusion order."""
        top = set(torch.topk(self.gate_logits.detach(), self.k).indices.tolist())
        return [n for i, n in enumerate(self.names) if i in top]

    def gate_weights(self) -> Tensor:
        """``[n]`` straight-through weights: the 0/1 top-k mask, with the sigmoid's gradient."""
        return topk_straight_through(self.gate_logits, self.k)

    def forward(self, x: Tensor) -> Tensor:
        """Images ``[B, C, H, W]`` -> logits ``[B, num_classes]``.

        Raises
        ------
        RuntimeError
            If a specialist's parameters were unfrozen (they must not train here).
        """
        self._check_frozen()
        weights = self.gate_weights()
        parts = [
            w * self.specialist_features(name, x)
            for name, w in zip(self.names, weights, strict=True)
        ]
        return self.head(torch.cat(parts, dim=1))

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """The gate, the normalisations, the head and the adapters: what an optimiser trains."""
        yield self.gate_logits
        yield from self.norms.parameters()
        yield from self.head.parameters()
        yield from (p for p in self.adapters.parameters() if p.requires_grad)

    def train(self, mode: bool = True) -> SpecialistEnsemble:
        """Train mode for the gate, norms and head; the frozen specialists stay in eval mode."""
        super().train(mode)
        self.specialists.eval()
        return self

    def prune(self, k: int | None = None) -> SpecialistEnsemble:
        """Keep only the ``k`` selected specialists (default: the current ``k``), removing the
        others' modules, head columns and gate logits. Returns ``self``."""
        if k is not None:
            self.set_k(k)
        keep = self.selected()
        columns, start = [], 0
        for name in self.names:
            width = self.feature_dims[name]
            if name in keep:
                columns.extend(range(start, start + width))
            start += width
        index = torch.tensor(columns, dtype=torch.long)
        head = nn.Linear(len(columns), self.head.out_features)
        with torch.no_grad():
            head.weight.copy_(self.head.weight[:, index])
            head.bias.copy_(self.head.bias)
            logits = self.gate_logits[[self.names.index(n) for n in keep]].clone()
        for name in [n for n in self.names if n not in keep]:
            del self.specialists[name], self.norms[name], self.feature_dims[name]
            if name in self.adapters:
                del self.adapters[name]
        self.head = head.to(self.gate_logits.device)
        self.gate_logits = nn.Parameter(logits)
        self.k = len(keep)
        return self

    def add_specialist(
        self, name: str, model: nn.Module, sample: Tensor, adapter: nn.Module | None = None
    ) -> None:
        """Add a frozen specialist to a trained ensemble without changing its answers: its gate
        logit starts at the current minimum and its head columns at zero; ``k`` is kept."""
        if name in self.specialists:
            raise ValueError(f"a specialist named {name!r} is already in the ensemble")
        self._attach(name, model, adapter, sample)
        width = self.feature_dims[name]
        head = nn.Linear(self.head.in_features + width, self.head.out_features)
        with torch.no_grad():
            head.weight.zero_()
            head.weight[:, : self.head.in_features].copy_(self.head.weight)
            head.bias.copy_(self.head.bias)
            logits = torch.cat([self.gate_logits, self.gate_logits.min().reshape(1) - 1.0])
        self.head = head
        self.gate_logits = nn.Parameter(logits)

    def _attach(
        self, name: str, model: nn.Module, adapter: nn.Module | None, sample: Tensor
    ) -> None:
        for p in model.parameters():
            p.requires_grad_(False)
        model.eval()
        self.specialists[name] = model
        if adapter is not None:
            self.adapters[name] = adapter
        with torch.no_grad():
            features = self.specialist_features(name, sample)
        if features.dim() != 2 or features.shape[0] != sample.shape[0]:
            del self.specialists[name]
            raise ValueError(
                f"specialist {name!r} gives features of shape {tuple(features.shape)} for a batch "
                f"of {sample.shape[0]}; a specialist must map images [B, C, H, W] to features "
                "[B, D] (pool them first)"
            )
        self.feature_dims[name] = int(features.shape[1])
        self.norms[name] = nn.LayerNorm(self.feature_dims[name])

    def specialist_features(self, name: str, x: Tensor) -> Tensor:
        """One specialist's normalised features: images ``[B, C, H, W]`` -> ``[B, D_i]``
        (through its adapter, if it has one)."""
        return run_specialist(
            self.specialists[name], x, self.adapters[name] if name in self.adapters else None,
            self.norms[name] if name in self.norms else None,
        )  # fmt: skip

    def _check_frozen(self) -> None:
        for name, model in self.specialists.items():
            if any(p.requires_grad for p in model.parameters()):
                raise RuntimeError(
                    f"specialist {name!r} has parameters that require gradients: specialists "
                    "stay frozen in an ensemble (train the gate and head with "
                    "ensemble.trainable_parameters(); fine-tune a specialist on its own)"
                )


def topk_straight_through(logits: Tensor, k: int) -> Tensor:
    """``[n]`` weights whose value is the top-``k`` mask of ``logits`` and whose gradient is
    that of ``sigmoid(logits)``."""
    soft = torch.sigmoid(logits)
    mask = torch.zeros_like(soft)
    mask[torch.topk(logits.detach(), k).indices] = 1.0
    return mask + soft - soft.detach()


def run_specialist(
    model: nn.Module, x: Tensor, adapter: nn.Module | None = None, norm: nn.Module | None = None
) -> Tensor:
    """Images ``[B, C, H, W]`` through ``adapter``, the specialist's ``forward_features`` (or
    ``forward``) and ``norm`` -> features ``[B, D]``."""
    if adapter is not None:
        x = adapter(x)
    features = model.forward_features(x) if hasattr(model, "forward_features") else model(x)
    return norm(features) if norm is not None else features


def ensemble(
    specialists: Mapping[str, nn.Module],
    num_classes: int,
    gate: str = "topk",
    k: int | None = None,
    sample: Tensor | None = None,
    adapters: Mapping[str, nn.Module] | None = None,
) -> SpecialistEnsemble:
    """Fuse frozen specialists with a learnable gate (see the module docstring).

    Parameters
    ----------
    specialists : mapping of str to nn.Module
    num_classes : int
    gate : str
        One of :data:`GATES`.
    k : int, optional
        Specialists selected (default: all).
    sample : Tensor, optional
        An input batch ``[B, C, H, W]`` (default: one 64 x 64 image with the first
        specialist's ``in_chans``, or 3 bands).
    adapters : mapping of str to nn.Module, optional

    Raises
    ------
    ValueError
        An unknown gate (the choices are listed), no specialist, ``k`` outside [1, n], or a
        specialist whose features are not ``[B, D]``.
    """
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; choose one of {', '.join(GATES)}")
    if sample is None:
        first = next(iter(specialists.values()), None)
        in_chans = int(getattr(first, "in_chans", 3)) if first is not None else 3
        sample = torch.zeros(1, in_chans, 64, 64)
    return SpecialistEnsemble(
        specialists, num_classes, len(specialists) if k is None else k, sample, adapters
    )
