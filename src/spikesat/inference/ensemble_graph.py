"""``ensemble_graph``: an ensemble of specialists as services, one per specialist.

Each selected specialist of a :class:`~spikesat.models.SpecialistEnsemble` becomes a
``specialist:<name>`` service (its adapter, frozen feature extractor and normalisation; it reads
the sensor), and the gate, the concatenation and the head become the task's ``head:<task>``
service, which reads every specialist. Placement (:func:`~spikesat.inference.place`) can then
put the specialists on different satellites. The graph is built from a pruned copy of the
ensemble (the unselected specialists are not services), so :meth:`ServiceGraph.run` answers
exactly like ``ensemble.prune()``.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from spikesat.inference.graph import Service, ServiceGraph, TaskHead, measure_services
from spikesat.inference.modalities import MODALITIES, Modality
from spikesat.inference.tasks import get_task
from spikesat.models.ensemble import SpecialistEnsemble, run_specialist, topk_straight_through


class SpecialistService(nn.Module):
    """One specialist of an ensemble (its adapter, model and norm only): images
    ``[B, C, H, W]`` -> normalised features ``[B, D]``."""

    def __init__(self, ensemble: SpecialistEnsemble, name: str) -> None:
        super().__init__()
        self.model = ensemble.specialists[name]
        self.adapter = ensemble.adapters[name] if name in ensemble.adapters else None
        self.norm = ensemble.norms[name]

    def forward(self, x: Tensor) -> Tensor:
        return run_specialist(self.model, x, self.adapter, self.norm)


class FusionHead(nn.Module):
    """The gate, concatenation and head: every specialist's features -> logits."""

    def __init__(self, ensemble: SpecialistEnsemble) -> None:
        super().__init__()
        self.gate_logits, self.head, self.k = ensemble.gate_logits, ensemble.head, ensemble.k

    def forward(self, *features: Tensor) -> Tensor:
        weights = topk_straight_through(self.gate_logits, self.k)
        return self.head(torch.cat([w * f for w, f in zip(weights, features, strict=True)], 1))


def ensemble_graph(
    ensemble: SpecialistEnsemble,
    task: str = "landcover",
    modality: str | Modality = "rgb",
    img_size: int = 64,
) -> ServiceGraph:
    """The selected specialists and the fusion head as services (see the module docstring).

    Parameters
    ----------
    ensemble : SpecialistEnsemble
        Copied, then pruned to its selected specialists (the caller's ensemble is unchanged).
    task : str
        The task the head answers (:func:`~spikesat.inference.list_tasks`).
    modality : str or Modality
        The sensor the specialists read.
    img_size : int
        Side of the request images [px].

    Raises
    ------
    ValueError
        An unknown task or modality.
    """
    if not isinstance(ensemble, SpecialistEnsemble):
        raise TypeError(f"ensemble_graph takes a SpecialistEnsemble, got {type(ensemble).__name__}")
    if isinstance(modality, str):
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}; built in: {', '.join(MODALITIES)}")
        modality = MODALITIES[modality]
    pruned = copy.deepcopy(ensemble).eval().prune()
    sensor = f"input:{modality.name}"
    services = [
        Service(f"specialist:{name}", "specialist", SpecialistService(pruned, name), (sensor,))
        for name in pruned.names
    ]
    services.append(
        Service(
            f"head:{task}",
            "head",
            TaskHead(FusionHead(pruned), get_task(task)),
            tuple(s.name for s in services),
        )
    )
    graph = ServiceGraph(
        {s.name: s for s in services}, [], {modality.name: modality}, [task], img_size
    )
    gen = torch.Generator().manual_seed(0)
    sample = torch.randn(1, modality.num_bands, img_size, img_size, generator=gen)
    measure_services(graph, {modality.name: sample})
    return graph
