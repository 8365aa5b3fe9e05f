"""Scale: one simulated day of a Starlink shell, the local backend against batched Ray actors.

The issue's goal: the simulator runs one simulated day (``horizon_h=24``) of federated
fine-tuning over the full Starlink shell 1 (``starlink-shell1``: 72 planes of 22, 1,584
satellites) in at most 1 h of wall time on 2 CPU cores, and the Ray backend gives the local
backend's model for the same seed.

Configuration: ``fedisl`` (ring all-reduce per plane, one upload per plane; the schedule of
``on-board-only``), peft LoRA (rank 4) on ``vit-micro-p8`` at 32 x 32, synthetic scenes
(``num_train = 20 x satellites``, Dirichlet 0.5), one local epoch of batch 16, the 6 default
stations, a 30 s grid. Sizes: whole-plane subsets of the shell of about 100, 400 and 1,584
satellites (``build_network(..., num_sats=N)``: 5, 18 and 72 planes). Each size runs

- the local backend (sequential, one torch thread: ``--local-threads``; more threads gain
  little on these small matrices and spin badly on a shared machine), then
- the Ray backend: 4 actors of 0.5 CPU (two per core), every actor training a contiguous block
  of the satellites (a quarter of the shell: 396 virtual satellites at full size) per round,

each in a fresh process (so the memory high-water marks are per run), for as many rounds as fit
in the day: the run ends when the contact plan ends (``SimulationHorizonError``: the expected
stop), at ``--max-rounds`` or after ``--budget-s`` wall seconds; the Ray run then stops at the
round the local one reached, so both models can be compared (their largest absolute parameter
difference, in the table). The 5-plane shell runs back-to-back rounds (while every plane has a
member over a station a round lasts under a simulated second) and stops at ``--max-rounds`` long
before the day ends; the larger shells' rounds wait for the plane that sees a station last
(1.3 to 1.9 simulated hours at 18 planes).

Measured per run: the network's build wall time (contact plan + link trace), the federation's
wall time (data, model and all rounds), rounds, simulated hours reached, wall seconds per round
(the first, with the actors' start-up, apart), milliseconds per satellite-round (flat when the
cost grows linearly with the satellites), the driver's peak RSS (``getrusage`` high-water mark)
and, for Ray, the peaks of the actors' summed RSS and USS (their unique memory: what they add)
and of every Ray process's RSS (sampled every 0.5 s with psutil; RSS counts shared pages once per
process, so the RSS sums are upper bounds), and the backend's own split of its time (start-up,
training, transport, imbalance; ``RayBackend.stats``). The headline is the largest size's
simulated day (network + federation) against 1 h.

Running it on a multi-node cluster
----------------------------------
The code path is the same; only where ``ray.init`` connects changes. Start Ray on every node
(``ray start --head --num-cpus=C`` on one, ``ray start --address=HEAD:6379 --num-cpus=C`` on
the others; spikesat installed in the same environment on each, or shipped with a
``runtime_env`` given to your own ``ray.init``), then run the driver on the head with
``RayBackend(num_actors=A, num_cpus_per_actor=c, address="auto")`` (this script:
``--address auto --actors A --cpus-per-actor c``), or call ``ray.init(address="auto", ...)``
first: the backend uses an initialised Ray as it is and leaves it up. ``A * c`` must not exceed
the cluster's CPUs (the backend refuses actors that could never be scheduled); e.g. 8 nodes of
16 cores: ``A = 256, c = 0.5``. Ray spreads the actors over the nodes. The trainer (model and
every partition: 12 KB per 32 x 32 scene, 390 MB for the full shell at 20 scenes per satellite)
is put in the object store once and fetched once per node; every ``run`` puts each distinct
global state once (one per ``Federation.train`` call; per-plane states with
``intra_plane_rounds``, ``fedasync``'s staggered ones), each node fetches it once and its actors
read it from there; each actor trains its contiguous block of satellites and returns their
states as one packed array. A round's traffic is thus one state per node out and one state per
satellite back (0.14 MB each here), and its training time that of the slowest block, about
``satellites / A`` jobs. The strategies' own work (the clock, the ring all-reduce maths, uploads,
evaluation) stays on the driver, serial: it bounds the speed-up (about a tenth of a round at
400 satellites on one core) and is what to parallelise next. Memory sampling here covers only
the driver's machine (actors are not sampled with ``--address``).

Run: ``python benchmarks/federated_scale.py`` (full: about half an hour on an idle 2-core
machine, two thirds of it the 1,584-satellite day with both backends; ``--backends ray`` skips
the local runs and the comparison) or ``--quick`` (2 planes, 2 simulated hours, 2 rounds: a smoke
configuration, not a result).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import multiprocessing
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import headline, write_results

GOAL_S = 3600.0
FULL_SHELL = 1584
SIZES = (100, 400, FULL_SHELL)
COLUMNS = [
    "sats", "planes", "backend", "build s", "rounds", "sim h", "stop", "federation s",
    "s/round (1st)", "ms/sat-round", "day s (est.)", "driver MB", "actors MB RSS/USS",
    "max |dθ| vs local",
]  # fmt: skip


class StopRun(Exception):
    """Raised by the progress callback to end a run at its round count or wall budget."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke configuration")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="satellites per run")
    parser.add_argument("--backends", nargs="+", choices=["local", "ray"], default=None)
    parser.add_argument("--horizon-h", type=float, default=None, help="simulated hours")
    parser.add_argument("--step-s", type=float, default=30.0, help="time grid step [s]")
    parser.add_argument("--max-rounds", type=int, default=None, help="round cap per run")
    parser.add_argument("--budget-s", type=float, default=GOAL_S, help="wall cap per run [s]")
    parser.add_argument("--per-sat", type=int, default=20, help="training scenes per satellite")
    parser.add_argument("--actors", type=int, default=4, help="Ray actors")
    parser.add_argument("--cpus-per-actor", type=float, default=0.5, help="CPUs per Ray actor")
    parser.add_argument("--address", default=None, help="Ray cluster address (e.g. auto)")
    parser.add_argument(
        "--local-threads",
        type=int,
        default=1,
        help="torch threads of the local backend (0: torch's default)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    quick_sizes, quick_hours, quick_rounds = [44], 2.0, 2
    args.sizes = args.sizes or (quick_sizes if args.quick else list(SIZES))
    args.horizon_h = args.horizon_h or (quick_hours if args.quick else 24.0)
    args.max_rounds = args.max_rounds or (quick_rounds if args.quick else 40)
    # local first: the Ray run then stops at the local run's round, for the comparison
    args.backends = sorted(set(args.backends or ["local", "ray"]), key=["local", "ray"].index)
    if "ray" in args.backends and importlib.util.find_spec("ray") is None:
        print("Ray is not installed (pip install spikesat[ray]): the local backend only")
        args.backends.remove("ray")
    if not args.backends:
        parser.error("no backend to run")
    if args.max_rounds < 1 or args.budget_s <= 0 or any(n < 1 for n in args.sizes):
        parser.error("--max-rounds, --budget-s and --sizes must be positive")
    return args


# ---------------------------------------------------------------------- one run (a child process)
class MemorySampler(threading.Thread):
    """Peak RSS and USS of the actors (summed) and RSS of every child process (all of Ray's
    processes), sampled every 0.5 s; None without psutil or children."""

    def __init__(self, backend: Any) -> None:
        super().__init__(daemon=True)
        self.backend = backend
        self.peak_actors_b: int | None = None
        self.peak_actors_uss_b: int | None = None
        self.peak_children_b: int | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:  # the figures stay None
            return
        me = psutil.Process()
        while not self.halt.is_set():
            pids = list(getattr(self.backend, "actor_pids", None) or [])
            if pids:
                rss, uss = _memory_sum(psutil, pids, uss=True)
                self.peak_actors_b = max(self.peak_actors_b or 0, rss)
                self.peak_actors_uss_b = max(self.peak_actors_uss_b or 0, uss)
            children = [p.pid for p in me.children(recursive=True)]
            if children:
                rss, _ = _memory_sum(psutil, children, uss=False)
                self.peak_children_b = max(self.peak_children_b or 0, rss)
            self.halt.wait(0.5)


def _memory_sum(psutil: Any, pids: list[int], uss: bool) -> tuple[int, int]:
    """Summed RSS and (where asked) USS of ``pids`` [B]; vanished processes count 0."""
    rss = unique = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if uss:
                info = process.memory_full_info()
                rss, unique = rss + info.rss, unique + info.uss
            else:
                rss += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return rss, unique


def run_one(config: dict[str, Any]) -> dict[str, Any]:
    """Build the network, then federate until the horizon, the round cap or the budget."""
    import torch

    if config["backend"] == "local" and config["local_threads"] > 0:
        torch.set_num_threads(config["local_threads"])
    from spikesat.federated import (
        LocalConfig,
        RayBackend,
        SimulationHorizonError,
        build_network,
        federate,
        federated_data,
    )
    from spikesat.models import create

    began = time.time()
    network = build_network(
        "starlink-shell1", "default", horizon_h=config["horizon_h"], step_s=config["step_s"],
        seed=config["seed"], num_sats=config["num_sats"],
    )  # fmt: skip
    build_s = time.time() - began
    fed_began = time.time()
    data = federated_data(
        network.num_sats, source="synthetic", num_train=config["per_sat"] * network.num_sats,
        num_test=200, image_size=32, scheme="dirichlet", alpha=0.5, planes=network.planes,
        seed=config["seed"],
    )  # fmt: skip
    model = create(
        "vit-micro-p8", in_chans=3, num_classes=data.num_classes, img_size=32, seed=config["seed"]
    )
    if config["backend"] == "ray":
        backend: Any = RayBackend(
            num_actors=config["actors"],
            num_cpus_per_actor=config["cpus_per_actor"],
            address=config["address"],
        )
    else:
        backend = "local"
    # the actors of a cluster (address) run on other machines: their memory is not sampled here
    sampler = MemorySampler(backend if config["address"] is None else None)
    sampler.start()
    history: list[dict[str, Any]] = []
    stop_at, budget_s = config["stop_at"], config["budget_s"]

    def progress(done: int, total: int, entry: dict[str, Any]) -> None:
        history.append(entry)
        print(
            f"    {config['backend']} {network.num_sats} sats, round {done}: "
            f"{entry['sim_time_h']:.3f} h, wall {entry['wall_s']:.1f} s",
            flush=True,
        )
        if done >= stop_at:
            raise StopRun("rounds")
        if time.time() - fed_began >= budget_s:
            raise StopRun("budget")

    stop, error = "rounds", None
    try:
        federate(
            "fedisl", network=network, data=data, model=model, rounds=10**9, trainable="lora",
            lora_rank=4, local=LocalConfig(epochs=1, batch_size=16, lr=1e-3), backend=backend,
            seed=config["seed"], progress=progress,
        )  # fmt: skip
    except StopRun as reason:
        stop = str(reason)
    except SimulationHorizonError as exc:
        stop, error = "horizon", str(exc)
    federation_s = time.time() - fed_began
    sampler.halt.set()
    sampler.join()
    walls = [h["wall_s"] for h in history]
    stats = dict(backend.stats) if isinstance(backend, RayBackend) else None
    if stats and stats["calls"]:
        calls, actors = stats["calls"], config["actors"]
        # per call: the slowest actor's block is the critical path; the rest of run() is
        # putting states, shipping and unpacking results; the slowest block over the mean one
        # is the imbalance
        stats["transport_s_per_call"] = (stats["run_s"] - stats["slowest_batch_s"]) / calls
        stats["imbalance_s_per_call"] = (
            stats["slowest_batch_s"] - stats["batch_s"] / actors
        ) / calls
        stats["actor_utilisation"] = stats["batch_s"] / (stats["run_s"] * actors)
        stats["share_of_federation"] = stats["run_s"] / federation_s
        print(
            f"    ray: start-up {stats['start_s']:.1f} s, {stats['run_s']:.1f} s in backend.run "
            f"({stats['share_of_federation']:.0%} of the federation); per call "
            f"{stats['transport_s_per_call']:.3f} s transport, "
            f"{stats['imbalance_s_per_call']:.3f} s imbalance; actors busy "
            f"{stats['actor_utilisation']:.0%}",
            flush=True,
        )
    return {
        **config,
        "num_sats": network.num_sats,
        "num_planes": int(network.planes.max()) + 1,
        "torch_threads": torch.get_num_threads(),
        "build_s": build_s,
        "federation_s": federation_s,
        "total_s": build_s + federation_s,
        "rounds": len(history),
        "sim_h": history[-1]["sim_time_h"] if history else 0.0,
        "stop": stop,
        "horizon_error": error,
        "first_round_s": walls[0] if walls else None,
        "round_s": sum(walls[1:]) / len(walls[1:]) if len(walls) > 1 else None,
        "history": history,
        "ray_stats": stats,
        "driver_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "actors_peak_mb": _mb(sampler.peak_actors_b),
        "actors_peak_uss_mb": _mb(sampler.peak_actors_uss_b),
        "children_peak_mb": _mb(sampler.peak_children_b),
        # numpy, not tensors: torch shares tensors between processes through file descriptors
        # that close with this process
        "state": {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()},
    }


def _mb(num_bytes: int | None) -> float | None:
    return None if num_bytes is None else num_bytes / 2**20


def _child(config: dict[str, Any], conn: Any) -> None:
    """The spawned process: ``run_one``, its result (or its error) sent back on ``conn``."""
    try:
        conn.send(("ok", run_one(config)))
    except BaseException as error:  # reported by the parent, which keeps the other runs
        conn.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        conn.close()


def in_child(config: dict[str, Any]) -> dict[str, Any]:
    """``run_one`` in a fresh (spawned) process; a crash is reported, not raised."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(config, send))
    process.start()
    send.close()
    try:
        status, payload = receive.recv()
    except EOFError:  # killed (out of memory, a signal) or crashed before sending
        status, payload = "error", None
    process.join()
    if status == "ok":
        return payload
    if payload is None:
        payload = f"the run's process ended with exit code {process.exitcode} (< 0: a signal)"
    return {**config, "failed": payload}


# ---------------------------------------------------------------------- the benchmark
def main() -> None:
    args = parse_args()
    started = time.time()
    runs: list[dict[str, Any]] = []
    for size in args.sizes:
        reference: dict[str, Any] | None = None
        for backend in args.backends:
            stop_at = args.max_rounds
            if reference is not None:
                # the local run's rounds; where the plan's end stopped it, the same failing
                # round too (its local training is part of simulating the day)
                stop_at = reference["rounds"] + (reference["stop"] == "horizon")
            config = {
                "num_sats": size, "backend": backend, "horizon_h": args.horizon_h,
                "step_s": args.step_s, "per_sat": args.per_sat, "seed": args.seed,
                "actors": args.actors, "cpus_per_actor": args.cpus_per_actor,
                "address": args.address, "stop_at": stop_at, "budget_s": args.budget_s,
                "local_threads": args.local_threads,
            }  # fmt: skip
            print(f"{size} satellites, {backend} backend", flush=True)
            run = in_child(config)
            if run.get("failed"):
                print(f"  failed: {run['failed']}", flush=True)
            elif reference is not None and not reference.get("failed"):
                run["max_abs_diff_vs_local"] = max(
                    float(np.abs(a - run["state"][k]).max()) for k, a in reference["state"].items()
                )
            if backend == "local" and not run.get("failed"):
                reference = run
            runs.append(run)
    results = summarise(args, runs)
    rows = [row(run) for run in runs]
    head = make_headline(args, runs)

    def plot(fig) -> None:
        ok = [r for r in runs if not r.get("failed") and r.get("round_s")]
        ax = fig.add_subplot(1, 2, 1)
        ax2 = fig.add_subplot(1, 2, 2)
        for backend in args.backends:
            mine = sorted((r for r in ok if r["backend"] == backend), key=lambda r: r["num_sats"])
            sats = [r["num_sats"] for r in mine]
            ax.plot(sats, [r["round_s"] for r in mine], marker="o", label=backend)
            memory = [r["driver_peak_mb"] + (r["actors_peak_uss_mb"] or 0.0) for r in mine]
            label = f"{backend} (driver RSS + actors USS)" if backend == "ray" else backend
            ax2.plot(sats, memory, marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("satellites")
        ax.set_ylabel("wall s per round")
        ax.set_title("fedisl, LoRA vit-micro-p8" + (" (quick)" if args.quick else ""), fontsize=8)
        ax.legend(fontsize=7)
        ax2.set_xscale("log")
        ax2.set_xlabel("satellites")
        ax2.set_ylabel("peak memory (MB)")
        ax2.legend(fontsize=7)

    write_results(
        "federated_scale" + ("_quick" if args.quick else ""),
        results,
        COLUMNS,
        rows,
        out_dir=args.out,
        started_s=started,
        notes=f"starlink-shell1 whole-plane subsets, 6 default stations, {args.horizon_h:g} h "
        f"plan at {args.step_s:g} s; fedisl, LoRA r4 vit-micro-p8 32 x 32, {args.per_sat} "
        "synthetic scenes per satellite (Dirichlet 0.5), 1 local epoch of batch 16, 200 test "
        f"scenes evaluated each round. Ray: {args.actors} actors x {args.cpus_per_actor:g} CPU, "
        "one batch of contiguous satellites per actor per round. 'day s (est.)': the whole day, "
        "measured where the run reached the plan's end, else build, set-up and first round as "
        "measured plus the later rounds scaled to the horizon (an extrapolation). Each run is "
        "its own process; RSS sums count shared pages once per process (upper bounds)."
        + (" QUICK configuration: not a result." if args.quick else ""),
        headline=head,
        plot=plot,
    )


def day_estimate_s(run: dict[str, Any], horizon_h: float) -> float | None:
    """The whole day's wall time: measured where the run reached the plan's end; else build,
    set-up and first round (the actors' start-up) as measured and the later rounds' wall time
    scaled to the horizon (an extrapolation: rounds of a small shell last well under a simulated
    second, the full shell's hours)."""
    if run.get("failed") or not run.get("rounds"):
        return None
    if run["stop"] == "horizon" or run["sim_h"] >= horizon_h:
        return run["total_s"]
    if run["sim_h"] <= 0:
        return None
    walls = [h["wall_s"] for h in run["history"]]
    fixed = run["total_s"] - sum(walls) + walls[0]
    return fixed + sum(walls[1:]) * horizon_h / run["sim_h"]


def summarise(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON results: the runs (no model states) and the growth of the per-round cost."""
    clean = [{k: v for k, v in r.items() if k != "state"} for r in runs]
    for run in clean:
        if not run.get("failed") and run.get("round_s"):
            run["ms_per_sat_round"] = 1000.0 * run["round_s"] / run["num_sats"]
            run["wall_s_per_sat"] = run["total_s"] / run["num_sats"]
        run["day_estimate_s"] = day_estimate_s(run, args.horizon_h)
    growth = {}
    for backend in args.backends:
        mine = sorted(
            (r for r in clean if r["backend"] == backend and r.get("ms_per_sat_round")),
            key=lambda r: r["num_sats"],
        )
        # exponent b of round_s ~ sats^b between successive sizes (1: linear)
        growth[backend] = [
            {
                "from_sats": a["num_sats"],
                "to_sats": b["num_sats"],
                "round_s_exponent": math.log(b["round_s"] / a["round_s"])
                / math.log(b["num_sats"] / a["num_sats"]),
            }
            for a, b in itertools.pairwise(mine)
            if b["num_sats"] != a["num_sats"]
        ]
    return {
        "quick": args.quick,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "runs": clean,
        "growth": growth,
    }


def row(run: dict[str, Any]) -> list[Any]:
    """One table row."""
    if run.get("failed"):
        return [run["num_sats"], "-", run["backend"], *["-"] * (len(COLUMNS) - 4), run["failed"]]
    ms = 1000.0 * run["round_s"] / run["num_sats"] if run.get("round_s") else None
    diff = run.get("max_abs_diff_vs_local")
    actors = "-"
    if run.get("actors_peak_mb") is not None:
        actors = f"{run['actors_peak_mb']:.0f}/{run['actors_peak_uss_mb']:.0f}"
    return [
        run["num_sats"], run["num_planes"], _backend_label(run), f"{run['build_s']:.1f}",
        run["rounds"], f"{run['sim_h']:.3f}", run["stop"], f"{run['federation_s']:.1f}",
        f"{_num(run.get('round_s'), '.2f')} ({_num(run.get('first_round_s'), '.1f')})",
        _num(ms, ".1f"), _num(day_estimate_s(run, run["horizon_h"]), ".0f"),
        f"{run['driver_peak_mb']:.0f}", actors, "-" if diff is None else f"{diff:.2g}",
    ]  # fmt: skip


def _backend_label(run: dict[str, Any]) -> str:
    if run["backend"] == "ray":
        return f"ray {run['actors']}x{run['cpus_per_actor']:g} CPU"
    threads = run["torch_threads"]
    return f"local ({threads} thread{'s' if threads > 1 else ''})"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def make_headline(args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The largest size's simulated day (Ray where it ran) against 1 h, the other backend as
    the peer."""
    ok = [r for r in runs if not r.get("failed") and r.get("rounds")]
    goal = (
        f"<= 1 h wall on 2 cores for one simulated day of the full {FULL_SHELL}-satellite "
        "starlink-shell1 (ratio: the day's wall time over 1 h)"
    )
    if not ok:
        return headline(figure="no run completed a round", peer="", ratio=None, goal=goal, met=None)
    largest = max(r["num_sats"] for r in ok)
    at_size = {r["backend"]: r for r in ok if r["num_sats"] == largest}
    main_run = at_size.get("ray") or at_size["local"]
    peer_run = at_size.get("local") if main_run["backend"] == "ray" else None
    day = day_estimate_s(main_run, args.horizon_h)
    complete = main_run["stop"] == "horizon"
    figure = (
        f"{largest} satellites, {args.horizon_h:g} simulated h, {_backend_label(main_run)}: "
        + (
            f"{main_run['total_s']:.0f} s wall ({main_run['rounds']} rounds to the plan's end)"
            if complete
            else f"~{day:.0f} s wall estimated from {main_run['rounds']} rounds "
            f"({main_run['sim_h']:.2f} h simulated in {main_run['total_s']:.0f} s)"
        )
    )
    diff = main_run.get("max_abs_diff_vs_local")
    if diff is not None:
        figure += f"; Ray model vs local: max |dθ| {diff:.2g}"
    peer = ""
    if peer_run is not None:
        peer = (
            f"local backend, same rounds: {peer_run['total_s']:.0f} s wall "
            f"({peer_run['round_s'] or float('nan'):.2f} s per round)"
        )
    full = largest >= FULL_SHELL and abs(args.horizon_h - 24.0) < 1e-9 and not args.quick
    ratio = None if day is None else day / GOAL_S
    met = (ratio <= 1.0) if (full and complete and ratio is not None) else None
    return headline(figure=figure, peer=peer, ratio=ratio, goal=goal, met=met)


if __name__ == "__main__":
    main()
