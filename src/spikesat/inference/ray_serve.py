"""The ``"ray"`` serving backend: every service a Ray Serve deployment pinned to its placed node.

Each simulated node (satellite or ground station) is a Ray custom resource ``spikesat:<node>``
that the handle declares when it starts its own local Ray instance; a service's deployment
asks for a sliver of its node's resource, so Ray can only schedule its replica where that
node lives (on one machine every node's resource is on the one Ray node; on a cluster, start
each Ray node with the resources of the simulated nodes it hosts). Deployments take fractional
CPUs so that a whole graph fits on two cores. An ingress deployment composes the services with
``DeploymentHandle`` s, passing each service's response to the next without fetching it, as
tensors would travel between nodes. Serve starts without an HTTP proxy: nothing listens on a
network port, and requests go through the handle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from spikesat.inference.graph import Service, ServiceGraph, call_service
from spikesat.inference.model import check_request
from spikesat.inference.placement import Placement
from spikesat.inference.serve import ServeHandle

RESOURCE_PREFIX = "spikesat:"
APP_NAME = "spikesat-services"


class ServiceReplica:
    """A deployment's body: one service, one torch thread."""

    def __init__(self, service: Service, node: str) -> None:
        # Runs in the replica's own worker process, never in the caller's: the caller's
        # thread count is left as it was.
        torch.set_num_threads(1)
        self.service = service
        self.node = node

    def __call__(self, *args: Any) -> Any:
        with torch.no_grad():
            return call_service(self.service, list(args))

    def where(self) -> dict[str, Any]:
        """The node this replica serves and the Ray resources it was granted."""
        import ray

        return {"node": self.node, "resources": ray.get_runtime_context().get_assigned_resources()}


class Ingress:
    """The application's entry: runs the graph in order by chaining the services' handles."""

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

    async def where(self) -> dict[str, dict[str, Any]]:
        """Service -> :meth:`ServiceReplica.where` of its replica."""
        return {
            name: await handle.options(method_name="where").remote()
            for name, handle in self.handles.items()
        }


class RayServeHandle(ServeHandle):
    """A graph served by Ray Serve (see the module docstring); built by ``serve(backend="ray")``.

    Attributes
    ----------
    nodes : dict of str to str
        Service -> the node its deployment is pinned to.
    """

    backend = "ray"

    def __init__(
        self,
        graph: ServiceGraph,
        placement: Placement | None,
        nodes: dict[str, str],
        num_cpus: int = 2,
        cpus_per_service: float = 0.1,
    ) -> None:
        super().__init__(graph, placement, nodes)
        ray, serve = import_ray_serve()
        self._serving = False
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                resources={RESOURCE_PREFIX + n: 1000.0 for n in set(nodes.values())},
            )
        try:
            self._app = self._deploy(ray, serve, graph, nodes, cpus_per_service)
        except BaseException:
            self.close()  # leave no Ray instance behind
            raise

    def _deploy(
        self, ray: Any, serve: Any, graph: ServiceGraph, nodes: dict[str, str], cpus: float
    ) -> Any:
        """One deployment per service, pinned to its node, and the ingress; its handle."""
        missing = sorted(
            n for n in set(nodes.values()) if RESOURCE_PREFIX + n not in ray.cluster_resources()
        )
        if missing:
            raise ValueError(
                f"the running Ray instance has no resource for nodes {missing}: shut it down "
                "(ray.shutdown()) and let serve() start its own, or start Ray with a "
                f"{RESOURCE_PREFIX}<node> resource per node"
            )
        serve.start(proxy_location="Disabled")
        self._serving = True
        bound = {}
        for name, service in graph.services.items():
            options = {"num_cpus": cpus, "resources": {RESOURCE_PREFIX + nodes[name]: 0.001}}
            deployment = serve.deployment(
                ServiceReplica, name=_deployment_name(name), ray_actor_options=options
            )
            bound[name] = deployment.bind(service, nodes[name])
        order = [(s.name, s.kind, tuple(s.inputs)) for s in graph.services.values()]
        ingress = serve.deployment(Ingress, name="ingress", ray_actor_options={"num_cpus": cpus})
        return serve.run(ingress.bind(order, bound), name=APP_NAME, route_prefix=None)

    def submit(self, inputs: Mapping[str, Tensor]) -> Any:
        """Send a checked request without waiting: a response whose ``.result()`` answers."""
        request = check_request(inputs, self.graph.modalities, self.graph.img_size)
        return self._app.remote(request, list(self.graph.tasks))

    def run(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """A request ``{modality: [B, bands, H, W]}`` -> ``{task: answer}`` through Serve."""
        return self.submit(inputs).result()

    def where(self) -> dict[str, dict[str, Any]]:
        """Service -> the node its replica serves and the Ray resources the replica holds."""
        return self._app.options(method_name="where").remote().result()

    def close(self) -> None:
        """Stop the Serve instance this handle started, and Ray if this handle started it."""
        ray, serve = import_ray_serve()
        try:
            if self._serving and ray.is_initialized():
                serve.shutdown()
        finally:
            self._serving = False
            if self._started_ray and ray.is_initialized():
                ray.shutdown()
            self._started_ray = False


def _deployment_name(service: str) -> str:
    return service.replace(":", "-").replace("@", "-at-").replace(".", "-")


def import_ray_serve() -> tuple[Any, Any]:
    """``(ray, ray.serve)``, or an ImportError that names the extra to install."""
    try:
        import ray
        from ray import serve
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the "ray" serving backend needs Ray Serve: pip install "spikesat[ray]" (or use '
            'backend="local")'
        ) from error
    return ray, serve
