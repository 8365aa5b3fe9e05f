"""The EoS-FM specialists, trained here: one small CNN per data set or task.

EoS-FM's specialists are ConvNeXt V2-Atto. Trained from scratch on this 2-core CPU (64 x 64
EuroSAT RGB, AdamW 2e-3, batch 128) it reached only 82.6% validation accuracy after 8 of 30
epochs at 165-243 s each, far from the >= 97% the reference LAM must reach: LayerNorm-GELU
ConvNeXts learn a 19k-image data set slowly from scratch, and a 4x4 patchify stem leaves a
64 x 64 patch a 16 x 16 grid. The specialists are therefore :mod:`~spikesat.models.resnet9`
(BatchNorm-ReLU, 1.7 M parameters, 95 M MACs, about twice as fast per epoch here), which
also converts whole to a spiking network. ``convnextv2-atto`` stays in the zoo.

Three recipes (:data:`SPECIALISTS`), each trained apart, as EoS-FM's specialists are:

- ``"eurosat-rgb"``: land cover on EuroSAT RGB (10 classes), from scratch: the **reference LAM**,
  whose fp16 weights ship with the package (``models.create("resnet9", pretrained=True)``;
  ``scripts/train_reference_lam.py``);
- ``"cloud"``: cloud cover of real EuroSAT RGB scenes under the seeded synthetic clouds of
  :mod:`spikesat.inference.clouds`, as the five classes of :data:`CLOUD_COVER_CLASSES`
  (the okta bands of aviation reports), from scratch;
- ``"eurosat-ms"``: land cover on the 13-band EuroSAT MS pairs in the shared data (270 scenes,
  189 to train), initialised from the reference LAM with its stem inflated to 13 bands: the
  filters of B04, B03 and B02 are the RGB filters, the other ten start at zero. Too few
  scenes to train 3.4 M parameters from scratch; the initialisation is the pretraining.

Training state is checkpointed under ``$SPIKESAT_CACHE/specialists`` every epoch (an
interrupted run resumes; ``stop_after_epochs`` trains part of it), and the finished model is
saved there with its test accuracy, training time and the machine's description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spikesat.models.lam import LAM

CLOUD_COVER_EDGES = (0.0625, 0.3125, 0.5625, 0.9375)
"""Cover fractions between the classes: 1/16, 5/16, 9/16 and 15/16 (half an okta from
0, 2, 4 and 7 oktas)."""
CLOUD_COVER_CLASSES = ("clear", "few", "scattered", "broken", "overcast")
"""Cloud-cover classes: 0 oktas, 1-2, 3-4, 5-7 and 8."""


@dataclass(frozen=True)
class SpecialistRecipe:
    """How one specialist is trained.

    Attributes
    ----------
    name : str
        Registry name (``"eurosat-rgb"``, ``"cloud"``, ``"eurosat-ms"``).
    model : str
        Zoo model (``spikesat.models.create``).
    bands : str
        Band set of its input (a :data:`spikesat.data.bands.BAND_SETS` name).
    description : str
    train : dict
        :class:`~spikesat.train.TrainConfig` fields.
    init : str
        ``"scratch"`` or ``"reference"`` (the shipped reference LAM, stem inflated).
    """

    name: str
    model: str
    bands: str
    description: str
    train: dict[str, Any] = field(default_factory=dict)
    init: str = "scratch"


SPECIALISTS: dict[str, SpecialistRecipe] = {
    recipe.name: recipe
    for recipe in (
        SpecialistRecipe(
            "eurosat-rgb",
            "resnet9",
            "rgb",
            "EuroSAT RGB land cover (10 classes), from scratch: the reference LAM",
            dict(epochs=40, batch_size=128, lr=2e-3, weight_decay=0.05, warmup_epochs=2.0),
        ),
        SpecialistRecipe(
            "cloud",
            "resnet9",
            "rgb",
            "cloud cover (5 okta classes) of EuroSAT RGB scenes under seeded clouds, from scratch",
            dict(epochs=6, batch_size=128, lr=2e-3, weight_decay=0.05, warmup_epochs=1.0),
        ),
        SpecialistRecipe(
            "eurosat-ms",
            "resnet9",
            "s2-l1c",
            "EuroSAT MS land cover (13 bands, 189 training scenes), from the reference LAM",
            dict(epochs=30, batch_size=32, lr=5e-4, weight_decay=0.05, warmup_epochs=2.0),
            init="reference",
        ),
    )
}
"""The specialist recipes, by name."""


def get_recipe(name: str) -> SpecialistRecipe:
    """The recipe ``name``; an unknown name lists the choices."""
    if name not in SPECIALISTS:
        raise ValueError(f"unknown specialist {name!r}; choose one of {', '.join(SPECIALISTS)}")
    return SPECIALISTS[name]


def cloud_cover_class(fraction: torch.Tensor) -> torch.Tensor:
    """Cloud fractions ``[N]`` in [0, 1] -> cover classes ``[N]`` (int64, see
    :data:`CLOUD_COVER_CLASSES`)."""
    return torch.bucketize(fraction, torch.tensor(CLOUD_COVER_EDGES, dtype=fraction.dtype))


def specialist_splits(name: str, data_dir: str | Path | None = None, seed: int = 0) -> Any:
    """The train / val / test data of specialist ``name`` as a :class:`~spikesat.data.Splits`.

    ``data_dir`` is the shared data folder (holding ``eurosat_rgb/`` and ``eurosat_ms/``),
    default ``$SPIKESAT_DATA_DIR``.
    """
    from spikesat.data.eurosat import MS_MEAN, MS_STD, RGB_MEAN, RGB_STD, eurosat_pairs
    from spikesat.data.sources import Splits
    from spikesat.inference.data import task_data

    recipe = get_recipe(name)
    base = None if data_dir is None else Path(data_dir)
    if recipe.name == "eurosat-ms":
        splits = ("train", "val", "test")
        parts = {s: eurosat_pairs(base, s, seed=seed).ms.tensors() for s in splits}
        classes, mean, std = _classes(), MS_MEAN, MS_STD
    elif recipe.name == "cloud":
        parts = {}
        for split in ("train", "val", "test"):
            data = task_data("cloud", split, base, seed=seed)
            parts[split] = (data.inputs["rgb"], cloud_cover_class(data.target))
        classes, mean, std = CLOUD_COVER_CLASSES, RGB_MEAN, RGB_STD
    else:
        parts = {}
        for split in ("train", "val", "test"):
            data = task_data("landcover", split, base, seed=seed)
            parts[split] = (data.inputs["rgb"], data.target)
        classes, mean, std = _classes(), RGB_MEAN, RGB_STD
    return Splits(
        f"eurosat-{name}" if name == "cloud" else name,
        parts["train"],
        parts["val"],
        parts["test"],
        tuple(classes),
        pixel_mean=tuple(mean),
        pixel_std=tuple(std),
    )


def _classes() -> tuple[str, ...]:
    from spikesat.data.eurosat import EUROSAT_CLASSES

    return tuple(EUROSAT_CLASSES)


def inflate_stem(lam: LAM, bands: tuple[str, ...], rgb: tuple[str, ...]) -> LAM:
    """A copy of the RGB model ``lam`` taking ``bands``: its first convolution's filters of the
    RGB bands (``rgb``, in ``lam``'s channel order) are kept, the others start at zero, so the
    inflated model answers a 13-band scene as ``lam`` answers its RGB bands."""
    from spikesat.models.registry import create

    config = {**lam.config, "in_chans": len(bands)}
    name = lam.name
    out = create(name, **config)
    state = lam.state_dict()
    own = out.state_dict()
    for key, value in state.items():
        if own[key].shape == value.shape:
            own[key] = value
            continue
        inflated = torch.zeros_like(own[key])
        for i, band in enumerate(rgb):
            inflated[:, bands.index(band)] = value[:, i]
        own[key] = inflated
    out.load_state_dict(own)
    return out


def train_specialist(
    name: str,
    data_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    stop_after_epochs: int | None = None,
    splits: Any | None = None,
    epochs: int | None = None,
) -> tuple[LAM, dict[str, Any]]:
    """Train (or load from the cache) the specialist ``name``.

    Parameters
    ----------
    name : str
        One of :data:`SPECIALISTS`.
    data_dir : path, optional
        The shared data folder (default ``$SPIKESAT_DATA_DIR``).
    seed : int
        Seed of the data split, the initialisation and the training.
    progress : bool
        Show a progress bar.
    stop_after_epochs : int, optional
        Train at most this many epochs in this call; the state is kept and a later call
        continues (the returned model is then unfinished and ``meta["finished"]`` is False).
    splits : Splits, optional
        The data (default: :func:`specialist_splits`).
    epochs : int, optional
        Train this many epochs instead of the recipe's (a smoke run).

    Returns
    -------
    (LAM, dict)
        The model (eval mode) and its record: ``test_accuracy``, ``epochs``,
        ``train_wall_time_s`` (summed over every call), ``machine``, ``finished``.
    """
    from spikesat._machine import machine_info
    from spikesat.data.bands import BAND_SETS
    from spikesat.models.checkpoint import load_checkpoint, save_checkpoint
    from spikesat.models.registry import create
    from spikesat.train.loop import TrainConfig, evaluate, fit

    recipe = get_recipe(name)
    data = splits if splits is not None else specialist_splits(name, data_dir, seed)
    settings = {**recipe.train, **({} if epochs is None else {"epochs": epochs})}
    folder = _cache() / "specialists"
    tag = f"{recipe.model}-{data.name}-n{len(data.train[1])}-e{settings['epochs']}-seed{seed}"
    final = folder / f"{tag}.pt"
    if final.is_file():
        lam, meta = load_checkpoint(final)
        return lam.eval(), meta
    num_classes = len(data.classes)
    if recipe.init == "reference":
        reference = create(recipe.model, pretrained=True)
        lam = inflate_stem(reference, BAND_SETS[recipe.bands], BAND_SETS["rgb"])
    else:
        lam = create(recipe.model, in_chans=data.in_chans, num_classes=num_classes, seed=seed)
    config = TrainConfig(**settings, seed=seed)
    state = folder / f"{tag}-state.pt"
    folder.mkdir(parents=True, exist_ok=True)
    result = fit(
        lam,
        data.train,
        data.val,
        config,
        checkpoint_path=state,
        resume=True,
        progress=progress,
        stop_after_epochs=stop_after_epochs,
    )
    meta: dict[str, Any] = {
        "specialist": recipe.name,
        "description": recipe.description,
        "bands": recipe.bands,
        "classes": list(data.classes),
        "recipe": {**settings, "seed": seed, "init": recipe.init},
        "epochs_done": len(result.history),
        "train_wall_time_s": sum(r.get("epoch_time_s", 0.0) for r in result.history),
        "history": result.history,
        "machine": machine_info(),
        "finished": len(result.history) >= config.epochs,
        "num_train": len(data.train[1]),
    }
    if meta["finished"]:
        test = evaluate(lam, data.test)
        meta.update(test_accuracy=test["accuracy"], num_test=test["num_examples"])
        save_checkpoint(lam, final, meta=meta)
    return lam.eval(), meta


def _cache() -> Path:
    from spikesat.data.cache import cache_dir

    return cache_dir()
