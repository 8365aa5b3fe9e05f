"""The demo's downstream stages: orbit, link, codec, spiking head and energy of one inference.

Each function calls the area's own ``demo_stage`` and turns its result into a table row
``{"stage", "what", "result"}`` plus the JSON-ready figures the next stage needs.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import torch

from spikesat.channels import LinkBudget, LinkState
from spikesat.cli.demo.lam import in_batches
from spikesat.energy import EnergyLedger, count_ops
from spikesat.units import db_to_lin

DEMO_BUDGET = "x-band-eo-sentinel2"
DEMO_FADING = "rician"
DEMO_ONBOARD_HARDWARE = "jetson-tx2nx"
DEMO_DEADLINE_S = 1.5
"""Round deadline of the demo's decomposition [s]."""


def _row(stage: str, what: str, result: str) -> dict[str, str]:
    return {"stage": stage, "what": what, "result": result}


def orbit_stage(seed: int) -> tuple[dict[str, str], dict[str, Any], Any]:
    """Which satellite captured the scenes, and when it next sees a ground station.

    Returns
    -------
    (row, figures, plan)
        The table row, the orbit figures and the :class:`~spikesat.orbits.ContactPlan`.
    """
    from spikesat.cli.orbits import demo_stage

    figures = demo_stage(seed=seed)
    plan = figures.pop("plan")
    if figures["wait_s"] is None:
        result = f"{figures['sat_name']}: no ground contact within the plan"
    else:
        result = (
            f"{figures['sat_name']} captures; next pass over {figures['station']} in "
            f"{figures['wait_s'] / 60:.0f} min ({figures['contact_duration_s']:.0f} s long), "
            f"{figures['num_windows']} contact windows in the shell over 6 h"
        )
    return _row("orbit", "research-5x10 shell, built-in stations", result), figures, plan


def link_stage(
    plan: Any, sat: int, feature_bytes: int, seed: int
) -> tuple[dict[str, str], dict[str, Any], LinkState]:
    """The downlink budget over the satellite's passes, and the link state the codec sees.

    The codec is sent at the satellite's median-SNR pass sample (a typical moment of a pass).

    Returns
    -------
    (row, figures, link_state)
    """
    from spikesat.cli.link import demo_stage

    figures = demo_stage(
        plan=plan,
        sat=sat,
        budget=DEMO_BUDGET,
        fading=DEMO_FADING,
        seed=seed,
        feature_bytes=feature_bytes,
    )
    if "link_state" not in figures:
        raise ValueError(
            f"satellite {sat} never sees a station in the demo plan; pick another --seed"
        )
    state = figures.pop("link_state")
    result = (
        f"SNR {figures['min_snr_db']:.1f}..{figures['max_snr_db']:.1f} dB over passes, "
        f"median {figures['median_rate_bps'] / 1e6:.0f} Mbit/s ({figures['most_common_modcod']}); "
        f"sending at {state.snr_db:.1f} dB, {state.modcod}"
    )
    return _row("link", f"{DEMO_BUDGET}, {DEMO_FADING} fading", result), figures, state


def codec_stage(
    split: Any,
    codec: Any,
    features: torch.Tensor,
    labels: torch.Tensor,
    images: torch.Tensor,
    state: LinkState,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    seed: int,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Features through the trained codec and the link, next to JPEG q50 on the raw image.

    JPEG holds grey or RGB images only: for other band counts the comparison is left out.
    """
    from spikesat.cli.demo.codec_stage import demo_stage

    jpeg_quality = 50 if images.shape[1] in (1, 3) else None
    figures = demo_stage(
        split,
        features,
        labels,
        state,
        images,
        codec=codec,
        jpeg_quality=jpeg_quality,
        mean=mean,
        std=std,
        seed=seed,
    )
    result = (
        f"{figures['bytes_per_image']:.0f} B/image, accuracy "
        f"{100 * figures['accuracy']:.1f}% (float {100 * figures['uncompressed_accuracy']:.1f}%)"
    )
    if jpeg_quality is not None:
        result += (
            f"; JPEG q{jpeg_quality} {figures['jpeg_bytes_per_image']:.0f} B/image, "
            f"{100 * figures['jpeg_accuracy']:.1f}%"
        )
    return _row("codec", f"{figures['codec']} over the link, with ARQ", result), figures


def snn_stage(
    lam: torch.nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    lam_checkpoint: str,
    seed: int,
) -> tuple[dict[str, str], dict[str, Any]]:
    """The LAM's task head converted to a spiking head (QCFS, T=4), priced on Loihi.

    The QCFS copy of the head is trained on (a subset of) the LAM's training features (shipped
    with the package for the default demo); the SNN's fair reference is that QCFS ANN. Every
    head is measured on the test images.
    """
    from spikesat.cli.demo.spiking import calibration_features, demo_qcfs_head
    from spikesat.cli.snn import demo_stage

    calibration = calibration_features(lam, train)
    qcfs_head, _ = demo_qcfs_head(lam, calibration, lam_checkpoint, seed)
    figures = demo_stage(
        lam,
        in_batches(lam.forward_features, test[0]),
        test[1],
        num_steps=4,
        method="qcfs",
        seed=seed,
        calibration=calibration,
        qcfs_head=qcfs_head,
    )
    result = (
        f"accuracy {100 * figures['snn_accuracy']:.1f}% (its QCFS ANN "
        f"{100 * figures['qcfs_ann_accuracy']:.1f}%, the LAM's head "
        f"{100 * figures['ann_accuracy']:.1f}%); {figures['snn_j']:.2e} J on "
        f"{figures['snn_hardware']} vs INT8 ANN "
        f"{figures['ann_int8_j']:.2e} J"
    )
    return _row("spiking head", "QCFS, T=4, on the test images", result), figures


def energy_stage(
    onboard: torch.nn.Module,
    image: torch.Tensor,
    bytes_per_image: float,
    state: LinkState,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Joules per inference: on-board compute up to the split plus the downlink of its bytes.

    Parameters
    ----------
    onboard : nn.Module
        The on-board part of the split LAM.
    image : torch.Tensor
        One image ``[1, C, H, W]``.
    bytes_per_image : float
        Bytes the codec puts on the wire per image.
    state : LinkState
        The downlink the bytes go over (rate [bit/s]).
    """
    ledger = EnergyLedger()
    ops = count_ops(onboard.eval(), image)
    ledger.add_compute("satellite", ops, DEMO_ONBOARD_HARDWARE, inference=0)
    budget = LinkBudget.preset(DEMO_BUDGET)
    tx_power_w = float(db_to_lin(budget.tx_power_dbw))
    ledger.add_transmission(
        "satellite", 8.0 * bytes_per_image, state.rate_bps, tx_power_w, inference=0
    )
    totals = ledger.summary(by="inference")[0]
    compute_j, transmit_j = totals["compute_j"], totals["transmit_j"]
    figures = {
        "total_j": ledger.total_j,
        "compute_j": compute_j,
        "transmit_j": transmit_j,
        "onboard_macs": ops.macs,
        "hardware": DEMO_ONBOARD_HARDWARE,
        "tx_power_w": tx_power_w,
        "ledger": ledger.to_dict(),
    }
    result = (
        f"{ledger.total_j:.2e} J per image = {compute_j:.2e} J compute "
        f"({ops.macs / 1e6:.1f} M MACs on {DEMO_ONBOARD_HARDWARE}) + {transmit_j:.2e} J transmit "
        f"({bytes_per_image:.0f} B at {state.rate_bps / 1e6:.0f} Mbit/s, {tx_power_w:.0f} W)"
    )
    return _row("energy", "per inference, EnergyLedger", result), figures


def federated_stage(
    lam: torch.nn.Module, splits: Any, seed: int
) -> tuple[dict[str, str], dict[str, Any]]:
    """Federated fine-tuning (FedISL) of the demo LAM for a new, noisier sensor on the shell.

    The satellites fine-tune on validation scenes (the LAM never trained on them) and the
    accuracy is measured on test scenes, both with the new sensor's read noise.
    """
    from spikesat.cli.federate import DEMO_MIN_SCENES, DEMO_NUM_SATS, demo_stage

    what = f"fedisl fine-tuning, {DEMO_NUM_SATS} satellites, non-IID"
    if len(splits.val[1]) < DEMO_MIN_SCENES:
        result = (
            f"skipped: {len(splits.val[1])} validation scenes, {DEMO_MIN_SCENES} needed for "
            f"{DEMO_NUM_SATS} satellites (the data set is too small)"
        )
        return _row("federated", what, result), {"skipped": result}
    figures = demo_stage(lam, splits.val, splits.test, splits.pixel_std, seed=seed)
    hours = figures["sim_hours"]
    sim = f"{hours:.1f} simulated h" if hours >= 1 else f"{60 * hours:.1f} simulated min"
    result = (
        f"accuracy {100 * figures['accuracy_before']:.1f}% -> {100 * figures['accuracy']:.1f}% "
        f"after {figures['rounds']} rounds ({sim}) on scenes with read noise "
        f"{figures['noise_std']:g} ({figures['num_train']} scenes); "
        f"ISL {figures['bytes_isl'] / 1e6:.1f} MB, ground "
        f"{figures['bytes_ground'] / 1e6:.1f} MB, {figures['energy_j']:.1f} J"
    )
    return _row("federated", what, result), figures


def decompose_stage(
    lam: torch.nn.Module, splits: Any, seed: int
) -> tuple[dict[str, str], dict[str, Any]]:
    """Per-satellite split point and LoRA rank of a ViT over the demo shell (MILP), executed.

    Half the satellites carry a Jetson TX2 NX and half an AGX Orin; the costs are those of
    vit-small-p8 at 64 x 64 (weights are not needed to price it), the deadline
    :data:`DEMO_DEADLINE_S` per round of 4 steps of 16 images, the split points the demo
    LAM's own. One round of ``split-decomposed`` then runs that decomposition: the demo LAM
    learns on the noisy validation scenes (as the federated stage's), priced as vit-small-p8.
    """
    from spikesat.cli.federate import DEMO_MIN_SCENES, DEMO_SHELL, demo_stage
    from spikesat.federated import build_network, decompose
    from spikesat.models import create

    began = time.time()
    network = build_network(DEMO_SHELL, "default", horizon_h=24.0, step_s=60.0, seed=seed)
    devices = ["jetson-tx2nx", "jetson-agx-orin"] * (network.num_sats // 2 + 1)
    devices = devices[: network.num_sats]
    image_size = int(lam.config["img_size"])
    priced = create("vit-small-p8", in_chans=3, num_classes=10, img_size=image_size)
    plan = decompose(
        priced,
        network,
        splits=[n for n in lam.stage_names if n == "patch_embed" or n.startswith("blocks.")],
        onboard=devices,
        objective="rank",
        deadline_s=DEMO_DEADLINE_S,
    )
    chosen = Counter((d.split_at, d.lora_rank) for d in plan.values())
    makespan_s = max(d.round_s for d in plan.values())
    figures: dict[str, Any] = {
        "choices": {f"{at} r={rank}": n for (at, rank), n in sorted(chosen.items())},
        "makespan_s": makespan_s,
    }
    picks = ", ".join(f"{n} x {key}" for key, n in figures["choices"].items())
    result = f"{picks}; slowest round {makespan_s:.2f} s within the {DEMO_DEADLINE_S:g} s deadline"
    if len(splits.val[1]) >= DEMO_MIN_SCENES:
        run = demo_stage(
            lam, splits.val, splits.test, splits.pixel_std, rounds=1,
            strategy="split-decomposed", seed=seed, onboard=devices, price_as="vit-small-p8",
            strategy_kwargs={"decomposition": plan},
        )  # fmt: skip
        figures["executed"] = run
        result += (
            f"; executed (split-decomposed, 1 round): accuracy "
            f"{100 * run['accuracy_before']:.1f}% -> {100 * run['accuracy']:.1f}%, "
            f"{run['sim_hours']:.1f} simulated h, {run['energy_j']:.3g} J"
        )
    figures["wall_s"] = time.time() - began
    what = f"split and LoRA rank per satellite, {network.num_sats} (TX2 NX / Orin), MILP"
    return _row("decompose", what, result), figures


def services_stage(
    source: str, data_dir: Any, seed: int, progress: bool
) -> tuple[dict[str, str], dict[str, Any]]:
    """Land cover and cloud screening served as services from the demo's backbone."""
    from spikesat.cli.infer import demo_stage

    return demo_stage(source, data_dir, seed, progress)
