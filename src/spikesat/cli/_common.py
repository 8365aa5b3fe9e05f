"""What every ``spikesat`` sub-command shares: the console, ``--json`` writing, summary tables."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# CompressAI still calls torch.jit.script, which torch deprecates; the warning is about
# CompressAI's code, not the user's, so the CLI keeps it off the screen.
warnings.filterwarnings("ignore", message=r".*torch\\.jit\\.script.*", category=FutureWarning)

console = Console()

JsonOption = Annotated[Path | None, typer.Option("--json", help="Write results as JSON here.")]


def write_json(path: Path | None, payload: Any) -> None:
    """Write ``payload`` as indented JSON to ``path`` (parent folders created), if given."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    console.print(f"wrote {path}")


def print_summary(title: str, values: dict[str, Any]) -> None:
    """A two-column quantity/value table (floats to 4 decimals)."""
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value")
    for key, value in values.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
