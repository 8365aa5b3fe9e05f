"""The local runtime: many requests through a :class:`ServiceGraph`, in batches, with a
per-service time and energy record per request.

Each batch runs the graph service by service (:meth:`ServiceGraph.run` does the same in one
call); each service's wall time is measured per batch and split evenly over its requests, and
its operations per request (counted when the graph was built) are priced on the service's
hardware profile and booked in an :class:`~spikesat.energy.EnergyLedger` under the service's
name, tagged with the request's index.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from spikesat.energy import EnergyLedger, energy_joules
from spikesat.inference.graph import ServiceGraph, call_service
from spikesat.inference.model import check_request


@dataclass
class RuntimeResult:
    """What :func:`run_requests` returns.

    Attributes
    ----------
    outputs : dict of str to Tensor
        Per task, the answers of every request, in request order.
    time_s : dict of str to float
        Per service, wall time per request [s] (batch time / batch size, averaged).
    energy_j : dict of str to float
        Per service, energy per request [J] on its hardware profile.
    ledger : EnergyLedger
        Every booking (device = service name, inference = request index).
    wall_s : float
        Wall time of the whole call [s].
    num_requests : int
    """

    outputs: dict[str, Tensor]
    time_s: dict[str, float]
    energy_j: dict[str, float]
    ledger: EnergyLedger
    wall_s: float
    num_requests: int
    hardware: dict[str, str] = field(default_factory=dict)

    @property
    def requests_per_s(self) -> float:
        """Throughput of the call."""
        return self.num_requests / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def energy_per_request_j(self) -> float:
        """Total energy of one request over every service [J]."""
        return float(sum(self.energy_j.values()))

    def summary(self) -> dict[str, Any]:
        """JSON-ready record (no tensors)."""
        return {
            "num_requests": self.num_requests,
            "wall_s": self.wall_s,
            "requests_per_s": self.requests_per_s,
            "time_s_per_request": dict(self.time_s),
            "energy_j_per_request": dict(self.energy_j),
            "energy_per_request_j": self.energy_per_request_j,
            "hardware": dict(self.hardware),
        }


def run_requests(
    graph: ServiceGraph,
    requests: Mapping[str, Tensor],
    batch_size: int = 32,
    hardware: str | Mapping[str, str] = "jetson-tx2nx",
) -> RuntimeResult:
    """Answer ``requests`` (``{modality: [N, bands, H, W]}``) in batches.

    Parameters
    ----------
    graph : ServiceGraph
        The services.
    requests : mapping of str to Tensor
        Every request's images, one tensor per modality present (``N`` requests).
    batch_size : int
        Requests per batch.
    hardware : str or mapping of str to str
        Profile (:func:`spikesat.energy.list_hardware`) of every service, or per service
        name (missing services: ``"jetson-tx2nx"``).

    Returns
    -------
    RuntimeResult
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    requests = check_request(requests, graph.modalities, graph.img_size)
    if isinstance(hardware, str):
        profiles = dict.fromkeys(graph.services, hardware)
    else:
        unknown = [s for s in hardware if s not in graph.services]
        if unknown:
            raise ValueError(f"hardware for unknown service {unknown[0]!r}: {list(graph.services)}")
        profiles = {s: hardware.get(s, "jetson-tx2nx") for s in graph.services}
    num = next(iter(requests.values())).shape[0]
    price_j = {
        s.name: energy_joules(s.ops, profiles[s.name]).total_j
        for s in graph.services.values()
        if s.ops is not None
    }
    ledger = EnergyLedger()
    time_s = dict.fromkeys(graph.services, 0.0)
    outputs: dict[str, list[Tensor]] = {task: [] for task in graph.tasks}
    ran: set[str] = set()
    began = time.perf_counter()
    with torch.no_grad():
        for start in range(0, num, batch_size):
            batch = {m: x[start : start + batch_size] for m, x in requests.items()}
            size = next(iter(batch.values())).shape[0]
            values: dict[str, Any] = {f"input:{m}": x for m, x in batch.items()}
            for service in graph.services.values():
                if service.kind == "tokenizer" and service.inputs[0] not in values:
                    continue
                t0 = time.perf_counter()
                values[service.name] = call_service(
                    service, [values[n] for n in service.inputs if n in values]
                )
                time_s[service.name] += time.perf_counter() - t0
                ran.add(service.name)
                if service.name in price_j:
                    for index in range(start, start + size):
                        ledger.add_compute_joules(
                            service.name,
                            price_j[service.name],
                            inference=index,
                            hardware=profiles[service.name],
                        )
            for task in graph.tasks:
                outputs[task].append(values[f"head:{task}"])
    wall_s = time.perf_counter() - began
    per_service = ledger.summary(by="device")
    return RuntimeResult(
        {task: torch.cat(parts) for task, parts in outputs.items()},
        {s: t / num for s, t in time_s.items() if s in ran},
        {s: per_service.get(s, {}).get("total_j", 0.0) / num for s in graph.services if s in ran},
        ledger,
        wall_s,
        num,
        {s: profiles[s] for s in ran},
    )
