"""``spikesat demo``: the whole data path, one table row per stage."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from spikesat.cli._common import JsonOption, check_output, console, write_json
from spikesat.cli._data import DataDirOption, InferredDataOption


def demo(
    data: InferredDataOption = None,
    data_dir: DataDirOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the data and training.")] = 0,
    json_path: JsonOption = None,
) -> None:
    """Run the whole path on built-in synthetic scenes, EuroSAT or your own image folder."""
    check_output(json_path, "--json")
    from spikesat.cli.demo import run_demo

    result = run_demo(data_dir=data_dir, seed=seed, source=data)
    table = Table(title="spikesat demo")
    for column in ("stage", "what", "result"):
        table.add_column(column)
    for row in result["stages"]:
        table.add_row(row["stage"], row["what"], row["result"])
    console.print(table)
    write_json(json_path, result)
