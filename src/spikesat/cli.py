"""The ``spikesat`` command: ``demo`` plus one sub-command per area."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# CompressAI (through the codecs command) still calls torch.jit.script, which torch deprecates;
# the warning is about CompressAI's code, not the user's, so the CLI keeps it off the screen.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)

app = typer.Typer(
    help="spikesat: satellite edge AI with large models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()

JsonOption = Annotated[Path | None, typer.Option("--json", help="Write results as JSON here.")]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="EuroSAT root (the folder holding 2750/, or the MS folder)."),
]


def write_json(path: Path | None, payload: Any) -> None:
    """Write ``payload`` as indented JSON to ``path`` (parent folders created), if given."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    console.print(f"wrote {path}")


@app.command()
def demo(
    data_dir: DataDirOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the data and training.")] = 0,
    json_path: JsonOption = None,
) -> None:
    """Run the whole path on built-in synthetic scenes (or EuroSAT with --data-dir)."""
    from spikesat.demo import run_demo

    result = run_demo(data_dir=data_dir, seed=seed)
    table = Table(title="spikesat demo")
    for column in ("stage", "what", "result"):
        table.add_column(column)
    for row in result["stages"]:
        table.add_row(row["stage"], row["what"], row["result"])
    console.print(table)
    write_json(json_path, result)


@app.command()
def train(
    model: Annotated[
        str, typer.Option(help="Model name (see spikesat.models.list_models).")
    ] = "vit-micro-p8",
    data: Annotated[str, typer.Option(help="synthetic or eurosat.")] = "synthetic",
    data_dir: DataDirOption = None,
    modality: Annotated[str, typer.Option(help="rgb or ms.")] = "rgb",
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    num_train: Annotated[
        int | None, typer.Option(help="Use only this many training images.")
    ] = None,
    seed: int = 0,
    init: Annotated[
        Path | None, typer.Option(help="Start from this checkpoint (fine-tuning).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Checkpoint path (default: in SPIKESAT_CACHE).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Resume an interrupted run from its state file.")
    ] = False,
    json_path: JsonOption = None,
) -> None:
    """Train or fine-tune a LAM on synthetic scenes or EuroSAT."""
    import spikesat.models as models
    from spikesat.train import TrainConfig, evaluate, fit, load_splits

    splits = load_splits(data, data_dir, modality, num_train=num_train, seed=seed)
    lam = models.create(
        model, in_chans=splits.in_chans, num_classes=len(splits.classes), checkpoint=init
    )
    out = out or models.cache_dir() / "checkpoints" / f"{model}-{splits.name}-seed{seed}.pt"
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    result = fit(
        lam,
        splits.train,
        splits.val,
        config,
        checkpoint_path=out.with_suffix(".state.pt"),
        resume=resume,
    )
    test = evaluate(lam, splits.test)
    payload = {
        "model": model,
        "data": splits.name,
        "config": config.__dict__,
        "test_accuracy": test["accuracy"],
        "checkpoint": str(out),
        **result.to_dict(),
    }
    models.save_checkpoint(lam, out, meta={"test_accuracy": test["accuracy"], "data": splits.name})
    _summary(
        "train",
        {
            "model": model,
            "data": splits.name,
            "val accuracy": result.val_accuracy,
            "test accuracy": test["accuracy"],
            "wall time [s]": round(result.wall_time_s, 1),
            "checkpoint": str(out),
        },
    )
    write_json(json_path, payload)


@app.command()
def pretrain(
    model: Annotated[
        str, typer.Option(help="A ViT: vit-micro-p8, vit-tiny-p8 or vit-small-p8.")
    ] = "vit-tiny-p8",
    data: Annotated[str, typer.Option(help="synthetic or eurosat.")] = "synthetic",
    data_dir: DataDirOption = None,
    modality: Annotated[str, typer.Option(help="rgb or ms.")] = "rgb",
    epochs: Annotated[int, typer.Option(help="MAE pretraining epochs.")] = 20,
    probe_epochs: Annotated[int, typer.Option(help="Linear-probe epochs (encoder frozen).")] = 10,
    finetune_epochs: Annotated[int, typer.Option(help="Fine-tuning epochs.")] = 10,
    num_train: Annotated[int | None, typer.Option(help="Use only this many images.")] = None,
    batch_size: int = 128,
    seed: int = 0,
    json_path: JsonOption = None,
) -> None:
    """MAE-pretrain a ViT on unlabelled images, then report linear-probe and fine-tuned accuracy."""
    import copy

    import spikesat.models as models
    from spikesat.train import (
        PretrainConfig,
        TrainConfig,
        evaluate,
        fit,
        head_parameters,
        load_splits,
        pretrain_mae,
    )

    splits = load_splits(data, data_dir, modality, num_train=num_train, seed=seed)
    lam = models.create(model, in_chans=splits.in_chans, num_classes=len(splits.classes))
    history = pretrain_mae(
        lam, splits.train[0], PretrainConfig(epochs=epochs, batch_size=batch_size, seed=seed)
    )
    path = models.cache_dir() / "checkpoints" / f"{model}-mae-{splits.name}-seed{seed}.pt"
    models.save_checkpoint(lam, path, meta={"mae_epochs": epochs, "data": splits.name})
    probe = copy.deepcopy(lam)
    fit(
        probe,
        splits.train,
        splits.val,
        TrainConfig(epochs=probe_epochs, batch_size=batch_size, lr=1e-3, seed=seed, augment=False),
        parameters=head_parameters(probe),
    )
    tuned = copy.deepcopy(lam)
    fit(
        tuned,
        splits.train,
        splits.val,
        TrainConfig(epochs=finetune_epochs, batch_size=batch_size, lr=5e-4, seed=seed),
    )
    payload = {
        "model": model,
        "data": splits.name,
        "mae_history": history,
        "checkpoint": str(path),
        "linear_probe_test_accuracy": evaluate(probe, splits.test)["accuracy"],
        "finetuned_test_accuracy": evaluate(tuned, splits.test)["accuracy"],
    }
    _summary("pretrain", {k: v for k, v in payload.items() if k != "mae_history"})
    write_json(json_path, payload)


def _register_area_commands() -> None:
    """Each area's command lives beside its code (``spikesat/<area>/command.py``)."""
    from spikesat.channels.command import command as link_command
    from spikesat.codecs.command import app as codec_app
    from spikesat.federated.command import command as federate_command
    from spikesat.orbits.command import command as orbits_command
    from spikesat.snn.command import command as snn_command

    app.command("orbits")(orbits_command)
    app.command("link")(link_command)
    app.command("snn")(snn_command)
    app.add_typer(codec_app, name="codec")
    app.command("federate")(federate_command)


_register_area_commands()


def _summary(title: str, values: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("quantity")
    table.add_column("value")
    for key, value in values.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def main() -> None:
    """Entry point of the ``spikesat`` console script."""
    app()
