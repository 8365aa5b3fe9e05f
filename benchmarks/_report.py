"""Shared output for the benchmark scripts: hardware facts and JSON + Markdown results.

Every benchmark writes ``<out>/<name>.json`` (machine-readable, with the hardware and the
command that produced it), ``<out>/<name>.md`` (a readable table) and ``<out>/<name>.png`` (one
figure), and prints the table. Its JSON carries a ``headline`` (see :func:`headline`): the one
figure ``spikesat bench`` puts in its summary, next to the peer's figure from the same run, the
ratio and the goal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from spikesat._machine import machine_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def git_revision() -> str | None:
    """The current git commit of the checkout, or None outside a repository."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render rows as a GitHub Markdown table."""
    head = "| " + " | ".join(columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def headline(
    figure: str, peer: str, ratio: float | None, goal: str, met: bool | None
) -> dict[str, Any]:
    """The one-line result of a benchmark, as ``spikesat bench`` summarises it.

    Parameters
    ----------
    figure : str
        spikesat's number, with its unit and what it is (e.g. ``"contact plan 6.3 s CPU"``).
    peer : str
        The peer's number measured in the same run, or ``""`` where the area has no peer.
    ratio : float or None
        The comparison the goal is stated in (its meaning is in ``goal``), or None.
    goal : str
        The goal, from the benchmark's own docstring, including what the ratio means.
    met : bool or None
        Whether this run met the goal (None where it cannot be decided).
    """
    if not isinstance(figure, str) or not figure:
        raise ValueError(f"headline figure must be a non-empty str, got {figure!r}")
    if not isinstance(peer, str):
        raise TypeError(f"headline peer must be a str ('' for no peer), got {peer!r}")
    if not isinstance(goal, str) or not goal:
        raise ValueError(f"headline goal must be a non-empty str, got {goal!r}")
    if ratio is not None:
        ratio = float(ratio)
    if met is not None:
        met = bool(met)
    return {"figure": figure, "peer": peer, "ratio": ratio, "goal": goal, "met": met}


PlotFn = Callable[[Any], None]
"""Draws one benchmark's figure on the matplotlib ``Figure`` it is given."""


def save_plot(draw: PlotFn, path: Path | str, figsize: tuple[float, float] = (7.0, 4.5)) -> Path:
    """Draw ``draw(fig)`` on a new matplotlib figure (Agg backend) and write it as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    try:
        draw(fig)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path


def write_results(
    name: str,
    results: dict[str, Any],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    out_dir: Path | str = RESULTS_DIR,
    started_s: float | None = None,
    notes: str = "",
    headline: dict[str, Any] | None = None,
    plot: PlotFn | Path | str | None = None,
) -> Path:
    """Write ``name.json``, ``name.md`` (and ``name.png``) under ``out_dir``; print the table.

    Parameters
    ----------
    name : str
        The benchmark's name, used for the file names.
    results : dict
        Everything measured; stored under ``"results"`` in the JSON.
    columns, rows : sequence
        The readable table.
    out_dir : path
        Where to write.
    started_s : float, optional
        ``time.time()`` at the start, to record the wall time of the whole run.
    notes : str
        Free text (method, caveats) written under the table.
    headline : dict, optional
        The run's headline, built with :func:`headline`; stored as ``"headline"`` in the JSON.
    plot : callable or path, optional
        A function drawing the area's figure on a matplotlib ``Figure`` (written to
        ``name.png``), or the path of a PNG the script already wrote; stored as ``"plot"``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if headline is not None and set(headline) != {"figure", "peer", "ratio", "goal", "met"}:
        raise ValueError(
            "headline must have exactly the keys figure, peer, ratio, goal, met "
            f"(build it with _report.headline), got {sorted(headline)}"
        )
    png = None
    if callable(plot):
        png = save_plot(plot, out / f"{name}.png")
    elif plot is not None:
        png = Path(plot)
    payload = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git_revision": git_revision(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_time_s": None if started_s is None else round(time.time() - started_s, 2),
        "hardware": machine_info(),
        "headline": headline,
        "plot": None if png is None else os.path.relpath(png.resolve(), out.resolve()),
        "results": results,
    }
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2, default=_jsonable) + "\n")
    hw = payload["hardware"]
    md = [
        f"# {name}",
        "",
        f"Command: `{payload['command']}`  ",
        f"Hardware: {hw['cpu']} ({hw['cpu_count']} CPUs, torch threads {hw['torch_threads']}), "
        f"GPU: {hw['gpu'] or 'none'}  ",
        f"Wall time: {payload['wall_time_s']} s, revision {payload['git_revision']}",
    ]
    if headline is not None:
        md += ["", headline_line(headline)]
    md += ["", markdown_table(columns, rows)]
    if notes:
        md += ["", notes]
    (out / f"{name}.md").write_text("\n".join(md) + "\n")
    table = Table(title=name)
    for col in columns:
        table.add_column(str(col))
    for row in rows:
        table.add_row(*(_fmt(v) for v in row))
    Console().print(table)
    return out / f"{name}.json"


def outcome_bars(
    ax: Any,
    counts: Mapping[str, int],
    outcomes: Sequence[str],
    title: str,
    ylabel: str,
    bad: Sequence[str] = ("silently wrong", "crash", "hang"),
    rotation: int = 20,
) -> None:
    """One bar per outcome on ``ax``, the ``bad`` outcomes (the goal's zeros) in red."""
    colours = ["tab:red" if o in bad else "tab:blue" for o in outcomes]
    ax.bar(list(outcomes), [counts.get(o, 0) for o in outcomes], color=colours)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=rotation)


def headline_line(head: dict[str, Any]) -> str:
    """One readable line for a headline: figure, peer, ratio, goal and verdict."""
    verdict = {True: "MET", False: "NOT MET", None: "not decided"}[head["met"]]
    parts = [f"**Headline:** {head['figure']}"]
    if head["peer"]:
        parts.append(f"peer in the same run: {head['peer']}")
    if head["ratio"] is not None:
        parts.append(f"ratio {head['ratio']:.4g}")
    parts.append(f"goal: {head['goal']} ({verdict})")
    return "; ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
