"""``run_demo``: every stage of the data path on embedded defaults, one table row per stage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import spikesat.models as models
from spikesat.cli._data import data_source
from spikesat.cli.demo.codec import demo_codec
from spikesat.cli.demo.lam import (
    DEMO_EPOCHS,
    DEMO_MODEL,
    DEMO_NUM_TRAIN,
    DEMO_SPLIT_AT,
    demo_lam,
    in_batches,
)
from spikesat.cli.demo.specialists import specialists_stage
from spikesat.cli.demo.spiking_onboard import snn_onboard_stage
from spikesat.cli.demo.stages import (
    codec_stage,
    decompose_stage,
    energy_stage,
    federated_stage,
    link_stage,
    orbit_stage,
    services_stage,
    snn_stage,
)
from spikesat.train import evaluate


def run_demo(
    data_dir: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
    num_train: int = DEMO_NUM_TRAIN,
    epochs: int = DEMO_EPOCHS,
    codec_epochs: int = 4,
    source: str | None = None,
) -> dict[str, Any]:
    """Run every stage of the demo and return its results (JSON-ready).

    Stages: data -> LAM -> split -> remote inference -> orbit (next pass of the capturing
    satellite) -> link (downlink SNR and MODCOD over its passes) -> codec (a trained factorized
    codec's bytes over that link, against JPEG) -> spiking head -> spiking on-board part (a
    hybrid SNN against its INT8 ANN) -> energy per inference -> federated fine-tuning rounds
    over the constellation -> multi-task services -> specialists (the shipped reference LAM and
    the demo LAM fused by a gate, then pruned).

    Parameters
    ----------
    data_dir : path, optional
        The data's folder: a EuroSAT RGB root (the folder holding ``2750/``) or, with
        ``source="folder"``, an image folder ``<class>/<image>``.
    seed : int
        Seed of the data, the training, the satellite and the fading.
    progress : bool
        Show progress bars.
    num_train, epochs : int
        Size of the demo LAM's training run.
    codec_epochs : int
        Training epochs of the demo codec.
    source : str, optional
        A data source (:func:`spikesat.data.list_sources`); default "eurosat" with a
        ``data_dir``, built-in "synthetic" scenes without.

    Returns
    -------
    dict
        ``{"stages": [{"stage", "what", "result"}, ...], "summary": {...}}``.
    """
    began = time.time()
    source = data_source(source, data_dir)
    stages: list[dict[str, Any]] = []
    lam, splits, meta = demo_lam(source, data_dir, seed, progress, num_train, epochs)
    lam.eval()
    test_images, test_labels = splits.test
    stages.append(
        {
            "stage": "data",
            "what": splits.name,
            "result": f"{len(splits.train[1])} train / {len(test_labels)} test images "
            f"{tuple(test_images.shape[1:])}",
        }
    )
    params = sum(p.numel() for p in lam.parameters())
    stages.append(
        {
            "stage": "LAM",
            "what": f"{DEMO_MODEL} ({params / 1e6:.2f} M params)",
            "result": _lam_origin(meta),
        }
    )
    point = next(
        p for p in models.split_points(lam, tuple(test_images.shape[1:])) if p.at == DEMO_SPLIT_AT
    )
    sm = models.split(lam, at=DEMO_SPLIT_AT)
    stages.append(
        {
            "stage": "split",
            "what": f"at {DEMO_SPLIT_AT}",
            "result": f"features {point.feature_shape}, {point.bytes_fp32} B fp32, "
            f"{point.onboard_macs / 1e6:.1f} M MACs on board",
        }
    )
    features = in_batches(sm.onboard, test_images)
    full = evaluate(lam, splits.test)
    split_acc = evaluate(sm.remote, (features, test_labels))
    stages.append(
        {
            "stage": "remote",
            "what": "ground-side inference on the features",
            "result": f"accuracy {100 * split_acc['accuracy']:.1f}% "
            f"(whole model {100 * full['accuracy']:.1f}%)",
        }
    )
    orbit_row, orbit, plan = orbit_stage(seed)
    stages.append(orbit_row)
    codec, codec_meta = demo_codec(
        sm,
        splits.train,
        meta["checkpoint"],
        seed,
        progress,
        codec_epochs,
    )
    feature_bytes = sum(b.num_bytes for b in codec.compress(features[:1]))
    link_row, link, state = link_stage(plan, orbit["sat"], feature_bytes, seed)
    stages.append(link_row)
    codec_row, coded = codec_stage(
        sm,
        codec,
        features,
        test_labels,
        test_images,
        state,
        splits.pixel_mean,
        splits.pixel_std,
        seed,
    )
    stages.append(codec_row)
    snn_row, spiking = snn_stage(lam, splits.train, splits.test, meta["checkpoint"], seed)
    stages.append(snn_row)
    onboard_row, spiking_onboard = snn_onboard_stage(lam, DEMO_SPLIT_AT, splits.train, splits.test)
    stages.append(onboard_row)
    energy_row, energy = energy_stage(sm.onboard, test_images[:1], coded["bytes_per_image"], state)
    stages.append(energy_row)
    federated_row, federated = federated_stage(lam, splits, seed)
    stages.append(federated_row)
    decompose_row, decomposition = decompose_stage(lam, splits, seed)
    stages.append(decompose_row)
    services_row, services = services_stage(source, data_dir, seed, progress)
    stages.append(services_row)
    specialists_row, specialists = specialists_stage(lam, splits, seed, progress)
    stages.append(specialists_row)
    return {
        "stages": stages,
        "summary": {
            "data": splits.name,
            "model": DEMO_MODEL,
            "split_at": DEMO_SPLIT_AT,
            "split_point": point.to_dict(),
            "accuracy": split_acc["accuracy"],
            "accuracy_whole_model": full["accuracy"],
            "checkpoint": meta["checkpoint"],
            "orbit": orbit,
            "link": link,
            "codec": {**coded, "cached": codec_meta["cached"]},
            "snn": spiking,
            "snn_onboard": spiking_onboard,
            "energy": energy,
            "federated": federated,
            "decompose": decomposition,
            "services": services,
            "specialists": specialists,
            "wall_time_s": round(time.time() - began, 1),
        },
    }


def _lam_origin(meta: dict[str, Any]) -> str:
    """Where the demo LAM came from: shipped, cached or trained in this run."""
    if meta.get("shipped"):
        return "shipped with spikesat (python scripts/make_demo_weights.py retrains it)"
    if meta["cached"]:
        return "loaded from cache"
    return (
        f"trained {meta['epochs']} epochs + head re-fit ({meta['head_epochs']} epochs on "
        f"frozen features) in {meta['train_wall_time_s']} s"
    )
