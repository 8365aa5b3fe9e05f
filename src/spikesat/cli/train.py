"""``spikesat train``: train or fine-tune a LAM and report its test accuracy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spikesat.cli._common import (
    POSITIVE,
    JsonOption,
    check_choice,
    check_output,
    check_positive,
    print_summary,
    write_json,
)
from spikesat.cli._data import DataDirOption, DataOption, ModalityOption, load_data_splits


def train(
    model: Annotated[
        str, typer.Option(help="Model name (see spikesat.models.list_models).")
    ] = "vit-micro-p8",
    data: DataOption = "synthetic",
    data_dir: DataDirOption = None,
    modality: ModalityOption = None,
    epochs: Annotated[int, typer.Option(**POSITIVE)] = 10,
    batch_size: Annotated[int, typer.Option(**POSITIVE)] = 128,
    lr: Annotated[float, typer.Option(help="Learning rate (> 0).")] = 1e-3,
    num_train: Annotated[
        int | None, typer.Option(help="Use only this many training images.", **POSITIVE)
    ] = None,
    seed: int = 0,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from this checkpoint (fine-tuning).", exists=True, dir_okay=False),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Checkpoint path (default: in SPIKESAT_CACHE).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Resume an interrupted run from its state file.")
    ] = False,
    json_path: JsonOption = None,
) -> None:
    """Train or fine-tune a LAM on synthetic scenes, EuroSAT or your own image folder."""
    import spikesat.models as models

    check_choice(model, models.list_models(), "--model")
    check_positive(lr, "--lr")
    check_output(out, "--out")
    check_output(json_path, "--json")
    from spikesat.train import TrainConfig, evaluate, fit

    splits = load_data_splits(data, data_dir, modality, num_train=num_train, seed=seed)
    lam = models.create(
        model, in_chans=splits.in_chans, num_classes=len(splits.classes), checkpoint=init, seed=seed
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
    print_summary(
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
