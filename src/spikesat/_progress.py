"""The one rich progress bar every long-running spikesat job shows (training, sweeps, plans)."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(
    enabled: bool = True, console: Console | None = None, transient: bool = True
) -> Progress:
    """A rich ``Progress`` with description, bar, done/total, elapsed and remaining time.

    Parameters
    ----------
    enabled : bool
        ``False`` (or the environment variable ``SPIKESAT_NO_PROGRESS`` set) hides the bar.
    console : Console, optional
        Where to draw it (default: rich's console on stdout).
    transient : bool
        Clear the bar when the job ends.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled or bool(os.environ.get("SPIKESAT_NO_PROGRESS")),
        transient=transient,
    )
