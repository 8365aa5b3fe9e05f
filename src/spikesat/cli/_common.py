"""What every ``spikesat`` sub-command shares: the console, ``--json`` writing, summary tables,
and the checks that reject a bad option (one line, exit 2) before any work starts."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()

JsonOption = Annotated[Path | None, typer.Option("--json", help="Write results as JSON here.")]

#: ``min=1`` for counts, sizes and epochs: click rejects 0 and negatives with one line.
POSITIVE = {"min": 1}


def choice_callback(choices: Iterable[str]) -> Callable[[str | None], str | None]:
    """A Typer option callback that accepts ``None`` or one of ``choices`` (a usage error else).

    (A callback rather than a ``click.Choice`` type: Typer dropped ``click_type=`` in 0.2x.)
    """
    valid = tuple(choices)

    def check(value: str | None) -> str | None:
        if value is not None and value not in valid:
            raise typer.BadParameter(f"{value!r} is not one of: {', '.join(valid)}")
        return value

    return check


def check_choice(value: str, choices: Iterable[str], option: str) -> str:
    """``value`` if it is one of ``choices``, else a usage error naming the option and choices."""
    valid = list(choices)
    if value not in valid:
        raise typer.BadParameter(
            f"{value!r} is not one of: {', '.join(valid)}", param_hint=f"'{option}'"
        )
    return value


def check_choices(text: str, choices: Iterable[str], option: str) -> list[str]:
    """The comma-separated names in ``text``, each one of ``choices`` (at least one)."""
    valid = list(choices)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        what = f"unknown {', '.join(map(repr, unknown))}" if unknown else "no names given"
        raise typer.BadParameter(
            f"{what}; choose (comma-separated) from: {', '.join(valid)}", param_hint=f"'{option}'"
        )
    return names


def check_positive(value: float, option: str) -> float:
    """``value`` if it is a finite number > 0, else a usage error."""
    if not (value > 0 and value != float("inf")):
        raise typer.BadParameter(
            f"must be a finite number > 0, got {value!r}", param_hint=f"'{option}'"
        )
    return value


def check_output(path: Path | None, option: str) -> None:
    """A usage error unless ``path`` (if given) can be written: not a folder, and its nearest
    existing parent folder is writable (missing parent folders are created when written)."""
    if path is None:
        return
    if path.is_dir():
        raise typer.BadParameter(
            f"{str(path)!r} is a folder; give a file path", param_hint=f"'{option}'"
        )
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    try:
        if not parent.is_dir():
            raise NotADirectoryError(f"{str(parent)!r} is not a folder")
        # a real probe: permission bits do not tell root (or /proc) the truth
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise typer.BadParameter(
            f"cannot write {str(path)!r} ({error.strerror or error}); choose a writable folder",
            param_hint=f"'{option}'",
        ) from None


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
