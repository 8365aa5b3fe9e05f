"""Spiking task heads of a split LAM, their INT8 ANN counterpart and the on-board energy of both.

A LAM's task head (``lam.head``: ``fc1 -> ReLU -> Dropout -> fc2`` on pooled features ``[B, D]``)
runs on board after the split. :func:`spiking_head` turns it into a :class:`SpikingNetwork`,
:func:`int8_head` quantises it to INT8 with PyTorch's post-training static quantisation, and
:func:`head_energy` prices all three (FP32 ANN, INT8 ANN, SNN) on the hardware profiles.
Converting the last blocks of a ViT as well is not supported (GELU, LayerNorm and attention have
no integrate-and-fire equivalent); the head is converted.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from spikesat._checks import expected_input_shape
from spikesat.energy import count_ops, energy_joules, list_hardware
from spikesat.snn.batches import calibration_tensors
from spikesat.snn.convert import convert
from spikesat.snn.network import SpikingNetwork
from spikesat.snn.qcfs import QCFS, replace_relu_with_qcfs, train_qcfs


def task_head_of(model: nn.Module) -> nn.Module:
    """The task head of a LAM or SplitModel (anything with ``.head``), or ``model`` itself."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    head = getattr(model, "head", None)
    return head if isinstance(head, nn.Module) else model


def spiking_head(
    model: nn.Module,
    features: torch.Tensor,
    num_steps: int = 4,
    method: str = "qcfs",
    labels: torch.Tensor | None = None,
    num_levels: int = 4,
    qcfs_epochs: int = 30,
    seed: int = 0,
    **convert_kwargs: Any,
) -> SpikingNetwork:
    """Convert the task head of ``model`` into a spiking network.

    Parameters
    ----------
    model : nn.Module
        A LAM, a SplitModel, or the head itself.
    features : torch.Tensor
        Pooled features ``[N, D]`` the head sees (calibration, and QCFS training data).
    num_steps : int
        Time steps per inference.
    method : {"qcfs", "max", "percentile"}
        Conversion method. For "qcfs" on a head with plain ReLUs, a QCFS copy of the head is
        first trained on ``(features, labels)`` (the ANN head stays unchanged).
    labels : torch.Tensor, optional
        Class labels ``[N]``; needed by "qcfs" when the head has no QCFS layers yet.
    num_levels : int
        QCFS quantisation levels ``L`` (the SNN matches the QCFS ANN exactly at ``T = L``
        for a one-hidden-layer head).
    qcfs_epochs : int
        Epochs of QCFS training.
    seed : int
        Seed of the QCFS training.
    **convert_kwargs
        Passed on to :func:`spikesat.snn.convert` (``percentile``, ``beta``, ``v_init``, ...).
    """
    head = task_head_of(model)
    if method == "qcfs" and not any(isinstance(m, QCFS) for m in head.modules()):
        if labels is None:
            raise ValueError(
                "method='qcfs' on a ReLU head needs labels to train its QCFS copy; pass "
                "labels=..., or use method='max' / 'percentile'"
            )
        head = replace_relu_with_qcfs(head, num_levels, calibration_data=features)
        train_qcfs(head, (features, labels), epochs=qcfs_epochs, seed=seed)
    return convert(head, features, num_steps=num_steps, method=method, **convert_kwargs)


def int8_head(head: nn.Module, calibration_data: Any) -> nn.Module:
    """Post-training static INT8 quantisation of an MLP head (PyTorch eager mode, per-tensor).

    Linear+ReLU pairs are fused; activation ranges are observed on ``calibration_data``
    (features ``[N, D]``). Weights and activations are INT8 and the integer kernels run on CPU
    (the quantised engine: "x86" or "fbgemm"; "qnnpack" on ARM).

    Returns
    -------
    nn.Module
        Takes float features ``[B, D]`` and returns float logits ``[B, K]`` (CPU only).
    """
    from torch.ao import quantization as tq

    head = task_head_of(head)
    if not isinstance(head, nn.Sequential) or not all(
        isinstance(m, nn.Linear | nn.ReLU | nn.Dropout | nn.Identity) for m in head
    ):
        raise TypeError(
            "int8_head quantises an nn.Sequential of Linear, ReLU, Dropout and Identity layers"
        )
    batches = calibration_tensors(calibration_data, expected_input_shape(head))
    layers = [(n, m) for n, m in copy.deepcopy(head).cpu().eval().named_children()]
    layers = [(n, m) for n, m in layers if not isinstance(m, nn.Dropout | nn.Identity)]
    model = nn.Sequential(
        OrderedDict([("quant", tq.QuantStub()), *layers, ("dequant", tq.DeQuantStub())])
    ).eval()
    names = [n for n, _ in layers]
    pairs = [
        [a, b]
        for a, b in itertools.pairwise(names)
        if isinstance(model.get_submodule(a), nn.Linear)
        and isinstance(model.get_submodule(b), nn.ReLU)
    ]
    engines = torch.backends.quantized.supported_engines
    engine = next((e for e in ("x86", "fbgemm", "qnnpack") if e in engines), None)
    if engine is None:
        raise RuntimeError(f"no quantised engine available (supported: {engines})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.quantized.engine = engine
        if pairs:
            model = tq.fuse_modules(model, pairs)
        model.qconfig = tq.get_default_qconfig(engine)
        tq.prepare(model, inplace=True)
        with torch.no_grad():
            for batch in batches:
                model(batch.cpu())
        tq.convert(model, inplace=True)
    return model


def head_energy(
    head: nn.Module,
    snn: SpikingNetwork,
    features: torch.Tensor,
    hardware: list[str] | None = None,
) -> dict[str, Any]:
    """Energy per example of the FP32 ANN head, the INT8 ANN head and the spiking head [J].

    The ANN's operation counts are the same in FP32 and INT8; the INT8 head is priced on
    "cmos45nm-int8" (1-byte weights and activations, INT8 multiplies), the FP32 head on
    "cmos45nm-fp32". The spiking head is counted on its actual spikes for ``features`` and
    priced on every profile in ``hardware`` (default: all).

    Parameters
    ----------
    head : nn.Module
        The ANN head (or a LAM / SplitModel holding it).
    snn : SpikingNetwork
        The converted head.
    features : torch.Tensor
        Features ``[N, D]`` to count on (the energies are averaged over them).

    Returns
    -------
    dict
        ``ann_fp32_j``, ``ann_int8_j``, ``snn_j`` (profile -> J), ``ann_macs``, ``snn_macs``,
        ``snn_synops``, ``snn_spike_rate``, ``ann_j`` (profile -> J of the ANN on every profile).
    """
    head = task_head_of(head).eval()
    profiles = hardware or list_hardware()
    ann_ops = count_ops(head, features).per_example()
    snn_ops = count_ops(snn.eval(), features)
    spike_rate = snn_ops.spike_rate
    snn_ops = snn_ops.per_example()
    return {
        "ann_fp32_j": energy_joules(ann_ops, "cmos45nm-fp32").total_j,
        "ann_int8_j": energy_joules(ann_ops, "cmos45nm-int8").total_j,
        "ann_j": {p: energy_joules(ann_ops, p).total_j for p in profiles},
        "snn_j": {p: energy_joules(snn_ops, p).total_j for p in profiles},
        "ann_macs": ann_ops.macs,
        "snn_macs": snn_ops.macs,
        "snn_synops": snn_ops.synops,
        "snn_spike_rate": spike_rate,
    }
