"""``serve``: a placed service graph behind a handle that answers like :meth:`ServiceGraph.run`.

Backends (:data:`BACKENDS`):

- ``"local"``: the graph in this process, each service tagged with its placed node (the
  reference);
- ``"ray"`` (the ``[ray]`` extra): every service a Ray Serve deployment pinned to its placed node
  through a Ray custom resource, composed with ``DeploymentHandle`` s
  (:mod:`spikesat.inference.ray_serve`). The handle starts and stops its own local Ray instance.

:func:`load_test` sends a bounded number of requests (count and time limited, at most
``concurrency`` in flight) and reports requests per second and latency percentiles.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from torch import Tensor

from spikesat.inference.graph import ServiceGraph
from spikesat.inference.placement import Placement

BACKENDS = ("local", "ray")


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

    def submit(self, inputs: Mapping[str, Tensor]) -> Any:
        """Answer a request now: a response whose ``.result()`` returns the answers."""
        return _Answered(self.run(inputs))

    def close(self) -> None:
        """Stop the backend (nothing to stop for the local one)."""

    def __enter__(self) -> ServeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Answered:
    """A response that already holds its answers (the local backend's :meth:`submit`)."""

    def __init__(self, answers: dict[str, Tensor]) -> None:
        self._answers = answers

    def result(self) -> dict[str, Tensor]:
        return self._answers


def serve(
    graph: ServiceGraph,
    placement: Placement | None = None,
    backend: str = "local",
    num_cpus: int = 2,
    cpus_per_service: float = 0.1,
) -> ServeHandle:
    """Serve ``graph`` with each service on its placed node (see the module docstring).

    Parameters
    ----------
    graph : ServiceGraph
    placement : Placement, optional
        Where each service runs (default: every service on one ``"local"`` node).
    backend : str
        One of :data:`BACKENDS`.
    num_cpus : int
        CPUs of the local Ray instance the ``"ray"`` handle starts.
    cpus_per_service : float
        Fraction of a CPU each Ray Serve deployment reserves, in (0, 1].

    Returns
    -------
    ServeHandle
        (a :class:`~spikesat.inference.ray_serve.RayServeHandle` for ``"ray"``):
        ``.run(inputs)`` answers like ``graph.run``, ``.submit(inputs).result()`` likewise,
        ``.nodes`` maps each service to its node, ``.close()`` stops the backend.

    Raises
    ------
    ValueError
        An unknown backend (the choices are listed), a placement that lacks some of the
        graph's services, or ``cpus_per_service`` outside (0, 1].
    ImportError
        ``backend="ray"`` without Ray Serve (``pip install "spikesat[ray]"``).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown serving backend {backend!r}; available: {', '.join(BACKENDS)}")
    nodes = _nodes_of(graph, placement)
    if backend == "local":
        return ServeHandle(graph, placement, nodes)
    if not 0 < cpus_per_service <= 1:
        raise ValueError(f"cpus_per_service must be in (0, 1], got {cpus_per_service!r}")
    from spikesat.inference.ray_serve import RayServeHandle

    return RayServeHandle(graph, placement, nodes, num_cpus, cpus_per_service)


def load_test(
    handle: ServeHandle,
    inputs: Mapping[str, Tensor],
    num_requests: int = 64,
    max_seconds: float = 30.0,
    concurrency: int = 1,
) -> dict[str, float]:
    """Send up to ``num_requests`` single-scene requests for at most ``max_seconds``.

    Request ``k`` carries scene ``k % N`` of ``inputs`` (``{modality: [N, ...]}``); at most
    ``concurrency`` requests are in flight at once (the local handle answers each as it is
    sent, so it has one in flight whatever ``concurrency`` says).

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
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
    n = next(iter(inputs.values())).shape[0]

    def scene(k: int) -> dict[str, Tensor]:
        return {m: x[k % n : k % n + 1] for m, x in inputs.items()}

    latencies: list[float] = []
    began = time.perf_counter()
    sent = 0
    flight: list[tuple[float, Any]] = []

    def open_for_more() -> bool:
        return sent < num_requests and time.perf_counter() - began < max_seconds

    while open_for_more() or flight:
        while len(flight) < concurrency and open_for_more():
            flight.append((time.perf_counter(), handle.submit(scene(sent))))
            sent += 1
        start, response = flight.pop(0)
        response.result()
        latencies.append(time.perf_counter() - start)
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
