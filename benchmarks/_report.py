"""Shared output for the benchmark scripts: hardware facts and JSON + Markdown results.

Every benchmark writes ``<out>/<name>.json`` (machine-readable, with the hardware and the
command that produced it) and ``<out>/<name>.md`` (a readable table), and prints the table.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def hardware_info() -> dict[str, Any]:
    """Describe the machine a benchmark ran on: CPU model and count, memory, GPU, versions."""
    import numpy as np
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": mem_gib,
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


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


def write_results(
    name: str,
    results: dict[str, Any],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    out_dir: Path | str = RESULTS_DIR,
    started_s: float | None = None,
    notes: str = "",
) -> Path:
    """Write ``name.json`` and ``name.md`` under ``out_dir`` and print the table.

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
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git_revision": git_revision(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_time_s": None if started_s is None else round(time.time() - started_s, 2),
        "hardware": hardware_info(),
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
        "",
        markdown_table(columns, rows),
    ]
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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
