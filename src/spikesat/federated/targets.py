"""Real accuracy targets for federated runs: a fraction of what centralised training reaches.

A federated strategy is timed to a target that means something: the accuracy the same model
reaches when all the satellites' training images are pooled and trained on in one place (the
upper bound a federation approaches), times a fraction (say 0.9). :func:`centralised_accuracy`
trains that reference from the same starting weights (a pretrained LAM, as the seeds fine-tune
one); :func:`real_target` derives the target and refuses one above the reference.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

from torch import nn

from spikesat.federated.data import FederatedData


def centralised_accuracy(
    model: nn.Module,
    data: FederatedData,
    epochs: int = 5,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train a copy of ``model`` on every satellite's training images pooled; score it.

    Parameters
    ----------
    model : nn.Module
        The federation's starting model (left unchanged): images ``[B, C, H, W]`` -> logits.
    data : FederatedData
        The federation's data: its pooled ``train_images`` / ``train_labels`` are the training
        set, its ``test_images`` / ``test_labels`` the test set the strategies are scored on.
    epochs, lr, batch_size, seed, device
        Training settings (AdamW, warm-up and cosine, augmentation: ``spikesat.train.fit``).

    Returns
    -------
    dict
        ``accuracy`` and ``loss`` on the test set, ``start_accuracy`` (the model before
        training), ``epochs``, ``num_train`` and ``wall_s``.
    """
    from spikesat.train.loop import TrainConfig, evaluate, fit

    if not isinstance(data, FederatedData):
        raise TypeError(f"data must be a FederatedData, got {type(data).__name__}")
    test = (data.test_images, data.test_labels)
    began = time.time()
    start = evaluate(model, test, device=device)["accuracy"]
    net = copy.deepcopy(model)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device)
    fit(net, (data.train_images, data.train_labels), config=config, progress=False)
    scores = evaluate(net, test, device=device)
    return {
        "accuracy": float(scores["accuracy"]),
        "loss": float(scores["loss"]),
        "start_accuracy": float(start),
        "epochs": epochs,
        "num_train": len(data.train_labels),
        "wall_s": time.time() - began,
    }


def real_target(centralised: float, fraction: float = 0.9) -> float:
    """The accuracy a federated run must reach: ``fraction`` of the centralised accuracy.

    Raises
    ------
    ValueError
        If ``centralised`` is not an accuracy in (0, 1] or ``fraction`` not in (0, 1] (a
        target above the centralised accuracy is one no federation is expected to reach).
    """
    if not (isinstance(centralised, int | float) and 0 < centralised <= 1):
        raise ValueError(f"centralised must be an accuracy in (0, 1], got {centralised!r}")
    if not (isinstance(fraction, int | float) and math.isfinite(fraction) and 0 < fraction <= 1):
        raise ValueError(
            f"fraction must be in (0, 1], got {fraction!r}: a target above the centralised "
            f"accuracy ({centralised:.4f}) is not a real target"
        )
    return float(fraction * centralised)


def check_target(target: float, centralised: float | None) -> None:
    """Refuse a target a federation cannot be held to.

    Raises
    ------
    ValueError
        If ``target`` is not in (0, 1], or above ``centralised`` (when known).
    """
    if not (isinstance(target, int | float) and 0 < target <= 1):
        raise ValueError(f"target_accuracy must be an accuracy in (0, 1], got {target!r}")
    if centralised is not None and target > centralised:
        raise ValueError(
            f"target_accuracy {target:.4f} is above the centralised accuracy {centralised:.4f} "
            "of the same model on the same images; use real_target(centralised, fraction) "
            "with fraction <= 1"
        )
