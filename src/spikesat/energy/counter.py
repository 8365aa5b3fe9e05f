"""``count_ops``: per-layer MACs, synaptic ops, neuron updates and memory traffic of a forward pass.

How each number is obtained
---------------------------
* **Dense MACs** come from :class:`torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2), per
  module: a module's own MACs are its FLOPs minus those of its children, so attention matmuls
  land on the attention module and convolutions on the convolution. The CPU fused attention
  kernel, which the flop counter does not know, is registered with its standard formula.
* **Synaptic ops** come from forward hooks: when a ``Linear``, ``Conv1d/2d/3d`` or average pool
  receives spikes (see :func:`spikesat.energy.synops.spike_mask`), its work for that call is
  counted as ``spikes x exact fan-out`` (:mod:`spikesat.energy.synops`) instead of MACs.
* **Neuron updates and spikes** come from hooks on snnTorch neurons (``snntorch.SpikingNeuron``)
  and, where SpikingJelly is installed, its ``BaseNode`` neurons.
* **Memory traffic** is counted at leaf-module boundaries, as in an unfused layer-by-layer
  execution: a dense layer reads its parameters once per call, its input and writes its output;
  a spike-driven layer reads one weight per synaptic event and the spike events, and writes its
  output current; a neuron reads its input current, reads and writes its membrane and writes one
  spike bit per time step. Pure views (``Flatten``, ``Identity``, ``Dropout``) move nothing.
  Functional element-wise operations inside a parent's ``forward`` (residual additions, softmax)
  are not counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import snntorch
import torch
from torch import nn
from torch.utils._python_dispatch import _disable_current_modes
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from spikesat._checks import check_finite, check_tensor, expected_input_shape
from spikesat.energy.opcount import LayerOps, OpCount
from spikesat.energy.synops import avg_pool_synops, conv_synops, linear_synops, spike_mask
from spikesat.models.macs import flop_formulas

_SYNAPTIC = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_AVG_POOLS = (
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
)
_VIEWS = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout)


def _neuron_types() -> tuple[type, ...]:
    types: list[type] = [snntorch.SpikingNeuron]
    try:
        from spikingjelly.activation_based.neuron import BaseNode
    except ImportError:  # SpikingJelly is optional
        return tuple(types)
    types.append(BaseNode)
    return tuple(types)


def count_ops(
    model: nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor], spikes: str = "auto"
) -> OpCount:
    """Count the operations and memory traffic of ``model(*inputs)``.

    The model runs once under ``torch.no_grad()``; its train/eval mode is left as it is (call
    ``model.eval()`` first for inference counts). A spiking model built by
    :func:`spikesat.snn.convert` runs all of its time steps inside that one call.

    Parameters
    ----------
    model : nn.Module
        Any PyTorch model, ANN or SNN.
    inputs : torch.Tensor or sequence of torch.Tensor
        The model's positional inputs, e.g. an image batch ``[B, C, H, W]``. Must be finite.
    spikes : {"auto", "never"}
        ``"auto"`` counts a weighted layer whose input is a spike tensor (boolean, or one positive
        value) as synaptic ops; an all-zero input counts as spikes (none fired) only in a model
        that holds spiking neurons (snnTorch, SpikingJelly), so an ANN fed an all-zero image
        still counts its dense MACs. ``"never"`` counts every weighted layer as dense MACs.

    Returns
    -------
    OpCount
        Totals (``.macs``, ``.acs``, ``.synops``, ``.neuron_updates``, ``.memory_bytes``, ...)
        and ``.per_layer``, for the whole batch; ``.per_example()`` divides by the batch size.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module`` or ``inputs`` are not tensors.
    ValueError
        If ``spikes`` is not one of the choices, an input holds NaN or infinity, or the input
        does not have the shape the model takes (checked before the run where the model
        tells it, see :func:`spikesat._checks.expected_input_shape`; else the run's error is
        re-raised as a ``ValueError`` naming the input shapes).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if spikes not in ("auto", "never"):
        raise ValueError(f"spikes must be 'auto' or 'never', got {spikes!r}")
    if isinstance(inputs, torch.Tensor):
        args: tuple = (inputs,)
    elif isinstance(inputs, Sequence) and not isinstance(inputs, str | bytes):
        args = tuple(inputs)
    else:
        args = ()
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        raise TypeError(
            "inputs must be a tensor or a non-empty sequence of tensors, got "
            f"{type(inputs).__name__}; pass e.g. torch.randn(1, 3, 224, 224)"
        )
    expected = expected_input_shape(model)
    for i, a in enumerate(args):
        name = "inputs" if len(args) == 1 else f"inputs[{i}]"
        if i == 0 and expected is not None:
            check_tensor(a, name, shape=expected)
        else:
            check_finite(a, name)

    recorder = _Recorder(model, count_spikes=spikes == "auto")
    counter = FlopCounterMode(display=False, custom_mapping=flop_formulas())
    try:
        with torch.no_grad(), counter:
            model(*args)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as err:
        shapes = ", ".join(str(list(a.shape)) for a in args)
        raise ValueError(
            f"{type(model).__name__} failed on inputs of shape {shapes}: {err}; pass inputs "
            "shaped as the model's forward expects (e.g. an image batch [B, C, H, W])"
        ) from err
    finally:
        recorder.remove()
    recorder.add_macs(counter.get_flop_counts(), root_key=type(model).__name__)
    batch_size = int(args[0].shape[0]) if args[0].dim() > 0 else 1
    return OpCount(
        per_layer=recorder.layers(),
        batch_size=batch_size,
        num_steps=int(getattr(model, "num_steps", 1)),
    )


class _Recorder:
    """Forward hooks that fill one :class:`LayerOps` per module."""

    def __init__(self, model: nn.Module, count_spikes: bool) -> None:
        self.count_spikes = count_spikes
        self.neuron_types = _neuron_types()
        self.zeros_are_spikes = any(isinstance(m, self.neuron_types) for m in model.modules())
        self.names = {module: name for name, module in model.named_modules()}
        self.ops: dict[str, LayerOps] = {}
        self.order: list[str] = []
        self.handles = [m.register_forward_hook(self._hook) for m in model.modules()]
        for name, module in model.named_modules():
            own = list(module.parameters(recurse=False))
            self._layer(name, module).num_params = sum(p.numel() for p in own)
            if own:
                self._layer(name, module).bytes_per_param = float(own[0].element_size())

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def _layer(self, name: str, module: nn.Module) -> LayerOps:
        if name not in self.ops:
            self.ops[name] = LayerOps(name=name, kind=type(module).__name__)
        return self.ops[name]

    def _hook(self, module: nn.Module, args: tuple, output: Any) -> None:
        name = self.names[module]
        if name not in self.order:
            self.order.append(name)
        layer = self._layer(name, module)
        x = next((a for a in args if isinstance(a, torch.Tensor)), None)
        out = output[0] if isinstance(output, tuple | list) else output
        if x is None or not isinstance(out, torch.Tensor):
            return
        layer.max_activation = max(layer.max_activation, x.numel(), out.numel())
        if isinstance(module, self.neuron_types):
            self._neuron(layer, x, out)
            return
        if any(True for _ in module.children()):
            return  # a container: its leaves count their own traffic
        if isinstance(module, _VIEWS):
            return
        mask = spike_mask(x) if self.count_spikes else None
        if mask is not None and not self.zeros_are_spikes and not bool(mask.any()):
            mask = None  # an ANN fed zeros does its dense work all the same
        if mask is not None and isinstance(module, _SYNAPTIC + _AVG_POOLS):
            # The synop count runs convolutions of its own (receptive-field occupancy): keep
            # them out of the flop counter, which would book them to the enclosing module.
            with _disable_current_modes():
                self._synaptic(layer, module, mask, x, out)
            return
        layer.bytes_per_activation = float(out.element_size())
        layer.param_reads += sum(p.numel() for p in module.parameters(recurse=False))
        layer.activation_reads += sum(a.numel() for a in args if isinstance(a, torch.Tensor))
        layer.activation_writes += out.numel()

    def _neuron(self, layer: LayerOps, x: torch.Tensor, out: torch.Tensor) -> None:
        fired = spike_mask(out)
        if fired is None:
            raise ValueError(
                f"neuron layer {layer.name!r} ({layer.kind}) emitted graded values, not spikes; "
                "count_ops expects binary (or single-amplitude) spikes from spiking neurons"
            )
        layer.neuron_updates += out.numel()
        layer.spikes += int(fired.sum().item())
        layer.activation_reads += x.numel()
        layer.state_reads += out.numel()
        layer.state_writes += out.numel()
        layer.spike_writes += out.numel()
        layer.bytes_per_activation = float(x.element_size())
        layer.bytes_per_state = float(x.element_size())

    def _synaptic(
        self, layer: LayerOps, module: nn.Module, mask: torch.Tensor, x: torch.Tensor, out
    ) -> None:
        if isinstance(module, nn.Linear):
            synops = linear_synops(mask, module.out_features)
            dense = math.prod(x.shape[:-1]) * module.in_features * module.out_features
        elif isinstance(module, _AVG_POOLS):
            synops = avg_pool_synops(mask, module)
            dense = 0
        else:
            synops = conv_synops(mask, module)
            batched = x if x.dim() == len(module.kernel_size) + 2 else x.unsqueeze(0)
            dense = (
                conv_flop_count(
                    list(batched.shape), list(module.weight.shape), list(out.shape), False
                )
                // 2
            )
        bias = getattr(module, "bias", None)
        layer.synops += synops
        layer.acs += synops + (out.numel() if bias is not None else 0)
        layer.spike_layer_macs += dense
        layer.param_reads += synops + (out.numel() if bias is not None else 0)
        layer.spike_reads += int(mask.sum().item())
        layer.activation_writes += out.numel()
        layer.bytes_per_activation = float(out.element_size())

    def add_macs(self, flop_counts: dict[str, dict[Any, int]], root_key: str) -> None:
        """Attribute the flop counter's per-module FLOPs to the modules that did them.

        A module's own FLOPs are its total minus the totals of its nearest *called* descendants
        (a container that is never called itself, like a ``blocks`` Sequential whose children
        a parent calls one by one, has no total and is looked through).
        """
        totals = {}
        for name in self.ops:
            key = f"{root_key}.{name}" if name else root_key
            if key in flop_counts:
                totals[name] = sum(flop_counts[key].values())
        own = dict(totals)
        for name, total in totals.items():
            ancestor = _nearest_ancestor(name, totals)
            if ancestor is not None:
                own[ancestor] -= total
        for name, layer in self.ops.items():
            # Spike-driven calls were priced as synops: remove their dense FLOPs from the MACs.
            layer.macs = max(own.get(name, 0) // 2 - layer.spike_layer_macs, 0)

    def layers(self) -> list[LayerOps]:
        kept = []
        for name in self.order:
            layer = self.ops[name]
            busy = any(
                getattr(layer, key)
                for key in (
                    "macs",
                    "synops",
                    "neuron_updates",
                    "param_reads",
                    "activation_reads",
                    "spike_reads",
                )
            )
            if busy:
                kept.append(layer)
        return kept


def _nearest_ancestor(name: str, recorded: dict[str, int]) -> str | None:
    """The closest enclosing module name (``"a.b"`` -> ``"a"`` -> ``""``) in ``recorded``."""
    while name:
        name = name.rpartition(".")[0]
        if name in recorded:
            return name
    return None
