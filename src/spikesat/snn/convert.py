"""``convert``: ANN -> spiking network with snnTorch integrate-and-fire neurons.

Methods
-------
* ``"qcfs"`` (Bu et al., ICLR 2022): the ANN was trained with :class:`~spikesat.snn.qcfs.QCFS`
  activations; each spiking layer uses the learned threshold ``lambda``.
* ``"max"`` (Diehl et al., IJCNN 2015): the threshold is the largest activation seen on the
  calibration data.
* ``"percentile"`` (Rueckauer et al., Front. Neurosci. 2017): the 99.9th percentile instead.

Every method uses integrate-and-fire neurons with reset by subtraction and, by default, an
initial membrane of half the threshold (Bu et al. show it zeroes the expected conversion error
for any calibration). Each layer's scale is folded into the weights, so neurons fire binary
spikes against a threshold of 1: a weighted layer between activations ``k-1`` and ``k`` gets
``W * theta[k-1] / theta[k]`` and ``b / theta[k]``; the output layer gets ``W * theta[-1]``.

Supported layers
----------------
Linear, Conv1d, Conv2d; BatchNorm1d/2d right after one of them (folded into it); ReLU and QCFS
(become spiking neurons); MaxPool1d/2d right after an activation (moved in front of the neuron:
``max(relu(x)) = relu(max(x))``, exact on the analog input stage, a per-step maximum of synaptic
currents deeper in); AvgPool1d/2d and AdaptiveAvgPool1d/2d (their graded output feeds the next
weighted layer); Flatten; Dropout and Identity (removed). **LayerNorm** is accepted only before
the first activation: it then belongs to the analog input stage, computed once per inference
from the analog features, as in a ViT head whose pre-logits norm precedes its first layer.
**GELU** (and any other activation) is rejected with an error: it has no integrate-and-fire
equivalent; swap it for QCFS with ``replace_relu_with_qcfs(model, include_gelu=True)``, train
with ``train_qcfs`` and convert with ``method="qcfs"``.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from spikesat._checks import expected_input_shape
from spikesat.models.split import CheckedSequential
from spikesat.snn.batches import calibration_tensors
from spikesat.snn.calibration import activation_scales
from spikesat.snn.hybrid import HybridSNN, convert_onboard, fold_batchnorm_into
from spikesat.snn.network import SpikingNetwork, check_num_steps
from spikesat.snn.neurons import IFNeuron
from spikesat.snn.qcfs import QCFS
from spikesat.snn.surrogates import SURROGATES

METHODS = ("qcfs", "max", "percentile")

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)
_ACTIVATIONS = (nn.ReLU, QCFS)
_MAXPOOL = (nn.MaxPool1d, nn.MaxPool2d)
_AVGPOOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
_REMOVED = (nn.Dropout, nn.Identity)
_SUPPORTED = (
    _WEIGHTED
    + _BATCHNORM
    + _ACTIVATIONS
    + _MAXPOOL
    + _AVGPOOL
    + _REMOVED
    + (
        nn.Flatten,
        nn.LayerNorm,
    )
)
SUPPORTED_LAYERS = (
    "Linear, Conv1d, Conv2d, BatchNorm1d/2d (folded into the preceding Linear/Conv), ReLU, "
    "QCFS, MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, Flatten, Dropout, Identity, and "
    "LayerNorm before the first activation"
)


def convert(
    model: nn.Module,
    calibration_data: Any,
    num_steps: int = 8,
    method: str = "qcfs",
    percentile: float = 99.9,
    beta: float = 1.0,
    v_init: float = 0.5,
    surrogate: str = "atan",
    gelu: str = "analog",
) -> SpikingNetwork | HybridSNN:
    """Convert a feed-forward ANN into a :class:`SpikingNetwork` (or a hybrid on-board part).

    Parameters
    ----------
    model : nn.Module
        An ``nn.Sequential`` (nested ones are flattened) of the supported layers, e.g. a LAM's
        task head ``lam.head`` (``[B, D]`` pooled features -> logits). Left unchanged. A part of
        a split LAM (``models.split(lam, at).onboard``) or any model with blocks of its own
        (residual blocks, attention) is converted by :func:`spikesat.snn.convert_onboard`
        instead: a :class:`~spikesat.snn.HybridSNN`, spiking where the activations are ReLU or
        QCFS, analog elsewhere (``gelu`` says what GELUs become).
    calibration_data : tensor or iterable of batches
        Representative inputs ``[N, ...]`` (or batches of them, optionally ``(x, y)`` pairs);
        used by "max" and "percentile", and checked for every method.
    num_steps : int
        Time steps per inference (>= 1).
    method : {"qcfs", "max", "percentile"}
        How the thresholds are set (see the module docstring).
    percentile : float
        The percentile of ``method="percentile"``, in (0, 100).
    beta : float
        Membrane decay per step; 1 (default) is integrate-and-fire, < 1 is leaky.
    v_init : float
        Initial membrane as a fraction of the threshold (0.5 = half threshold).
    surrogate : str
        Surrogate gradient kept on the neurons for :func:`spikesat.snn.finetune`.
    gelu : {"analog", "relu"}
        Hybrid conversion only: keep GELUs analog or spike there as if they were ReLUs.

    Returns
    -------
    SpikingNetwork
        ``snn(x)`` gives the output averaged over ``num_steps``.

    Raises
    ------
    ValueError
        For ``num_steps < 1``, an unknown method, empty or NaN calibration data, a network
        without activations, ``method="qcfs"`` on a network without QCFS layers, or an
        activation that never fires on the calibration data.
    TypeError
        For a model that is not a Sequential of the supported layers (the message names the
        layer and lists the supported ones).
    """
    num_steps = check_num_steps(num_steps)
    if method not in METHODS:
        raise ValueError(f"unknown conversion method {method!r}; choose one of {METHODS}")
    if not 0 < percentile < 100:
        raise ValueError(f"percentile must be in (0, 100), got {percentile!r}")
    SURROGATES.get(surrogate)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if _has_blocks(model):
        if beta != 1.0:
            raise ValueError(
                f"beta={beta!r}: on-board parts convert to integrate-and-fire neurons (beta=1)"
            )
        return convert_onboard(
            model, calibration_data, num_steps, method, percentile, gelu, v_init, surrogate
        )
    batches = calibration_tensors(calibration_data, expected_input_shape(model))
    layers = _fold_batchnorm(_leaves(model))
    acts = [i for i, (_, m) in enumerate(layers) if isinstance(m, _ACTIVATIONS)]
    if not acts:
        raise ValueError(
            f"{type(model).__name__} has no ReLU or QCFS activation to turn into spiking neurons"
        )
    _check_layout(layers, acts)
    if method == "qcfs":
        missing = [name for name, m in (layers[i] for i in acts) if not isinstance(m, QCFS)]
        if missing:
            raise ValueError(
                f"method='qcfs' needs QCFS activations, but {missing} are plain ReLUs; train "
                "with spikesat.snn.replace_relu_with_qcfs + train_qcfs first, or use "
                "method='max' or method='percentile'"
            )
        thresholds = [float(layers[i][1].threshold.detach()) for i in acts]
    else:
        reference = nn.Sequential(OrderedDict((_key(n), m) for n, m in layers))
        names = [_key(layers[i][0]) for i in acts]
        scales = activation_scales(
            reference, batches, names, None if method == "max" else percentile
        )
        thresholds = [scales[n] for n in names]
    for name, theta in zip((layers[i][0] for i in acts), thresholds, strict=True):
        if not theta > 0:
            raise ValueError(
                f"activation {name!r} has threshold {theta!r}: it never fires on the "
                "calibration data; use more representative calibration inputs"
            )
    layers = _move_maxpools(layers)
    acts = [i for i, (_, m) in enumerate(layers) if isinstance(m, _ACTIVATIONS)]
    encoder, body = _build(layers, acts, thresholds, beta, v_init, surrogate)
    return SpikingNetwork(encoder, body, num_steps, method, thresholds)


def _has_blocks(model: nn.Module) -> bool:
    """A split LAM's part, or a model holding a container that is not a Sequential."""
    if isinstance(model, CheckedSequential):
        return True
    return any(
        any(True for _ in m.children()) and not isinstance(m, nn.Sequential)
        for m in model.modules()
    )


def _leaves(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The layers of a (nested) Sequential in order, deep-copied, in eval mode."""
    if isinstance(model, nn.Sequential):
        out = []
        for name, child in model.named_children():
            out += _leaves(child, f"{prefix}{name}.")
        return out
    name = prefix.rstrip(".") or type(model).__name__
    if isinstance(model, nn.GELU):
        raise TypeError(
            f"layer {name!r} is a GELU, which has no integrate-and-fire equivalent. Swap it for "
            "QCFS (spikesat.snn.replace_relu_with_qcfs(model, include_gelu=True)), train with "
            "train_qcfs and convert with method='qcfs'. Supported layers: " + SUPPORTED_LAYERS
        )
    if not isinstance(model, _SUPPORTED):
        raise TypeError(
            f"unsupported layer {name!r} ({type(model).__name__}); convert() takes an "
            f"nn.Sequential of: {SUPPORTED_LAYERS}. For a LAM or SplitModel convert its task "
            "head: spikesat.snn.spiking_head(model, features)"
        )
    return [(name, copy.deepcopy(model).eval())]


def _fold_batchnorm(layers: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """Fold every BatchNorm into the Linear/Conv right before it."""
    out: list[tuple[str, nn.Module]] = []
    for name, module in layers:
        if not isinstance(module, _BATCHNORM):
            out.append((name, module))
            continue
        if not out or not isinstance(out[-1][1], _WEIGHTED):
            raise TypeError(
                f"BatchNorm {name!r} must follow a Linear or Conv layer to be folded into it"
            )
        fold_batchnorm_into(out[-1][1], module)
    return out


def _check_layout(layers: list[tuple[str, nn.Module]], acts: list[int]) -> None:
    """Raise for layouts the spiking network cannot realise."""
    bounds = [-1, *acts, len(layers)]
    for k in range(len(bounds) - 1):
        segment = layers[bounds[k] + 1 : bounds[k + 1]]
        if not any(isinstance(m, _WEIGHTED) for _, m in segment):
            where = (
                "before the first activation"
                if k == 0
                else (
                    "after the last activation"
                    if k == len(bounds) - 2
                    else f"between {layers[bounds[k]][0]!r} and {layers[bounds[k + 1]][0]!r}"
                )
            )
            raise TypeError(
                f"the network needs a Linear or Conv layer {where}; got "
                f"{[type(m).__name__ for _, m in segment]}"
            )
        if k > 0:
            for name, m in segment:
                if isinstance(m, nn.LayerNorm):
                    raise TypeError(
                        f"LayerNorm {name!r} comes after the first activation, where the "
                        "network is spiking; LayerNorm is supported only before the first "
                        "activation (analog input side). Supported layers: " + SUPPORTED_LAYERS
                    )


def _move_maxpools(layers: list[tuple[str, nn.Module]]) -> list[tuple[str, nn.Module]]:
    """Move a max-pool that follows an activation (through removable layers) in front of it."""
    out = list(layers)
    for i in range(len(out)):
        if isinstance(out[i][1], _MAXPOOL):
            j = i - 1
            while j >= 0 and isinstance(out[j][1], _REMOVED):
                j -= 1
            if j >= 0 and isinstance(out[j][1], _ACTIVATIONS):
                pool = out.pop(i)
                out.insert(j, pool)
    return out


def _build(
    layers: list[tuple[str, nn.Module]],
    acts: list[int],
    thresholds: list[float],
    beta: float,
    v_init: float,
    surrogate: str,
) -> tuple[nn.Sequential, nn.Sequential]:
    """Scale the weights by the thresholds and assemble the encoder and the spiking body."""
    bounds = [-1, *acts, len(layers)]
    encoder: OrderedDict[str, nn.Module] = OrderedDict()
    body: OrderedDict[str, nn.Module] = OrderedDict()
    for k in range(len(bounds) - 1):
        segment = [
            (n, m) for n, m in layers[bounds[k] + 1 : bounds[k + 1]] if not isinstance(m, _REMOVED)
        ]
        weighted = [m for _, m in segment if isinstance(m, _WEIGHTED)]
        with torch.no_grad():
            if k > 0:  # input side: spikes of layer k-1 stand for theta[k-1]
                weighted[0].weight.mul_(thresholds[k - 1])
            if k < len(acts):  # output side: currents in units of theta[k]
                weighted[-1].weight.div_(thresholds[k])
                if weighted[-1].bias is not None:
                    weighted[-1].bias.div_(thresholds[k])
        target = encoder if k == 0 else body
        for name, module in segment:
            target[_key(name)] = module
        if k < len(acts):
            act_name = _key(layers[acts[k]][0])
            body[act_name] = IFNeuron(1.0, beta=beta, v_init=v_init, surrogate=surrogate)
    return nn.Sequential(encoder), nn.Sequential(body)


def _key(name: str) -> str:
    return name.replace(".", "_")
