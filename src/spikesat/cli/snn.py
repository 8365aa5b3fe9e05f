"""``spikesat snn``: convert a LAM's task head to spiking heads and tabulate them against steps;
and ``demo_stage`` for ``spikesat demo``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from torch import nn

from spikesat._progress import progress_bar
from spikesat.cli._common import POSITIVE, check_choice, check_choices, check_output
from spikesat.cli._data import DataDirOption, DataOption
from spikesat.energy import list_hardware
from spikesat.models import list_models
from spikesat.snn.convert import METHODS
from spikesat.snn.features import lam_features
from spikesat.snn.heads import head_energy, spiking_head, task_head_of
from spikesat.snn.qcfs import QCFS, replace_relu_with_qcfs, train_qcfs
from spikesat.snn.sweep import accuracy, sweep_num_steps


def command(
    dataset: DataOption = "synthetic",
    data_dir: DataDirOption = None,
    model: Annotated[str, typer.Option(help="LAM whose task head is converted.")] = "vit-micro-p8",
    num_samples: Annotated[
        int, typer.Option(help="Synthetic scenes, or cap per split of files (>= 20).", min=20)
    ] = 1500,
    image_size: Annotated[int, typer.Option(help="Image side (pixels).", **POSITIVE)] = 64,
    epochs: Annotated[int, typer.Option(help="LAM training epochs (cached).", **POSITIVE)] = 3,
    steps: Annotated[str, typer.Option(help="Comma-separated num_steps.")] = "1,2,4,8,16,32",
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = "qcfs,max,percentile",
    hardware: Annotated[
        str, typer.Option(help="Comma-separated hardware profiles.")
    ] = "cmos45nm-fp32,cmos45nm-int8,loihi",
    num_levels: Annotated[int, typer.Option(help="QCFS quantisation levels.", **POSITIVE)] = 4,
    qcfs_epochs: Annotated[int, typer.Option(help="QCFS head training epochs.", **POSITIVE)] = 30,
    seed: Annotated[int, typer.Option(help="Seed of data, training and conversion.")] = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Retrain the LAM.")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write JSON results.")] = None,
    png_path: Annotated[Path | None, typer.Option("--png", help="Plot accuracy/energy.")] = None,
) -> None:
    """Convert the task head of a quickly trained LAM into spiking heads; print accuracy, spike
    rate and joules per inference against num_steps."""
    started = time.time()
    check_choice(model, list_models(), "--model")
    step_list = _int_list(steps, "--steps")
    method_list = check_choices(methods, METHODS, "--methods")
    profiles = check_choices(hardware, list_hardware(), "--hardware")
    check_output(json_path, "--json")
    check_output(png_path, "--png")
    console = Console()
    console.print(f"[bold]spikesat snn[/]: {model} on {dataset}, features from its split point")
    try:
        data = lam_features(
            dataset,
            model,
            num_samples,
            image_size,
            epochs,
            seed,
            use_cache=not no_cache,
            data_dir=data_dir,
        )
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error), param_hint="--data / --data-dir") from error
    total = 2 + len(method_list) * len(step_list)
    with progress_bar(console=console) as progress:
        task = progress.add_task("converting and evaluating", total=total)
        rows = sweep_num_steps(
            data.lam,
            data.train_features,
            data.train_labels,
            data.test_features,
            data.test_labels,
            steps=step_list,
            methods=method_list,
            hardware=profiles,
            num_levels=num_levels,
            qcfs_epochs=qcfs_epochs,
            seed=seed,
            on_row=_Advance(progress, task),
        )
    table = Table(title=f"spiking heads of {model} ({dataset}), J per inference")
    for column in ("model", "steps", "accuracy", "spike rate", "synops", *profiles):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        table.add_row(
            row["model"],
            str(row["num_steps"] or "-"),
            f"{row['accuracy']:.4f}",
            f"{row['spike_rate']:.3f}",
            str(row["synops"]),
            *(_joules(row[f"{p}_j"]) for p in profiles),
        )
    console.print(table)
    payload = {
        "dataset": dataset,
        "model": model,
        "checkpoint": str(data.checkpoint),
        "num_train": len(data.train_labels),
        "num_test": len(data.test_labels),
        "hardware": profiles,
        "rows": rows,
        "wall_time_s": round(time.time() - started, 2),
    }
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(payload, indent=2) + "\n")
        console.print(f"wrote {json_path}")
    if png_path is not None:
        _plot(rows, profiles, method_list, png_path)
        console.print(f"wrote {png_path}")


class _Advance:
    """Advance a rich progress task by one per finished row."""

    def __init__(self, progress: Progress, task: int) -> None:
        self.progress = progress
        self.task = task

    def __call__(self, row: dict[str, Any]) -> None:
        self.progress.advance(self.task)


def _int_list(text: str, label: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"must be comma-separated integers, got {text!r}", param_hint=f"'{label}'"
        ) from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"must be integers >= 1, got {text!r}", param_hint=f"'{label}'")
    return values


def _joules(value: float | None) -> str:
    return "-" if value is None else f"{value:.3e}"


def _plot(rows: list[dict], profiles: list[str], methods: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_j) = plt.subplots(1, 2, figsize=(11, 4))
    ann = next(r for r in rows if r["model"] == "ann-fp32")
    int8 = next(r for r in rows if r["model"] == "ann-int8")
    ax_acc.axhline(ann["accuracy"], color="k", ls="--", label="ANN FP32")
    ax_acc.axhline(int8["accuracy"], color="gray", ls=":", label="ANN INT8")
    energy_profile = profiles[-1]
    ax_j.axhline(ann[f"{energy_profile}_j"], color="k", ls="--", label=f"ANN on {energy_profile}")
    if int8.get("cmos45nm-int8_j") is not None:
        ax_j.axhline(
            int8["cmos45nm-int8_j"], color="gray", ls=":", label="ANN INT8 (cmos45nm-int8)"
        )
    for method in methods:
        sel = [r for r in rows if r["model"] == f"snn-{method}"]
        ts = [r["num_steps"] for r in sel]
        ax_acc.plot(ts, [r["accuracy"] for r in sel], marker="o", label=f"SNN {method}")
        ax_j.plot(ts, [r[f"{energy_profile}_j"] for r in sel], marker="o", label=f"SNN {method}")
    for ax in (ax_acc, ax_j):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("num_steps")
        ax.legend(fontsize=8)
    ax_acc.set_ylabel("test accuracy")
    ax_j.set_ylabel(f"energy per inference on {energy_profile} [J]")
    ax_j.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def demo_stage(
    model: nn.Module,
    features: torch.Tensor,
    labels: torch.Tensor,
    num_steps: int = 4,
    method: str = "qcfs",
    hardware: str = "loihi",
    calibration_fraction: float = 0.5,
    seed: int = 0,
    calibration: tuple[torch.Tensor, torch.Tensor] | None = None,
    qcfs_head: nn.Module | None = None,
) -> dict[str, Any]:
    """Convert a trained LAM's task head and compare the spiking head with the ANN head.

    ``calibration`` (the head's own training features, say) calibrates (and, for "qcfs", trains
    the QCFS copy of) the head and every example measures accuracy and energy; without it, the
    first ``calibration_fraction`` of the examples calibrates and the rest measures. Takes
    about a second on CPU for a few hundred examples.

    Parameters
    ----------
    model : nn.Module
        A trained LAM, SplitModel or task head.
    features : torch.Tensor
        Pooled features ``[N, D]`` (``lam.forward_features(images)``), N >= 4.
    labels : torch.Tensor
        Class labels ``[N]``.
    num_steps : int
        Time steps of the spiking head.
    method : {"qcfs", "max", "percentile"}
        Conversion method.
    hardware : str
        Profile the spiking head is priced on (the ANN heads: cmos45nm-fp32 and -int8).
    calibration_fraction : float
        Share of the examples used for calibration, in (0, 1).
    seed : int
        Seed of the QCFS training.
    calibration : (Tensor, Tensor), optional
        Calibration features ``[M, D]`` and labels ``[M]``, kept apart from the measured ones.
    qcfs_head : nn.Module, optional
        For "qcfs": an already trained QCFS copy of the head (from
        :func:`~spikesat.snn.replace_relu_with_qcfs` and :func:`~spikesat.snn.train_qcfs`),
        used instead of training one here.

    Returns
    -------
    dict
        ``ann_accuracy`` (the model's head), ``qcfs_ann_accuracy`` (for "qcfs": the
        QCFS-trained ANN copy the SNN is converted from), ``snn_accuracy``, ``num_steps``,
        ``method``, ``spike_rate``,
        ``snn_synops``, ``ann_fp32_j``, ``ann_int8_j``, ``snn_j`` (on ``hardware``),
        ``snn_hardware``, ``snn_cmos45nm_int8_j`` (J per inference).
    """
    if not isinstance(features, torch.Tensor) or features.dim() != 2:
        raise ValueError("features must be pooled features [N, D]")
    if len(features) != len(labels) or len(features) < 4:
        raise ValueError("features and labels must have the same length N >= 4")
    ann_head = head = task_head_of(model).eval()
    if calibration is not None:
        calib_x, calib_y = calibration
        if calib_x.dim() != 2 or len(calib_x) != len(calib_y) or len(calib_x) < 1:
            raise ValueError("calibration must be (features [M, D], labels [M]) with M >= 1")
        test_x, test_y = features, labels
    else:
        if not 0 < calibration_fraction < 1:
            raise ValueError(
                f"calibration_fraction must be in (0, 1), got {calibration_fraction!r}"
            )
        cut = max(1, min(len(features) - 1, int(calibration_fraction * len(features))))
        calib_x, calib_y = features[:cut], labels[:cut]
        test_x, test_y = features[cut:], labels[cut:]
    ann_result = {"ann_accuracy": accuracy(ann_head, test_x, test_y)}
    if method == "qcfs" and qcfs_head is not None:
        head = qcfs_head.eval()
        ann_result["qcfs_ann_accuracy"] = accuracy(head, test_x, test_y)
    elif method == "qcfs" and not any(isinstance(m, QCFS) for m in head.modules()):
        # QCFS trains a copy of the head; its ANN accuracy is the fair reference for the SNN.
        head = replace_relu_with_qcfs(head, 4, calibration_data=calib_x)
        train_qcfs(head, (calib_x, calib_y), epochs=30, seed=seed)
        ann_result["qcfs_ann_accuracy"] = accuracy(head, test_x, test_y)
    snn = spiking_head(head, calib_x, num_steps=num_steps, method=method, seed=seed)
    energy = head_energy(ann_head, snn, test_x, hardware=[hardware, "cmos45nm-int8"])
    return {
        **ann_result,
        "snn_accuracy": accuracy(snn, test_x, test_y),
        "num_steps": num_steps,
        "method": method,
        "spike_rate": energy["snn_spike_rate"],
        "snn_synops": energy["snn_synops"],
        "ann_fp32_j": energy["ann_fp32_j"],
        "ann_int8_j": energy["ann_int8_j"],
        "snn_j": energy["snn_j"][hardware],
        "snn_hardware": hardware,
        "snn_cmos45nm_int8_j": energy["snn_j"]["cmos45nm-int8"],
    }
