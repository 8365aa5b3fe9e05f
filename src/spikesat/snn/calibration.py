"""Data-based threshold calibration: the maximum or a percentile of each ReLU's output.

"max" is the data-based normalisation of Diehl et al. (IJCNN 2015); "percentile" (99.9 %) is
the robust normalisation of Rueckauer et al. ("Conversion of Continuous-Valued Deep Networks to
Efficient Event-Driven Networks for Image Classification", Front. Neurosci. 2017), which ignores
rare outliers so that typical activations map to useful firing rates.
"""

from __future__ import annotations

import torch
from torch import nn


def activation_scales(
    model: nn.Module,
    batches: list[torch.Tensor],
    names: list[str],
    percentile: float | None,
) -> dict[str, float]:
    """The scale of each named module's output over the calibration batches.

    Parameters
    ----------
    model : nn.Module
        The network, run in eval mode without gradients.
    batches : list of torch.Tensor
        Calibration inputs, each ``[B, ...]``.
    names : list of str
        Qualified names of the modules whose outputs are measured (the activations).
    percentile : float or None
        Percentile in (0, 100] over all output elements; None for the maximum.

    Returns
    -------
    dict
        name -> scale (float). A module whose output never exceeds 0 gets 0.
    """
    outputs: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    modules = dict(model.named_modules())
    handles = [modules[name].register_forward_hook(_Collector(outputs[name])) for name in names]
    was_training = model.training
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with torch.no_grad():
            for batch in batches:
                model(batch.to(device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    scales = {}
    for name, chunks in outputs.items():
        if not chunks:
            raise ValueError(f"module {name!r} was not called on the calibration data")
        values = torch.cat([c.reshape(-1) for c in chunks]).float()
        if percentile is None or percentile >= 100:
            scales[name] = float(values.max().clamp_min(0))
        else:
            k = max(1, min(values.numel(), round(percentile / 100.0 * values.numel())))
            scales[name] = float(values.kthvalue(k).values.clamp_min(0))
    return scales


class _Collector:
    """A picklable forward hook that stores detached outputs in a list."""

    def __init__(self, store: list[torch.Tensor]) -> None:
        self.store = store

    def __call__(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.store.append(output.detach().cpu())
