"""Accuracy, spike rate, synaptic ops and joules of converted heads against ``num_steps``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from spikesat.energy import count_ops, energy_joules, get_hardware
from spikesat.snn.convert import convert
from spikesat.snn.heads import int8_head, task_head_of
from spikesat.snn.network import check_num_steps
from spikesat.snn.qcfs import replace_relu_with_qcfs, train_qcfs


def accuracy(
    model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 512
) -> float:
    """Top-1 accuracy of ``model`` on ``inputs [N, ...]`` with ``labels [N]`` (no gradients)."""
    correct = 0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            logits = model(inputs[start : start + batch_size])
            correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
    return correct / len(inputs)


def prefix_accuracies(
    step_outputs: Callable[[torch.Tensor], torch.Tensor],
    remote: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    steps: Sequence[int],
    batch_size: int = 64,
) -> dict[int, float]:
    """Top-1 accuracy of ``remote`` on the running mean of a spiking part's outputs at each of
    ``steps``, from one run of ``max(steps)`` steps.

    A spiking network is causal: its first ``t`` steps do not depend on the later ones, so the
    mean of the first ``t`` outputs of a long run is the output of a ``t``-step run, and one run
    replaces a run per step count.

    Parameters
    ----------
    step_outputs : callable
        Inputs ``[B, ...]`` -> the part's output at every step ``[max(steps), B, ...]``, from a
        reset state.
    remote : nn.Module
        The network that answers on the mean output (``nn.Identity()`` for a whole classifier).
    inputs, labels : torch.Tensor
        ``[N, ...]`` and ``[N]``.
    steps : sequence of int
        Step counts, each at most the number of steps ``step_outputs`` runs.
    batch_size : int
        Inputs per run.

    Returns
    -------
    dict
        Step count -> accuracy.
    """
    correct = dict.fromkeys(steps, 0)
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            outputs = step_outputs(inputs[start : start + batch_size])
            if len(outputs) < max(steps):
                raise ValueError(
                    f"the part ran {len(outputs)} steps, fewer than the {max(steps)} asked for"
                )
            running = outputs.cumsum(0)
            y = labels[start : start + batch_size]
            for t in steps:
                logits = remote(running[t - 1] / t)
                correct[t] += int((logits.argmax(1) == y).sum())
    return {t: correct[t] / len(inputs) for t in steps}


def sweep_num_steps(
    model: nn.Module,
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    steps: Sequence[int] = (1, 2, 4, 8, 16, 32),
    methods: Sequence[str] = ("qcfs", "max", "percentile"),
    hardware: Sequence[str] = ("cmos45nm-fp32", "cmos45nm-int8", "loihi"),
    num_levels: int = 4,
    qcfs_epochs: int = 30,
    num_energy_examples: int = 256,
    seed: int = 0,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate the ANN head (FP32 and INT8) and its spiking conversions at every step count.

    Parameters
    ----------
    model : nn.Module
        A LAM, SplitModel or task head.
    train_features, train_labels : torch.Tensor
        ``[N, D]`` and ``[N]``: calibration (and QCFS training) data.
    test_features, test_labels : torch.Tensor
        ``[M, D]`` and ``[M]``: evaluation data.
    steps : sequence of int
        Step counts to evaluate.
    methods : sequence of str
        Conversion methods.
    hardware : sequence of str
        Profiles to price on (per example, on the first ``num_energy_examples`` test features).
    num_levels, qcfs_epochs : int
        QCFS settings: for "qcfs" a QCFS copy of the head is trained on the train features
        (reported as the "ann-qcfs" row, with the ANN's op counts) and then converted.
    seed : int
        Seed of the QCFS training.
    on_row : callable, optional
        Called with every finished row (for progress bars).

    Returns
    -------
    list of dict
        One row per (model, num_steps) (ANN rows have ``num_steps = 0``): ``model``
        ("ann-fp32", "ann-int8", "ann-qcfs", "snn-<method>"), ``num_steps``, ``accuracy``,
        ``spike_rate``,
        ``synops``, ``macs`` and ``<profile>_j`` (J per example).
    """
    steps = [check_num_steps(t) for t in steps]
    for name in hardware:
        get_hardware(name)
    head = task_head_of(model).eval()
    sample = test_features[:num_energy_examples]
    ann_ops = count_ops(head, sample).per_example()
    rows = []

    def emit(row: dict[str, Any]) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    ann_row = {"model": "ann-fp32", "num_steps": 0, "spike_rate": 0.0, "synops": 0}
    ann_row.update(accuracy=accuracy(head, test_features, test_labels), macs=ann_ops.macs)
    ann_row.update({f"{p}_j": energy_joules(ann_ops, p).total_j for p in hardware})
    emit(ann_row)
    int8 = int8_head(head, train_features)
    int8_row = {"model": "ann-int8", "num_steps": 0, "spike_rate": 0.0, "synops": 0}
    int8_row.update(accuracy=accuracy(int8, test_features.cpu(), test_labels.cpu()))
    int8_row.update(macs=ann_ops.macs, **{f"{p}_j": None for p in hardware})
    int8_row["cmos45nm-int8_j"] = energy_joules(ann_ops, "cmos45nm-int8").total_j
    emit(int8_row)
    for method in methods:
        source = head
        if method == "qcfs":
            # The QCFS copy of the head is an ANN of its own: report it, since the spiking head
            # is measured against the network it was converted from.
            source = replace_relu_with_qcfs(head, num_levels, calibration_data=train_features)
            train_qcfs(source, (train_features, train_labels), epochs=qcfs_epochs, seed=seed)
            qcfs_row = {"model": "ann-qcfs", "num_steps": 0, "spike_rate": 0.0, "synops": 0}
            qcfs_row.update(accuracy=accuracy(source, test_features, test_labels))
            qcfs_row.update(macs=ann_ops.macs, **{f"{p}_j": ann_row[f"{p}_j"] for p in hardware})
            emit(qcfs_row)
        snn = convert(source, train_features, num_steps=steps[0], method=method)
        for num_steps in steps:
            snn.num_steps = num_steps
            acc = accuracy(snn, test_features, test_labels)
            ops = count_ops(snn, sample)
            rate = ops.spike_rate
            ops = ops.per_example()
            row = {"model": f"snn-{method}", "num_steps": num_steps, "accuracy": acc}
            row.update(spike_rate=rate, synops=ops.synops, macs=ops.macs)
            row.update({f"{p}_j": energy_joules(ops, p).total_j for p in hardware})
            emit(row)
    return rows
