"""Microservice inference: one multi-task LAM against one single-task model per task, on EuroSAT.

Set-up (all on real EuroSAT scenes, splits of :func:`spikesat.data.eurosat`):

1. **Backbone.** ``vit-micro-p8`` trained on EuroSAT RGB land cover (the whole 70% train split,
   ``--pretrain-epochs``, cached under ``SPIKESAT_CACHE``, resumed if interrupted). This LAM is
   also the single-task ``landcover`` model.
2. **Multi-task LAM** (:func:`spikesat.inference.multitask_lam`): RGB and MS tokenizers (MS: a
   band adapter), the shared backbone frozen, heads ``landcover`` (the LAM's), ``cloud`` and
   ``ndvi``; :func:`~spikesat.inference.training.train_multitask` fits the heads and the MS
   adapter (``--epochs``).
3. **Multi-task LAM, joint**: the same, with the shared backbone fine-tuned on all three tasks at
   once (still one backbone serving every task; same epochs and learning rate as the
   single-task models).
4. **Single-task models of the same size**: for ``cloud`` and ``ndvi``, the same LAM with the
   task's head, fine-tuned whole on the task's data (same epochs, same data).

Tasks: ``landcover`` (accuracy), ``cloud`` (cloud fraction of scenes with seeded synthetic
clouds, MAE), ``ndvi`` (mean NDVI from MS B08/B04 of the 270 real RGB+MS pairs, MAE; answered
from MS, from RGB alone and from both; scored by ``--folds``-fold cross-validation over all the
pairs, so every pair is a test pair once).

Cost per request (an RGB request; and RGB+MS), from each model's service graph: MACs counted by
``count_ops``, joules on the Jetson TX2 NX and 45 nm FP32 profiles, parameters resident on board
(tokenizers and the first backbone segment, cut after ``blocks.1``). Goal (from the issue):
serving all tasks costs <= 1.3x the MACs of one single-task model (three single-task models
cost about 3x), with each task within 1 point of accuracy (or 5% relative MAE) of its
single-task model. Also: the local runtime's requests per second against calling the
monolithic model, same batches, same thread.

Run: ``python benchmarks/services.py`` (full) or ``--quick`` (small subsets, 1 epoch each).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _lams import trained_lam
from _report import RESULTS_DIR, headline, write_results
from spikesat.energy import energy_joules
from spikesat.inference import multitask_lam, run_requests, service_graph
from spikesat.inference.data import TaskData, task_data
from spikesat.inference.training import MultitaskConfig, train_multitask

HARDWARE = ("jetson-tx2nx", "cmos45nm-fp32")
SPLIT_AT = "blocks.1"


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small subsets, 1 epoch each")
    p.add_argument("--pretrain-epochs", type=int, default=10)
    p.add_argument("--epochs", type=int, default=4, help="joint and single-task epochs")
    p.add_argument("--head-epochs", type=int, default=25, help="frozen-backbone multi-task")
    p.add_argument("--ndvi-epochs", type=int, default=40, help="single-task ndvi epochs")
    p.add_argument(
        "--ndvi-head-epochs", type=int, default=400, help="frozen-backbone ndvi head epochs"
    )
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds over the pairs")
    p.add_argument("--train-per-task", type=int, default=6000, help="cloud/landcover examples")
    p.add_argument("--test-per-task", type=int, default=2000)
    p.add_argument("--requests", type=int, default=2048, help="runtime throughput requests")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args()
    if args.quick:
        args.pretrain_epochs, args.epochs, args.head_epochs, args.ndvi_epochs = 1, 1, 1, 2
        args.ndvi_head_epochs, args.folds = 2, 2
        args.train_per_task, args.test_per_task, args.requests = 400, 200, 128
    return args


def request_cost(graph, modalities: tuple[str, ...]) -> dict[str, Any]:
    """MACs, joules per profile and on-board parameter bytes of one request."""
    used = [
        s
        for s in graph.services.values()
        if not (s.kind == "tokenizer" and s.inputs[0][6:] not in modalities)
    ]
    onboard = [s for s in used if s.kind == "tokenizer" or s.name == "backbone:0"]
    return {
        "macs": sum(s.macs for s in used),
        **{
            f"energy_j_{hw}": sum(energy_joules(s.ops, hw).total_j for s in used if s.ops)
            for hw in HARDWARE
        },
        "onboard_param_bytes": sum(s.param_bytes for s in onboard),
    }


def throughput(mtl, graph, images: torch.Tensor, batch_size: int = 64) -> dict[str, float]:
    """Requests per second, best of 3 alternating runs: the local runtime against the
    monolithic model (warm, same batches)."""
    run_requests(graph, {"rgb": images[:batch_size]}, batch_size=batch_size)
    runtime, mono = [], []
    with torch.no_grad():
        for _ in range(3):
            runtime.append(run_requests(graph, {"rgb": images}, batch_size=batch_size))
            t0 = time.perf_counter()
            for start in range(0, len(images), batch_size):
                mtl({"rgb": images[start : start + batch_size]})
            mono.append(len(images) / (time.perf_counter() - t0))
    return {
        "runtime_requests_per_s": max(r.requests_per_s for r in runtime),
        "monolithic_requests_per_s": max(mono),
        "runtime_energy_per_request_j": runtime[0].energy_per_request_j,
    }


def ndvi_folds(num_folds: int, seed: int) -> list[tuple[TaskData, TaskData]]:
    """``num_folds`` (train, test) folds over all 270 RGB+MS pairs (seeded shuffle)."""
    parts = [task_data("ndvi", split, seed=seed) for split in ("train", "val", "test")]
    pairs = TaskData(
        {m: torch.cat([p.inputs[m] for p in parts]) for m in ("rgb", "ms")},
        torch.cat([p.target for p in parts]),
        "EuroSAT RGB+MS pairs (all)",
    )
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
    folds = order.chunk(num_folds)
    return [
        (pairs.subset(torch.cat([f for j, f in enumerate(folds) if j != i])), pairs.subset(fold))
        for i, fold in enumerate(folds)
    ]


def ndvi_fold_models(lam, train: dict, fold_train: TaskData, args) -> dict[str, Any]:
    """The three ndvi answerers of one fold.

    ``multi``: the multi-task LAM's ndvi head and MS adapter on the frozen backbone (their
    parameters are disjoint from the other heads', so training them alone is training them
    with the others); ``joint``: every task with the backbone fine-tuned; ``single``: a
    single-task ndvi model fine-tuned whole.
    """
    tasks = ("landcover", "cloud", "ndvi")
    multi = multitask_lam(lam, ("rgb", "ms"), ("ndvi",), SPLIT_AT, args.seed)
    head = MultitaskConfig(epochs=args.ndvi_head_epochs, lr=2e-3, seed=args.seed)
    train_multitask(multi, {"ndvi": fold_train}, head)
    joint = multitask_lam(lam, ("rgb", "ms"), tasks, SPLIT_AT, args.seed)
    whole = MultitaskConfig(epochs=args.epochs, lr=5e-4, trainable="all", seed=args.seed)
    train_multitask(joint, {**train, "ndvi": fold_train}, whole)
    single = multitask_lam(lam, ("rgb", "ms"), ("ndvi",), SPLIT_AT, args.seed)
    alone = MultitaskConfig(epochs=args.ndvi_epochs, lr=5e-4, trainable="all", seed=args.seed)
    train_multitask(single, {"ndvi": fold_train}, alone)
    return {"multi": multi.eval(), "joint": joint.eval(), "single": single.eval()}


def main() -> None:
    args = _args()
    started = time.time()
    torch.set_num_threads(args.threads)
    lam, pretrain = trained_lam("vit-micro-p8", args.pretrain_epochs, args.seed, args.quick)
    train = {
        "landcover": task_data("landcover", "train", limit=args.train_per_task, seed=args.seed),
        "cloud": task_data("cloud", "train", limit=args.train_per_task, seed=args.seed),
        "ndvi": task_data("ndvi", "train", seed=args.seed),
    }
    test = {
        "landcover": task_data("landcover", "test", limit=args.test_per_task, seed=args.seed),
        "cloud": task_data("cloud", "test", limit=args.test_per_task, seed=args.seed),
        "ndvi": task_data("ndvi", "test", seed=args.seed),
    }
    tasks = ("landcover", "cloud", "ndvi")
    t0 = time.perf_counter()
    multi = multitask_lam(lam, ("rgb", "ms"), tasks, SPLIT_AT, args.seed)
    train_multitask(multi, train, MultitaskConfig(epochs=args.head_epochs, lr=2e-3, seed=args.seed))
    multi_train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    joint = multitask_lam(lam, ("rgb", "ms"), tasks, SPLIT_AT, args.seed)
    whole = MultitaskConfig(epochs=args.epochs, lr=5e-4, trainable="all", seed=args.seed)
    train_multitask(joint, train, whole)
    joint_train_s = time.perf_counter() - t0
    singles, single_train_s = {}, {}
    for task, modalities, epochs in (
        ("cloud", ("rgb",), args.epochs),
        ("ndvi", ("rgb", "ms"), args.ndvi_epochs),
    ):
        t0 = time.perf_counter()
        single = multitask_lam(lam, modalities, (task,), SPLIT_AT, args.seed)
        train_multitask(
            single,
            {task: train[task]},
            MultitaskConfig(epochs=epochs, lr=5e-4, trainable="all", seed=args.seed),
        )
        singles[task], single_train_s[task] = single.eval(), time.perf_counter() - t0
    singles["landcover"] = multitask_lam(lam, ("rgb",), ("landcover",), SPLIT_AT, args.seed).eval()

    views = {
        "landcover": ("landcover", ("rgb",)),
        "cloud": ("cloud", ("rgb",)),
        "ndvi (MS)": ("ndvi", ("ms",)),
        "ndvi (RGB)": ("ndvi", ("rgb",)),
        "ndvi (RGB+MS)": ("ndvi", ("rgb", "ms")),
    }
    errors: dict[str, dict[str, torch.Tensor]] = {}
    for label, (task, modalities) in views.items():
        if task != "ndvi":
            data = test[task].only(modalities)
            models = {"multi": multi, "joint": joint, "single": singles[task]}
            errors[label] = {k: _errors(m, data, task) for k, m in models.items()}
    t0 = time.perf_counter()
    for fold_train, fold_test in ndvi_folds(args.folds, args.seed):
        models = ndvi_fold_models(lam, train, fold_train, args)
        for label, (task, modalities) in views.items():
            if task == "ndvi":
                data = fold_test.only(modalities)
                for k, m in models.items():
                    errors.setdefault(label, {}).setdefault(k, []).append(_errors(m, data, task))
    ndvi_cv_s = time.perf_counter() - t0
    for label in ("ndvi (MS)", "ndvi (RGB)", "ndvi (RGB+MS)"):
        errors[label] = {k: torch.cat(v) for k, v in errors[label].items()}
    scores: dict[str, dict[str, float]] = {}
    paired: dict[str, dict[str, float]] = {}
    for label, (task, _) in views.items():
        e = errors[label]
        scores[label] = {k: (1.0 - float(v.mean())) if task == "landcover" else float(v.mean())
                         for k, v in e.items()}  # fmt: skip
        paired[label] = {
            f"{k}_minus_single_se": float((e[k] - e["single"]).std() / len(e[k]) ** 0.5)
            for k in ("multi", "joint")
        }
    num_test = {t: len(d) for t, d in test.items()} | {"ndvi": len(errors["ndvi (MS)"]["multi"])}
    num_train = {t: len(d) for t, d in train.items()}
    num_train["ndvi"] = num_test["ndvi"] - num_test["ndvi"] // args.folds  # per fold, about

    graphs = {"multi": service_graph(multi, cuts=[SPLIT_AT])}  # joint: the same services
    for task, model in singles.items():
        graphs[task] = service_graph(model, cuts=[SPLIT_AT])
    costs = {
        name: {
            "rgb": request_cost(graph, ("rgb",)),
            "rgb+ms": request_cost(graph, ("rgb", "ms")),
        }
        for name, graph in graphs.items()
    }
    one_single = costs["landcover"]["rgb"]["macs"]
    all_singles = sum(costs[t]["rgb"]["macs"] for t in ("landcover", "cloud", "ndvi"))
    ratio = costs["multi"]["rgb"]["macs"] / one_single
    speed = throughput(multi, graphs["multi"], test["landcover"].inputs["rgb"][: args.requests])

    within = {
        variant: {
            label: _within(views[label][0], s[variant], s["single"]) for label, s in scores.items()
        }
        for variant in ("multi", "joint")
    }
    met = {variant: ratio <= 1.3 and all(within[variant].values()) for variant in within}
    rows = []
    for label, s in scores.items():
        task = views[label][0]
        factor = 100.0 if task == "landcover" else 1.0
        rows.append(
            [
                label,
                "accuracy %" if task == "landcover" else "MAE",
                f"{factor * s['multi']:.4g}" + ("" if within["multi"][label] else " (out)"),
                f"{factor * s['joint']:.4g}" + ("" if within["joint"][label] else " (out)"),
                f"{factor * s['single']:.4g}",
                num_train[task],
                num_test[task],
            ]
        )
    cost_rows = []
    for name in ("multi", "landcover", "cloud", "ndvi"):
        c = costs[name]["rgb"]
        cost_rows.append(
            [
                "multi-task (3 tasks)" if name == "multi" else f"single-task {name}",
                f"{c['macs'] / 1e6:.2f}",
                f"{c['energy_j_jetson-tx2nx']:.3e}",
                f"{c['energy_j_cmos45nm-fp32']:.3e}",
                f"{c['onboard_param_bytes'] / 1e3:.0f}",
            ]
        )
    notes = (
        f"Backbone: vit-micro-p8, {pretrain['epochs']} epochs on {pretrain['train_images']} "
        f"EuroSAT RGB train images (this run trained for {pretrain['wall_s_this_run']:.0f} s; "
        f"cached at {pretrain['checkpoint']}). Multi-task: frozen backbone, heads + MS adapter, "
        f"{args.head_epochs} epochs ({multi_train_s:.0f} s); joint: the shared backbone too, "
        f"{args.epochs} epochs ({joint_train_s:.0f} s). Single-task cloud/ndvi: whole model "
        f"fine-tuned ({', '.join(f'{k} {v:.0f} s' for k, v in single_train_s.items())}). "
        "Train/test images per task as in the table (real EuroSAT scenes). ndvi: "
        f"{args.folds}-fold cross-validation over all {num_test['ndvi']} RGB+MS pairs (each "
        "pair scored once, by models trained on the other folds; "
        f"{ndvi_cv_s:.0f} s): per fold, the multi-task LAM's ndvi head and MS adapter on the "
        f"frozen backbone ({args.ndvi_head_epochs} epochs; trained alone, which equals training "
        "them with the other heads since their parameters are disjoint), the joint model "
        f"retrained with the fold's pairs ({args.epochs} epochs), and a single-task ndvi model "
        f"fine-tuned whole ({args.ndvi_epochs} epochs). The pairs' split is independent of the "
        "RGB split, so some pairs' RGB scenes were among the backbone's training images (for "
        "land cover, not NDVI; the same backbone starts every variant). Cost per RGB "
        "request, all of a model's tasks: multi-task "
        f"{costs['multi']['rgb']['macs'] / 1e6:.2f} M MACs = {ratio:.3f}x one single-task model; "
        f"the three single-task models: {all_singles / one_single:.2f}x. An RGB+MS request: "
        f"{costs['multi']['rgb+ms']['macs'] / 1e6:.2f} M MACs. Local runtime "
        f"{speed['runtime_requests_per_s']:.0f} requests/s against "
        f"{speed['monolithic_requests_per_s']:.0f} for the monolithic model ({args.requests} "
        f"requests, batches of 64, {args.threads} threads, best of 3). (out): outside the goal "
        "(1 point of accuracy, 5% relative MAE) of the single-task model. Paired standard "
        "error of each difference to the single-task model (same test examples): "
        + "; ".join(
            f"{label} {p['multi_minus_single_se']:.2g} (frozen), {p['joint_minus_single_se']:.2g} "
            "(joint)"
            for label, p in paired.items()
        )
        + " (accuracy rows: fractions)."
        + (" QUICK configuration: not a result." if args.quick else "")
    )
    write_results(
        "services_quick" if args.quick else "services",
        {
            "scores": scores,
            "paired_standard_errors": paired,
            "within_goal": within,
            "goal_met": met,
            "costs": costs,
            "macs_ratio_multi_to_one_single": ratio,
            "macs_ratio_three_singles_to_one": all_singles / one_single,
            "throughput": speed,
            "pretrain": pretrain,
            "train_images": num_train,
            "test_images": num_test,
            "ndvi_cv_s": ndvi_cv_s,
            "multi_train_s": multi_train_s,
            "joint_train_s": joint_train_s,
            "single_train_s": single_train_s,
            "services": graphs["multi"].summary(),
        },
        [
            "task (request)",
            "metric",
            "multi-task, frozen backbone",
            "multi-task, joint",
            "single-task",
            "train",
            "test",
        ],
        rows,
        out_dir=args.out,
        started_s=started,
        notes=notes
        + "\n\n"
        + "| model | M MACs / RGB request | J Jetson TX2 NX | J 45 nm FP32 | on-board params kB |\n"
        + "| --- | --- | --- | --- | --- |\n"
        + "\n".join("| " + " | ".join(str(v) for v in r) + " |" for r in cost_rows),
        headline=headline(
            figure=f"3 tasks from one backbone at {ratio:.3f}x the MACs of one single-task model; "
            f"frozen backbone: landcover {100 * scores['landcover']['multi']:.1f}%, cloud MAE "
            f"{scores['cloud']['multi']:.3f}, ndvi MAE (MS) {scores['ndvi (MS)']['multi']:.3f} "
            f"(goal {'met' if met['multi'] else 'not met'}); joint: "
            f"{100 * scores['landcover']['joint']:.1f}%, {scores['cloud']['joint']:.3f}, "
            f"{scores['ndvi (MS)']['joint']:.3f} (goal {'met' if met['joint'] else 'not met'})",
            peer=f"3 single-task models: {all_singles / one_single:.2f}x the MACs; landcover "
            f"{100 * scores['landcover']['single']:.1f}%, cloud MAE "
            f"{scores['cloud']['single']:.3f}, ndvi MAE (MS) {scores['ndvi (MS)']['single']:.3f}",
            ratio=ratio,
            goal="<= 1.3x the MACs of one single-task model, each task within 1 point "
            "(5% relative MAE) of its single-task model",
            met=met["multi"] or met["joint"],
        ),
        plot=lambda fig: _plot(fig, scores, costs),
    )


@torch.no_grad()
def _errors(model, data, task: str) -> torch.Tensor:
    """Per-example error ``[N]``: 0/1 misclassification, or absolute error."""
    answers = torch.cat(
        [model(data.subset(slice(i, i + 256)).inputs)[task] for i in range(0, len(data), 256)]
    )
    if task == "landcover":
        return (answers.argmax(1) != data.target).float()
    return (answers - data.target).abs()


def _within(task: str, value: float, single: float) -> bool:
    """Within 1 point of accuracy (landcover) or 5% relative MAE of the single-task model."""
    return value >= single - 0.01 if task == "landcover" else value <= 1.05 * single


def _plot(fig, scores: dict, costs: dict) -> None:
    """Per-task metric (multi vs single) and MACs per request."""
    ax = fig.add_subplot(1, 2, 1)
    labels = list(scores)
    x = torch.arange(len(labels)).float()
    for offset, key in ((-0.27, "multi"), (0.0, "joint"), (0.27, "single")):
        values = [1 - scores[k][key] if k == "landcover" else scores[k][key] for k in labels]
        ax.bar((x + offset).tolist(), values, width=0.27, label=key)
    ax.set_xticks(x.tolist(), labels, rotation=30, ha="right")
    ax.set_ylabel("error (landcover: 1 - accuracy; others: MAE)")
    ax.legend()
    ax2 = fig.add_subplot(1, 2, 2)
    names = ["multi", "landcover", "cloud", "ndvi"]
    ax2.bar(names, [costs[n]["rgb"]["macs"] / 1e6 for n in names])
    ax2.axhline(1.3 * costs["landcover"]["rgb"]["macs"] / 1e6, color="tab:red", ls="--")
    ax2.set_ylabel("M MACs per RGB request (red: 1.3x one single-task model)")
    fig.suptitle("one multi-task LAM against single-task models (EuroSAT)")


if __name__ == "__main__":
    main()
