"""The local backend: jobs run one after the other in this process (deterministic default)."""

from __future__ import annotations

from spikesat.federated.backends.base import BACKENDS, Backend
from spikesat.federated.backends.trainer import LocalJob, LocalResult, LocalTrainer


@BACKENDS.register("local")
class LocalBackend(Backend):
    """Sequential execution in the calling process."""

    name = "local"

    def __init__(self) -> None:
        self.trainer: LocalTrainer | None = None

    def start(self, trainer: LocalTrainer) -> None:
        """Keep the trainer."""
        self.trainer = trainer

    def run(self, jobs: list[LocalJob]) -> list[LocalResult]:
        """Run the jobs in order."""
        if self.trainer is None:
            raise RuntimeError("call start(trainer) before run(jobs)")
        return [self.trainer.run(job) for job in jobs]
