"""``spikesat pretrain``: MAE pretraining, then linear-probe and fine-tuned accuracy."""

from __future__ import annotations

from typing import Annotated

import typer

from spikesat.cli._common import (
    POSITIVE,
    JsonOption,
    check_choice,
    check_output,
    print_summary,
    write_json,
)
from spikesat.cli._data import DataDirOption, DataOption, ModalityOption, load_data_splits


def pretrain(
    model: Annotated[
        str, typer.Option(help="A ViT: vit-micro-p8, vit-tiny-p8 or vit-small-p8.")
    ] = "vit-tiny-p8",
    data: DataOption = "synthetic",
    data_dir: DataDirOption = None,
    modality: ModalityOption = None,
    epochs: Annotated[int, typer.Option(help="MAE pretraining epochs.", **POSITIVE)] = 20,
    probe_epochs: Annotated[
        int, typer.Option(help="Linear-probe epochs (encoder frozen).", **POSITIVE)
    ] = 10,
    finetune_epochs: Annotated[int, typer.Option(help="Fine-tuning epochs.", **POSITIVE)] = 10,
    num_train: Annotated[
        int | None, typer.Option(help="Use only this many images.", **POSITIVE)
    ] = None,
    batch_size: Annotated[int, typer.Option(**POSITIVE)] = 128,
    seed: int = 0,
    json_path: JsonOption = None,
) -> None:
    """MAE-pretrain a ViT on unlabelled images, then report linear-probe and fine-tuned accuracy."""
    import copy

    import spikesat.models as models

    vits = [name for name in models.list_models() if name.startswith("vit-")]
    check_choice(model, vits, "--model")
    check_output(json_path, "--json")
    from spikesat.train import (
        PretrainConfig,
        TrainConfig,
        evaluate,
        fit,
        head_parameters,
        pretrain_mae,
    )

    splits = load_data_splits(data, data_dir, modality, num_train=num_train, seed=seed)
    lam = models.create(model, in_chans=splits.in_chans, num_classes=len(splits.classes), seed=seed)
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
    print_summary("pretrain", {k: v for k, v in payload.items() if k != "mae_history"})
    write_json(json_path, payload)
