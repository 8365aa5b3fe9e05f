"""``spikesat link`` (one satellite's downlink SNR and rate over a day) and the demo stage."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from spikesat._progress import progress_bar
from spikesat.channels.fading.base import CHANNELS
from spikesat.channels.link_budget import LinkBudget
from spikesat.channels.link_trace import LinkTrace, link_trace
from spikesat.cli._common import POSITIVE, check_choice, check_output, check_positive, write_json

DEMO_CONSTELLATION = "research-5x10"
DEMO_BUDGET = "x-band-eo-sentinel2"


def command(
    preset: Annotated[
        str, typer.Option("--preset", help="Ground-link budget preset (LinkBudget.presets()).")
    ] = DEMO_BUDGET,
    constellation: Annotated[
        str, typer.Option("--constellation", help="Constellation preset (spikesat.orbits).")
    ] = DEMO_CONSTELLATION,
    sat: Annotated[int, typer.Option("--sat", help="Satellite index.", min=0)] = 0,
    stations: Annotated[
        str, typer.Option("--stations", help="Ground-station network or GeoJSON path.")
    ] = "default",
    start: Annotated[
        str | None, typer.Option("--start", help="ISO-8601 UTC start; default: the epoch.")
    ] = None,
    duration_s: Annotated[float, typer.Option("--duration-s", help="Trace length (s).")] = 86400.0,
    step_s: Annotated[float, typer.Option("--step-s", help="Time step (s).")] = 60.0,
    min_elevation_deg: Annotated[
        float, typer.Option("--min-elevation-deg", help="Elevation mask (deg).")
    ] = 10.0,
    fading: Annotated[str, typer.Option("--fading", help="Fading model name, or 'none'.")] = "none",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fading draws.")] = 0,
    rain_percent: Annotated[
        float | None,
        typer.Option("--rain-percent", help="ITU-R P.618 attenuation exceeded this % of a year."),
    ] = None,
    packet_bytes: Annotated[
        int,
        typer.Option("--packet-bytes", help="Packet size for the packet error rate.", **POSITIVE),
    ] = 1500,
    max_rows: Annotated[
        int, typer.Option("--max-rows", help="Rows printed (all in JSON).", min=0)
    ] = 30,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the whole trace as JSON here.")
    ] = None,
    png_path: Annotated[
        Path | None, typer.Option("--png", help="Write an SNR/rate plot here.")
    ] = None,
) -> None:
    """Print one satellite's downlink SNR, MODCOD and rate over time, through its best station."""
    from spikesat.orbits import list_presets
    from spikesat.orbits import preset as build_preset

    check_choice(preset, LinkBudget.presets(), "--preset")
    check_choice(constellation, [p.name for p in list_presets()], "--constellation")
    num_sats = build_preset(constellation).num_sats
    if sat >= num_sats:
        raise typer.BadParameter(
            f"{sat} is outside [0, {num_sats}) for {constellation}", param_hint="'--sat'"
        )
    if fading != "none":
        check_choice(fading, ["none", *CHANNELS.names()], "--fading")
    check_positive(duration_s, "--duration-s")
    check_positive(step_s, "--step-s")
    if not -90 <= min_elevation_deg <= 90:
        raise typer.BadParameter(
            f"must be in [-90, 90] degrees, got {min_elevation_deg!r}",
            param_hint="'--min-elevation-deg'",
        )
    if rain_percent is not None and not 0 < rain_percent <= 100:
        raise typer.BadParameter(
            f"must be a percentage in (0, 100], got {rain_percent!r}", param_hint="'--rain-percent'"
        )
    check_output(json_path, "--json")
    check_output(png_path, "--png")
    console = Console()
    started = time.perf_counter()
    try:
        if fading != "none" and fading not in CHANNELS:
            raise ValueError(
                f"unknown fading model {fading!r}; choose 'none' or one of "
                f"{', '.join(CHANNELS.names())}"
            )
        budget = LinkBudget.preset(preset)
        with progress_bar(console=console) as bar:
            task = bar.add_task("contact plan", total=1)
            plan = _plan(constellation, stations, start, duration_s, step_s, min_elevation_deg)
            bar.update(task, completed=1)
            task = bar.add_task("link trace", total=1)
            trace = link_trace(
                plan,
                budget,
                fading=None if fading == "none" else fading,
                seed=seed,
                atmosphere_exceedance_percent=rain_percent,
            )
            bar.update(task, completed=1)
        if not 0 <= sat < plan.num_sats:
            raise ValueError(f"--sat {sat} is outside [0, {plan.num_sats})")
        rows = best_station_rows(trace, plan, sat, packet_bytes)
    except (ValueError, TypeError) as err:
        raise typer.BadParameter(str(err)) from err
    summary = _summary(rows, plan, step_s, budget, sat, fading)
    summary["wall_time_s"] = round(time.perf_counter() - started, 3)
    _print(console, rows, summary, max_rows)
    write_json(json_path, {"summary": summary, "rows": rows})
    if png_path is not None:
        _plot(rows, summary, png_path)
        console.print(f"wrote {png_path}")


def best_station_rows(
    trace: LinkTrace, plan: Any, sat: int, packet_bytes: int
) -> list[dict[str, Any]]:
    """One row per time step where ``sat`` sees a station: the station of highest SNR."""
    index = trace.select(sat=sat)
    if index.size == 0:
        return []
    per = trace.packet_error_rate(packet_bytes)
    best: dict[int, int] = {}
    for i in index:
        t = int(trace.time_index[i])
        if t not in best or trace.snr_db[i] > trace.snr_db[best[t]]:
            best[t] = int(i)
    names = trace.modcod_names()
    offsets = np.asarray(plan.times.offsets_s)
    return [
        {
            "time_s": float(offsets[t]),
            "station": plan.stations[int(trace.station[i])].name,
            "elevation_deg": round(float(trace.elevation_deg[i]), 3),
            "range_km": round(float(trace.range_km[i]), 3),
            "snr_db": round(float(trace.snr_db[i]), 3),
            "modcod": str(names[i]),
            "rate_bps": float(trace.rate_bps[i]),
            "packet_error_rate": float(per[i]),
            "delay_s": float(trace.delay_s[i]),
        }
        for t, i in sorted(best.items())
    ]


def _summary(
    rows: list[dict[str, Any]],
    plan: Any,
    step_s: float,
    budget: LinkBudget,
    sat: int,
    fading: str,
) -> dict[str, Any]:
    rates = np.array([r["rate_bps"] for r in rows]) if rows else np.zeros(0)
    per = np.array([r["packet_error_rate"] for r in rows]) if rows else np.zeros(0)
    snr = np.array([r["snr_db"] for r in rows]) if rows else np.zeros(0)
    return {
        "budget": budget.name,
        "budget_source": budget.source,
        "sat": sat,
        "sat_name": plan.sat_names[sat],
        "fading": fading,
        "num_steps": len(plan.times),
        "contact_steps": len(rows),
        "contact_fraction": len(rows) / max(len(plan.times), 1),
        "mean_snr_db": float(snr.mean()) if snr.size else None,
        "mean_rate_bps": float(rates.mean()) if rates.size else 0.0,
        "delivered_bytes_per_trace": float((rates * (1.0 - per)).sum() * step_s / 8.0),
    }


def _print(console: Console, rows: list[dict[str, Any]], summary: dict, max_rows: int) -> None:
    table = Table(title=f"downlink of {summary['sat_name']} ({summary['budget']})")
    for column in ("time [s]", "station", "elev [deg]", "range [km]", "SNR [dB]", "MODCOD"):
        table.add_column(column)
    table.add_column("rate [Mb/s]", justify="right")
    table.add_column("PER", justify="right")
    for row in rows[:max_rows]:
        table.add_row(
            f"{row['time_s']:.0f}",
            row["station"],
            f"{row['elevation_deg']:.1f}",
            f"{row['range_km']:.0f}",
            f"{row['snr_db']:.2f}",
            row["modcod"],
            f"{row['rate_bps'] / 1e6:.1f}",
            f"{row['packet_error_rate']:.2g}",
        )
    console.print(table)
    if len(rows) > max_rows:
        console.print(f"... {len(rows) - max_rows} more rows (all of them with --json)")
    console.print(
        f"in contact {summary['contact_steps']}/{summary['num_steps']} steps, mean rate "
        f"{summary['mean_rate_bps'] / 1e6:.1f} Mb/s, delivered "
        f"{summary['delivered_bytes_per_trace'] / 1e9:.2f} GB"
    )


def _plot(rows: list[dict[str, Any]], summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.array([r["time_s"] for r in rows]) / 3600.0
    fig, (ax_snr, ax_rate) = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    ax_snr.plot(hours, [r["snr_db"] for r in rows], ".", markersize=3)
    ax_snr.set_ylabel("Es/N0 [dB]")
    ax_rate.plot(hours, np.array([r["rate_bps"] for r in rows]) / 1e6, ".", markersize=3)
    ax_rate.set_ylabel("rate [Mb/s]")
    ax_rate.set_xlabel("time [h]")
    ax_snr.set_title(f"{summary['sat_name']}: {summary['budget']} (fading: {summary['fading']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plan(
    constellation: str,
    stations: str,
    start: str | None,
    duration_s: float,
    step_s: float,
    min_elevation_deg: float,
) -> Any:
    from spikesat import orbits

    shell = orbits.preset(constellation)
    times = orbits.time_grid(shell.epoch if start is None else start, duration_s, step_s)
    return orbits.contact_plan(
        shell, times, orbits.ground_stations(stations), min_elevation_deg=min_elevation_deg
    )


def demo_stage(
    plan: Any | None = None,
    sat: int = 0,
    budget: LinkBudget | str = DEMO_BUDGET,
    fading: str | None = "rician",
    seed: int = 0,
    feature_bytes: int = 4096,
) -> dict[str, Any]:
    """SNR and rate of the downlink that carries one satellite's split-point features.

    Parameters
    ----------
    plan : ContactPlan, optional
        A contact plan; ``None`` builds the built-in ``research-5x10`` shell to the default
        stations over one day at 60 s steps (under a second).
    sat : int
        Satellite index.
    budget : LinkBudget or str
        Downlink budget (preset name).
    fading : str or None
        Fading model name of the downlink (``None`` for none).
    seed : int
        Seed of the fading draws.
    feature_bytes : int
        Size of the features to send [bytes], for the packet error rate and the transfer time.

    Returns
    -------
    dict
        ``budget``, ``sat``, ``contact_fraction``, ``mean_snr_db``, ``min_snr_db``,
        ``max_snr_db``, ``median_rate_bps``, ``most_common_modcod``, ``packet_error_rate``
        (mean over contact samples), ``transfer_time_s`` (features at the median rate plus
        the median propagation delay), plus ``"link_state"``: the :class:`LinkState` of the
        satellite's median-SNR contact sample, a typical moment of a pass, for later stages
        (drop it before writing JSON).
    """
    if plan is None:
        plan = _plan(DEMO_CONSTELLATION, "default", None, 86400.0, 60.0, 10.0)
    budget = LinkBudget.preset(budget) if isinstance(budget, str) else budget
    trace = link_trace(plan, budget, fading=fading, seed=seed)
    index = trace.select(sat=sat)
    if index.size == 0:
        return {"budget": budget.name, "sat": sat, "contact_fraction": 0.0}
    snr = trace.snr_db[index]
    rate = trace.rate_bps[index]
    per = trace.packet_error_rate(feature_bytes)[index]
    median_rate = float(np.median(rate))
    modcods = Counter(trace.modcod_names()[index].tolist())
    median_snr_sample = int(index[np.argsort(snr)[index.size // 2]])
    return {
        "budget": budget.name,
        "sat": sat,
        "fading": fading,
        "contact_fraction": len(np.unique(trace.time_index[index])) / len(plan.times),
        "mean_snr_db": float(snr.mean()),
        "min_snr_db": float(snr.min()),
        "max_snr_db": float(snr.max()),
        "median_rate_bps": median_rate,
        "most_common_modcod": modcods.most_common(1)[0][0],
        "packet_error_rate": float(per.mean()),
        "transfer_time_s": (
            8.0 * feature_bytes / median_rate + float(np.median(trace.delay_s[index]))
            if median_rate > 0
            else float("inf")
        ),
        "link_state": trace.state(median_snr_sample),
    }
