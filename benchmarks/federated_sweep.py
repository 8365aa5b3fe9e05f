"""The split LAM's regime sweep: where the window split-lam reaches a real target in a third of
on-board-only's time (the seeds' 33 %), and where it stops.

Every cell runs the seeds' comparison of ``federated.py`` (a vit-micro-p8 LAM pretrained on
synthetic scenes, fine-tuned on EuroSAT RGB 32 x 32, 40 images per satellite, Dirichlet 0.5,
the 5 x 10 research shell, a 480 h plan at 60 s) to the same target: 90 % of the accuracy
centralised training of the same LAM reaches on the pooled images. Two strategies per cell:
``on-board-only`` (Zhu et al.'s baseline, the whole LAM trained on board) and ``split-lam``
with ``schedule="window"`` (up to 32 U-shaped steps per plane and relay window, each pipelined
in 8 micro-batches over the ISL hops, the relay's ground link and the computers:
``micro_batches=8``; ``--micro-batches 1`` is store and forward of whole batches). The cells:

- the LAM's size, priced on the simulated clock (``federate(price_as=...)``): vit-micro-p8 at
  32 px (the trained model itself), ViT-Small/8 at 64 px (EuroSAT's own resolution) and
  ViT-Base/8 at 224 px. The learning is the trained vit-micro-p8's; the MACs, the update bytes,
  the tokens at the cut and hence the time and joules are the priced model's;
- the on-board computer: ``jetson-nano-5w`` (the CubeSat class), ``jetson-tx2nx`` and
  ``jetson-agx-orin``; the ground runs an A100;
- the ground network: 1 station, 3 stations (built-in) and KSAT's 36.

On-board-only's local training ignores timing, so its jobs are trained once and replayed in
every cell (``_federation.ReplayBackend``, keyed by the digest of each job's starting state).
The split-lam cells run in two worker processes. Reported per cell: both times to the target
and their ratio (``< x``: an upper bound, on-board-only never reached the target within its
rounds; ``> x``: a lower bound, split-lam never did), with a heat-map of the ratio. Run:
``python benchmarks/federated_sweep.py`` (full) or ``--quick`` (synthetic scenes, 1 cell,
2 rounds: a smoke configuration, not a result).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _federation import (
    SEEDS_RATIO,
    SPLIT_WINDOW,
    TARGET_FRACTION,
    ReplayBackend,
    pretrained_lam,
    run_to_target,
    stations,
)
from _report import headline, write_results
from spikesat.federated import (
    LocalConfig,
    build_network,
    centralised_accuracy,
    federated_data,
    real_target,
)
from spikesat.federated.network import Network
from spikesat.models import create

LAMS = [("vit-micro-p8", 32), ("vit-small-p8", 64), ("vit-base-p8", 224)]
COMPUTERS = ["jetson-nano-5w", "jetson-tx2nx", "jetson-agx-orin"]
STATIONS = [1, 3, 36]
COLUMNS = [
    "LAM priced as", "on-board", "stations", "on-board-only (h)", "split-lam (h)",
    "x on-board-only", "split steps/plane", "on-board-only J", "split-lam J", "wall s",
]  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=40, help="round budget per strategy")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=SPLIT_WINDOW["max_steps"],
        help="split-lam steps per window",
    )
    parser.add_argument(
        "--micro-batches",
        type=int,
        default=SPLIT_WINDOW["micro_batches"],
        help="split-lam micro-batches per step",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for split-lam cells")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    return parser.parse_args()


class Scenario:
    """The data, networks and pretrained LAM of the cells (built again in each worker)."""

    def __init__(self, quick: bool, seed: int, lam_state: dict[str, torch.Tensor]) -> None:
        self.quick, self.seed = quick, seed
        self.horizon_h = 48.0 if quick else 480.0
        self.data = federated_data(
            50, source="synthetic" if quick else "eurosat", num_train=40 * 50,
            num_test=100 if quick else 500, image_size=32, scheme="dirichlet", alpha=0.5,
            seed=seed,
        )  # fmt: skip
        self.lam = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32)
        self.lam.load_state_dict(lam_state)
        self.networks: dict[int, Network] = {}

    def network(self, num_stations: int) -> Network:
        """The research shell's network with ``num_stations`` stations (built once)."""
        if num_stations not in self.networks:
            self.networks[num_stations] = build_network(
                "research-5x10", stations(num_stations), horizon_h=self.horizon_h,
                step_s=60.0, seed=self.seed,
            )  # fmt: skip
        return self.networks[num_stations]

    def run(
        self, strategy: str, kwargs: dict[str, Any], cell: tuple, target: float, central: float,
        rounds: int, backend: Any = "local",
    ) -> dict[str, Any]:  # fmt: skip
        """One strategy in one cell until the target, the round budget or the plan's end."""
        (lam, image_size), computer, num_stations = cell
        run = run_to_target(
            strategy, target, verbose=False, network=self.network(num_stations),
            data=self.data, model=copy.deepcopy(self.lam), rounds=rounds, seed=self.seed,
            local=LocalConfig(epochs=1, batch_size=16, lr=1e-3), strategy_kwargs=kwargs,
            onboard=computer, price_as=lam, price_image_size=image_size, backend=backend,
            centralised_accuracy=central,
        )  # fmt: skip
        history = run.pop("history")
        return {**run, "steps_per_plane": [h.get("steps_per_plane") for h in history]}


def split_cell(args: argparse.Namespace, lam_state: dict, cell: tuple, kwargs: dict,
               target: float, central: float) -> dict[str, Any]:  # fmt: skip
    """One cell's split-lam run, in a worker process of one torch thread."""
    torch.set_num_threads(1)
    scenario = Scenario(args.quick, args.seed, lam_state)
    return scenario.run("split-lam", kwargs, cell, target, central, args.rounds)


def main() -> None:
    args = parse_args()
    started = time.time()
    cells = list(itertools.product(LAMS, COMPUTERS, STATIONS))
    if args.quick:
        torch.set_num_threads(1)
        args.rounds, args.max_steps, args.workers = 2, 4, 1
        cells = [(("vit-small-p8", 64), "jetson-tx2nx", 3)]
    lam, pretrain_s = pretrained_lam(500 if args.quick else 4000, 1 if args.quick else 4, args.seed)
    lam_state = {k: v.clone() for k, v in lam.state_dict().items()}
    scenario = Scenario(args.quick, args.seed, lam_state)
    central = centralised_accuracy(
        lam, scenario.data, epochs=2 if args.quick else 5, seed=args.seed
    )
    target = real_target(central["accuracy"], TARGET_FRACTION)
    print(f"centralised {central['accuracy']:.3f}, target {target:.3f}", flush=True)
    split_kwargs = {
        **SPLIT_WINDOW, "max_steps": args.max_steps, "micro_batches": args.micro_batches
    }  # fmt: skip
    torch.set_num_threads(1)  # the main process runs on-board-only beside the workers
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        futures = {
            cell: pool.submit(split_cell, args, lam_state, cell, split_kwargs, target,
                              central["accuracy"])
            for cell in cells
        }  # fmt: skip
        replay = ReplayBackend()
        onboard = {}
        for cell in cells:
            onboard[cell] = scenario.run(
                "on-board-only", {}, cell, target, central["accuracy"], args.rounds, replay
            )
            print(f"  on-board-only {_name(cell)}: {_hours(onboard[cell])}", flush=True)
        split = {}
        for cell in cells:
            split[cell] = futures[cell].result()
            print(f"  split-lam {_name(cell)}: {_hours(split[cell])}", flush=True)
    results: dict[str, Any] = {
        "quick": args.quick, "data": "synthetic" if args.quick else "eurosat",
        "pretrain_s": pretrain_s, "centralised": central, "target_accuracy": target,
        "split_kwargs": split_kwargs, "rounds": args.rounds,
        "replay": {"trained_jobs": replay.trained, "replayed_jobs": replay.replayed},
        "cells": [],
    }  # fmt: skip
    rows = []
    for cell in cells:
        ratio, bound = _ratio(split[cell], onboard[cell])
        (lam_name, image_size), computer, num_stations = cell
        results["cells"].append({
            "lam": lam_name, "image_size": image_size, "onboard": computer,
            "stations": num_stations, "on-board-only": onboard[cell], "split-lam": split[cell],
            "ratio": ratio, "bound": bound,
        })  # fmt: skip
        steps = [s for entry in split[cell]["steps_per_plane"] if entry for s in entry]
        rows.append([
            f"{lam_name} @ {image_size} px", computer, num_stations, _hours(onboard[cell]),
            _hours(split[cell]), _ratio_text(ratio, bound),
            f"{np.mean(steps):.1f}" if steps else "-",
            f"{onboard[cell]['energy_j']:.3g}", f"{split[cell]['energy_j']:.3g}",
            f"{onboard[cell]['wall_s'] + split[cell]['wall_s']:.0f}",
        ])  # fmt: skip
    met = [c for c in results["cells"] if _meets(c)]
    seeds = [c for c in results["cells"] if _seeds_regime(c)]
    worst = max((c["ratio"] for c in seeds if c["ratio"] is not None), default=None)
    head = headline(
        figure=f"window split-lam within the seeds' {SEEDS_RATIO:.2f} of on-board-only's time "
        f"to {TARGET_FRACTION:.0%} of centralised accuracy in {len(met)} of {len(cells)} cells; "
        "in the seeds' regime (ViT-Base size, <= 3 stations) "
        + ("no cell ran" if worst is None else f"the worst ratio is {worst:.3f}"),
        peer="on-board-only (Zhu et al.'s baseline) in the same cell, same target",
        ratio=worst,
        goal=f"the seeds' {SEEDS_RATIO:.2f} in every cell of their regime",
        met=None if not seeds else all(_meets(c) for c in seeds),
    )

    def plot(fig) -> None:
        lam_labels = [f"{n} @ {s}" for n, s in LAMS]
        for i, num_stations in enumerate(STATIONS):
            ax = fig.add_subplot(1, len(STATIONS), i + 1)
            grid = np.full((len(LAMS), len(COMPUTERS)), np.nan)
            for c in results["cells"]:
                if c["stations"] == num_stations and c["ratio"] is not None:
                    row = LAMS.index((c["lam"], c["image_size"]))
                    grid[row, COMPUTERS.index(c["onboard"])] = c["ratio"]
            ax.imshow(np.log10(grid), cmap="RdYlGn_r", vmin=-1.5, vmax=1.0)
            for (r, k), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    ax.text(k, r, f"{value:.2f}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(COMPUTERS)), [c.replace("jetson-", "") for c in COMPUTERS],
                          fontsize=6, rotation=30)  # fmt: skip
            ax.set_yticks(range(len(LAMS)), lam_labels if i == 0 else [], fontsize=6)
            ax.set_title(f"{num_stations} station{'s' if num_stations > 1 else ''}", fontsize=8)
        fig.suptitle("split-lam time to target / on-board-only's (seeds: 0.33)", fontsize=9)

    write_results(
        "federated_sweep" + ("_quick" if args.quick else ""),
        results,
        COLUMNS,
        rows,
        out_dir=args.out,
        started_s=started,
        notes=f"Learning: vit-micro-p8 pretrained on synthetic scenes ({pretrain_s:.0f} s), "
        f"fine-tuned on {results['data']} 32 x 32, 40 images per satellite, Dirichlet 0.5; "
        f"target {100 * target:.1f}% = {TARGET_FRACTION:.0%} of the centralised "
        f"{100 * central['accuracy']:.1f}%. Time, bytes and joules priced as the LAM of each "
        f"row; ground compute: A100. Round budget {args.rounds} per strategy; split-lam "
        f"<= {args.max_steps} steps per window, each pipelined in {args.micro_batches} "
        "micro-batches; the ground's compute is a queue only within a plane's step. '<': "
        "on-board-only never reached the target (ratio over its whole run); '>': "
        "split-lam never did." + (" QUICK configuration: not a result." if args.quick else ""),
        headline=head,
        plot=plot,
    )


def _ratio(split: dict[str, Any], onboard: dict[str, Any]) -> tuple[float | None, str | None]:
    """split-lam's time over on-board-only's, and whether it is a bound."""
    a, b = split["time_to_target_h"], onboard["time_to_target_h"]
    if a is not None and b is not None:
        return a / b, None
    if a is not None and onboard["sim_h"]:
        return a / onboard["sim_h"], "upper"
    if b is not None and split["sim_h"]:
        return split["sim_h"] / b, "lower"
    return None, None


def _meets(cell: dict[str, Any]) -> bool:
    """The cell's ratio (or its upper bound) is within the seeds' 0.33."""
    return cell["ratio"] is not None and cell["bound"] != "lower" and cell["ratio"] <= SEEDS_RATIO


def _seeds_regime(cell: dict[str, Any]) -> bool:
    """A ViT-Base-sized LAM at 224 px and a sparse ground network: what the seeds describe."""
    return cell["lam"] == "vit-base-p8" and cell["stations"] <= 3


def _ratio_text(ratio: float | None, bound: str | None) -> str:
    if ratio is None:
        return "neither reached"
    return {None: "", "upper": "< ", "lower": "> "}[bound] + f"{ratio:.3f}"


def _hours(run: dict[str, Any]) -> str:
    """Hours to the target (seconds below 0.1 h, where dense ground networks get)."""
    hours = run["time_to_target_h"]
    if hours is None:
        return "not reached"
    return f"{hours:.2f}" if hours >= 0.1 else f"{3600 * hours:.1f} s"


def _name(cell: tuple) -> str:
    (lam, size), computer, num_stations = cell
    return f"{lam}@{size}, {computer}, {num_stations} st."


if __name__ == "__main__":
    main()
