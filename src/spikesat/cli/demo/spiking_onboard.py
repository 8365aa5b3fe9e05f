"""The demo's spiking on-board stage: the LAM's on-board part (up to the split) converted whole
to a hybrid SNN (``snn.convert_onboard`` through ``snn.onboard_sweep.sweep_onboard``), the
ground part answering on its rate output, priced against the INT8 ANN of the same part.

The demo's ViT has no ReLU: its MLPs' GELUs become integrate-and-fire neurons (``gelu="relu"``,
an approximation the accuracy shows), so the MLP's second linear layer of each block spikes;
LayerNorm, attention and the patch embedding stay analog, and the stage counts those layers.
"""

from __future__ import annotations

from typing import Any

import torch

DEMO_ONBOARD_STEPS = 4
DEMO_ONBOARD_METHOD = "max"
DEMO_ONBOARD_PROFILES = ("cmos45nm-int8", "loihi")
DEMO_CALIBRATION_IMAGES = 256


def snn_onboard_stage(
    lam: torch.nn.Module,
    at: str,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
) -> tuple[dict[str, str], dict[str, Any]]:
    """Convert the on-board part of ``lam`` cut at ``at`` and score it on ``test``.

    Parameters
    ----------
    lam : nn.Module
        The demo's trained LAM.
    at : str
        The split point.
    train, test : tuple of Tensor
        ``(images [N, C, H, W], labels [N])``: calibration images come from ``train``.

    Returns
    -------
    (row, figures)
        The table row and the figures: ANN FP32 / INT8 and SNN accuracy, the SNN's spike
        rate, joules per inference on 45 nm INT8 (the ANN) and Loihi (the SNN), analog layers.
    """
    from spikesat.snn.onboard_sweep import sweep_onboard

    rows = sweep_onboard(
        lam, at, train[0][:DEMO_CALIBRATION_IMAGES], test[0], test[1],
        steps=(DEMO_ONBOARD_STEPS,), methods=(DEMO_ONBOARD_METHOD,),
        hardware=DEMO_ONBOARD_PROFILES, gelu="relu",
    )  # fmt: skip
    by_model = {r["model"]: r for r in rows}
    ann, int8, snn = by_model["ann-fp32"], by_model["ann-int8"], by_model["snn-max"]
    figures = {
        "split": at,
        "num_steps": DEMO_ONBOARD_STEPS,
        "method": DEMO_ONBOARD_METHOD,
        "ann_accuracy": ann["accuracy"],
        "ann_int8_accuracy": int8["accuracy"],
        "snn_accuracy": snn["accuracy"],
        "spike_rate": snn["spike_rate"],
        "snn_loihi_j": snn["loihi_j"],
        "ann_int8_j": int8["cmos45nm-int8_j"],
        "analog_layers": snn["analog_layers"],
    }
    what = (
        f"on-board part up to {at} as a hybrid SNN (GELU as IF neurons), "
        f"{DEMO_ONBOARD_METHOD} thresholds, T={DEMO_ONBOARD_STEPS}"
    )
    result = (
        f"accuracy {100 * snn['accuracy']:.1f}% (ANN {100 * ann['accuracy']:.1f}%, INT8 "
        f"{100 * int8['accuracy']:.1f}%); spike rate {snn['spike_rate']:.3f}; "
        f"{snn['loihi_j']:.2e} J on Loihi vs INT8 ANN {int8['cmos45nm-int8_j']:.2e} J; "
        f"{len(snn['analog_layers'])} layers analog"
    )
    return {"stage": "spiking on-board", "what": what, "result": result}, figures
