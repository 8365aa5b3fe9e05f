"""The Ray backend: local training on Ray actors (the ``[ray]`` extra).

``start`` connects to a running Ray instance or starts a local one with
``ray.init(num_cpus=num_cpus, include_dashboard=False)`` (and shuts it down in ``close``).
Each actor holds a copy of the trainer (model, partitions) put once in the object store and
runs with one torch thread; jobs are dealt round-robin and their results returned in job
order. Jobs are seeded, so the result equals the local backend's within float tolerance.
"""

from __future__ import annotations

from typing import Any

import torch

from spikesat.federated.backends.base import BACKENDS, Backend
from spikesat.federated.backends.trainer import LocalJob, LocalResult, LocalTrainer


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'ray' backend needs Ray: pip install spikesat[ray] (or use backend='local')"
        ) from error
    return ray


class TrainerActor:
    """The actor body: one trainer, one torch thread."""

    def __init__(self, trainer: LocalTrainer) -> None:
        # Runs in the actor's own worker process (``ray.remote(TrainerActor).remote(...)``),
        # never in the caller's: the caller's thread count is left as it was.
        torch.set_num_threads(1)
        self.trainer = trainer

    def run(self, job: LocalJob) -> LocalResult:
        """Run one job."""
        return self.trainer.run(job)


@BACKENDS.register("ray")
class RayBackend(Backend):
    """Local training on ``num_actors`` Ray actors.

    Parameters
    ----------
    num_actors : int
        Actors (one CPU each).
    num_cpus : int, optional
        CPUs of a Ray instance started here (default ``num_actors``).
    """

    name = "ray"

    def __init__(self, num_actors: int = 2, num_cpus: int | None = None) -> None:
        if not isinstance(num_actors, int) or num_actors < 1:
            raise ValueError(f"num_actors must be a positive integer, got {num_actors!r}")
        self.num_actors = num_actors
        self.num_cpus = num_actors if num_cpus is None else int(num_cpus)
        self.actors: list[Any] = []
        self._started_ray = False

    def start(self, trainer: LocalTrainer) -> None:
        """Start Ray if needed and create the actors."""
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(
                num_cpus=self.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started_ray = True
        actor = ray.remote(num_cpus=1)(TrainerActor)
        trainer_ref = ray.put(trainer)
        self.actors = [actor.remote(trainer_ref) for _ in range(self.num_actors)]

    def run(self, jobs: list[LocalJob]) -> list[LocalResult]:
        """Deal the jobs round-robin to the actors and gather the results in order."""
        if not self.actors:
            raise RuntimeError("call start(trainer) before run(jobs)")
        ray = _import_ray()
        futures = [self.actors[i % len(self.actors)].run.remote(job) for i, job in enumerate(jobs)]
        return list(ray.get(futures))

    def close(self) -> None:
        """Kill the actors and shut down a Ray instance started here."""
        if not self.actors and not self._started_ray:
            return
        ray = _import_ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
