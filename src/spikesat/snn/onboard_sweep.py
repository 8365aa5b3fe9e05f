"""The on-board part of a LAM as an ANN (FP32, INT8) and as a hybrid SNN, side by side.

:func:`sweep_onboard` splits a LAM, converts its on-board part with
:func:`~spikesat.snn.convert_onboard` for each method and step count, and measures, on the
same test images: accuracy of the whole model (the ANN remote part on the SNN's rate output),
spike rate, synaptic ops, analog MACs and joules per profile (memory and neuron updates
included). The INT8 ANN of the same part (FX post-training static quantisation) is always
beside it, and each SNN row carries the **break-even spike rate**: the rate at which its
joules on a profile would fall to a third of the INT8 ANN's on 45 nm (the issue's 3x goal),
from its own per-layer breakdown (spike-driven energy scales with the rate; analog layers
and neuron updates do not).
"""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from spikesat.energy import count_ops, energy_joules, get_hardware
from spikesat.snn.hybrid import HybridSNN, convert_onboard
from spikesat.snn.network import check_num_steps
from spikesat.snn.sweep import accuracy, prefix_accuracies

NEUROMORPHIC = ("loihi", "spinnaker2")


def int8_part(part: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """Post-training static INT8 quantisation of an on-board part (torch.ao FX graph mode).

    Returns a module taking float images ``[B, C, H, W]`` and returning float features (CPU).
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    engines = torch.backends.quantized.supported_engines
    engine = next((e for e in ("x86", "fbgemm", "qnnpack") if e in engines), None)
    if engine is None:
        raise RuntimeError(f"no quantised engine available (supported: {engines})")
    torch.backends.quantized.engine = engine
    model = copy.deepcopy(part).cpu().eval()
    if isinstance(model, nn.Sequential):  # a split part checks its input: trace its stages
        model = nn.Sequential(OrderedDict(model.named_children())).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_fx(model, get_default_qconfig_mapping(engine), (calibration[:2],))
        with torch.no_grad():
            for start in range(0, len(calibration), 128):
                prepared(calibration[start : start + 128])
        return convert_fx(prepared)


def break_even_rate(ops: Any, measured_rate: float, profile: str, target_j: float) -> float:
    """The spike rate at which the SNN's joules on ``profile`` would equal ``target_j``.

    Spike-driven layers (synaptic ops) scale with the rate; analog layers and neuron updates
    do not. Returns ``inf`` when even silent spikes cannot get there (the fixed part alone is
    above the target) and the measured rate when nothing is spike-driven.
    """
    breakdown = energy_joules(ops, profile)
    spiking = {layer.name for layer in ops.per_layer if layer.synops > 0}
    variable = sum(
        r["compute_j"] + r["memory_j"] for r in breakdown.per_layer if r["name"] in spiking
    )
    fixed = breakdown.total_j - variable
    if variable <= 0:
        return measured_rate
    if fixed >= target_j:
        return float("inf")
    return measured_rate * (target_j - fixed) / variable


def layer_break_even_rates(
    ops: Any, ann_ops: Any, profile: str, ann_profile: str = "cmos45nm-int8"
) -> list[dict[str, Any]]:
    """Per spike-driven layer: the input spike rate it runs at and the one it would need.

    The needed rate is the one at which the layer's synaptic energy on ``profile`` (compute
    and memory, both scaling with its input spikes) falls to a third of the same layer's
    joules in the ANN on ``ann_profile``: the honest per-layer boundary of the 3x goal
    (neuron updates and analog layers come on top).

    Parameters
    ----------
    ops, ann_ops : OpCount
        Per-example counts of the SNN (from :func:`~spikesat.energy.count_ops` on the
        HybridSNN) and of the ANN part it was converted from.
    profile, ann_profile : str
        The SNN's and the ANN's hardware profiles.

    Returns
    -------
    list of dict
        ``layer`` (the ANN's layer name), ``rate`` (input spikes per neuron per step:
        synaptic ops over the dense MACs of all steps) and ``needed_rate``.
    """
    snn_j = {r["name"]: r for r in energy_joules(ops, profile).per_layer}
    ann_j = {r["name"]: r for r in energy_joules(ann_ops, ann_profile).per_layer}
    rows = []
    for layer in ops.per_layer:
        name = layer.name.removeprefix("part.").replace(".inner", "")
        if layer.synops <= 0 or not layer.spike_layer_macs or name not in ann_j:
            continue
        spent = snn_j[layer.name]["compute_j"] + snn_j[layer.name]["memory_j"]
        target = (ann_j[name]["compute_j"] + ann_j[name]["memory_j"]) / 3.0
        rate = layer.synops / layer.spike_layer_macs
        rows.append({"layer": name, "rate": rate, "needed_rate": rate * target / spent})
    return rows


def score_onboard(
    snn: HybridSNN,
    remote: nn.Module,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    sample: torch.Tensor,
    hardware: Sequence[str],
    target_j: float,
    payload_examples: int = 0,
    ann_ops: Any = None,
    known_accuracy: float | None = None,
) -> dict[str, Any]:
    """Score one converted on-board part at its ``num_steps``: accuracy, spikes and joules.

    Parameters
    ----------
    snn : HybridSNN
        The converted part.
    remote : nn.Module
        The ANN after the cut; it answers on the SNN's rate output.
    test_images, test_labels : torch.Tensor
        ``[M, C, H, W]`` and ``[M]``.
    sample : torch.Tensor
        Images ``[S, C, H, W]`` the op counts run on (per-example figures).
    hardware : sequence of str
        Profiles to price on.
    target_j : float
        The joules the break-even rate aims at (a third of the INT8 ANN's) [J].
    payload_examples : int
        When > 0, the spikes at the cut of that many test images are coded with the "spikes"
        codec (:func:`spike_payload`).
    ann_ops : OpCount, optional
        Per-example counts of the ANN part; when given, ``layer_break_even`` holds
        :func:`layer_break_even_rates` per neuromorphic profile.
    known_accuracy : float, optional
        The accuracy at ``num_steps`` when already measured (:func:`prefix_accuracies`).

    Returns
    -------
    dict
        ``num_steps``, ``accuracy``, ``spike_rate``, ``synops``, ``macs``, ``<profile>_j``,
        ``break_even_rate`` (neuromorphic profile -> spike rate for ``target_j``),
        ``layer_rates``, ``analog_layers``, with ``ann_ops`` ``layer_break_even`` and, with a
        payload, ``payload_bytes``.
    """
    analog = [r.name for r in snn.layer_table(sample[:1]) if r.role == "analog"]
    acc = known_accuracy
    if acc is None:
        acc = accuracy(nn.Sequential(snn, remote).eval(), test_images, test_labels, batch_size=128)
    ops = count_ops(snn, sample)
    rate = ops.spike_rate
    ops = ops.per_example()
    row: dict[str, Any] = {"num_steps": snn.num_steps, "accuracy": acc, "spike_rate": rate}
    row.update(synops=ops.synops, macs=ops.macs)
    row.update({f"{p}_j": energy_joules(ops, p).total_j for p in hardware})
    row["break_even_rate"] = {
        p: break_even_rate(ops, rate, p, target_j) for p in hardware if p in NEUROMORPHIC
    }
    if ann_ops is not None:
        row["layer_break_even"] = {
            p: layer_break_even_rates(ops, ann_ops, p) for p in hardware if p in NEUROMORPHIC
        }
    snn(sample)
    row["layer_rates"] = snn.layer_spike_rates()
    row["analog_layers"] = analog
    if payload_examples > 0:
        row["payload_bytes"] = spike_payload(snn, test_images[:payload_examples])
    return row


def spike_payload(snn: HybridSNN, images: torch.Tensor, batch_size: int = 64) -> float:
    """Wire bytes per image when the part's output spikes are the payload.

    The spikes ``[T, B, C, H, W]`` at the cut (:meth:`HybridSNN.forward_spikes`) go through
    ``codecs.create("spikes", C)`` (lossless: the decoded spikes are checked equal), so the
    remote part sees exactly what the rate output gives it.

    Parameters
    ----------
    snn : HybridSNN
        A part ending in spiking neurons.
    images : torch.Tensor
        ``[N, C, H, W]``.
    batch_size : int
        Images per ``forward_spikes`` call.

    Returns
    -------
    float
        Mean wire bytes per image (packet headers and CRCs included) [B].
    """
    from spikesat.codecs import create

    total_bytes = 0
    codec = None
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            spikes = snn.forward_spikes(images[start : start + batch_size])
            codec = codec or create("spikes", spikes.shape[2])
            streams = codec.compress(spikes)
            if not torch.equal(codec.decompress(streams), spikes):
                raise RuntimeError("the spikes codec did not round-trip the payload exactly")
            total_bytes += sum(s.num_bytes for s in streams)
    return total_bytes / len(images)


def sweep_onboard(
    lam: nn.Module,
    at: str,
    calibration: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    steps: Sequence[int] = (1, 2, 4, 8, 16, 32),
    methods: Sequence[str] = ("max", "percentile"),
    hardware: Sequence[str] = ("cmos45nm-fp32", "cmos45nm-int8", "jetson-tx2nx", *NEUROMORPHIC),
    num_energy_examples: int = 16,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    gelu: str = "analog",
    payload_examples: int = 0,
) -> list[dict[str, Any]]:
    """ANN FP32, ANN INT8 and hybrid-SNN rows for the on-board part of ``lam`` cut at ``at``.

    Parameters
    ----------
    lam : nn.Module
        A zoo LAM (trained).
    at : str
        The split point (:func:`spikesat.models.split_points`).
    calibration : torch.Tensor
        Images ``[N, C, H, W]`` for thresholds and INT8 ranges (training images).
    test_images, test_labels : torch.Tensor
        ``[M, C, H, W]`` and ``[M]``.
    steps, methods, hardware
        What to sweep and the profiles to price on.
    num_energy_examples : int
        Test images the op counts run on (per-example figures).
    on_row : callable, optional
        Called with each finished row.
    gelu : {"analog", "relu"}
        GELUs stay analog, or spike as ReLUs (:func:`spikesat.snn.convert_onboard`).
    payload_examples : int
        When > 0, SNN rows also price the spikes at the cut as the payload
        (:func:`spike_payload` on that many test images; the part must end in neurons).

    Returns
    -------
    list of dict
        ``model`` ("ann-fp32", "ann-int8", "snn-<method>"), ``split``, ``num_steps``,
        ``accuracy``, ``spike_rate``, ``synops``, ``macs``, ``<profile>_j``, and for SNN rows
        the keys of :func:`score_onboard`.
    """
    from spikesat.models import split

    steps = [check_num_steps(t) for t in steps]
    for name in hardware:
        get_hardware(name)
    sm = split(lam.eval(), at=at)
    sample = test_images[:num_energy_examples]
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    ann_ops = count_ops(sm.onboard, sample).per_example()
    base = {"split": at, "num_steps": 0, "spike_rate": 0.0, "synops": 0, "macs": ann_ops.macs}
    ann = {"model": "ann-fp32", **base, "accuracy": accuracy(sm, test_images, test_labels)}
    ann.update({f"{p}_j": energy_joules(ann_ops, p).total_j for p in hardware})
    emit(ann)
    quantised = int8_part(sm.onboard, calibration)
    int8_j = energy_joules(ann_ops, "cmos45nm-int8").total_j
    int8_model = nn.Sequential(quantised, sm.remote)
    int8 = {"model": "ann-int8", **base, "accuracy": accuracy(int8_model, test_images, test_labels)}
    int8.update({f"{p}_j": None for p in hardware}, **{"cmos45nm-int8_j": int8_j})
    emit(int8)
    target = int8_j / 3.0
    for method in methods:
        snn = convert_onboard(
            sm.onboard, calibration, num_steps=max(steps), method=method, gelu=gelu
        )
        accuracies = prefix_accuracies(
            snn.forward_steps, sm.remote.eval(), test_images, test_labels, steps
        )
        for num_steps in steps:
            snn.num_steps = num_steps
            row = score_onboard(
                snn, sm.remote, test_images, test_labels, sample, hardware, target,
                payload_examples=payload_examples, ann_ops=ann_ops,
                known_accuracy=accuracies[num_steps],
            )  # fmt: skip
            emit({"model": f"snn-{method}", "split": at, **row})
    return rows
