"""``serve``: a placed service graph behind a handle that answers like :meth:`ServiceGraph.run`.

Backends:

- ``"local"``: the graph in this process (the reference);
- ``"ray"`` (the ``[ray]`` extra): every service is a Ray Serve deployment pinned to its placed
  node through a Ray custom resource (``spikesat:<node>``, one per simulated satellite and
  ground node, declared when the handle starts its own local Ray instance), with fractional
  CPUs so that a whole graph runs on two cores. An ingress deployment composes them with
  ``DeploymentHandle`` s: it passes each service's response to the next without fetching it, so
  tensors travel between the services' replicas as they would between nodes. The handle starts
  Ray (``num_cpus``, no dashboard) and Serve without an HTTP proxy, and :meth:`ServeHandle.close`
  shuts both down; nothing listens on a network port.

:func:`load_test` sends a bounded number of requests (count and time limited, at most
``concurrency`` in flight) and reports requests per second and latency percentiles.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikesat.inference.graph import Service, ServiceGraph, call_service
from spikesat.inference.model import check_request
from spikesat.inference.placement import Placement

BACKENDS = ("local", "ray")
RESOURCE_PREFIX = "spikesat:"
APP_NAME = "spikesat-services"


class ServeHandle:
    """A served graph: :meth:`run` answers a request, :meth:`close` stops the backend.

    Use as a context manager to stop it on exit.
    """

    backend = "local"

    def __init__(self, graph: ServiceGraph, placement: Placement | None) -> None:
        self.graph = graph
        self.placement = placement

    def run(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """A request ``{modality: [B, bands, H, W]}`` -> ``{task: answer}``."""
        return self.graph.run(inputs)

    def close(self) -> None:
        """Stop the backend (nothing to stop for the local one)."""

    def __enter__(self) -> ServeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ServiceReplica:
    """A Ray Serve deployment's body: one service, one torch thread."""

    def __init__(self, service: Service) -> None:
        torch.set_num_threads(1)
        self.service = service

    def __call__(self, *args: Any) -> Any:
        with torch.no_grad():
            return call_service(self.service, list(args))


class Ingress:
    """The Ray Serve ingress: runs the DAG by chaining the services' handles."""

    def __init__(self, order: list[tuple[str, str, tuple[str, ...]]], handles: dict) -> None:
        self.order = order
        self.handles = handles

    async def __call__(self, request: dict[str, Tensor], tasks: list[str]) -> dict[str, Tensor]:
        values: dict[str, Any] = {f"input:{m}": x for m, x in request.items()}
        for name, kind, inputs in self.order:
            if kind == "tokenizer" and inputs[0] not in values:
                continue  # that modality is absent from the request
            args = [values[source] for source in inputs if source in values]
            values[name] = self.handles[name].remote(*args)
        return {task: await values[f"head:{task}"] for task in tasks}


class RayServeHandle(ServeHandle):
    """The graph as Ray Serve deployments (see the module docstring)."""

    backend = "ray"

    def __init__(
        self,
        graph: ServiceGraph,
        placement: Placement | None,
        num_cpus: int = 2,
        cpus_per_service: float = 0.1,
    ) -> None:
        super().__init__(graph, placement)
        ray, serve = _import_ray_serve()
        nodes = _nodes_of(graph, placement)
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                resources={RESOURCE_PREFIX + n: 1000.0 for n in set(nodes.values())},
            )
        missing = [
            n for n in set(nodes.values()) if RESOURCE_PREFIX + n not in ray.cluster_resources()
        ]
        if missing:
            self.close()
            raise ValueError(
                f"the running Ray instance has no resource for nodes {sorted(missing)}: shut it "
                "down (ray.shutdown()) and let serve() start its own"
            )
        serve.start(proxy_location="Disabled")
        handles = {}
        for name, service in graph.services.items():
            options = {
                "num_cpus": cpus_per_service,
                "resources": {RESOURCE_PREFIX + nodes[name]: 0.001},
            }
            deployment = serve.deployment(
                ServiceReplica, name=_deployment_name(name), ray_actor_options=options
            )
            handles[name] = deployment.bind(service)
        order = [(s.name, s.kind, tuple(s.inputs)) for s in graph.services.values()]
        ingress = serve.deployment(
            Ingress, name="ingress", ray_actor_options={"num_cpus": cpus_per_service}
        )
        self._handle = serve.run(ingress.bind(order, handles), name=APP_NAME, route_prefix=None)

    def run(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """A request ``{modality: [B, bands, H, W]}`` -> ``{task: answer}`` through Serve."""
        request = check_request(inputs, self.graph.modalities, self.graph.img_size)
        return self._handle.remote(request, list(self.graph.tasks)).result()

    def submit(self, inputs: Mapping[str, Tensor]) -> Any:
        """Send a checked request without waiting: a response whose ``.result()`` answers."""
        request = check_request(inputs, self.graph.modalities, self.graph.img_size)
        return self._handle.remote(request, list(self.graph.tasks))

    def close(self) -> None:
        """Delete the application, stop Serve, and shut down Ray if this handle started it."""
        ray, serve = _import_ray_serve()
        if ray.is_initialized():
            try:
                serve.shutdown()
            finally:
                if self._started_ray:
                    ray.shutdown()
                    self._started_ray = False


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
        Where each service runs (default: every service on one node, ``"local"``).
    backend : {"local", "ray"}
    num_cpus : int
        CPUs of the local Ray instance the handle starts.
    cpus_per_service : float
        Fraction of a CPU each deployment reserves.

    Raises
    ------
    ValueError
        An unknown backend (the choices are listed), a placement of another graph.
    ImportError
        ``backend="ray"`` without Ray Serve (``pip install "spikesat[ray]"``).
    """
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown serving backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    _nodes_of(graph, placement)
    if backend == "local":
        return ServeHandle(graph, placement)
    if not 0 < cpus_per_service <= 1:
        raise ValueError(f"cpus_per_service must be in (0, 1], got {cpus_per_service!r}")
    return RayServeHandle(graph, placement, num_cpus, cpus_per_service)


def load_test(
    handle: ServeHandle,
    inputs: Mapping[str, Tensor],
    num_requests: int = 64,
    max_seconds: float = 30.0,
    concurrency: int = 4,
) -> dict[str, float]:
    """Send up to ``num_requests`` single-scene requests for at most ``max_seconds``.

    Request ``k`` carries scene ``k % N`` of ``inputs`` (``{modality: [N, ...]}``). With a Ray
    handle, up to ``concurrency`` requests are in flight at once; the local handle runs them
    one after another.

    Returns
    -------
    dict of str to float
        ``num_requests`` (sent and answered), ``wall_s``, ``requests_per_s`` and latency
        ``p50_s``, ``p95_s``, ``p99_s`` (send to answer).
    """
    if not isinstance(num_requests, int) or num_requests < 1:
        raise ValueError(f"num_requests must be a positive integer, got {num_requests!r}")
    if not max_seconds > 0 or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(
            f"max_seconds must be > 0 and concurrency a positive integer, got {max_seconds!r} "
            f"and {concurrency!r}"
        )
    n = next(iter(inputs.values())).shape[0]

    def scene(k: int) -> dict[str, Tensor]:
        return {m: x[k % n : k % n + 1] for m, x in inputs.items()}

    latencies: list[float] = []
    began = time.perf_counter()
    sent = 0
    if isinstance(handle, RayServeHandle):
        flight: list[tuple[float, Any]] = []
        while (sent < num_requests and time.perf_counter() - began < max_seconds) or flight:
            while (
                len(flight) < concurrency
                and sent < num_requests
                and (time.perf_counter() - began < max_seconds)
            ):
                flight.append((time.perf_counter(), handle.submit(scene(sent))))
                sent += 1
            start, response = flight.pop(0)
            response.result()
            latencies.append(time.perf_counter() - start)
    else:
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


def _deployment_name(service: str) -> str:
    return service.replace(":", "-").replace("@", "-at-").replace(".", "-")


def _import_ray_serve() -> tuple[Any, Any]:
    try:
        import ray
        from ray import serve
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the "ray" serving backend needs Ray Serve: pip install "spikesat[ray]" (or use '
            'backend="local")'
        ) from error
    return ray, serve
