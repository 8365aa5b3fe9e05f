"""decompose against fixed decompositions: time to a real target and joules, executed by the
``split-decomposed`` strategy on the same constellation, data and LAM.

A vit-micro-p8 LAM pretrained on synthetic scenes (as in ``federated.py``) is fine-tuned
on EuroSAT RGB (32 x 32, 40 images per satellite, Dirichlet 0.5) over the 5 x 10 research shell
with 3 stations and a 480 h plan. The satellites are heterogeneous: satellite ``i`` carries a
``jetson-nano-5w`` (CubeSat class), a ``jetson-tx2nx`` or a ``jetson-agx-orin`` in turn. The
run is priced as ViT-Small/8 at 64 px (``federate(price_as=...)``: the learning is the small
model's, the MACs, activations and adapter bytes ViT-Small's), so where the LAM is cut matters.

- ``decompose`` (scipy MILP) chooses each satellite's split point and LoRA rank from its
  compute, memory, energy, link and contact time, for the same split and rank grid, with
  ``objective="rank"`` (the most adapter capacity within a round deadline: the makespan of
  the cheapest decomposition that trains adapters on every satellite, ``blocks.0`` at the
  smallest rank, so that the slow CubeSat-class computers set it and the faster ones fill it
  with deeper splits) and with ``objective="time"`` (the shortest makespan);
- every fixed ``(split, rank)`` of the grid, the same for every satellite, is a peer.

Every decomposition runs ``split-decomposed`` (4 split steps of 16 images per satellite per
round; the on-board adapters FLoRA-stacked per block with the ground's) until 90 % of the
accuracy centralised training of the same LAM reaches, or its round budget. Reported: time to
the target, joules and bytes to the target, each against the best fixed decomposition in the
same run. Run: ``python benchmarks/federated_decompose.py`` (full) or ``--quick`` (synthetic
scenes, one decompose choice and one fixed peer, 1 round: a smoke configuration, not a
result).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _federation import DECOMPOSED_STEPS, TARGET_FRACTION, pretrained_lam, run_to_target, stations
from _report import headline, write_results
from spikesat.federated import (
    LocalConfig,
    build_network,
    centralised_accuracy,
    decompose,
    federated_data,
    real_target,
)
from spikesat.models import create

COMPUTERS = ("jetson-nano-5w", "jetson-tx2nx", "jetson-agx-orin")
PRICE_AS, PRICE_IMAGE_SIZE = "vit-small-p8", 64
SPLITS = ["patch_embed", "blocks.0", "blocks.1", "blocks.3"]
RANKS = [2, 8]
COLUMNS = [
    "decomposition", "splits (satellites)", "final %", "rounds", "time to target h",
    "x best fixed (time)", "J to target", "x best fixed (J)", "GB to target", "wall s",
]  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke configuration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=30, help="round budget per decomposition")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    return parser.parse_args()


def choices(network: Any, num_examples: list[int], onboard: list[str]) -> dict[str, dict]:
    """decompose's two choices: the most capacity within a deadline, and the fastest."""
    priced = create(PRICE_AS, in_chans=3, num_classes=10, img_size=PRICE_IMAGE_SIZE)
    common = dict(
        onboard=onboard, round_s=3600.0, batch_size=DECOMPOSED_STEPS["batch_size"],
        local_steps=DECOMPOSED_STEPS["local_steps"],
    )  # fmt: skip
    cheapest = decompose(
        priced, network, num_examples, splits=SPLITS[1:2], ranks=RANKS[:1], **common
    )
    deadline_s = max(d.round_s for d in cheapest.values())
    capacity = decompose(
        priced, network, num_examples, splits=SPLITS, ranks=RANKS, objective="rank",
        deadline_s=deadline_s, **common,
    )  # fmt: skip
    fastest = decompose(
        priced, network, num_examples, splits=SPLITS, ranks=RANKS, objective="time", **common
    )
    return {
        "decompose (time, its default objective)": fastest,
        f"decompose (rank within {SPLITS[1]} r{RANKS[0]}'s makespan)": capacity,
    }


def fixed(quick: bool) -> dict[str, tuple[str, int]]:
    """Every fixed (split, rank) of the grid (one rank where the prefix has no blocks)."""
    grid = {"fixed patch_embed": ("patch_embed", 1)}
    grid.update({f"fixed {s} r{r}": (s, r) for s in SPLITS if s != "patch_embed" for r in RANKS})
    return dict(list(grid.items())[1:2]) if quick else grid


def main() -> None:
    args = parse_args()
    started = time.time()
    if args.quick:
        torch.set_num_threads(1)
        args.rounds = 1
    source = "synthetic" if args.quick else "eurosat"
    lam, pretrain_s = pretrained_lam(500 if args.quick else 4000, 1 if args.quick else 4, args.seed)
    network = build_network(
        "research-5x10", stations(3), horizon_h=48.0 if args.quick else 480.0, step_s=60.0,
        seed=args.seed,
    )  # fmt: skip
    data = federated_data(
        network.num_sats, source=source, num_train=40 * network.num_sats,
        num_test=100 if args.quick else 500, image_size=32, scheme="dirichlet", alpha=0.5,
        seed=args.seed,
    )  # fmt: skip
    onboard = [COMPUTERS[sat % len(COMPUTERS)] for sat in range(network.num_sats)]
    num_examples = [data.num_samples(sat) for sat in range(network.num_sats)]
    central = centralised_accuracy(lam, data, epochs=2 if args.quick else 5, seed=args.seed)
    target = real_target(central["accuracy"], TARGET_FRACTION)
    print(f"centralised {central['accuracy']:.3f}, target {target:.3f}", flush=True)
    runs: dict[str, dict[str, Any]] = {}
    chosen = choices(network, num_examples, onboard)
    if args.quick:
        chosen = dict(list(chosen.items())[:1])
    plans = {**chosen, **fixed(args.quick)}
    for label, plan in plans.items():
        kwargs = dict(DECOMPOSED_STEPS)
        if isinstance(plan, tuple):
            kwargs.update(split_at=plan[0], lora_rank=plan[1])
            splits = {plan[0]: network.num_sats}
        else:
            kwargs["decomposition"] = plan
            splits = dict(Counter(f"{d.split_at} r{d.lora_rank}" for d in plan.values()))
        print(f"  {label}: {splits}", flush=True)
        run = run_to_target(
            "split-decomposed", target, network=network, data=data, model=copy.deepcopy(lam),
            rounds=args.rounds, seed=args.seed, strategy_kwargs=kwargs, onboard=onboard,
            price_as=PRICE_AS, price_image_size=PRICE_IMAGE_SIZE, local=LocalConfig(),
            centralised_accuracy=central["accuracy"],
        )  # fmt: skip
        reached = run["time_to_target_h"] is not None  # federate stops at the target
        runs[label] = {
            **run,
            "splits": splits,
            "energy_to_target_j": run["energy_j"] if reached else None,
            "bytes_to_target": run["bytes_isl"] + run["bytes_ground"] if reached else None,
        }
    peers = {k: v for k, v in runs.items() if k.startswith("fixed")}
    best_time = min((v["time_to_target_h"] for v in peers.values() if v["time_to_target_h"]),
                    default=None)  # fmt: skip
    best_j = min((v["energy_to_target_j"] for v in peers.values() if v["energy_to_target_j"]),
                 default=None)  # fmt: skip
    rows = []
    for label, run in runs.items():
        last = run["history"][-1] if run["history"] else {}
        hours, joules = run["time_to_target_h"], run["energy_to_target_j"]
        rows.append([
            label, ", ".join(f"{k}: {v}" for k, v in run["splits"].items()),
            f"{100 * last.get('accuracy', float('nan')):.1f}", len(run["history"]),
            "not reached" if hours is None else f"{hours:.2f}",
            "-" if hours is None or not best_time else f"{hours / best_time:.3f}",
            "-" if joules is None else f"{joules:.3g}",
            "-" if joules is None or not best_j else f"{joules / best_j:.3f}",
            "-" if run["bytes_to_target"] is None else f"{run['bytes_to_target'] / 1e9:.2f}",
            f"{run['wall_s']:.0f}",
        ])  # fmt: skip
    reached = {k: v["time_to_target_h"] for k, v in peers.items() if v["time_to_target_h"]}
    best_label = min(reached, key=reached.get) if reached else "none reached the target"
    main_label = next(iter(plans))
    ours = runs[main_label]
    time_ratio = (
        ours["time_to_target_h"] / best_time if ours["time_to_target_h"] and best_time else None
    )
    energy_ratio = (
        ours["energy_to_target_j"] / best_j if ours["energy_to_target_j"] and best_j else None
    )
    head = headline(
        figure=f"{main_label}: time to {TARGET_FRACTION:.0%} of centralised accuracy "
        + ("not reached" if time_ratio is None else f"{time_ratio:.3f}x")
        + f" the best fixed decomposition's ({best_label}), joules "
        + ("-" if energy_ratio is None else f"{energy_ratio:.3f}x"),
        peer="every fixed (split, rank) of the same grid, same run, same target",
        ratio=time_ratio,
        goal="decompose beats the best fixed decomposition in time or joules (a ratio < 1)",
        met=None
        if time_ratio is None and energy_ratio is None
        else any(r is not None and r < 1.0 for r in (time_ratio, energy_ratio)),
    )

    def plot(fig) -> None:
        ax = fig.add_subplot(1, 1, 1)
        for label, run in runs.items():
            hist = run["history"]
            ax.plot([h["sim_time_h"] for h in hist], [100 * h["accuracy"] for h in hist],
                    marker="o", ms=3, lw=2.0 if label.startswith("decompose") else 0.8,
                    label=label)  # fmt: skip
        ax.axhline(100 * target, color="k", ls="--", lw=0.8)
        ax.set_xlabel("simulated hours")
        ax.set_ylabel("test accuracy (%)")
        ax.legend(fontsize=6)

    results = {
        "quick": args.quick, "data": source, "pretrain_s": pretrain_s, "centralised": central,
        "target_accuracy": target, "onboard": onboard, "price_as": PRICE_AS,
        "price_image_size": PRICE_IMAGE_SIZE, "steps": DECOMPOSED_STEPS, "runs": runs,
    }  # fmt: skip
    write_results(
        "federated_decompose" + ("_quick" if args.quick else ""),
        results,
        COLUMNS,
        rows,
        out_dir=args.out,
        started_s=started,
        notes=f"vit-micro-p8 pretrained on synthetic scenes ({pretrain_s:.0f} s), fine-tuned on "
        f"{source} 32 x 32, 40 images per satellite, Dirichlet 0.5, research-5x10 with 3 "
        f"stations; target {100 * target:.1f}% = {TARGET_FRACTION:.0%} of the centralised "
        f"{100 * central['accuracy']:.1f}%. Priced as {PRICE_AS} at {PRICE_IMAGE_SIZE} px; "
        "satellites carry jetson-nano-5w / tx2nx / agx-orin in turn; ground A100."
        + (" QUICK configuration: not a result." if args.quick else ""),
        headline=head,
        plot=plot,
    )


if __name__ == "__main__":
    main()
