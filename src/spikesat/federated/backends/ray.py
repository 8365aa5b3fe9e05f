"""The Ray backend: batches of virtual satellites on Ray actors (the ``[ray]`` extra).

``start`` uses a running Ray instance (``ray.init`` called by the caller, e.g. with
``address="auto"`` on a cluster), connects to ``address`` when given, or starts a local
instance with ``ray.init(num_cpus=num_cpus, include_dashboard=False)`` (and disconnects or shuts
it down in ``close``). It creates ``num_actors`` actors of ``num_cpus_per_actor`` CPUs each
(fractional: 4 actors of 0.5 CPU share 2 cores); each holds a copy of the trainer (model,
partitions), put once in the object store, and trains with one torch thread.

One :meth:`RayBackend.run` is one remote call per actor:

1. every distinct global state of the jobs (by object identity: the jobs of one
   ``Federation.train`` share one state) is put in the object store once, however many
   satellites train from it (a node fetches it once; its actors read it from there);
2. the jobs, in the order given (satellite order: plane after plane), are cut into one
   contiguous block per actor, balanced by the optimiser steps each satellite's partition
   needs, so a block is a run of whole planes but for the two at its ends;
3. each actor runs its block's virtual satellites one after the other and returns their trained
   states packed into one ``[jobs, parameters]`` array (one buffer, not one pickled tensor per
   satellite and parameter), unpacked here into compact per-satellite tensors;
4. the results come back in job order.

Jobs are seeded, so the result equals the local backend's within float tolerance (exactly,
where both run the same kernels with one thread).
"""

from __future__ import annotations

import itertools
import math
import numbers
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
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


@dataclass
class PackedResults:
    """The results of one batch, their states in one array (what an actor sends back).

    Attributes
    ----------
    names : list of str
        Parameter names, in packing order.
    shapes : list of tuple of int
        Their shapes.
    flat : np.ndarray or Tensor
        ``[num_jobs, total parameters]``: row ``i`` holds job ``i``'s parameters, flattened and
        concatenated (a numpy array where the dtype has one, so Ray ships it as one buffer).
    sats, rounds, num_samples : list of int
        Per job.
    train_losses : list of float
        Per job.
    """

    names: list[str]
    shapes: list[tuple[int, ...]]
    flat: np.ndarray | torch.Tensor
    sats: list[int]
    rounds: list[int]
    num_samples: list[int]
    train_losses: list[float]


def pack_results(results: list[LocalResult]) -> PackedResults | list[LocalResult]:
    """Pack results whose states have the same names, shapes and one dtype; else return them.

    Parameters
    ----------
    results : list of LocalResult
        One batch's results.

    Returns
    -------
    PackedResults or list of LocalResult
        The packed batch, or ``results`` unchanged where they cannot share one array.
    """
    if not results:
        return results
    first = results[0].state
    names = list(first)
    shapes = [tuple(first[n].shape) for n in names]
    dtypes = {v.dtype for v in first.values()}
    if len(dtypes) != 1:
        return results
    for result in results:
        state = result.state
        if list(state) != names or any(
            tuple(state[n].shape) != s or state[n].dtype not in dtypes
            for n, s in zip(names, shapes, strict=True)
        ):
            return results
    sizes = [math.prod(s) for s in shapes]
    flat = torch.empty((len(results), sum(sizes)), dtype=dtypes.pop())
    for row, result in zip(flat, results, strict=True):
        torch.cat([result.state[n].detach().reshape(-1).cpu() for n in names], out=row)
    try:
        flat_out: np.ndarray | torch.Tensor = flat.numpy()
    except TypeError:  # a dtype numpy lacks (bfloat16): one pickled tensor
        flat_out = flat
    return PackedResults(
        names,
        shapes,
        flat_out,
        [r.sat for r in results],
        [r.round for r in results],
        [r.num_samples for r in results],
        [r.train_loss for r in results],
    )


def unpack_results(packed: PackedResults | list[LocalResult]) -> list[LocalResult]:
    """The :class:`LocalResult` s of a :func:`pack_results` batch; each state owns its memory.

    Parameters
    ----------
    packed : PackedResults or list of LocalResult
        What :func:`pack_results` returned.

    Returns
    -------
    list of LocalResult
        In the batch's order.
    """
    if not isinstance(packed, PackedResults):
        return list(packed)
    flat = packed.flat
    if isinstance(flat, np.ndarray):
        with warnings.catch_warnings():  # Ray hands back a read-only view: copied below
            warnings.simplefilter("ignore", UserWarning)
            flat = torch.from_numpy(flat)
    sizes = [math.prod(s) for s in packed.shapes]
    results = []
    for i, row in enumerate(flat):
        pieces = row.split(sizes)
        state = {
            name: piece.view(shape).clone()
            for name, shape, piece in zip(packed.names, packed.shapes, pieces, strict=True)
        }
        results.append(
            LocalResult(
                packed.sats[i],
                packed.rounds[i],
                state,
                packed.num_samples[i],
                packed.train_losses[i],
            )
        )
    return results


def split_blocks(weights: list[float], num_blocks: int) -> list[tuple[int, int]]:
    """Cut items into at most ``num_blocks`` contiguous, non-empty blocks of similar weight.

    Block ``b`` ends at the first item where the running weight reaches ``(b + 1) / k`` of the
    total (the nearer of the two items around that point), so equal weights give equal blocks
    (sizes differing by at most one).

    Parameters
    ----------
    weights : list of float
        Per item, > 0 (e.g. the optimiser steps of each job).
    num_blocks : int
        The most blocks (the actors).

    Returns
    -------
    list of (start, stop)
        Half-open index ranges covering ``range(len(weights))`` in order.
    """
    if not isinstance(num_blocks, int) or num_blocks < 1:
        raise ValueError(f"num_blocks must be a positive integer, got {num_blocks!r}")
    n = len(weights)
    if n == 0:
        return []
    k = min(num_blocks, n)
    cumulative = np.cumsum(np.asarray(weights, dtype=float))
    total = float(cumulative[-1])
    if not np.all(np.isfinite(cumulative)) or total <= 0:
        raise ValueError("weights must be finite and sum to > 0")
    cuts = [0]
    for b in range(1, k):
        target = total * b / k
        stop = int(np.searchsorted(cumulative, target))  # first item reaching the target
        # the cut falls before or after item ``stop``: the nearer to the target
        before = cumulative[stop - 1] if stop > 0 else 0.0
        stop = stop if target - before <= cumulative[stop] - target else stop + 1
        # non-empty blocks: leave room for the blocks still to come
        stop = min(max(stop, cuts[-1] + 1), n - (k - b))
        cuts.append(stop)
    cuts.append(n)
    return list(itertools.pairwise(cuts))


class TrainerActor:
    """The actor body: one trainer, one torch thread, batches of virtual satellites."""

    def __init__(self, trainer: LocalTrainer) -> None:
        # Runs in the actor's own worker process (``ray.remote(TrainerActor).remote(...)``),
        # never in the caller's: the caller's thread count is left as it was.
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # pragma: no cover - already set or parallel work has started
            pass
        self.trainer = trainer

    def pid(self) -> int:
        """The worker process's id (for memory sampling)."""
        import os

        return os.getpid()

    def run_batch(
        self, specs: list[tuple[int, int, int, int]], *states: dict[str, torch.Tensor]
    ) -> tuple[float, PackedResults | list[LocalResult]]:
        """Run jobs ``(sat, round, seed, state index)`` in order from ``states``: the wall
        seconds it took and the packed results."""
        began = time.perf_counter()
        results = [
            self.trainer.run(LocalJob(sat, round, seed, states[index]))
            for sat, round, seed, index in specs
        ]
        return time.perf_counter() - began, pack_results(results)


@BACKENDS.register("ray")
class RayBackend(Backend):
    """Local training of many virtual satellites per Ray actor.

    Parameters
    ----------
    num_actors : int
        Actors (each runs a contiguous block of the satellites of every round).
    num_cpus : int, optional
        CPUs of a Ray instance started here (default: enough for the actors,
        ``ceil(num_actors * num_cpus_per_actor)``). Not with ``address``.
    num_cpus_per_actor : float
        CPUs Ray reserves per actor, > 0; fractions pack several actors on one core (each
        actor trains with one torch thread either way).
    address : str, optional
        A Ray cluster to connect to (``"auto"``, ``"ray://head:10001"``, ...), passed to
        ``ray.init``; ignored when Ray is already initialised in this process.

    Attributes
    ----------
    actor_pids : list of int
        The actors' process ids (after ``start``; for memory sampling on this node).
    stats : dict
        ``start_s`` (wall seconds of ``start``: Ray and the actors' start-up) and totals over
        the ``run`` calls: ``calls``, ``jobs``, ``run_s`` (wall seconds in ``run``),
        ``slowest_batch_s`` (the slowest actor's training time per call, summed: ``run_s``
        minus it is the transport and scheduling overhead) and ``batch_s`` (every actor's
        training time: over ``run_s`` times the actors, the actors' utilisation).

    Raises
    ------
    ValueError
        For a non-positive or non-integer ``num_actors`` or ``num_cpus``, a non-positive or
        non-finite ``num_cpus_per_actor``, or ``num_cpus`` together with ``address``.
    """

    name = "ray"

    def __init__(
        self,
        num_actors: int = 2,
        num_cpus: int | None = None,
        num_cpus_per_actor: float = 1.0,
        address: str | None = None,
    ) -> None:
        if isinstance(num_actors, bool) or not isinstance(num_actors, int) or num_actors < 1:
            raise ValueError(f"num_actors must be a positive integer, got {num_actors!r}")
        if (
            isinstance(num_cpus_per_actor, bool)
            or not isinstance(num_cpus_per_actor, numbers.Real)
            or not math.isfinite(num_cpus_per_actor)
            or num_cpus_per_actor <= 0
        ):
            raise ValueError(
                f"num_cpus_per_actor must be a finite number > 0 (e.g. 0.5 for two actors per "
                f"core), got {num_cpus_per_actor!r}"
            )
        if num_cpus is not None and (
            isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1
        ):
            raise ValueError(f"num_cpus must be a positive integer or None, got {num_cpus!r}")
        if address is not None and not isinstance(address, str):
            raise ValueError(f"address must be a str or None, got {address!r}")
        if address is not None and num_cpus is not None:
            raise ValueError(
                "num_cpus sizes a Ray instance started here; a cluster given by address has "
                "its own CPUs: pass one or the other"
            )
        self.num_actors = num_actors
        self.num_cpus_per_actor = float(num_cpus_per_actor)
        self.address = address
        self.num_cpus = (
            math.ceil(num_actors * self.num_cpus_per_actor - 1e-9) if num_cpus is None else num_cpus
        )
        self.actors: list[Any] = []
        self.actor_pids: list[int] = []
        self.trainer: LocalTrainer | None = None
        self.stats = dict.fromkeys(("start_s", "run_s", "slowest_batch_s", "batch_s"), 0.0)
        self.stats.update(calls=0, jobs=0)
        self._started_ray = False

    def start(self, trainer: LocalTrainer) -> None:
        """Start or connect to Ray if needed and create the actors.

        Raises
        ------
        RuntimeError
            If the Ray instance has fewer CPUs than the actors reserve (they would never be
            scheduled).
        """
        ray = _import_ray()
        began = time.perf_counter()
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
            if self.address is not None:
                options["address"] = self.address
            else:
                options.update(num_cpus=self.num_cpus, include_dashboard=False)
            ray.init(**options)
            self._started_ray = True
        needed = self.num_actors * self.num_cpus_per_actor
        available = float(ray.cluster_resources().get("CPU", 0.0))
        if needed > available + 1e-9:
            self.close()
            raise RuntimeError(
                f"{self.num_actors} actors of {self.num_cpus_per_actor:g} CPU need {needed:g} "
                f"CPUs but the Ray instance has {available:g}: use fewer actors, a smaller "
                "num_cpus_per_actor or a larger instance"
            )
        actor = ray.remote(num_cpus=self.num_cpus_per_actor)(TrainerActor)
        trainer_ref = ray.put(trainer)
        self.trainer = trainer
        self.actors = [actor.remote(trainer_ref) for _ in range(self.num_actors)]
        # Waits for every actor to be up (a failed start surfaces here, not mid-round).
        self.actor_pids = list(ray.get([a.pid.remote() for a in self.actors]))
        self.stats["start_s"] += time.perf_counter() - began

    def job_weight(self, job: LocalJob) -> float:
        """Relative cost of a job: its optimiser steps, plus one for the per-job overhead."""
        if self.trainer is None:
            return 1.0
        config = self.trainer.config
        num_samples = self.trainer.data.num_samples(job.sat)
        batch = max(1, min(config.batch_size, num_samples))
        return 1.0 + config.epochs * math.ceil(num_samples / batch)

    def run(self, jobs: list[LocalJob]) -> list[LocalResult]:
        """Run the jobs in one batch per actor and gather the results in job order."""
        if not self.actors:
            raise RuntimeError("call start(trainer) before run(jobs)")
        if not jobs:
            return []
        ray = _import_ray()
        began = time.perf_counter()
        refs: dict[int, Any] = {}  # id(state) -> ObjectRef, one put per distinct state
        for job in jobs:
            if id(job.state) not in refs:
                refs[id(job.state)] = ray.put(job.state)
        blocks = split_blocks([self.job_weight(job) for job in jobs], len(self.actors))
        futures = []
        for actor, (start, stop) in zip(self.actors, blocks, strict=False):
            block = jobs[start:stop]
            local: dict[int, int] = {}  # id(state) -> index among this call's states
            for job in block:
                local.setdefault(id(job.state), len(local))
            specs = [(job.sat, job.round, job.seed, local[id(job.state)]) for job in block]
            futures.append(actor.run_batch.remote(specs, *(refs[key] for key in local)))
        batches = ray.get(futures)
        results = [r for _, batch in batches for r in unpack_results(batch)]
        self.stats["calls"] += 1
        self.stats["jobs"] += len(jobs)
        self.stats["run_s"] += time.perf_counter() - began
        self.stats["slowest_batch_s"] += max(wall for wall, _ in batches)
        self.stats["batch_s"] += sum(wall for wall, _ in batches)
        for job, result in zip(jobs, results, strict=True):
            if (result.sat, result.round) != (job.sat, job.round):  # pragma: no cover
                raise RuntimeError(
                    f"the Ray backend returned sat-{result.sat} round {result.round} for the job "
                    f"of sat-{job.sat} round {job.round}"
                )
        return results

    def close(self) -> None:
        """Kill the actors and shut down (or disconnect from) a Ray instance started here."""
        if not self.actors and not self._started_ray:
            return
        ray = _import_ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        self.actor_pids = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
