"""Backends of the satellites' local training: "local" (sequential) and "ray" (actors)."""

from spikesat.federated.backends import local, ray  # noqa: F401  (register the backends)
from spikesat.federated.backends.base import BACKENDS, Backend, create_backend, list_backends
from spikesat.federated.backends.local import LocalBackend
from spikesat.federated.backends.ray import RayBackend
from spikesat.federated.backends.trainer import (
    LocalConfig,
    LocalJob,
    LocalResult,
    LocalTrainer,
    job_seed,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "LocalBackend",
    "LocalConfig",
    "LocalJob",
    "LocalResult",
    "LocalTrainer",
    "RayBackend",
    "create_backend",
    "job_seed",
    "list_backends",
]
