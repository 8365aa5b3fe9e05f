"""Ensemble of specialists (EoS-FM): each specialist alone, the ensemble at k = 1..n, pruned
against masked, on EuroSAT RGB and MS; the reference LAM's accuracy and training time.

Specialists (``spikesat.inference.specialists``, each a ResNet-9, trained apart and frozen):
``eurosat-rgb`` (the reference LAM, shipped), ``cloud`` (cloud cover of seeded clouds over real
scenes) and ``eurosat-ms`` (13-band land cover from the reference LAM). Ensembles
(``models.ensemble``, top-k straight-through gate, per-specialist LayerNorm, concatenation,
linear head) are trained on each task's training split: first with every specialist
selected, then for each smaller k the gate and head are fine-tuned under the k-mask. Masked
runs every specialist and multiplies the unselected by zero; pruned (``.prune``) removes them.
Both answer alike (checked here on the test split); MACs, joules (Jetson TX2 NX, 45 nm FP32 and
INT8) and wall time per image on this CPU are those of each.

- **EuroSAT RGB** land cover: specialists ``eurosat-rgb`` and ``cloud`` (the MS specialist has
  no RGB input). Test: the 5,400-image test split.
- **EuroSAT MS** land cover: all three, the RGB ones through the ``s2-l1c -> rgb`` band
  adapter; train 189 pairs, test 54 (the shared data holds 270 MS scenes: one test image is
  1.85 points).

Goals: reference LAM >= 97% EuroSAT RGB test; the pruned ensemble at its best k within 0.5
point of the full ensemble at <= 60% of its MACs.

Run: ``python benchmarks/specialists.py`` (full; trains and caches the cloud and MS
specialists under ``$SPIKESAT_CACHE/specialists``) or ``--quick`` (small subsets, 1 epoch: a
smoke run, not a result).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spikesat.models as models
from _report import RESULTS_DIR, headline, write_results
from spikesat.data import band_adapter
from spikesat.data.sources import Splits
from spikesat.energy import count_ops, energy_joules
from spikesat.inference.specialists import SPECIALISTS, specialist_splits, train_specialist
from spikesat.train import TrainConfig, evaluate, fit

GOAL_REFERENCE = 0.97
GOAL_POINTS = 0.5
GOAL_MACS = 0.60
PROFILES = ("jetson-tx2nx", "cmos45nm-fp32", "cmos45nm-int8")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small subsets, 1 epoch each")
    p.add_argument("--data-dir", default=None, help="shared data (default: SPIKESAT_DATA_DIR)")
    p.add_argument("--ensemble-epochs", type=int, default=2)
    p.add_argument(
        "--ensemble-train", type=int, default=6000, help="RGB scenes the gate and head train on"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS_DIR))
    return p.parse_args()


def subset(splits: Splits, num_train: int, num_test: int, seed: int) -> Splits:
    """Seeded subsets of the train, val and test parts (the smoke run)."""
    gen = torch.Generator().manual_seed(seed)

    def pick(part: tuple[torch.Tensor, torch.Tensor], n: int) -> tuple[torch.Tensor, ...]:
        order = torch.randperm(len(part[1]), generator=gen)[:n]
        return part[0][order], part[1][order]

    return Splits(
        f"{splits.name}-quick",
        pick(splits.train, num_train),
        pick(splits.val, num_test),
        pick(splits.test, num_test),
        splits.classes,
        splits.pixel_mean,
        splits.pixel_std,
    )


def specialists(
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Splits]]:
    """The trained specialists, their own records, and the data (RGB and MS land cover, cloud
    cover) by specialist name."""
    rgb = specialist_splits("eurosat-rgb", args.data_dir, args.seed)
    cloud = specialist_splits("cloud", args.data_dir, args.seed)
    ms = specialist_splits("eurosat-ms", args.data_dir, args.seed)
    if args.quick:
        rgb, cloud = subset(rgb, 400, 200, args.seed), subset(cloud, 400, 200, args.seed)
    reference = models.create("resnet9", pretrained=True).eval()
    info = models.pretrained_info("resnet9")
    began = time.time()
    ref_test = evaluate(reference, rgb.test)
    records = {
        "eurosat-rgb": {
            "task": "EuroSAT RGB land cover",
            "test_accuracy": ref_test["accuracy"],
            "num_test": ref_test["num_examples"],
            "shipped_test_accuracy": info["test_accuracy"],
            "train_wall_time_s": info["train_wall_time_s"],
            "epochs": info["epochs"],
            "trained_on": info["machine"],
            "eval_s": time.time() - began,
        }
    }
    nets = {"eurosat-rgb": reference}
    epochs = 1 if args.quick else None
    for name, data in (("cloud", cloud), ("eurosat-ms", ms)):
        net, meta = train_specialist(name, splits=data, seed=args.seed, epochs=epochs)
        nets[name] = net
        records[name] = {
            "task": SPECIALISTS[name].description,
            "test_accuracy": meta["test_accuracy"],
            "num_test": meta["num_test"],
            "train_wall_time_s": meta["train_wall_time_s"],
            "epochs": meta["epochs_done"],
            "trained_on": meta["machine"],
        }
    return nets, records, {"eurosat-rgb": rgb, "cloud": cloud, "eurosat-ms": ms}


def measure(ensemble: torch.nn.Module, test: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
    """Accuracy, answers, MACs, joules per profile and CPU wall time per image."""
    ensemble.eval()
    images = test[0]
    with torch.no_grad():
        answers = torch.cat([ensemble(images[i : i + 256]) for i in range(0, len(images), 256)])
    one = images[:1]
    ops = count_ops(ensemble, one).per_example()
    batch = images[:64]
    with torch.no_grad():
        ensemble(batch)
        began = time.perf_counter()
        for _ in range(3):
            ensemble(batch)
    wall_ms = (time.perf_counter() - began) / (3 * len(batch)) * 1e3
    return {
        "accuracy": float((answers.argmax(1) == test[1]).float().mean()),
        "answers": answers,
        "macs": models.count_macs(ensemble, one),
        "params": sum(p.numel() for p in ensemble.parameters()),
        "joules": {p: energy_joules(ops, p).total_j for p in PROFILES},
        "wall_ms_per_image": wall_ms,
    }


def sweep_k(
    task: str,
    nets: dict[str, torch.nn.Module],
    adapters: dict[str, torch.nn.Module],
    data: Splits,
    epochs: int,
    seed: int,
) -> tuple[list[dict[str, Any]], Any]:
    """Train the full ensemble, then each smaller k; masked and pruned figures per k.

    Returns the rows (largest k first) and the trained full ensemble."""
    sample = data.train[0][:2]
    full = models.ensemble(nets, num_classes=len(data.classes), sample=sample, adapters=adapters)
    config = TrainConfig(
        epochs=epochs, batch_size=64, lr=3e-3, weight_decay=0.0, warmup_epochs=0.0,
        label_smoothing=0.0, augment=False, seed=seed,
    )  # fmt: skip
    fit(full, data.train, config=config, parameters=list(full.trainable_parameters()))
    rows = []
    for k in range(len(nets), 0, -1):
        masked = copy.deepcopy(full)
        masked.set_k(k)
        if k < len(nets):
            fit(masked, data.train, config=config, parameters=list(masked.trainable_parameters()))
        chosen = masked.selected()
        gate = dict(zip(masked.names, masked.gate_logits.detach().tolist(), strict=True))
        m = measure(masked, data.test)
        pruned = copy.deepcopy(masked).prune()
        p = measure(pruned, data.test)
        agree = float((m["answers"].argmax(1) == p["answers"].argmax(1)).float().mean())
        rows.append(
            {
                "task": task,
                "k": k,
                "selected": chosen,
                "gate_logits": gate,
                "masked": {key: v for key, v in m.items() if key != "answers"},
                "pruned": {key: v for key, v in p.items() if key != "answers"},
                "pruned_equals_masked": agree,
                "max_logit_gap": float((m["answers"] - p["answers"]).abs().max()),
            }
        )
    return rows, full


def federated_specialist(args: argparse.Namespace, cloud: Splits) -> tuple[Any, dict[str, Any]]:
    """The reference LAM fine-tuned to cloud cover by FedISL over one orbital plane.

    Plane 0 of the research 5x10 shell (10 satellites), each holding its own Dirichlet(0.5)
    share of cloudy scenes; the model starts from the shipped weights (a fresh last layer for
    the five cover classes). The run is checkpointed under ``$SPIKESAT_CACHE/specialists``.
    """
    from spikesat.data.partition import partition
    from spikesat.federated import FederatedData, LocalConfig, federate

    num_train, num_test, rounds = (100, 100, 1) if args.quick else (2000, 500, 6)
    gen = torch.Generator().manual_seed(args.seed)
    pick = torch.randperm(len(cloud.train[1]), generator=gen)[:num_train]
    test_pick = torch.randperm(len(cloud.test[1]), generator=gen)[:num_test]
    images, labels = cloud.train[0][pick], cloud.train[1][pick]
    parts = partition(labels.numpy(), 10, alpha=0.5, seed=args.seed)
    data = FederatedData(
        images, labels, cloud.test[0][test_pick], cloud.test[1][test_pick], parts,
        len(cloud.classes), f"{cloud.name}-plane0-n{num_train}",
    )  # fmt: skip
    init = models.create("resnet9", num_classes=len(cloud.classes), pretrained=True)
    folder = models.cache_dir() / "specialists" / f"cloud-fedisl-plane0-n{num_train}-r{rounds}"
    result = federate(
        "fedisl",
        "research-5x10",
        rounds=rounds,
        data=data,
        model=init,
        num_sats=10,
        local=LocalConfig(epochs=1, batch_size=32, lr=5e-4, augment=True),
        seed=args.seed,
        checkpoint_dir=folder,
        resume=True,
    )
    net = result.model.eval()
    test = evaluate(net, cloud.test)
    last = result.history[-1]
    return net, {
        "task": "cloud cover, FedISL over plane 0 of research-5x10 from the reference LAM",
        "test_accuracy": test["accuracy"],
        "num_test": test["num_examples"],
        "rounds": rounds,
        "num_sats": 10,
        "num_train": num_train,
        "sim_time_h": last["sim_time_h"],
        "bytes_isl": sum(h["bytes_isl"] for h in result.history),
        "bytes_ground": sum(h["bytes_ground_up"] + h["bytes_ground_down"] for h in result.history),
        "energy_j": sum(h["energy_j"] for h in result.history),
        "train_wall_time_s": sum(h["wall_s"] for h in result.history),
    }


def integrate(full: Any, name: str, net: Any, data: Splits, epochs: int, seed: int) -> dict:
    """Add ``net`` to the trained ensemble ``full``; train only its gate and head."""
    grown = copy.deepcopy(full)
    before = measure(grown, data.test)
    grown.add_specialist(name, net, data.train[0][:2])
    added = measure(grown, data.test)
    frozen = {n: copy.deepcopy(m.state_dict()) for n, m in grown.specialists.items()}
    grown.set_k(len(grown.names))
    config = TrainConfig(
        epochs=epochs, batch_size=64, lr=3e-3, weight_decay=0.0, warmup_epochs=0.0,
        label_smoothing=0.0, augment=False, seed=seed,
    )  # fmt: skip
    fit(grown, data.train, config=config, parameters=list(grown.trainable_parameters()))
    after = measure(grown, data.test)
    untouched = all(
        torch.equal(v, grown.specialists[n].state_dict()[key])
        for n, state in frozen.items()
        for key, v in state.items()
    )
    return {
        "specialist": name,
        "accuracy_before": before["accuracy"],
        "accuracy_when_added": added["accuracy"],
        "answers_unchanged_when_added": bool(torch.equal(before["answers"], added["answers"])),
        "accuracy_after": after["accuracy"],
        "selected": grown.selected(),
        "macs_before": before["macs"],
        "macs_after": after["macs"],
        "other_specialists_untouched": untouched,
    }


def main() -> None:
    args = parse_args()
    started = time.time()
    nets, records, data = specialists(args)
    epochs = 1 if args.quick else args.ensemble_epochs
    rgb_nets = {n: nets[n] for n in ("eurosat-rgb", "cloud")}
    # The gate and head (a few thousand parameters) train on a seeded subset of the RGB train
    # split; every test figure is on the whole test split.
    rgb = data["eurosat-rgb"]
    gen = torch.Generator().manual_seed(args.seed)
    pick = torch.randperm(len(rgb.train[1]), generator=gen)[: args.ensemble_train]
    rgb = Splits(
        rgb.name, (rgb.train[0][pick], rgb.train[1][pick]), rgb.val, rgb.test, rgb.classes,
        rgb.pixel_mean, rgb.pixel_std,
    )  # fmt: skip
    rgb_sweep, rgb_full = sweep_k("EuroSAT RGB", rgb_nets, {}, rgb, epochs, args.seed)
    to_rgb = {name: band_adapter("s2-l1c", "rgb") for name in ("eurosat-rgb", "cloud")}
    ms_epochs = 2 if args.quick else 10 * epochs  # 189 MS training scenes: more passes
    ms_sweep, _ = sweep_k("EuroSAT MS", nets, to_rgb, data["eurosat-ms"], ms_epochs, args.seed)
    sweeps = {"EuroSAT RGB": rgb_sweep, "EuroSAT MS": ms_sweep}
    fed_net, records["cloud-fedisl"] = federated_specialist(args, data["cloud"])
    joined = integrate(rgb_full, "cloud-fedisl", fed_net, rgb, epochs, args.seed)
    rows = []
    for name, rec in records.items():
        rows.append(
            [
                f"{name} alone ({rec['task']})", "-", "-", f"{100 * rec['test_accuracy']:.2f}",
                "-", "-", "-", "-", round(rec["train_wall_time_s"]),
            ]
        )  # fmt: skip
    for task, sweep in sweeps.items():
        for r in sweep:
            for kind in ("masked", "pruned"):
                f = r[kind]
                rows.append(
                    [
                        f"{task} ensemble", r["k"], kind, f"{100 * f['accuracy']:.2f}",
                        f"{f['macs'] / 1e6:.1f}", f"{f['joules']['jetson-tx2nx']:.2e}",
                        f"{f['joules']['cmos45nm-fp32']:.2e}", f"{f['wall_ms_per_image']:.2f}",
                        ",".join(r["selected"]),
                    ]
                )  # fmt: skip
    rows.append(
        [
            "EuroSAT RGB ensemble + cloud-fedisl (gate, head retrained)", len(joined["selected"]),
            "added", f"{100 * joined['accuracy_after']:.2f}", f"{joined['macs_after'] / 1e6:.1f}",
            "-", "-", "-", f"k=2 before: {100 * joined['accuracy_before']:.2f}",
        ]
    )  # fmt: skip
    verdicts = {}
    for task, sweep in sweeps.items():
        full = sweep[0]["pruned"]
        ok = [
            r
            for r in sweep
            if r["pruned"]["accuracy"] >= full["accuracy"] - GOAL_POINTS / 100
            and r["pruned"]["macs"] <= GOAL_MACS * full["macs"]
        ]
        best = min(ok, key=lambda r: r["k"]) if ok else None
        verdicts[task] = {
            "full_accuracy": full["accuracy"],
            "best_k": None if best is None else best["k"],
            "best_accuracy": None if best is None else best["pruned"]["accuracy"],
            "macs_fraction": None if best is None else best["pruned"]["macs"] / full["macs"],
        }
    reference = records["eurosat-rgb"]["test_accuracy"]
    rgb_verdict = verdicts["EuroSAT RGB"]
    pruning = (
        f"pruned k={rgb_verdict['best_k']} ensemble {100 * rgb_verdict['best_accuracy']:.2f}% at "
        f"{100 * rgb_verdict['macs_fraction']:.0f}% of the full ensemble's MACs"
        if rgb_verdict["best_k"]
        else "no pruned k within the goal"
    )
    head = headline(
        figure=f"reference LAM (ResNet-9) {100 * reference:.2f}% EuroSAT RGB test; " + pruning,
        peer=f"full ensemble {100 * rgb_verdict['full_accuracy']:.2f}%",
        ratio=rgb_verdict["macs_fraction"],
        goal=f">= {100 * GOAL_REFERENCE:.0f}% reference; pruned within {GOAL_POINTS} point of "
        f"the full ensemble at <= {100 * GOAL_MACS:.0f}% of its MACs (RGB and MS)",
        met=reference >= GOAL_REFERENCE and all(v["best_k"] for v in verdicts.values()),
    )

    def plot(fig) -> None:
        for i, (task, sweep) in enumerate(sweeps.items()):
            ax = fig.add_subplot(1, 2, i + 1)
            for kind, marker in (("masked", "o"), ("pruned", "s")):
                xs = [r[kind]["joules"]["jetson-tx2nx"] for r in sweep]
                ys = [100 * r[kind]["accuracy"] for r in sweep]
                ax.plot(xs, ys, marker=marker, label=kind)
                for r, x, y in zip(sweep, xs, ys, strict=True):
                    ax.annotate(f"k={r['k']}", (x, y), textcoords="offset points", xytext=(4, 4))
            ax.set_xlabel("J per image (Jetson TX2 NX)")
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(task + (" (quick)" if args.quick else ""))
            ax.legend()

    write_results(
        "specialists_quick" if args.quick else "specialists",
        {"specialists": records, "sweeps": sweeps, "verdicts": verdicts, "integration": joined},
        [
            "model",
            "k",
            "kind",
            "test acc [%]",
            "MACs/img [M]",
            "J/img Jetson",
            "J/img 45nm FP32",
            "CPU ms/img",
            "selected / train s",
        ],
        rows,
        out_dir=args.out,
        started_s=started,
        notes="Masked runs every specialist (the unselected multiplied by zero); pruned removes "
        "them. For the specialists alone the last column is their training wall time [s]. "
        "EuroSAT MS test: 54 scenes (1.85 points each)."
        + (" QUICK configuration: not a result." if args.quick else ""),
        headline=head,
        plot=plot,
    )


if __name__ == "__main__":
    main()
