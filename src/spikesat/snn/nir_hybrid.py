"""NIR graphs of converted on-board parts (:class:`~spikesat.snn.HybridSNN`).

The part is traced with ``torch.fx`` and each node becomes NIR primitives:

* ``Conv1d``/``Conv2d``/``Linear`` -> ``Conv1d``/``Conv2d``/``Affine`` (BatchNorm is already
  folded into them by the conversion); ``Flatten``, ``AvgPool2d`` and uniform
  ``AdaptiveAvgPool2d`` as in :func:`~spikesat.snn.export_nir`;
* each integrate-and-fire layer of threshold ``theta`` (spikes of amplitude ``theta``) ->
  an ``IF`` node (``r = 1``, ``v_threshold = theta``, reset by subtraction, ``v_init`` in
  the metadata) followed by a ``Scale`` of ``theta``, so the graph's values are the part's;
* a residual sum ``a + b`` -> a ``Scale`` of ones with an edge from each operand (NIR sums
  the inputs of a node);
* ``Identity``/``Dropout`` -> nothing (the edge passes through).

Layers with no NIR primitive (the rate-gated max-pool, LayerNorm, GELU, attention) raise a
ValueError that names them. The first layers, which see only the analog image, are written
as they are: under direct encoding the image is presented at every step, which gives what the
part's once-per-inference cache gives.
"""

from __future__ import annotations

import copy
import operator
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from spikesat.snn.hybrid import HybridSNN, RateMaxPool, ScaledIF, StepCache

if TYPE_CHECKING:
    import nir

_PASS_THROUGH = (nn.Identity, nn.Dropout)
_FLATTEN_FUNCTIONS = (torch.flatten,)
_ADD_FUNCTIONS = (operator.add, torch.add)


class _Tracer(fx.Tracer):
    """Keeps spikesat's neuron layers whole (they hold state across steps)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, ScaledIF | RateMaxPool) or super().is_leaf_module(m, qualname)


def _plain(part: nn.Module) -> nn.Module:
    """A traceable copy: input checks dropped and the cached input stage unwrapped."""
    model = copy.deepcopy(part)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, StepCache):
                setattr(module, child_name, child.inner)
    if isinstance(model, nn.Sequential):
        model = nn.Sequential(OrderedDict(model.named_children()))
    return model.eval()


def hybrid_nir_nodes(
    model: HybridSNN, sample: torch.Tensor
) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """The NIR nodes and edges of ``model`` for inputs shaped like ``sample`` ``[B, ...]``.

    Raises
    ------
    ValueError
        If a layer has no NIR primitive (named, with what to do).
    """
    from spikesat.snn.nir_export import _import_nir, _node

    nir = _import_nir()
    part = _plain(model.part)
    graph = fx.GraphModule(part, _Tracer().trace(part))
    with torch.no_grad():
        ShapeProp(graph).propagate(sample[:1])
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    sources: dict[str, list[str]] = {}  # fx node -> the NIR nodes whose sum is its value

    def add(name: str, node: nir.NIRNode, inputs: list[str], fx_name: str) -> None:
        nodes[name] = node
        edges.extend((src, name) for src in inputs)
        sources[fx_name] = [name]

    def shape_of(arg: fx.Node) -> tuple[int, ...]:
        return tuple(arg.meta["tensor_meta"].shape[1:])

    for fx_node in graph.graph.nodes:
        name = fx_node.name
        if fx_node.op == "placeholder":
            add("input", nir.Input(input_type={"input": np.array(sample.shape[1:])}), [], name)
            continue
        if fx_node.op == "output":
            (result,) = fx_node.args
            out_shape = np.array(result.meta["tensor_meta"].shape[1:])
            add("output", nir.Output(output_type={"output": out_shape}), sources[result.name], name)
            continue
        args = [a for a in fx_node.args if isinstance(a, fx.Node)]
        inputs = [s for a in args[:1] for s in sources[a.name]]
        if fx_node.op == "call_module":
            module = graph.get_submodule(fx_node.target)
            label = str(fx_node.target)
            if isinstance(module, _PASS_THROUGH):
                sources[name] = inputs
            elif isinstance(module, ScaledIF):
                ones = np.ones(shape_of(args[0]), dtype=np.float32)
                neuron = module.neuron
                meta = {
                    "reset": "subtract",
                    "reset_timing": "next-step",
                    "v_init": neuron.v_init * module.theta,
                }
                if_node = nir.IF(r=ones, v_threshold=ones * module.theta, metadata=meta)
                add(f"{label}.if", if_node, inputs, f"{name}.if")
                add(label, nir.Scale(scale=ones * module.theta), [f"{label}.if"], name)
            else:
                try:
                    add(label, _node(label, module, shape_of(args[0])), inputs, name)
                except ValueError as error:
                    raise ValueError(
                        f"{error}; the converted part's layer {label!r} keeps "
                        f"{type(module).__name__} (stays analog or rate-gated), so the part "
                        "has no NIR graph: cut the LAM before it"
                    ) from None
        elif fx_node.op == "call_function" and fx_node.target in _ADD_FUNCTIONS:
            if len(args) != 2 or fx_node.kwargs:
                raise ValueError(
                    f"NIR export sums two tensors; {name!r} is {fx_node.format_node()}"
                )
            ones = np.ones(tuple(fx_node.meta["tensor_meta"].shape[1:]), dtype=np.float32)
            add(name, nir.Scale(scale=ones), [s for a in args for s in sources[a.name]], name)
        elif fx_node.op == "call_function" and fx_node.target in _FLATTEN_FUNCTIONS:
            start = _arg(fx_node, 1, "start_dim", 0)
            end = _arg(fx_node, 2, "end_dim", -1)
            add(name, _node(name, nn.Flatten(start, end), shape_of(args[0])), inputs, name)
        else:
            raise ValueError(
                f"{fx_node.format_node()} has no NIR primitive; NIR export of an on-board part "
                "supports convolutions, linear layers, IF neurons, residual sums, flatten and "
                "average pooling"
            )
    return nodes, edges


def _arg(fx_node: fx.Node, index: int, key: str, default: Any) -> Any:
    if len(fx_node.args) > index:
        return fx_node.args[index]
    return fx_node.kwargs.get(key, default)
