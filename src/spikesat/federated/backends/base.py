"""Backends run the satellites' local training jobs: a registry and the common interface."""

from __future__ import annotations

from typing import Any

from spikesat._registry import Registry
from spikesat.federated.backends.trainer import LocalJob, LocalResult, LocalTrainer

BACKENDS: Registry[Backend] = Registry("backend")


class Backend:
    """Runs :class:`LocalJob` s with a :class:`LocalTrainer`; results come back in job order."""

    name = "base"

    def start(self, trainer: LocalTrainer) -> None:
        """Receive the trainer (model architecture, data, configuration)."""
        raise NotImplementedError

    def run(self, jobs: list[LocalJob]) -> list[LocalResult]:
        """Run the jobs; the i-th result belongs to the i-th job."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers."""


def create_backend(name: str, **kwargs: Any) -> Backend:
    """The backend registered as ``name`` ("local" or "ray"); unknown names list the choices."""
    return BACKENDS.create(name, **kwargs)


def list_backends() -> list[str]:
    """Registered backend names."""
    return BACKENDS.names()
