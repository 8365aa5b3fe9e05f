"""Helpers shared by the federated benchmarks: station sets, the pretrained LAM, progress, time
to target and a backend that replays local training across runs of a sweep."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import torch

from spikesat.data import synthetic_scenes
from spikesat.federated import SimulationHorizonError, federate
from spikesat.federated.backends import Backend, LocalBackend, LocalJob, LocalResult, LocalTrainer
from spikesat.models import create
from spikesat.orbits import ground_stations
from spikesat.train.loop import TrainConfig, fit

SEEDS_RATIO = 0.33
"""The seeds' split LAM training time over on-board-only's (Zhu et al., arXiv 2504.10403)."""
TARGET_FRACTION = 0.9
"""A real target: this fraction of the accuracy centralised training reaches."""

SPLIT_WINDOW = {
    "batch_size": 16, "lr": 0.05, "schedule": "window", "max_steps": 32, "micro_batches": 8,
}  # fmt: skip
"""split-lam as the seeds designed it: up to 32 U-shaped steps per plane and relay window, each
pipelined in 8 micro-batches."""
DECOMPOSED_STEPS = {"batch_size": 16, "local_steps": 4, "lr": 0.05}
"""split-decomposed: 4 split steps of 16 images per satellite per round."""

STATION_SETS = {1: ["Wallops"], 3: ["Wallops", "Hartebeesthoek", "Singapore"]}
"""Stations of the built-in network a 53 deg shell passes over (Svalbard it never sees)."""


def stations(count: int) -> list:
    """The ``count`` (1 or 3) stations of :data:`STATION_SETS`, or KSAT's 36 (``count=36``,
    from ``$SPIKESAT_DATA_DIR``)."""
    if count == 36:
        return ground_stations("ksat")
    by_name = {s.name: s for s in ground_stations("default")}
    return [by_name[name] for name in STATION_SETS[count]]


def pretrained_lam(num_scenes: int, epochs: int, seed: int) -> tuple[torch.nn.Module, float]:
    """vit-micro-p8 at 32 x 32 trained on synthetic scenes (another domain than EuroSAT, so
    federation has real work to do); its wall seconds."""
    began = time.time()
    torch.manual_seed(seed)
    model = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32)
    scenes = synthetic_scenes(num_scenes, image_size=32, seed=seed + 100)
    config = TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, seed=seed)
    fit(model, (scenes.images, scenes.labels), config=config, progress=False)
    return model, time.time() - began


class Collect:
    """Progress callback keeping every round's entry (kept even if a later round fails);
    ``verbose`` prints one line per round."""

    def __init__(self, verbose: bool = True) -> None:
        self.history: list[dict[str, Any]] = []
        self.verbose = verbose

    def __call__(self, done: int, total: int, entry: dict[str, Any]) -> None:
        self.history.append(entry)
        if self.verbose:
            print(
                f"    round {done}/{total}: {entry['sim_time_h']:.2f} h, accuracy "
                f"{entry['accuracy']:.3f}, wall {entry['wall_s']:.1f} s",
                flush=True,
            )


def run_to_target(
    strategy: str, target: float, verbose: bool = True, **federate_kwargs: Any
) -> dict[str, Any]:
    """:func:`~spikesat.federated.federate` until ``target`` accuracy, its round budget or
    the end of its contact plan, and the run's record.

    Returns
    -------
    dict
        ``history`` (one entry per round), ``rounds``, ``time_to_target_h`` (None: not
        reached), ``final_accuracy``, ``sim_h``, ``energy_j``, ``bytes_isl``,
        ``bytes_ground`` (up and down; federate stops at the target, so these are to the
        target where it was reached), ``wall_s``, ``wall_s_per_round`` and ``horizon_error``
        (the message where the plan ended first, else None).
    """
    collect, began, error = Collect(verbose), time.time(), None
    try:
        federate(strategy, progress=collect, target_accuracy=target, **federate_kwargs)
    except SimulationHorizonError as exc:
        error = str(exc)
    history = collect.history
    wall_s = time.time() - began
    return {
        "history": history,
        "rounds": len(history),
        "time_to_target_h": time_to(history, target),
        "final_accuracy": history[-1]["accuracy"] if history else None,
        "sim_h": history[-1]["sim_time_h"] if history else None,
        "energy_j": sum(h.get("energy_j", 0.0) for h in history),
        "bytes_isl": sum(h["bytes_isl"] for h in history),
        "bytes_ground": sum(h["bytes_ground_up"] + h["bytes_ground_down"] for h in history),
        "wall_s": wall_s,
        "wall_s_per_round": wall_s / max(len(history), 1),
        "horizon_error": error,
    }


def time_to(history: list[dict[str, Any]], target: float) -> float | None:
    """Simulated hours of the first round at or above ``target``, or None."""
    for entry in history:
        if entry["accuracy"] >= target:
            return entry["sim_time_h"]
    return None


class ReplayBackend(Backend):
    """Runs each distinct local-training job once and replays its result in later runs.

    A job's result depends only on the satellite, the round, the seed and the state it starts
    from (:class:`~spikesat.federated.backends.LocalJob`), never on the clock. A sweep whose
    cells change only the timing (pricing, computers, stations) of a strategy whose learning
    ignores timing therefore trains once; a job whose starting state differs (compared by a
    BLAKE2 digest of its tensors) is trained anew. Use one instance per (model, data, local
    configuration): the key does not see the trainer.
    """

    name = "replay"

    def __init__(self) -> None:
        self.inner = LocalBackend()
        self.results: dict[tuple[int, int, int, str], LocalResult] = {}
        self.trained = 0
        self.replayed = 0

    def start(self, trainer: LocalTrainer) -> None:
        """Hand the trainer to the local backend."""
        self.inner.start(trainer)

    def run(self, jobs: list[LocalJob]) -> list[LocalResult]:
        """Recorded results where the job was seen, fresh ones otherwise (in job order)."""
        digests: dict[int, str] = {}
        keys = []
        for job in jobs:
            if id(job.state) not in digests:
                digests[id(job.state)] = _digest(job.state)
            keys.append((job.sat, job.round, job.seed, digests[id(job.state)]))
        todo = [(job, key) for job, key in zip(jobs, keys, strict=True) if key not in self.results]
        for (_, key), result in zip(todo, self.inner.run([job for job, _ in todo]), strict=True):
            self.results[key] = result
        self.trained += len(todo)
        self.replayed += len(jobs) - len(todo)
        return [self.results[key] for key in keys]


def _digest(state: dict[str, torch.Tensor]) -> str:
    """BLAKE2b of a state's names and values."""
    hasher = hashlib.blake2b(digest_size=16)
    for name in sorted(state):
        hasher.update(name.encode())
        hasher.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()
