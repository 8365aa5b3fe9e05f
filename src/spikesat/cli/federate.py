"""``spikesat federate``: run federated strategies over a constellation and report them.

:func:`demo_stage` is the federated row of ``spikesat demo``.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from torch import nn

from spikesat._progress import progress_bar
from spikesat.cli._common import POSITIVE, check_choice, check_output, check_positive, write_json
from spikesat.cli._data import DataDirOption, InferredDataOption, data_source
from spikesat.data import partition
from spikesat.federated.backends import LocalConfig, create_backend, list_backends
from spikesat.federated.compute import list_computers
from spikesat.federated.data import SCHEMES, FederatedData, federated_data
from spikesat.federated.faults import FAILURE_POINTS, FaultModel
from spikesat.federated.simulation import FederationResult, build_network, federate
from spikesat.federated.strategies import list_strategies
from spikesat.models import list_models
from spikesat.orbits import list_presets
from spikesat.train import evaluate

DEMO_SHELL = "research-5x10"
DEMO_NUM_SATS = 50
"""Satellites of the demo's shell."""
DEMO_MIN_SCENES = 5 * DEMO_NUM_SATS
"""Scenes the demo's federation needs: a Dirichlet(0.5) split must leave none empty."""
DEMO_NOISE_STD = 0.15
"""Read noise of the demo's new sensor [pixel units in [0, 1]]."""


def command(
    strategy: Annotated[
        list[str],
        typer.Option(
            "--strategy",
            "-s",
            help="Strategy; repeat for several, or 'all' (fedavg-ground, fedisl, on-board-only, "
            "fedasync, split-lam, split-decomposed).",
        ),
    ] = ["fedavg-ground"],  # noqa: B006  (typer reads the default; it is never mutated)
    constellation: Annotated[
        str, typer.Option(help="Constellation preset (spikesat.orbits.list_presets()).")
    ] = "research-5x10",
    stations: Annotated[
        str, typer.Option(help="Ground-station network name or GeoJSON path.")
    ] = "default",
    num_stations: Annotated[
        int | None, typer.Option(help="Use only the first N stations (default: all).", **POSITIVE)
    ] = None,
    rounds: Annotated[int, typer.Option(help="Federated rounds.", **POSITIVE)] = 5,
    data: InferredDataOption = None,
    data_dir: DataDirOption = None,
    num_train: Annotated[
        int, typer.Option(help="Training examples over all satellites.", **POSITIVE)
    ] = 1000,
    num_test: Annotated[int, typer.Option(help="Server test examples.", **POSITIVE)] = 200,
    image_size: Annotated[int, typer.Option(help="Image side (pixels).", **POSITIVE)] = 32,
    scheme: Annotated[str, typer.Option(help=f"Partition: {', '.join(SCHEMES)}.")] = "dirichlet",
    alpha: Annotated[float, typer.Option(help="Dirichlet concentration (small: non-IID).")] = 0.5,
    model: Annotated[str, typer.Option(help="LAM name.")] = "vit-micro-p8",
    local_epochs: Annotated[int, typer.Option(help="Local epochs per round.", **POSITIVE)] = 1,
    batch_size: Annotated[int, typer.Option(help="Local batch size.", **POSITIVE)] = 16,
    lr: Annotated[float, typer.Option(help="Local AdamW learning rate.")] = 1e-3,
    quorum: Annotated[
        float, typer.Option(help="Fraction of updates (planes) a synchronous round waits for.")
    ] = 1.0,
    intra_plane_rounds: Annotated[
        int,
        typer.Option(
            help="fedisl: plane all-reduce rounds per ground round (hierarchical).", **POSITIVE
        ),
    ] = 1,
    split_steps: Annotated[
        int,
        typer.Option(
            help="split-lam: up to N U-shaped steps per plane within its relay's ground window "
            "(1: one step per round).",
            **POSITIVE,
        ),
    ] = 1,
    micro_batches: Annotated[
        int,
        typer.Option(
            help="split-lam: pipeline each U-shaped step in N micro-batches (the same SGD "
            "step; ISL hops, ground link and computers overlap).",
            **POSITIVE,
        ),
    ] = 1,
    horizon_h: Annotated[float, typer.Option(help="Length of the contact plan (h).")] = 72.0,
    step_s: Annotated[float, typer.Option(help="Contact-plan time step (s).")] = 30.0,
    eclipse: Annotated[
        str | None, typer.Option(help="Compute constraint: 'sunlit' or 'battery'.")
    ] = None,
    onboard: Annotated[
        str, typer.Option(help="On-board computer (spikesat.federated.list_computers()).")
    ] = "jetson-tx2nx",
    price_as: Annotated[
        str | None,
        typer.Option(
            help="Charge the clock this LAM's MACs and update bytes while --model learns "
            "(e.g. vit-base-p8: a ViT-Base-sized schedule)."
        ),
    ] = None,
    price_image_size: Annotated[
        int | None,
        typer.Option(help="Image side the --price-as LAM is priced at (pixels).", **POSITIVE),
    ] = None,
    backend: Annotated[str, typer.Option(help="Training backend: local or ray.")] = "local",
    num_actors: Annotated[int, typer.Option(help="Ray actors (backend ray).", **POSITIVE)] = 2,
    cpus_per_actor: Annotated[
        float,
        typer.Option(help="CPUs per Ray actor (backend ray; 0.5 packs two actors per core)."),
    ] = 1.0,
    failure_prob: Annotated[
        float, typer.Option(help="Per-round probability that a satellite fails for good.")
    ] = 0.0,
    failure_point: Annotated[
        str, typer.Option(help="When it fails: round-start or mid-round (after training).")
    ] = "round-start",
    dropout_prob: Annotated[
        float, typer.Option(help="Per-round probability that a satellite sits a round out.")
    ] = 0.0,
    missed_window_prob: Annotated[
        float, typer.Option(help="Probability that an upload misses its pass.")
    ] = 0.0,
    corruption_prob: Annotated[
        float, typer.Option(help="Probability that an upload arrives corrupted (resent).")
    ] = 0.0,
    checkpoint_dir: Annotated[Path | None, typer.Option(help="Checkpoint folder.")] = None,
    checkpoint_every: Annotated[
        int, typer.Option(help="Checkpoint every K rounds.", **POSITIVE)
    ] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of everything.")] = 0,
    json: Annotated[
        Path | None, typer.Option("--json", help="Write the results (history) here.")
    ] = None,
    png: Annotated[
        Path | None, typer.Option("--png", help="Plot accuracy vs simulated hours here.")
    ] = None,
) -> None:
    """Federated fine-tuning of a LAM over a constellation, on a contact-plan clock."""
    names = list_strategies() if "all" in strategy else list(dict.fromkeys(strategy))
    for name in names:
        if name not in list_strategies():
            raise typer.BadParameter(
                f"unknown strategy {name!r}; choose from {', '.join(list_strategies())} or 'all'",
                param_hint="--strategy",
            )
    check_choice(constellation, [p.name for p in list_presets()], "--constellation")
    check_choice(model, list_models(), "--model")
    check_choice(scheme, SCHEMES, "--scheme")
    check_choice(backend, list_backends(), "--backend")
    check_choice(onboard, list_computers(), "--onboard")
    if price_as is not None:
        check_choice(price_as, list_models(), "--price-as")
    elif price_image_size is not None:
        raise typer.BadParameter(
            "needs --price-as (the LAM priced at that size)", param_hint="--price-image-size"
        )
    if eclipse is not None:
        check_choice(eclipse, ("sunlit", "battery"), "--eclipse")
    for value, option in (
        (alpha, "--alpha"),
        (lr, "--lr"),
        (horizon_h, "--horizon-h"),
        (step_s, "--step-s"),
        (cpus_per_actor, "--cpus-per-actor"),
    ):
        check_positive(value, option)
    if not 0 < quorum <= 1:
        raise typer.BadParameter(f"must be in (0, 1], got {quorum!r}", param_hint="'--quorum'")
    check_output(json, "--json")
    check_output(png, "--png")
    check_choice(failure_point, FAILURE_POINTS, "--failure-point")
    for value, option in (
        (failure_prob, "--failure-prob"),
        (dropout_prob, "--dropout-prob"),
        (missed_window_prob, "--missed-window-prob"),
        (corruption_prob, "--corruption-prob"),
    ):
        if not 0.0 <= value < 1.0:
            raise typer.BadParameter(f"must be in [0, 1), got {value!r}", param_hint=option)
    faults = FaultModel(
        failure_prob=failure_prob,
        failure_point=failure_point,
        dropout_prob=dropout_prob,
        missed_window_prob=missed_window_prob,
        corruption_prob=corruption_prob,
        seed=seed,
    )
    if checkpoint_dir is not None and len(names) > 1:
        raise typer.BadParameter(
            "--checkpoint-dir holds one run: give one --strategy", param_hint="--checkpoint-dir"
        )
    try:
        network = build_network(constellation, stations, num_stations, horizon_h, step_s, seed=seed)
        data = federated_data(
            network.num_sats,
            source=data_source(data, data_dir),
            data_dir=data_dir,
            num_train=num_train,
            num_test=num_test,
            image_size=image_size,
            scheme=scheme,
            alpha=alpha,
            planes=network.planes,
            seed=seed,
        )
        local = LocalConfig(epochs=local_epochs, batch_size=batch_size, lr=lr, device="auto")
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error)) from error
    console = Console()
    results: dict[str, FederationResult] = {}
    with progress_bar(console=console) as bar:
        for name in names:
            task = bar.add_task(f"{name}", total=rounds)
            kwargs = {"quorum": quorum} if name in ("fedavg-ground", "fedisl") else {}
            if name == "fedisl":
                kwargs["intra_plane_rounds"] = intra_plane_rounds
            if name == "split-lam":
                kwargs["micro_batches"] = micro_batches
                if split_steps > 1:
                    kwargs.update(schedule="window", max_steps=split_steps)
            backend_obj = (
                create_backend("ray", num_actors=num_actors, num_cpus_per_actor=cpus_per_actor)
                if backend == "ray"
                else backend
            )
            try:
                results[name] = federate(
                    name,
                    rounds=rounds,
                    data=data,
                    model=model,
                    network=network,
                    eclipse=eclipse,
                    onboard=onboard,
                    price_as=price_as,
                    price_image_size=price_image_size,
                    local=local,
                    backend=backend_obj,
                    faults=faults,
                    seed=seed,
                    checkpoint_dir=checkpoint_dir,
                    checkpoint_every=checkpoint_every,
                    resume=resume,
                    strategy_kwargs=kwargs,
                    progress=_Advance(bar, task),
                )
            except ValueError as error:
                raise typer.BadParameter(str(error)) from error
    console.print(_table(results))
    if json is not None:
        write_json(json, _payload(results))
    if png is not None:
        plot_accuracy(results, png)
        console.print(f"wrote {png}")


class _Advance:
    """Progress callback: advance a rich task by one round."""

    def __init__(self, bar: Progress, task: Any) -> None:
        self.bar = bar
        self.task = task

    def __call__(self, done: int, total: int, entry: dict[str, Any]) -> None:
        self.bar.update(self.task, completed=done, total=total)


def _table(results: dict[str, FederationResult]) -> Table:
    table = Table(title="federated fine-tuning")
    for column in (
        "strategy",
        "rounds",
        "sim hours",
        "accuracy",
        "ISL MB",
        "uplink MB",
        "downlink MB",
        "energy J",
        "wall s",
    ):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, result in results.items():
        history = result.history
        table.add_row(
            name,
            str(len(history)),
            f"{history[-1]['sim_time_h']:.2f}",
            f"{result.final_accuracy:.3f}",
            f"{sum(h['bytes_isl'] for h in history) / 1e6:.1f}",
            f"{sum(h['bytes_ground_up'] for h in history) / 1e6:.1f}",
            f"{sum(h['bytes_ground_down'] for h in history) / 1e6:.1f}",
            f"{sum(h['energy_j'] for h in history):.1f}",
            f"{result.wall_s:.1f}",
        )
    return table


def _payload(results: dict[str, FederationResult]) -> dict[str, Any]:
    history = [
        {"strategy": name, **entry} for name, result in results.items() for entry in result.history
    ]
    return {
        "history": history,
        "runs": {name: result.to_dict() for name, result in results.items()},
    }


def plot_accuracy(results: dict[str, FederationResult], path: str | Path) -> Path:
    """Accuracy against simulated hours, one line per strategy; returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, result in results.items():
        hours = [0.0] + [h["sim_time_h"] for h in result.history]
        accuracy = [1.0 / 10] + [h["accuracy"] for h in result.history]
        ax.step(hours, accuracy, where="post", marker="o", markersize=3, label=name)
    ax.set_xlabel("simulated time [h]")
    ax.set_ylabel("test accuracy")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def demo_stage(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    pixel_std: tuple[float, ...],
    rounds: int = 2,
    strategy: str = "fedisl",
    num_train: int = 250,
    num_test: int = 200,
    noise_std: float = DEMO_NOISE_STD,
    seed: int = 0,
    **federate_kwargs: Any,
) -> dict[str, Any]:
    """Fine-tune a pretrained LAM over the built-in 5 x 10 shell for a new, noisier sensor.

    The satellites' scenes (the first ``num_train`` of ``train``, Dirichlet(0.5) over the 50
    satellites) carry Gaussian read noise of ``noise_std`` (in [0, 1] pixel units) that the
    pretraining data did not have, so the pretrained model loses accuracy on them; the
    federation fine-tunes it back. Accuracy is measured on the first ``num_test`` of ``test``,
    with the same noise, before the first round and after the last.

    Parameters
    ----------
    model : nn.Module
        The pretrained LAM (a copy is fine-tuned; ``model`` is left as it was).
    train, test : (Tensor, Tensor)
        Normalised images ``[N, C, H, W]`` and labels ``[N]`` the model has not trained on.
    pixel_std : tuple of float
        The data's per-band normalisation std (normalised = (pixel - mean) / std).
    rounds : int
        Rounds to run.
    strategy : str
        Strategy name (:func:`list_strategies`).
    num_train, num_test : int
        Scenes shared by the 50 satellites, and scenes the accuracy is measured on.
    noise_std : float
        Standard deviation of the new sensor's read noise, in [0, 1] pixel units.
    seed : int
        Seed of the noise, the partition and the training.
    **federate_kwargs
        More arguments of :func:`federate` (``strategy_kwargs``, ``price_as``, ``onboard``).

    Returns
    -------
    dict
        ``strategy``, ``rounds``, ``noise_std``, ``num_train``, ``accuracy_before``,
        ``accuracy`` (after), ``sim_hours``, ``bytes_isl``, ``bytes_ground`` (up + down),
        ``energy_j`` (all devices) and ``wall_s``.
    """
    began = time.time()
    network = build_network(DEMO_SHELL, "default", horizon_h=24.0, step_s=60.0, seed=seed)
    images, labels = train[0][:num_train], train[1][:num_train]
    if len(labels) < DEMO_MIN_SCENES:
        raise ValueError(
            f"{len(labels)} scenes are too few for a non-IID split over {network.num_sats} "
            f"satellites; pass at least {DEMO_MIN_SCENES}"
        )
    generator = torch.Generator().manual_seed(seed)
    num_classes = int(model.config["num_classes"])
    data = FederatedData(
        add_read_noise(images, noise_std, pixel_std, generator),
        labels,
        add_read_noise(test[0][:num_test], noise_std, pixel_std, generator),
        test[1][:num_test],
        partition(labels.numpy(), network.num_sats, alpha=0.5, seed=seed),
        num_classes,
        "demo",
    )
    before = evaluate(model, (data.test_images, data.test_labels))["accuracy"]
    result = federate(
        strategy,
        network=network,
        data=data,
        rounds=rounds,
        model=copy.deepcopy(model),
        seed=seed,
        **federate_kwargs,
    )
    history = result.history
    return {
        "strategy": strategy,
        "rounds": rounds,
        "noise_std": noise_std,
        "num_train": len(labels),
        "accuracy_before": before,
        "sim_hours": history[-1]["sim_time_h"],
        "accuracy": result.final_accuracy,
        "bytes_isl": int(sum(h["bytes_isl"] for h in history)),
        "bytes_ground": int(sum(h["bytes_ground_up"] + h["bytes_ground_down"] for h in history)),
        "energy_j": float(sum(h["energy_j"] for h in history)),
        "wall_s": time.time() - began,
    }


def add_read_noise(
    images: torch.Tensor,
    noise_std: float,
    pixel_std: tuple[float, ...],
    generator: torch.Generator,
) -> torch.Tensor:
    """Normalised scenes ``[N, C, H, W]`` plus Gaussian noise of ``noise_std`` pixel units.

    ``pixel_std`` (one value per band, or one for all) converts pixel units to normalised ones.
    """
    scale = torch.as_tensor(pixel_std, dtype=images.dtype).reshape(-1, 1, 1)
    noise = torch.randn(images.shape, generator=generator) * (noise_std / scale)
    return images + noise
