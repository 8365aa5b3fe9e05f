"""The demo's specialists stage: the shipped reference LAM beside the demo's own LAM, fused by
a learned top-k gate, then pruned to the specialist the gate keeps.

Both specialists stay frozen; only the gate, the per-specialist norms and the linear head
train (on the demo's training scenes). The reference reads its inputs through an adapter that
re-normalises the demo's scenes to its own EuroSAT RGB pixel statistics; on data that is not
three-band, the stage is skipped (the reference reads RGB). The ensemble is trained with both
selected, then under a k = 1 mask, and pruned: the unselected specialist's weights and MACs are
gone and the answers are those of the masked ensemble.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torchvision.transforms import Normalize

DEMO_ENSEMBLE_EPOCHS = 2
DEMO_ENSEMBLE_TRAIN = 1000
"""Training scenes the gate and head fit on (a linear head: a thousand scenes suffice)."""


def renormalize(
    source: tuple[tuple[float, ...], tuple[float, ...]],
    target: tuple[tuple[float, ...], tuple[float, ...]],
) -> nn.Module:
    """``[B, C, H, W]`` images normalised by ``source = (mean, std)`` -> the same images
    normalised by ``target = (mean, std)`` (one value per band)."""
    mean, std = (torch.tensor(v) for v in source)
    return nn.Sequential(Normalize(-mean / std, 1 / std), Normalize(*target))


def specialists_stage(
    lam: torch.nn.Module, splits: Any, seed: int, progress: bool
) -> tuple[dict[str, str], dict[str, Any]]:
    """Fuse the demo LAM with the shipped ``resnet9`` and prune to one specialist.

    Returns
    -------
    (row, figures)
        The table row and the figures: the reference's shipped accuracy, full and pruned
        ensemble accuracy on the demo's test scenes, MACs per scene of each, the kept name.
    """
    import spikesat.models as models
    from spikesat.train import TrainConfig, evaluate, fit

    info = models.pretrained_info("resnet9")
    bands = splits.train[0].shape[1]
    if bands != info["config"]["in_chans"]:
        why = f"skipped: the shipped resnet9 reads RGB, these scenes have {bands} bands"
        return {"stage": "specialists", "what": "reference LAM + demo LAM", "result": why}, {}
    reference = models.create("resnet9", pretrained=True)
    nets = {"demo-lam": lam, "eurosat-rgb": reference}
    to_reference = renormalize(
        (splits.pixel_mean, splits.pixel_std), (info["pixel_mean"], info["pixel_std"])
    )
    with torch.random.fork_rng():  # a seeded gate and head, the global RNG untouched
        torch.manual_seed(seed)
        ens = models.ensemble(
            nets, num_classes=len(splits.classes), sample=splits.train[0][:2],
            adapters={"eurosat-rgb": to_reference},
        )  # fmt: skip
    config = TrainConfig(
        epochs=DEMO_ENSEMBLE_EPOCHS, batch_size=128, lr=3e-3, weight_decay=0.0,
        warmup_epochs=0.0, label_smoothing=0.0, augment=False, seed=seed,
    )  # fmt: skip
    train = tuple(part[:DEMO_ENSEMBLE_TRAIN] for part in splits.train)
    fit(ens, train, config=config, parameters=list(ens.trainable_parameters()),
        progress=progress)  # fmt: skip
    full = evaluate(ens, splits.test)
    one = splits.test[0][:1]
    macs_full = models.count_macs(ens.eval(), one)
    masked = copy.deepcopy(ens)
    masked.set_k(1)
    fit(
        masked, train, config=config, parameters=list(masked.trainable_parameters()),
        progress=progress,
    )  # fmt: skip
    pruned = masked.prune()
    kept = pruned.selected()
    pruned_acc = evaluate(pruned, splits.test)
    macs_pruned = models.count_macs(pruned.eval(), one)
    figures = {
        "reference_test_accuracy": info["test_accuracy"],
        "reference_train_wall_time_s": info["train_wall_time_s"],
        "ensemble_accuracy": full["accuracy"],
        "pruned_accuracy": pruned_acc["accuracy"],
        "kept": kept,
        "macs_full": macs_full,
        "macs_pruned": macs_pruned,
    }
    what = (
        f"shipped resnet9 ({100 * info['test_accuracy']:.1f}% EuroSAT RGB test) + demo "
        "LAM, top-k gate"
    )
    result = (
        f"k=2 {100 * full['accuracy']:.1f}% at {macs_full / 1e6:.1f} M MACs; pruned to "
        f"{kept[0]}: {100 * pruned_acc['accuracy']:.1f}% at {macs_pruned / 1e6:.1f} M MACs"
    )
    return {"stage": "specialists", "what": what, "result": result}, figures
