"""The ``spikesat codec`` command: evaluate codecs (default) and ``train`` a lambda sweep.

Register either the sub-app (evaluation without a sub-command, plus ``train``)::

    app.add_typer(spikesat.cli.codec.app, name="codec")

or only the evaluation as a plain command: ``app.command("codec")(command)``.

Learned codecs are trained against one LAM (identified by a hash of its weights), split point
and data set, and cached as ``$SPIKESAT_CACHE/codecs/<key>-<codec>-lambda<l>.pt``; evaluation
picks up every cached point of the sweep.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from spikesat._progress import progress_bar
from spikesat.cli._common import (
    POSITIVE,
    check_choice,
    check_choices,
    check_output,
    check_positive,
    write_json,
)
from spikesat.cli._data import DataDirOption, DataOption, load_data_splits
from spikesat.codecs.checkpoints import codec_cache_dir, load_codec
from spikesat.codecs.registry import create, list_codecs
from spikesat.codecs.training import CodecTrainConfig, evaluate_codec, train_lambda_sweep
from spikesat.data import Splits

app = typer.Typer(help="Task-oriented codecs: evaluate (no sub-command) or `train` a sweep.")

IMAGE_CODECS = ("jpeg", "webp", "avif")
FEATURE_BASELINES = ("float32", "float16", "int8")
LEARNED_CODECS = ("factorized", "hyperprior")
DEFAULT_CODECS = "float32,float16,int8,jpeg,webp,avif,factorized,hyperprior"

ModelOption = Annotated[str, typer.Option(help="LAM name (spikesat.models).")]


def model_key(lam: torch.nn.Module, model: str, at: str, dataset: str) -> str:
    """Cache key of codecs trained for this LAM's weights, split point and data set."""
    digest = hashlib.sha1()
    for name, tensor in sorted(lam.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{model}-{at}-{dataset}-{digest.hexdigest()[:10]}"


def _load_lam(model: str, checkpoint: Path | None, seed: int, splits: Splits) -> torch.nn.Module:
    """The LAM for ``splits``' bands and classes, with ``checkpoint``'s weights or seeded ones."""
    import spikesat.models as models

    return models.create(
        model,
        in_chans=splits.in_chans,
        num_classes=len(splits.classes),
        checkpoint=checkpoint,
        seed=seed,
    ).eval()


def check_model_and_split(model: str, at: str) -> None:
    """Usage errors for an unknown ``--model`` or a split point ``--at`` it does not have."""
    import spikesat.models as models

    check_choice(model, models.list_models(), "--model")
    check_choice(at, models.create(model).stage_names[:-1], "--at")


def _parse_list(text: str, kind: type, what: str) -> list[Any]:
    try:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"must be a comma-separated list, got {text!r}", param_hint=f"'--{what}'"
        ) from None
    if not values:
        raise typer.BadParameter("is empty", param_hint=f"'--{what}'")
    return values


def _features(onboard: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([onboard(images[i : i + 256]) for i in range(0, len(images), 256)])


def command(
    ctx: typer.Context,
    dataset: DataOption = "synthetic",
    data_dir: DataDirOption = None,
    model: ModelOption = "vit-micro-p8",
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="LAM checkpoint (spikesat train); default: a seeded untrained LAM.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    at: Annotated[str, typer.Option(help="Split point (stage name).")] = "blocks.2",
    codecs: Annotated[str, typer.Option(help="Comma-separated codec names.")] = DEFAULT_CODECS,
    qualities: Annotated[
        str, typer.Option(help="Image-codec qualities (0..100).")
    ] = "10,30,50,70,90",
    num_samples: Annotated[int, typer.Option(help="Test examples.", **POSITIVE)] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the data subset.")] = 0,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON here.")
    ] = None,
    png_path: Annotated[
        Path | None, typer.Option("--png", help="Write the rate-accuracy plot here.")
    ] = None,
) -> None:
    """Evaluate codecs: bytes per image (real packets) against accuracy behind the split LAM."""
    if ctx is not None and ctx.invoked_subcommand is not None:
        return
    names = check_choices(codecs, list_codecs(), "--codecs")
    if "deepjscc" in names:
        raise typer.BadParameter(
            "deepjscc is analog (no bytes); see benchmarks/codecs.py", param_hint="'--codecs'"
        )
    if "spikes" in names:
        raise typer.BadParameter(
            "spikes codes the spike trains of an on-board spiking network, not LAM features",
            param_hint="'--codecs'",
        )
    quality_list = _parse_list(qualities, int, "qualities")
    bad = [q for q in quality_list if not 0 <= q <= 100]
    if bad:
        raise typer.BadParameter(f"must be in 0..100, got {bad}", param_hint="'--qualities'")
    check_model_and_split(model, at)
    check_output(json_path, "--json")
    check_output(png_path, "--png")
    console = Console()
    import spikesat.models as models

    # num_samples examples of the test split, drawn at random (seeded)
    splits = load_data_splits(
        dataset, data_dir, num_train=num_samples, num_test=num_samples, seed=seed
    )
    images, labels = splits.test
    lam = _load_lam(model, checkpoint, seed, splits)
    split = models.split(lam, at=at)
    features = _features(split.onboard, images)
    in_channels = features.shape[-1] if features.dim() == 3 else features.shape[1]
    key = model_key(lam, model, at, splits.name)
    rows: list[dict[str, Any]] = []
    with torch.no_grad():
        base_acc = float((split.remote(features).argmax(1) == labels).float().mean())
    rows.append({"codec": "uncompressed", "setting": "-", "accuracy": base_acc})
    jobs: list[tuple[str, str, Any, bool]] = []
    for name in names:
        if name in IMAGE_CODECS and splits.in_chans not in (1, 3):
            rows.append({"codec": name, "setting": f"n/a: {splits.in_chans} bands (needs 1 or 3)"})
        elif name in IMAGE_CODECS:
            norm = {"mean": splits.pixel_mean, "std": splits.pixel_std}
            for q in quality_list:
                codec = create(name, splits.in_chans, quality=q, **norm)
                jobs.append((name, f"q={q}", codec, True))
        elif name in LEARNED_CODECS:
            found = sorted(codec_cache_dir().glob(f"{key}-{name}-lambda*.pt"))
            if not found:
                rows.append({"codec": name, "setting": "not trained: run `spikesat codec train`"})
            for path in found:
                codec, meta = load_codec(path)
                jobs.append((name, f"lambda={meta.get('lmbda')}", codec, False))
        else:
            jobs.append((name, "-", create(name, in_channels), False))
    with progress_bar() as bar:
        task = bar.add_task("evaluating codecs", total=len(jobs))
        for name, setting, codec, on_images in jobs:
            if on_images:
                result = evaluate_codec(codec, images, labels, split)
            else:
                result = evaluate_codec(codec, features, labels, split.remote)
            rows.append({"codec": name, "setting": setting, **result})
            bar.advance(task)
    _print_table(
        console, rows, f"codecs on {dataset} ({model} split at {at}, {len(labels)} images)"
    )
    summary = {
        "dataset": dataset,
        "model": model,
        "at": at,
        "num_examples": len(labels),
        "rows": rows,
    }
    write_json(json_path, summary)
    if png_path is not None:
        plot_rate_accuracy(rows, png_path, title=f"{model} @ {at} on {dataset}")


app.callback(invoke_without_command=True)(command)


@app.command("train")
def train(
    dataset: DataOption = "synthetic",
    data_dir: DataDirOption = None,
    model: ModelOption = "vit-micro-p8",
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="LAM checkpoint the codec is trained for.", exists=True, dir_okay=False),
    ] = None,
    at: Annotated[str, typer.Option(help="Split point (stage name).")] = "blocks.2",
    codec: Annotated[str, typer.Option(help="'factorized' or 'hyperprior'.")] = "factorized",
    lambdas: Annotated[
        str, typer.Option(help="Rate weights of the sweep (per bit).")
    ] = "0.0001,0.0003,0.001,0.004",
    epochs: Annotated[int, typer.Option(help="Epochs per lambda.", **POSITIVE)] = 5,
    num_samples: Annotated[int, typer.Option(help="Training examples.", **POSITIVE)] = 2048,
    batch_size: Annotated[int, typer.Option(help="Examples per step.", **POSITIVE)] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 5e-3,
    latent_channels: Annotated[
        int, typer.Option(help="Coded channels per position.", **POSITIVE)
    ] = 8,
    seed: Annotated[int, typer.Option(help="Seed of data subset and training.")] = 0,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the sweep as JSON here.")
    ] = None,
) -> None:
    """Train a learned codec over a lambda sweep; checkpoints go to $SPIKESAT_CACHE/codecs."""
    check_choice(codec, LEARNED_CODECS, "--codec")
    lambda_list = _parse_list(lambdas, float, "lambdas")
    if any(not v >= 0 for v in lambda_list):
        raise typer.BadParameter(f"must be >= 0, got {lambda_list}", param_hint="'--lambdas'")
    check_positive(lr, "--lr")
    check_model_and_split(model, at)
    check_output(json_path, "--json")
    import spikesat.models as models

    splits = load_data_splits(
        dataset, data_dir, num_train=num_samples, num_test=max(num_samples // 4, 64), seed=seed
    )
    (images, labels), (val_images, val_labels) = splits.train, splits.val
    lam = _load_lam(model, checkpoint, seed, splits)
    split = models.split(lam, at=at)
    features = _features(split.onboard, images)
    val_features = _features(split.onboard, val_images)
    in_channels = features.shape[-1] if features.dim() == 3 else features.shape[1]
    key = model_key(lam, model, at, splits.name)
    config = CodecTrainConfig(num_epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    with progress_bar() as bar:
        task = bar.add_task("training", total=None)
        entries = train_lambda_sweep(
            codec,
            in_channels,
            lambda_list,
            features,
            labels,
            split.remote,
            codec_kwargs={"latent_channels": latent_channels},
            config=config,
            checkpoint_dir=codec_cache_dir(),
            checkpoint_prefix=f"{key}-",
            meta={"model": model, "at": at, "dataset": dataset, "lam_checkpoint": str(checkpoint)},
            progress=_BarUpdate(bar, task),
        )
    rows = []
    for entry in entries:
        result = evaluate_codec(entry.codec, val_features, val_labels, split.remote)
        rows.append(
            {
                "codec": codec,
                "setting": f"lambda={entry.lmbda:g}",
                **result,
                "checkpoint": str(entry.checkpoint),
            }
        )
    _print_table(Console(), rows, f"{codec} sweep on {dataset} val ({model} @ {at})")
    write_json(json_path, {"rows": rows, "sweep": [e.to_dict() for e in entries]})


class _BarUpdate:
    """Sweep progress -> rich bar (picklable callable)."""

    def __init__(self, bar: Progress, task: Any) -> None:
        self.bar, self.task = bar, task

    def __call__(self, lmbda: float, step: int, total: int, metrics: dict[str, float]) -> None:
        self.bar.update(
            self.task,
            completed=step,
            total=total,
            description=f"lambda {lmbda:g}: loss {metrics['loss']:.3f}, {metrics['bits']:.0f} bit",
        )


def _print_table(console: Console, rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for col in ("codec", "setting", "bytes/img (wire)", "payload bytes", "accuracy"):
        table.add_column(col)
    for row in rows:
        wire = row.get("bytes_per_example")
        payload = row.get("payload_bytes_per_example")
        acc = row.get("accuracy")
        table.add_row(
            row["codec"],
            str(row.get("setting", "")),
            "-" if wire is None else f"{wire:.1f}",
            "-" if payload is None else f"{payload:.1f}",
            "-" if acc is None else f"{100 * acc:.2f}%",
        )
    console.print(table)


def plot_rate_accuracy(rows: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Scatter bytes per image (log) against accuracy, one series per codec; write ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        if row.get("bytes_per_example") is not None:
            series.setdefault(row["codec"], []).append((row["bytes_per_example"], row["accuracy"]))
    colors = plt.cm.tab20.colors
    markers = "osD^v<>phX*"
    for i, (name, points) in enumerate(sorted(series.items())):
        points.sort()
        ax.plot(
            [p[0] for p in points],
            [100 * p[1] for p in points],
            marker=markers[i % len(markers)],
            color=colors[i % len(colors)],
            label=name,
        )
    base = [r["accuracy"] for r in rows if r["codec"] == "uncompressed"]
    if base:
        ax.axhline(100 * base[0], color="k", ls="--", lw=1, label="uncompressed")
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image on the wire (headers + CRC)")
    ax.set_ylabel("accuracy [%]")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
