"""``spikesat orbits`` (build a contact plan and report per-station contacts) and the demo stage."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from spikesat._progress import progress_bar
from spikesat.cli._common import check_choice, check_output, check_positive, write_json
from spikesat.cli.orbit_plots import PLOT_KINDS, plot_contact_gantt, plot_ground_tracks
from spikesat.orbits.constellation import Constellation
from spikesat.orbits.contact_plan import ContactPlan, contact_plan
from spikesat.orbits.presets import list_presets
from spikesat.orbits.presets import preset as build_preset
from spikesat.orbits.stations import ground_stations
from spikesat.orbits.timegrid import time_grid
from spikesat.orbits.tle_constellation import (
    SGP4ErrorWarning,
    StaleTLEWarning,
    TLEConstellation,
    load_tle,
)

DEMO_PRESET = "research-5x10"


def command(
    preset: Annotated[
        str,
        typer.Option("--preset", help="Constellation preset (list_presets); unused with --tle."),
    ] = DEMO_PRESET,
    tle: Annotated[
        Path | None,
        typer.Option(
            "--tle", help="TLE file (two- or three-line sets).", exists=True, dir_okay=False
        ),
    ] = None,
    select: Annotated[
        str | None, typer.Option("--select", help="Keep TLE names matching a substring/wildcard.")
    ] = None,
    stations: Annotated[
        str, typer.Option("--stations", help="Network (default, ksat, aws, nen, ...) or GeoJSON.")
    ] = "default",
    start: Annotated[
        str | None,
        typer.Option("--start", help="ISO-8601 UTC start; default: newest TLE or Walker epoch."),
    ] = None,
    duration_s: Annotated[float, typer.Option("--duration-s", help="Plan length (s).")] = 86400.0,
    step_s: Annotated[float, typer.Option("--step-s", help="Time step (s).")] = 10.0,
    min_elevation_deg: Annotated[
        float, typer.Option("--min-elevation-deg", help="Elevation mask (deg).")
    ] = 10.0,
    isl: Annotated[
        bool, typer.Option("--isl/--no-isl", help="Plus-grid ISLs (Walker shells only).")
    ] = True,
    eclipse: Annotated[
        bool, typer.Option("--eclipse/--no-eclipse", help="Sunlit/eclipse flags.")
    ] = True,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write results as JSON here.")
    ] = None,
    png_path: Annotated[Path | None, typer.Option("--png", help="Write a PNG figure here.")] = None,
    plot: Annotated[str, typer.Option("--plot", help="PNG kind: tracks or gantt.")] = "tracks",
    save: Annotated[
        Path | None, typer.Option("--save", help="Save the plan (.npz + .json).")
    ] = None,
) -> None:
    """Build a contact plan and print per-station contacts with mean and maximum gaps."""
    console = Console()
    check_choice(plot, PLOT_KINDS, "--plot")
    if tle is None:
        check_choice(preset, [p.name for p in list_presets()], "--preset")
    check_positive(duration_s, "--duration-s")
    check_positive(step_s, "--step-s")
    if not -90 <= min_elevation_deg <= 90:
        raise typer.BadParameter(
            f"must be in [-90, 90] degrees, got {min_elevation_deg!r}",
            param_hint="'--min-elevation-deg'",
        )
    for path, option in ((json_path, "--json"), (png_path, "--png"), (save, "--save")):
        check_output(path, option)
    started = time.perf_counter()
    try:
        constellation = _constellation(preset, tle, select)
        network = ground_stations(stations)
        if start is None:
            start = (
                max(constellation.epochs).replace(second=0, microsecond=0)
                if isinstance(constellation, TLEConstellation)
                else constellation.epoch
            )
        times = time_grid(start, duration_s, step_s)
        use_isl = "plus-grid" if isl and constellation.planes is not None else None
        with progress_bar(console=console) as bar:
            task = bar.add_task("contact plan", total=len(times))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SGP4ErrorWarning)
                plan = contact_plan(
                    constellation,
                    times,
                    network,
                    min_elevation_deg,
                    isl=use_isl,
                    eclipse=eclipse,
                    progress=lambda done, total: bar.update(task, completed=done),
                )
        _check_any_valid(plan)
        for warning in caught:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise typer.BadParameter(str(err)) from err
    wall_s = time.perf_counter() - started
    summary = plan_summary(plan)
    summary.update(
        {
            "constellation": constellation.describe(),
            "stations_source": stations,
            "isl": use_isl,
            "wall_time_s": wall_s,
        }
    )
    _print_table(console, plan, summary)
    if save is not None:
        summary["saved_plan"] = str(plan.save(save))
    if png_path is not None:
        if plot == "tracks":
            plot_ground_tracks(plan, constellation, png_path)
        else:
            plot_contact_gantt(plan, png_path)
        summary["png"] = str(png_path)
    write_json(json_path, summary)


def plan_summary(plan: ContactPlan) -> dict[str, Any]:
    """JSON-ready figures of a plan: per-station contacts and gaps, ISLs, eclipse."""
    windows = plan.all_windows()
    out: dict[str, Any] = {
        "start_utc": plan.times.start.isoformat(),
        "duration_s": plan.times.duration_s,
        "step_s": plan.times.step_s,
        "num_sats": plan.num_sats,
        "num_stations": plan.num_stations,
        "min_elevation_deg": plan.min_elevation_deg,
        "num_windows": len(windows),
        "mean_window_s": float(windows.duration_s.mean()) if len(windows) else None,
        "stations": plan.station_summary(),
        "sgp4_failures": plan.sgp4_failures,
    }
    if plan.isl_config is not None:
        links = plan.isl_links(0)
        latency = plan.latency_to_ground_s(0)
        reachable = np.isfinite(latency)
        out["isl_config"] = plan.isl_config
        out["isl_active_at_start"] = len(links)
        out["latency_to_ground_at_start_s"] = {
            "median": float(np.median(latency[reachable])) if reachable.any() else None,
            "max": float(latency[reachable].max()) if reachable.any() else None,
            "num_unreachable": int((~reachable).sum()),
        }
    if plan.sunlit_fraction is not None:
        out["eclipse_fraction"] = float(plan.eclipsed().mean())
    return out


def demo_stage(
    sat: int | None = None,
    capture_offset_s: float = 0.0,
    duration_s: float = 6 * 3600.0,
    step_s: float = 20.0,
    seed: int = 0,
) -> dict[str, Any]:
    """The demo's orbit stage: the built-in shell, built-in stations, the next downlink.

    Builds the 5-plane x 10-satellite 550 km research shell (preset ``"research-5x10"``)
    against the built-in ``"default"`` station network and finds the next contact of the
    satellite that captured the scene.

    Parameters
    ----------
    sat : int, optional
        Index of the capturing satellite; drawn with ``seed`` when None.
    capture_offset_s : float
        When the scene was captured [s from the shell's epoch].
    duration_s, step_s : float
        Plan length and step [s].
    seed : int
        Seeds the choice of satellite.

    Returns
    -------
    dict
        ``sat``, ``sat_name``, ``station``, ``contact_start_s``, ``contact_start_utc``,
        ``contact_duration_s``, ``wait_s`` (None where no contact within the plan),
        ``num_windows``, ``eclipse_fraction``, plus ``"plan"``: the :class:`ContactPlan`
        itself for later stages (drop it before writing JSON).
    """
    shell = build_preset(DEMO_PRESET)
    if sat is None:
        sat = int(np.random.default_rng(seed).integers(shell.num_sats))
    times = time_grid(shell.epoch, duration_s, step_s)
    plan = contact_plan(shell, times, ground_stations("default"), isl="plus-grid")
    contact = plan.next_contact(sat, after_s=capture_offset_s)
    return {
        "constellation": DEMO_PRESET,
        "sat": sat,
        "sat_name": plan.sat_names[sat],
        "station": None if contact is None else contact.station_name,
        "contact_start_s": None if contact is None else contact.start_s,
        "contact_start_utc": None
        if contact is None
        else times.datetime_at(contact.start_s).isoformat(),
        "contact_duration_s": None if contact is None else contact.duration_s,
        "wait_s": None if contact is None else contact.start_s - capture_offset_s,
        "num_windows": len(plan.all_windows()),
        "eclipse_fraction": float(plan.eclipsed().mean()),
        "plan": plan,
    }


def _check_any_valid(plan: ContactPlan) -> None:
    """A ``ValueError`` when SGP4 failed for every satellite at every step: no position is
    valid, so "0 contacts" would be a silently wrong answer."""
    failures = plan.sgp4_failures
    if len(failures) < plan.num_sats or plan.num_sats == 0:
        return
    if all(f["num_steps"] >= len(plan.times) for f in failures):
        first = failures[0]
        raise ValueError(
            f"SGP4 failed for every satellite at every step, so no position is valid (first: "
            f"{first['name']}, sgp4 error {first['code']}: {first['message']}); use fresher "
            "element sets (--tle) or a --start nearer their epoch"
        )


def _constellation(preset: str, tle: Path | None, select: str | None) -> Constellation:
    if tle is None:
        if select is not None:
            raise ValueError("--select filters TLE names; pass it together with --tle FILE")
        return build_preset(preset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StaleTLEWarning)
        return load_tle(tle, select=select)


def _print_table(console: Console, plan: ContactPlan, summary: dict[str, Any]) -> None:
    table = Table(
        title=f"{summary['num_windows']} contact windows, {plan.num_sats} satellites, "
        f"{len(plan.times)} steps of {plan.times.step_s:g} s"
    )
    for col in (
        "station",
        "contacts",
        "sats seen",
        "contact [min]",
        "mean gap [min]",
        "max gap [min]",
    ):
        table.add_column(col, justify="left" if col == "station" else "right")
    for row in summary["stations"]:
        table.add_row(
            row["station"],
            str(row["num_contacts"]),
            str(row["num_sats_seen"]),
            f"{row['contact_time_s'] / 60:.1f}",
            "-" if row["mean_gap_s"] is None else f"{row['mean_gap_s'] / 60:.1f}",
            "-" if row["max_gap_s"] is None else f"{row['max_gap_s'] / 60:.1f}",
        )
    console.print(table)
    if "latency_to_ground_at_start_s" in summary:
        lat = summary["latency_to_ground_at_start_s"]
        if lat["median"] is not None:
            console.print(
                f"ISL routing at start: median {lat['median'] * 1e3:.2f} ms, max "
                f"{lat['max'] * 1e3:.2f} ms to the ground; {lat['num_unreachable']} unreachable"
            )
    if "eclipse_fraction" in summary:
        console.print(f"eclipsed fraction of satellite-steps: {summary['eclipse_fraction']:.3f}")
    for failure in summary["sgp4_failures"]:
        console.print(f"[red]SGP4 failure[/red] {failure['name']}: {failure['message']}")
