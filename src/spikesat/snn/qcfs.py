"""The quantisation-clip-floor-shift (QCFS) activation of Bu et al. (ICLR 2022) and its training.

QCFS replaces ReLU during ANN training so that the ANN already behaves like an integrate-and-fire
network run for a few time steps:

``h(x) = lambda * clip(floor(x L / lambda + 1/2) / L, 0, 1)``

with ``L`` quantisation levels and a learnable threshold ``lambda`` per layer. The floor has a
straight-through gradient. Converting such a network with threshold ``lambda`` and an initial
membrane of ``lambda / 2`` makes the expected conversion error zero for any number of time steps
(Bu et al., "Optimal ANN-SNN Conversion for High-accuracy and Ultra-low-latency Spiking Neural
Networks", ICLR 2022).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from spikesat._checks import expected_input_shape
from spikesat.snn.activations import is_gelu
from spikesat.snn.batches import calibration_tensors, labelled_tensors
from spikesat.snn.supervised import check_epochs_and_batch_size, train_cross_entropy


class QCFS(nn.Module):
    """QCFS activation with a learnable threshold.

    Parameters
    ----------
    num_levels : int
        Quantisation levels ``L`` (Bu et al. use 4-16; the SNN is best near ``T = L``).
    threshold : float
        Initial threshold ``lambda`` (> 0); learned during training.
    shift : float
        The shift ``phi`` (0.5 in the paper, matching the half-threshold initial membrane).

    Notes
    -----
    Input and output: any shape ``[B, ...]``.
    """

    def __init__(self, num_levels: int = 8, threshold: float = 1.0, shift: float = 0.5) -> None:
        super().__init__()
        if not isinstance(num_levels, int) or num_levels < 1:
            raise ValueError(f"num_levels must be a positive integer, got {num_levels!r}")
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0, got {threshold!r}")
        self.num_levels = num_levels
        self.shift = float(shift)
        self.threshold = nn.Parameter(torch.tensor(float(threshold)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lam = self.threshold
        z = x * self.num_levels / lam + self.shift
        z = z + (torch.floor(z) - z).detach()  # floor with a straight-through gradient
        return lam * torch.clamp(z / self.num_levels, 0.0, 1.0)

    def extra_repr(self) -> str:
        return f"num_levels={self.num_levels}, threshold={self.threshold.item():.4g}"


def replace_relu_with_qcfs(
    model: nn.Module,
    num_levels: int = 8,
    calibration_data: Any = None,
    percentile: float = 99.9,
    include_gelu: bool = False,
) -> nn.Module:
    """Return a copy of ``model`` with every ``nn.ReLU`` replaced by :class:`QCFS`.

    Parameters
    ----------
    model : nn.Module
        The ANN (left unchanged).
    num_levels : int
        ``L`` of every QCFS layer.
    calibration_data : tensor or iterable of batches, optional
        When given, each threshold starts at the ``percentile`` of the activation it replaces
        (a good start for training); otherwise at 1.
    percentile : float
        Percentile for the initial thresholds, in (0, 100].
    include_gelu : bool
        Also replace GELUs (``nn.GELU`` or timm's; the network must then be trained: GELU is
        not ReLU).

    Returns
    -------
    nn.Module
        The copy, to be trained with :func:`train_qcfs` and converted with ``method="qcfs"``.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    new = copy.deepcopy(model)
    names = [
        n for n, m in new.named_modules() if isinstance(m, nn.ReLU) or (include_gelu and is_gelu(m))
    ]
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no nn.ReLU{' or nn.GELU' if include_gelu else ''} "
            "modules to replace (functional activations cannot be swapped)"
        )
    thresholds = {name: 1.0 for name in names}
    if calibration_data is not None:
        from spikesat.snn.calibration import activation_scales

        scales = activation_scales(
            new, calibration_tensors(calibration_data, expected_input_shape(new)), names, percentile
        )
        thresholds.update({n: max(s, 1e-3) for n, s in scales.items()})
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = new.get_submodule(parent_name) if parent_name else new
        setattr(parent, child, QCFS(num_levels, thresholds[name]))
    return new


def train_qcfs(
    model: nn.Module,
    data: Any,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 128,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """Train a QCFS network (weights and thresholds) with cross-entropy and Adam, in place.

    Parameters
    ----------
    model : nn.Module
        Output of :func:`replace_relu_with_qcfs`; maps inputs ``[B, ...]`` to logits ``[B, K]``.
    data : (inputs, labels) tensors, data set or iterable of batches
        Training examples.
    epochs, lr, batch_size, weight_decay : training hyper-parameters.
    seed : int
        Seed of the shuffling.

    Returns
    -------
    list of float
        Mean training loss of every epoch.
    """
    if not any(isinstance(m, QCFS) for m in model.modules()):
        raise ValueError("model has no QCFS layers; call replace_relu_with_qcfs(model) first")
    check_epochs_and_batch_size(epochs, batch_size)
    inputs, labels = labelled_tensors(data)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs)
    return train_cross_entropy(
        model, inputs, labels, optimiser, epochs, batch_size, seed, schedule=schedule
    )
