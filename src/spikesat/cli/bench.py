"""``spikesat bench``: run every benchmark script, each in its own process, and summarise them.

Each script in ``benchmarks/`` (``<area>.py``; names starting with ``_`` are helpers) runs as
``python benchmarks/<area>.py [--quick] --out DIR/<area>`` with this interpreter, its output
going to ``DIR/<area>/log.txt``, so one crashing benchmark is reported and the others still run.
Each script's results JSON carries a ``headline`` (figure, the peer's figure from the same run,
ratio, goal, met); the summary collects them into ``DIR/summary.json`` and ``DIR/summary.md``,
with each area's wall time, and copies each area's PNG to ``DIR/<area>.png``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from spikesat._progress import progress_bar
from spikesat.cli._common import check_output, write_json

SUMMARY_COLUMNS = (
    "area",
    "figure",
    "peer (same run)",
    "ratio",
    "goal",
    "met",
    "wall time (s)",
    "CPU time (s)",
)


def default_benchmarks_dir() -> Path:
    """``benchmarks/`` of the repository the imported ``spikesat`` package lives in."""
    import spikesat

    return Path(spikesat.__file__).resolve().parents[2] / "benchmarks"


def discover(benchmarks_dir: Path) -> list[str]:
    """The benchmark areas of ``benchmarks_dir``: every ``<area>.py`` not starting with ``_``."""
    return sorted(p.stem for p in benchmarks_dir.glob("*.py") if not p.name.startswith("_"))


def _fail(message: str) -> None:
    """Print a one-line error and exit with the usage-error status."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def _environment() -> dict[str, str]:
    """The child's environment: this process's, with this ``spikesat`` first on the path."""
    import spikesat

    env = dict(os.environ)
    source = str(Path(spikesat.__file__).resolve().parents[1])
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = source + (os.pathsep + path if path else "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _latest_result(area_dir: Path, since: float) -> tuple[Path | None, dict[str, Any] | None]:
    """The newest results JSON written under ``area_dir`` since ``since`` (a benchmark's)."""
    found = []
    for path in area_dir.glob("*.json"):
        if path.stat().st_mtime + 1.0 < since:
            continue
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(payload, dict) and "benchmark" in payload:
            found.append((path.stat().st_mtime, path, payload))
    if not found:
        return None, None
    _, path, payload = max(found, key=lambda item: item[0])
    return path, payload


def _children_cpu_s() -> float:
    """User + system CPU time of this process's finished, waited-for children [s]."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_area(
    area: str,
    benchmarks_dir: Path,
    out: Path,
    quick: bool,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Run one benchmark script in a subprocess and read back its headline.

    Returns a dict with ``area``, ``status`` ("ok", "failed", "timeout" or "no-headline"),
    ``returncode``, ``wall_s``, ``cpu_s`` (user + system time of the script and the processes
    it waited for), ``command``, ``log``, ``json``, ``png`` and ``headline``.
    """
    area_dir = out / area
    area_dir.mkdir(parents=True, exist_ok=True)
    log = area_dir / "log.txt"
    command = [sys.executable, str(benchmarks_dir / f"{area}.py")]
    command += ["--quick"] if quick else []
    command += ["--out", str(area_dir)]
    began = time.time()
    cpu_before = _children_cpu_s()
    returncode: int | None
    with open(log, "w") as fh:
        fh.write("$ " + " ".join(command) + "\n")
        fh.flush()
        try:
            returncode = subprocess.run(
                command,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=benchmarks_dir.parent,
                env=_environment(),
                timeout=timeout_s,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            returncode = None
            fh.write(f"\nspikesat bench: stopped after the {timeout_s:g} s timeout\n")
    wall_s = time.time() - began
    cpu_s = _children_cpu_s() - cpu_before
    json_path, payload = _latest_result(area_dir, began)
    head = (payload or {}).get("headline")
    if returncode is None:
        status = "timeout"
    elif returncode != 0:
        status = "failed"
    elif head is None:
        status = "no-headline"
    else:
        status = "ok"
    png = None
    if payload is not None and payload.get("plot"):
        candidate = (json_path.parent / payload["plot"]).resolve()
        png = candidate if candidate.is_file() else None
    if png is None and status == "ok":
        png = next(iter(sorted(area_dir.glob("*.png"))), None)
    area_png = None
    if png is not None:
        area_png = out / f"{area}.png"
        shutil.copyfile(png, area_png)
    return {
        "area": area,
        "status": status,
        "returncode": returncode,
        "wall_s": round(wall_s, 2),
        "cpu_s": round(cpu_s, 2),
        "command": command,
        "log": str(log),
        "json": None if json_path is None else str(json_path),
        "png": None if area_png is None else str(area_png),
        "headline": head,
    }


def _cell(value: Any) -> str:
    return "-" if value in (None, "") else str(value).replace("|", "\\|").replace("\n", " ")


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _met(entry: dict[str, Any]) -> str:
    if entry["status"] != "ok":
        reason = {"timeout": "timed out", "no-headline": "no headline"}.get(
            entry["status"], f"exit {entry['returncode']}"
        )
        return f"FAILED ({reason}; log {entry['log']})"
    return {True: "met", False: "NOT met", None: "-"}[entry["headline"]["met"]]


def summary_markdown(summary: dict[str, Any]) -> str:
    """``summary.md``: one headline row per area, with its wall time."""
    lines = [
        "# spikesat bench" + (" --quick" if summary["quick"] else ""),
        "",
        f"Benchmarks: `{summary['benchmarks_dir']}`  ",
        f"Finished {summary['finished_utc']}, total wall time {summary['wall_s']:.1f} s, "
        f"{summary['cpu_count']} CPUs (CPU time: the script's and its children's user + "
        "system time, which other jobs on the machine do not inflate)",
        "",
        "| " + " | ".join(SUMMARY_COLUMNS) + " |",
        "| " + " | ".join("---" for _ in SUMMARY_COLUMNS) + " |",
    ]
    for entry in summary["areas"]:
        head = entry["headline"] or {}
        cells = [
            entry["area"],
            _cell(head.get("figure")),
            _cell(head.get("peer")),
            _ratio(head.get("ratio")),
            _cell(head.get("goal")),
            _met(entry),
            f"{entry['wall_s']:.1f}",
            f"{entry['cpu_s']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if summary["quick"]:
        lines.append(
            "`--quick` runs every benchmark in its smoke configuration (small inputs, few "
            "epochs): these rows check that the suite runs, they are not results."
        )
    else:
        lines.append("Each area's full table and method notes are in `<area>/<name>.md`.")
    return "\n".join(lines) + "\n"


def command(
    out: Annotated[Path, typer.Option("--out", help="Folder for every result and the summary.")],
    quick: Annotated[
        bool, typer.Option("--quick", help="Each benchmark's small smoke configuration.")
    ] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated areas to run (default: all).")
    ] = None,
    benchmarks_dir: Annotated[
        Path | None,
        typer.Option("--benchmarks-dir", help="Folder of the benchmark scripts."),
    ] = None,
    timeout_s: Annotated[
        float | None,
        typer.Option("--timeout-s", help="Stop a benchmark after this long (s); default none."),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write results as JSON here.")
    ] = None,
) -> None:
    """Run every benchmark script and write summary.json, summary.md and one PNG per area."""
    check_output(json_path, "--json")
    console = Console()
    folder = (benchmarks_dir or default_benchmarks_dir()).resolve()
    if not folder.is_dir():
        _fail(
            f"benchmarks folder not found: {folder} (pass --benchmarks-dir PATH to the "
            "repository's benchmarks/)"
        )
    areas = discover(folder)
    if not areas:
        _fail(f"no benchmark scripts (<area>.py) in {folder}")
    if only is not None:
        chosen = [name.strip() for name in only.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in areas]
        if unknown or not chosen:
            _fail(f"unknown benchmark(s) {unknown or [only]} for --only; valid: {', '.join(areas)}")
        areas = [name for name in areas if name in chosen]
    if timeout_s is not None and timeout_s <= 0:
        _fail(f"--timeout-s must be > 0, got {timeout_s}")
    out.mkdir(parents=True, exist_ok=True)
    began = time.time()
    entries = []
    with progress_bar(console=console, transient=False) as bar:
        task = bar.add_task("bench", total=len(areas))
        for area in areas:
            bar.update(task, description=f"bench: {area}")
            entry = run_area(area, folder, out, quick, timeout_s)
            entries.append(entry)
            bar.console.print(f"{area}: {entry['status']} in {entry['wall_s']:.1f} s")
            bar.advance(task)
    summary = {
        "quick": quick,
        "benchmarks_dir": str(folder),
        "out": str(out),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": round(time.time() - began, 2),
        "cpu_count": os.cpu_count(),
        "python": sys.executable,
        "areas": entries,
        "failed": [e["area"] for e in entries if e["status"] != "ok"],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = summary_markdown(summary)
    (out / "summary.md").write_text(text)
    console.print(text, markup=False, highlight=False)
    console.print(f"wrote {out / 'summary.json'} and {out / 'summary.md'}")
    write_json(json_path, summary)
    failed = [e for e in entries if e["status"] != "ok"]
    if failed:
        details = "; ".join(
            f"{e['area']} ({_met(e).removeprefix('FAILED (').removesuffix(')')})" for e in failed
        )
        typer.echo(f"Error: {len(failed)} benchmark(s) failed: {details}", err=True)
        raise typer.Exit(1)
