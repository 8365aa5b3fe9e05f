"""Pooled split features of a quickly trained LAM, cached under ``SPIKESAT_CACHE``.

The spiking heads sit on the features a LAM's on-board part produces (``lam.forward_features``,
``[N, D]`` pooled). :func:`lam_features` trains the LAM with :func:`spikesat.train.fit` on a
registered data source (:func:`spikesat.data.list_sources`), loads the checkpoint a previous
run cached, or takes a model's shipped weights (``pretrained=True``), and returns the features
of a train and a test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from spikesat.data import load_source
from spikesat.models import (
    LAM,
    cache_dir,
    create,
    load_checkpoint,
    pretrained_info,
    save_checkpoint,
)
from spikesat.models.pretrained import WEIGHTS_DIR
from spikesat.train import TrainConfig, fit


@dataclass
class SplitFeatures:
    """A trained LAM and the pooled features of its train and test images.

    Attributes
    ----------
    lam : LAM
        The trained model (eval mode).
    train_features, test_features : torch.Tensor
        ``[N, D]`` and ``[M, D]`` pooled features.
    train_labels, test_labels : torch.Tensor
        ``[N]`` and ``[M]`` class indices.
    checkpoint : Path
        Where the LAM is cached.
    """

    lam: LAM
    train_features: torch.Tensor
    train_labels: torch.Tensor
    test_features: torch.Tensor
    test_labels: torch.Tensor
    checkpoint: Path


def lam_features(
    dataset: str = "synthetic",
    model: str = "vit-micro-p8",
    num_samples: int = 1500,
    image_size: int = 64,
    epochs: int = 3,
    seed: int = 0,
    use_cache: bool = True,
    progress: bool = True,
    data_dir: str | Path | None = None,
    pretrained: bool = False,
) -> SplitFeatures:
    """Train (or load) a LAM and compute its pooled features on a train and a test split.

    Parameters
    ----------
    dataset : str
        A data source (:func:`spikesat.data.list_sources`): "synthetic" scenes (70 % / 30 %
        of ``num_samples`` for train / test), "eurosat" (RGB, from ``data_dir`` or
        ``SPIKESAT_DATA_DIR``) or "folder" (an image folder ``data_dir``); for files,
        ``num_samples`` caps the train and the test split.
    model : str
        A name from :func:`spikesat.models.list_models`.
    num_samples : int
        Scenes to generate, or the cap per split of files.
    image_size : int
        Image side [pixels] (scenes rendered, files read at it); ViTs are built for it.
    epochs : int
        Training epochs of the LAM.
    seed : int
        Seed of the data, the model initialisation and the training.
    use_cache : bool
        Load the LAM from the cache when a checkpoint of the same recipe exists.
    progress : bool
        Show rich progress bars.
    data_dir : path, optional
        The data's folder (see :func:`spikesat.data.load_source`); None for synthetic scenes.
    pretrained : bool
        Use the weights ``model`` ships with (:func:`spikesat.models.pretrained_info`) instead
        of training; ``epochs`` and ``use_cache`` are then unused.

    Raises
    ------
    ValueError
        ``num_samples`` below 20, or ``pretrained`` for a model that ships no weights or whose
        weights read other bands or classes than ``dataset``.
    """
    if not isinstance(num_samples, int) or num_samples < 20:
        raise ValueError(f"num_samples must be an integer >= 20, got {num_samples!r}")
    if dataset == "synthetic":
        cut = int(0.7 * num_samples)
        sizes = {"num_train": cut, "num_test": num_samples - cut}
    else:
        sizes = {"num_train": num_samples, "num_test": num_samples}
    splits = load_source(dataset, data_dir, seed=seed, image_size=image_size, **sizes)
    train, test = splits.train, splits.test
    tag = f"snn-{model}-{splits.name}-n{num_samples}-s{image_size}-e{epochs}-seed{seed}.pt"
    path = cache_dir() / tag
    if pretrained:
        lam, path = _shipped(model, splits.in_chans, len(splits.classes))
    elif use_cache and path.is_file():
        lam, _ = load_checkpoint(path)
    else:
        size = {"img_size": image_size} if model.startswith("vit") else {}
        lam = create(
            model, in_chans=splits.in_chans, num_classes=len(splits.classes), seed=seed, **size
        )
        result = fit(
            lam,
            train,
            test,
            TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, seed=seed, device="auto"),
            progress=progress,
        )
        save_checkpoint(lam, path, meta={"val_accuracy": result.val_accuracy, "recipe": tag})
    lam = lam.cpu().eval()
    return SplitFeatures(
        lam=lam,
        train_features=_features(lam, train[0]),
        train_labels=train[1],
        test_features=_features(lam, test[0]),
        test_labels=test[1],
        checkpoint=path,
    )


def _shipped(model: str, in_chans: int, num_classes: int) -> tuple[LAM, Path]:
    """The shipped weights of ``model`` and their file, checked against the data."""
    info = pretrained_info(model)
    config = info["config"]
    if (config["in_chans"], config["num_classes"]) != (in_chans, num_classes):
        raise ValueError(
            f"the shipped {model} reads {config['in_chans']} bands and answers "
            f"{config['num_classes']} classes, the data has {in_chans} bands and {num_classes} "
            f"classes: use dataset='eurosat' (RGB) or train one with pretrained=False"
        )
    return create(model, pretrained=True), WEIGHTS_DIR / info["file"]


def _features(lam: LAM, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat(
            [
                lam.forward_features(images[i : i + batch_size])
                for i in range(0, len(images), batch_size)
            ]
        )
