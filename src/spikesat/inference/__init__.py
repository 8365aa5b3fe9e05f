"""Microservice inference: one multi-task, multimodal LAM served as a graph of services.

- :func:`multitask_lam` builds a :class:`MultiTaskLAM` (one tokenizer per modality, a shared ViT
  backbone, one head per task; :func:`list_tasks` lists the tasks);
- :func:`service_graph` decomposes it into tokenizer, backbone-segment, codec and head services,
  each with counted MACs, parameter bytes, peak activation memory and output bytes; its
  :meth:`ServiceGraph.run` answers exactly like the model;
- :func:`run_requests` is the local runtime (batched requests, per-service time and joules);
- :func:`train_multitask` fits the heads and band adapters on a shared, frozen backbone;
- :func:`add_clouds` lays seeded clouds over real scenes for the cloud-screening task;
- :func:`ensemble_graph` serves an ensemble of specialists, one service per specialist;
- :func:`network` is the constellation at one step (nodes, links in view, a request's route), and
  :func:`place` puts the services on the route's nodes (exact MILP, greedy, baselines);
- :func:`simulate` runs captured requests (:func:`captures`) from capture to answer over a
  day, re-placing services as routes change and pricing the weights it moves; :func:`serve`
  answers requests with the services on their placed nodes.
"""

from spikesat.inference.clouds import add_clouds, cloud_fields
from spikesat.inference.ensemble_graph import ensemble_graph
from spikesat.inference.graph import (
    Edge,
    Service,
    ServiceGraph,
    load_graph,
    load_service,
    service_graph,
)
from spikesat.inference.modalities import MODALITIES, Modality, PatchTokenizer
from spikesat.inference.model import MultiTaskLAM, multitask_lam
from spikesat.inference.network import Link, Network, Node, network
from spikesat.inference.placement import METHODS, OBJECTIVES, Placement, place
from spikesat.inference.runtime import RuntimeResult, run_requests
from spikesat.inference.serve import ServeHandle, load_test, serve
from spikesat.inference.simulate import Capture, RequestRecord, captures, simulate, summarise
from spikesat.inference.tasks import Task, get_task, list_tasks, mean_ndvi

__all__ = [
    "METHODS",
    "MODALITIES",
    "OBJECTIVES",
    "Capture",
    "Edge",
    "Link",
    "Modality",
    "MultiTaskLAM",
    "Network",
    "Node",
    "PatchTokenizer",
    "Placement",
    "RequestRecord",
    "RuntimeResult",
    "ServeHandle",
    "Service",
    "ServiceGraph",
    "Task",
    "add_clouds",
    "captures",
    "cloud_fields",
    "ensemble_graph",
    "get_task",
    "list_tasks",
    "load_graph",
    "load_service",
    "load_test",
    "mean_ndvi",
    "multitask_lam",
    "network",
    "place",
    "run_requests",
    "serve",
    "service_graph",
    "simulate",
    "summarise",
]
