"""The options of every command that takes data: ``--data``, ``--data-dir`` and ``--modality``.

The choices of ``--data`` come from the data-source registry (:func:`spikesat.data.list_sources`),
so a registered source is available on every command at once. A bad choice, a ``--data-dir``
that does not exist or an unknown ``--modality`` is a one-line usage error before any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spikesat.cli._common import choice_callback
from spikesat.data import Splits, list_sources, load_source

DATA_HELP = (
    f"Data source: {', '.join(list_sources())} (folder: your own images, "
    "--data-dir PATH holding one sub-folder per class)."
)
MODALITIES = ("rgb", "ms")
DataOption = Annotated[
    str,
    typer.Option("--data", "--dataset", help=DATA_HELP, callback=choice_callback(list_sources())),
]
InferredDataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        "--dataset",
        help=f"{DATA_HELP} Default: eurosat with --data-dir, synthetic without.",
        callback=choice_callback(list_sources()),
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        exists=True,
        help="eurosat: the folder holding 2750/ (or the MS folder; default $SPIKESAT_DATA_DIR); "
        "folder: the image folder (<class>/<image>).",
    ),
]
ModalityOption = Annotated[
    str | None,
    typer.Option(
        help="rgb or ms, for synthetic and eurosat (default rgb); folder: its files' bands.",
        callback=choice_callback(MODALITIES),
    ),
]


def data_source(data: str | None, data_dir: Path | None) -> str:
    """The source ``--data`` names; without it, eurosat with ``--data-dir``, else synthetic."""
    if data is not None:
        return data
    return "synthetic" if data_dir is None else "eurosat"


def load_data_splits(
    data: str,
    data_dir: Path | None,
    modality: str | None = None,
    num_train: int | None = None,
    num_test: int | None = None,
    seed: int = 0,
    image_size: int | None = None,
) -> Splits:
    """:func:`spikesat.data.load_source`, with a bad choice reported as a CLI usage error."""
    try:
        return load_source(data, data_dir, modality, num_train, num_test, seed, image_size)
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error), param_hint="--data / --data-dir") from error
