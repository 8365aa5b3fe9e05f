"""The ``spikesat`` command: ``demo`` plus one sub-command per area, each imported when it runs.

``spikesat --help`` reads the table below and imports no torch; each sub-command's module
(``spikesat.cli.<area>``) loads the library only when that command is invoked.
"""

from __future__ import annotations

import typer

from spikesat.cli._lazy import LazyCommand, LazyGroup


class SpikesatGroup(LazyGroup):
    """The top-level group: one entry per sub-command."""

    lazy_commands = (
        LazyCommand(
            "demo",
            "spikesat.cli.demo.command",
            "demo",
            "Run the whole data path on built-in scenes (or your own data).",
        ),
        LazyCommand("train", "spikesat.cli.train", "train", "Train or fine-tune a LAM."),
        LazyCommand(
            "pretrain",
            "spikesat.cli.pretrain",
            "pretrain",
            "MAE-pretrain a ViT, then report linear-probe and fine-tuned accuracy.",
        ),
        LazyCommand(
            "orbits",
            "spikesat.cli.orbits",
            "command",
            "Contact plan of a constellation against a ground-station network.",
        ),
        LazyCommand(
            "link",
            "spikesat.cli.link",
            "command",
            "One satellite's downlink SNR, MODCOD and rate over its passes.",
        ),
        LazyCommand(
            "snn",
            "spikesat.cli.snn",
            "command",
            "Convert a LAM's task head into spiking heads: accuracy, spikes and joules.",
        ),
        LazyCommand(
            "codec",
            "spikesat.cli.codec",
            "app",
            "Evaluate task-oriented codecs (bytes against accuracy), or train a sweep.",
        ),
        LazyCommand(
            "federate",
            "spikesat.cli.federate",
            "command",
            "Federated fine-tuning over a constellation's contact plan.",
        ),
        LazyCommand(
            "infer",
            "spikesat.cli.infer",
            "command",
            "Serve a multi-task LAM as services: per-service MACs, bytes and joules.",
        ),
        LazyCommand(
            "bench",
            "spikesat.cli.bench",
            "command",
            "Run every benchmark script; write summary.json, summary.md and one PNG per area.",
        ),
    )


app = typer.Typer(
    cls=SpikesatGroup,
    help="spikesat: satellite edge AI with large models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """spikesat: satellite edge AI with large models."""


def main() -> None:
    """Entry point of the ``spikesat`` console script."""
    app()
