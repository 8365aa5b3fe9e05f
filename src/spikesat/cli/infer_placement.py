"""The placement part of ``spikesat infer``: a day of captures served by each placement method.

:func:`run_placement` builds the constellation's network (contact plan and link trace), draws
seeded captures, and simulates them with every method asked for
(:func:`spikesat.inference.simulate`); :func:`placement_table` and :func:`plot_placement`
render the result (latency CDF, downlinked bytes and joules per request per method).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.table import Table

from spikesat._progress import progress_bar
from spikesat.cli._common import console

ANSWER_MARGIN_H = 12.0
"""Hours the plan runs past the last capture, so every answer can reach a station."""


def run_placement(
    graph: Any,
    methods: tuple[str, ...],
    objective: str = "latency",
    constellation: str = "research-5x10",
    stations: str = "default",
    hours: float = 24.0,
    rate_per_h: float = 60.0,
    step_s: float = 60.0,
    modalities: tuple[str, ...] = ("rgb",),
    tiles: int = 1,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Simulate the same captures under each method; JSON-ready per-method summaries.

    Raises
    ------
    ValueError
        Unknown constellation, stations, method or objective; non-positive hours or rate.
    """
    from spikesat.federated import build_network
    from spikesat.inference import captures, simulate, summarise

    if not hours > 0 or not rate_per_h > 0:
        raise ValueError(f"hours and rate must be > 0, got {hours!r} and {rate_per_h!r}")
    began = time.perf_counter()
    net = build_network(
        constellation, stations, horizon_h=hours + ANSWER_MARGIN_H, step_s=step_s, seed=seed
    )
    requests = captures(net, rate_per_h, seed=seed, hours=hours, tiles=tiles)
    if not requests:
        raise ValueError(
            f"no captures in {hours} h at {rate_per_h} per hour: raise --rate-per-h or --hours"
        )
    build_s = time.perf_counter() - began
    results: dict[str, Any] = {}
    with progress_bar(progress, console) as bar:
        for method in methods:
            task = bar.add_task(f"simulate {method}", total=len(requests))
            t0 = time.perf_counter()
            records = simulate(
                graph, net, requests, method, objective, modalities=modalities,
                progress=lambda done, total, task=task: bar.update(task, completed=done),
            )  # fmt: skip
            results[method] = {
                **summarise(records),
                "wall_s": time.perf_counter() - t0,
                "latency_s": [r.latency_s for r in records],
            }
    return {
        "constellation": constellation,
        "stations": stations,
        "num_satellites": net.num_sats,
        "num_stations": net.num_stations,
        "hours": hours,
        "rate_per_h": rate_per_h,
        "tiles": tiles,
        "objective": objective,
        "modalities": list(modalities),
        "num_requests": len(requests),
        "network_build_s": build_s,
        "methods": results,
    }


def placement_table(result: dict[str, Any]) -> Table:
    """Per method: latency median and p95, bytes and joules per request."""
    table = Table(
        title=f"placement over {result['constellation']} ({result['num_satellites']} satellites, "
        f"{result['num_stations']} stations), {result['num_requests']} captures of "
        f"{result['tiles']} tiles in {result['hours']:g} h, objective {result['objective']}"
    )
    for column in (
        "method", "delivered", "median latency s", "p95 latency s", "downlink B/req", "ISL B/req",
        "J/req", "on-board J/req", "re-placements", "weights moved kB",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, s in result["methods"].items():
        table.add_row(
            method,
            f"{100 * s['delivered_fraction']:.1f}%",
            f"{s['latency_median_s']:.4g}",
            f"{s['latency_p95_s']:.4g}",
            f"{s['downlink_bytes_per_request']:.0f}",
            f"{s['isl_bytes_per_request']:.0f}",
            f"{s['energy_j_per_request']:.3e}",
            f"{s['onboard_energy_j_per_request']:.3e}",
            str(s["replacements"]),
            f"{s['move_bytes_total'] / 1e3:.1f}",
        )
    return table


def plot_placement(result: dict[str, Any], path: Path) -> Path:
    """Latency CDF, downlinked bytes and joules per request, one colour per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    methods = result["methods"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for method, s in methods.items():
        latency = np.asarray(s["latency_s"])
        done = np.sort(latency[np.isfinite(latency)])  # below 1 at the end: not delivered
        axes[0].step(done, np.arange(1, done.size + 1) / latency.size, label=method)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("capture-to-answer latency (s)")
    axes[0].set_ylabel("fraction of requests answered")
    axes[0].legend()
    names = list(methods)
    axes[1].bar(names, [methods[m]["downlink_bytes_per_request"] for m in names])
    axes[1].set_yscale("log")
    axes[1].set_ylabel("downlinked bytes per request")
    axes[2].bar(names, [methods[m]["energy_j_per_request"] for m in names], label="total")
    axes[2].bar(
        names, [methods[m]["onboard_energy_j_per_request"] for m in names], label="on board"
    )
    axes[2].set_ylabel("joules per request")
    axes[2].legend()
    for ax in axes[1:]:
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle(
        f"{result['num_requests']} captures over {result['constellation']}, "
        f"{result['hours']:g} h (objective: {result['objective']})"
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
