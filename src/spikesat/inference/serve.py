"""``serve``: a placed service graph behind a handle that answers like :meth:`ServiceGraph.run`.

Backends (:data:`BACKENDS`): ``"local"``, the graph in this process, each service tagged with
its placed node. A Ray Serve backend (one deployment per service, pinned to its node) is the
next step: on the 2-core machines here its replicas did not get scheduled within minutes, so it
is not offered until it runs and is tested.

:func:`load_test` sends a bounded number of requests (count and time limited) and reports
requests per second and latency percentiles.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
from torch import Tensor

from spikesat.inference.graph import ServiceGraph
from spikesat.inference.placement import Placement

BACKENDS = ("local",)


class ServeHandle:
    """A served graph: :meth:`run` answers a request, :meth:`close` stops the backend.

    Use as a context manager to stop it on exit.

    Attributes
    ----------
    nodes : dict of str to str
        Service -> the node it runs on.
    """

    backend = "local"

    def __init__(
        self, graph: ServiceGraph, placement: Placement | None, nodes: dict[str, str]
    ) -> None:
        self.graph = graph
        self.placement = placement
        self.nodes = nodes

    def run(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """A request ``{modality: [B, bands, H, W]}`` -> ``{task: answer}``."""
        return self.graph.run(inputs)

    def close(self) -> None:
        """Stop the backend (nothing to stop for the local one)."""

    def __enter__(self) -> ServeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    graph: ServiceGraph, placement: Placement | None = None, backend: str = "local"
) -> ServeHandle:
    """Serve ``graph`` with each service on its placed node (see the module docstring).

    Parameters
    ----------
    graph : ServiceGraph
    placement : Placement, optional
        Where each service runs (default: every service on one ``"local"`` node).
    backend : str
        One of :data:`BACKENDS`.

    Raises
    ------
    ValueError
        An unknown backend (the choices are listed), or a placement that lacks some of the
        graph's services.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown serving backend {backend!r}; available: {', '.join(BACKENDS)}")
    return ServeHandle(graph, placement, _nodes_of(graph, placement))


def load_test(
    handle: ServeHandle,
    inputs: Mapping[str, Tensor],
    num_requests: int = 64,
    max_seconds: float = 30.0,
) -> dict[str, float]:
    """Send up to ``num_requests`` single-scene requests for at most ``max_seconds``.

    Request ``k`` carries scene ``k % N`` of ``inputs`` (``{modality: [N, ...]}``), one after
    another.

    Returns
    -------
    dict of str to float
        ``num_requests`` (sent and answered), ``wall_s``, ``requests_per_s`` and latency
        ``p50_s``, ``p95_s``, ``p99_s`` (send to answer).
    """
    if not isinstance(num_requests, int) or num_requests < 1:
        raise ValueError(f"num_requests must be a positive integer, got {num_requests!r}")
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds!r}")
    n = next(iter(inputs.values())).shape[0]

    def scene(k: int) -> dict[str, Tensor]:
        return {m: x[k % n : k % n + 1] for m, x in inputs.items()}

    latencies: list[float] = []
    began = time.perf_counter()
    sent = 0
    while sent < num_requests and time.perf_counter() - began < max_seconds:
        start = time.perf_counter()
        handle.run(scene(sent))
        latencies.append(time.perf_counter() - start)
        sent += 1
    wall_s = time.perf_counter() - began
    lat = np.array(latencies)
    return {
        "num_requests": len(latencies),
        "wall_s": wall_s,
        "requests_per_s": len(latencies) / wall_s,
        "p50_s": float(np.percentile(lat, 50)),
        "p95_s": float(np.percentile(lat, 95)),
        "p99_s": float(np.percentile(lat, 99)),
    }


def _nodes_of(graph: ServiceGraph, placement: Placement | None) -> dict[str, str]:
    """Service -> node name (``"local"`` for every service without a placement)."""
    if placement is None:
        return {name: "local" for name in graph.services}
    missing = [name for name in graph.services if name not in placement.assignment]
    if missing:
        raise ValueError(
            f"the placement has no node for services {missing}: place this graph "
            "(place(graph, network, modalities=...) with every modality the requests carry)"
        )
    return {name: placement.assignment[name] for name in graph.services}
