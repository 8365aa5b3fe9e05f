"""``spikesat infer``: serve a multi-task LAM as services on the local runtime and tabulate each
service's MACs, bytes and joules; and :func:`demo_stage`, the services row of ``spikesat demo``.

The backbone is the demo's LAM for the data (shipped for the built-in scenes, trained once and
cached for EuroSAT); the ``landcover`` head is that LAM's, the ``cloud`` head is fitted on the
frozen backbone over the training scenes with seeded clouds (:func:`spikesat.inference.add_clouds`).
Requests are the test scenes: clean ones for ``landcover``, the same scenes with clouds (another
seed) for ``cloud``. ``ndvi`` needs MS scenes paired with RGB, which these data sources do not
hold: ``benchmarks/services.py`` trains and scores it on EuroSAT's pairs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.table import Table

from spikesat.cli._common import (
    POSITIVE,
    JsonOption,
    check_choice,
    check_output,
    console,
    write_json,
)
from spikesat.cli._data import DataDirOption, InferredDataOption, data_source
from spikesat.energy import list_hardware
from spikesat.inference.placement import METHODS, OBJECTIVES
from spikesat.inference.simulate import GRANULE_TILES
from spikesat.orbits import list_presets

CLI_TASKS = ("landcover", "cloud")
PLAIN_CODECS = ("float32", "float16", "int8")
"""Codecs that need no training, offered at the cut (learned ones: ``spikesat codec train``)."""
CLOUD_SEEDS = {"train": 201, "test": 202}


def run_infer(
    source: str,
    data_dir: Path | None,
    tasks: tuple[str, ...] = CLI_TASKS,
    split_at: str = "blocks.1",
    codec: str | None = None,
    num_requests: int = 256,
    batch_size: int = 32,
    hardware: str = "jetson-tx2nx",
    epochs: int = 3,
    seed: int = 0,
    progress: bool = True,
    save: Path | None = None,
    placement: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build, fit and serve the multi-task LAM (see the module docstring); JSON-ready results.

    ``placement``, when given, holds the keyword arguments of
    :func:`~spikesat.cli.infer_placement.run_placement` (methods, objective, constellation, ...):
    a day of captures is then simulated over the constellation with each method.

    Raises
    ------
    ValueError
        Data whose scenes are not 3-band 64 x 64 images of 10 classes (the tasks' heads and
        tokenizer), or a cut that does not exist.
    """
    from spikesat.cli.demo.lam import demo_lam
    from spikesat.codecs import create as create_codec
    from spikesat.inference import add_clouds, multitask_lam, run_requests, service_graph
    from spikesat.inference.data import TaskData
    from spikesat.inference.modalities import RGB_BANDS
    from spikesat.inference.training import MultitaskConfig, train_multitask

    lam, splits, meta = demo_lam(source, data_dir, seed, progress)
    shape = tuple(splits.test[0].shape[1:])
    if shape != (3, 64, 64) or len(splits.classes) != 10:
        raise ValueError(
            f"spikesat infer serves 3-band 64 x 64 scenes of 10 land-cover classes; {splits.name} "
            f"has {shape} images of {len(splits.classes)} classes"
        )
    began = time.perf_counter()
    mtl = multitask_lam(lam, ("rgb",), tasks, split_at, seed)

    def cloudy(images: torch.Tensor, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        return add_clouds(
            images, RGB_BANDS, splits.pixel_mean, splits.pixel_std, 1.0, seed=CLOUD_SEEDS[split]
        )

    train_images = splits.train[0]
    if "cloud" in tasks:
        images, fraction = cloudy(train_images[:2000], "train")
        fit_data = {"cloud": TaskData({"rgb": images}, fraction)}
        train_multitask(mtl, fit_data, MultitaskConfig(epochs=epochs, batch_size=64, seed=seed))
    fit_s = time.perf_counter() - began
    mtl.eval()
    at_cut = None if codec is None else create_codec(codec, mtl.embed.pos_embed.shape[-1])
    graph = service_graph(mtl, codec=at_cut, cuts=[split_at])
    test_images, test_labels = splits.test
    test_images, test_labels = test_images[:num_requests], test_labels[:num_requests]
    clean = run_requests(graph, {"rgb": test_images}, batch_size, hardware)
    results: dict[str, Any] = {}
    if "landcover" in tasks:
        accuracy = float((clean.outputs["landcover"].argmax(1) == test_labels).float().mean())
        results["landcover"] = {"metric": "accuracy", "value": accuracy}
    if "cloud" in tasks:
        images, fraction = cloudy(test_images, "test")
        answers = run_requests(graph, {"rgb": images}, batch_size, hardware).outputs["cloud"]
        results["cloud"] = {"metric": "mae", "value": float((answers - fraction).abs().mean())}
    macs = sum(s.macs for s in graph.services.values())
    one_model = sum(s.macs for s in graph.services.values() if s.kind != "head") + max(
        s.macs for s in graph.services.values() if s.kind == "head"
    )
    if save is not None:
        graph.save(save)
    placed = None
    if placement is not None:
        from spikesat.cli.infer_placement import run_placement

        placed = run_placement(graph, seed=seed, progress=progress, **placement)
    return {
        "data": splits.name,
        "backbone": meta.get("checkpoint"),
        "tasks": results,
        "services": [
            {
                **s.summary(),
                "time_s_per_request": clean.time_s.get(s.name, 0.0),
                "energy_j_per_request": clean.energy_j.get(s.name, 0.0),
            }
            for s in graph.services.values()
        ],
        "macs_per_request": macs,
        "macs_ratio_to_one_single_task_model": macs / one_model,
        "energy_per_request_j": clean.energy_per_request_j,
        "requests_per_s": clean.requests_per_s,
        "num_requests": len(test_labels),
        "hardware": hardware,
        "fit_s": fit_s,
        "saved": None if save is None else str(save),
        "placement": placed,
    }


def command(
    data: InferredDataOption = None,
    data_dir: DataDirOption = None,
    task: Annotated[
        list[str] | None,
        typer.Option("--task", help=f"Task to serve; repeat ({', '.join(CLI_TASKS)})."),
    ] = None,
    split_at: Annotated[
        str, typer.Option(help="Cut between on-board and ground (blocks.<i>).")
    ] = "blocks.1",
    codec: Annotated[
        str | None,
        typer.Option(help=f"Codec at the cut: {', '.join(PLAIN_CODECS)} (default none)."),
    ] = None,
    num_requests: Annotated[int, typer.Option(help="Test scenes served.", **POSITIVE)] = 256,
    batch_size: Annotated[int, typer.Option(help="Requests per batch.", **POSITIVE)] = 32,
    hardware: Annotated[
        str, typer.Option(help="Energy profile of every service.")
    ] = "jetson-tx2nx",
    epochs: Annotated[int, typer.Option(help="Epochs of the cloud head's fit.", **POSITIVE)] = 3,
    seed: Annotated[int, typer.Option(help="Seed of data, clouds and training.")] = 0,
    save: Annotated[
        Path | None, typer.Option(help="Write the services (one file each) here.")
    ] = None,
    placement: Annotated[
        list[str] | None,
        typer.Option(
            "--placement",
            help=f"Simulate a day of captures with this placement; repeat, or 'all' "
            f"({', '.join(METHODS)}).",
        ),
    ] = None,
    objective: Annotated[
        str, typer.Option(help=f"Placement objective ({', '.join(OBJECTIVES)}).")
    ] = "latency",
    constellation: Annotated[
        str, typer.Option(help="Constellation preset of the placement simulation.")
    ] = "research-5x10",
    stations: Annotated[str, typer.Option(help="Ground-station network.")] = "default",
    hours: Annotated[float, typer.Option(help="Hours of captures (h).", **POSITIVE)] = 24.0,
    rate_per_h: Annotated[
        float, typer.Option(help="Captures per hour over the constellation.", **POSITIVE)
    ] = 60.0,
    tiles: Annotated[
        int, typer.Option(help="64-px tiles per captured scene (each one request).", **POSITIVE)
    ] = 1,
    json: JsonOption = None,
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Write the placement plot (latency CDF, bytes, joules) here."),
    ] = None,
) -> None:
    """Serve a multi-task LAM (tokenizer, backbone segments, heads) on the local runtime."""
    tasks = tuple(dict.fromkeys(task or CLI_TASKS))
    for name in tasks:
        if name == "ndvi":
            raise typer.BadParameter(
                "ndvi needs MS scenes paired with RGB; run benchmarks/services.py (EuroSAT pairs)",
                param_hint="--task",
            )
        check_choice(name, CLI_TASKS, "--task")
    if not split_at.startswith("blocks."):
        raise typer.BadParameter(
            f"must name a block (blocks.<i>), got {split_at!r}", param_hint="--split-at"
        )
    if codec is not None:
        check_choice(codec, PLAIN_CODECS, "--codec")
    check_choice(hardware, list_hardware(), "--hardware")
    check_output(json, "--json")
    check_output(png, "--png")
    placement_options = None
    if placement:
        methods = METHODS if "all" in placement else tuple(dict.fromkeys(placement))
        for method in methods:
            check_choice(method, (*METHODS, "all"), "--placement")
        check_choice(objective, OBJECTIVES, "--objective")
        check_choice(constellation, [p.name for p in list_presets()], "--constellation")
        placement_options = {
            "methods": methods, "objective": objective, "constellation": constellation,
            "stations": stations, "hours": hours, "rate_per_h": rate_per_h, "tiles": tiles,
        }  # fmt: skip
    elif png is not None:
        raise typer.BadParameter("the plot shows placements: add --placement", param_hint="--png")
    try:
        result = run_infer(
            data_source(data, data_dir), data_dir, tasks, split_at, codec, num_requests,
            batch_size, hardware, epochs, seed, save=save, placement=placement_options,
        )  # fmt: skip
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    console.print(_services_table(result))
    console.print(_tasks_table(result))
    if result["placement"] is not None:
        from spikesat.cli.infer_placement import placement_table, plot_placement

        console.print(placement_table(result["placement"]))
        if png is not None:
            console.print(f"wrote {plot_placement(result['placement'], png)}")
    if save is not None:
        console.print(f"wrote the services to {save}")
    write_json(json, result)


def _services_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"services ({result['num_requests']} requests, {result['hardware']})")
    for column in (
        "service",
        "kind",
        "M MACs",
        "params kB",
        "peak act. kB",
        "out B",
        "ms/req",
        "J/req",
    ):
        table.add_column(column, justify="left" if column in ("service", "kind") else "right")
    for s in result["services"]:
        table.add_row(
            s["name"],
            s["kind"],
            f"{s['macs'] / 1e6:.3f}",
            f"{s['param_bytes'] / 1e3:.1f}",
            f"{s['peak_activation_bytes'] / 1e3:.1f}",
            str(s["out_bytes"]),
            f"{1e3 * s['time_s_per_request']:.3f}",
            f"{s['energy_j_per_request']:.2e}",
        )
    return table


def _tasks_table(result: dict[str, Any]) -> Table:
    table = Table(title="answers")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for name, score in result["tasks"].items():
        value = (
            f"{100 * score['value']:.1f}%"
            if score["metric"] == "accuracy"
            else f"{score['value']:.4f}"
        )
        table.add_row(f"{name} {score['metric']}", value)
    table.add_row("M MACs per request (all tasks)", f"{result['macs_per_request'] / 1e6:.2f}")
    table.add_row("x one single-task model", f"{result['macs_ratio_to_one_single_task_model']:.3f}")
    table.add_row("J per request", f"{result['energy_per_request_j']:.3e}")
    table.add_row("requests / s (local runtime)", f"{result['requests_per_s']:.0f}")
    return table


def demo_stage(
    source: str, data_dir: Path | None, seed: int, progress: bool
) -> tuple[dict[str, str], dict[str, Any]]:
    """The demo's services row: landcover and cloud served from one backbone, and two hours of
    captures of 100 km scenes (156 x 156 tiles) over the research shell, placed by the MILP
    against the bent pipe."""
    placement = {
        "methods": ("milp", "bent-pipe"), "hours": 2.0, "rate_per_h": 30.0,
        "tiles": GRANULE_TILES,
    }  # fmt: skip
    try:
        result = run_infer(
            source, data_dir, CLI_TASKS, seed=seed, progress=progress, placement=placement
        )
    except ValueError as error:
        return {"stage": "services", "what": "multi-task LAM", "result": f"skipped: {error}"}, {}
    tasks = result["tasks"]
    placed = result["placement"]["methods"]
    milp, bent = placed["milp"], placed["bent-pipe"]
    row = {
        "stage": "services",
        "what": f"landcover + cloud from one backbone ({len(result['services'])} services), "
        f"placed over research-5x10 ({result['placement']['num_requests']} captures of 100 km "
        "scenes in 2 h)",
        "result": f"landcover {100 * tasks['landcover']['value']:.1f}%, cloud-fraction MAE "
        f"{tasks['cloud']['value']:.3f}; {result['macs_ratio_to_one_single_task_model']:.3f}x the "
        f"MACs of one model, {result['energy_per_request_j']:.2e} J/request on "
        f"{result['hardware']}; MILP placement downlinks "
        f"{milp['downlink_bytes_per_request'] / 1e6:.2f} MB per scene, "
        f"{bent['downlink_bytes_per_request'] / milp['downlink_bytes_per_request']:.0f}x fewer "
        f"than the bent pipe, median latency {milp['latency_median_s']:.4g} s vs "
        f"{bent['latency_median_s']:.4g} s",
    }
    return row, result
