"""NIR export of converted networks and a small reference interpreter for NIR graphs.

A :class:`SpikingNetwork` (a task head) becomes a chain ``input -> layers -> output``; a
:class:`~spikesat.snn.HybridSNN` (an on-board part) a feed-forward graph with residual sums
(:mod:`spikesat.snn.nir_hybrid`). The nodes are NIR primitives: ``Affine`` (Linear),
``Conv1d``/``Conv2d``, ``Flatten``, ``AvgPool2d``, ``Scale``, and ``IF`` (``beta = 1``) or ``LIF``
(``beta < 1``) neurons. Two facts of spikesat's neurons that NIR's ``IF`` node does not model
are stored in each neuron node's ``metadata``: ``reset="subtract"`` (NIR's ``IF`` resets to
``v_reset``) with snnTorch's timing (``reset_timing="next-step"``: the threshold of a spike
fired at step t is subtracted at step t+1, after the leak, so it is not decayed), and
``v_init`` (the initial membrane). For ``beta = 1`` the timing makes no difference. The
graph's ``metadata`` holds ``num_steps``, ``encoding="direct"`` (the analog input is
presented at every step) and ``readout="mean"`` (the output is averaged over the steps).
:func:`run_nir` executes a graph with exactly these semantics, so a written graph can be read
back and checked against the network it came from. (snnTorch's own NIR import needs the
``nirtorch`` package and models a reset to zero, hence the interpreter here.)
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spikesat._checks import check_tensor
from spikesat.snn.hybrid import HybridSNN
from spikesat.snn.network import SpikingNetwork, check_num_steps
from spikesat.snn.neurons import IFNeuron

if TYPE_CHECKING:
    import nir

DT_S = 1e-4
"""Time step [s] assumed when a leaky neuron's decay is written as NIR time constants."""


def _import_nir() -> ModuleType:
    """The ``nir`` package (the optional ``[nir]`` extra), or an ImportError naming the fix."""
    try:
        import nir
    except ImportError as error:
        raise ImportError(
            "NIR export needs the 'nir' package: pip install \"spikesat[nir]\""
        ) from error
    return nir


def export_nir(
    model: SpikingNetwork | HybridSNN, sample: torch.Tensor, path: str | Path | None = None
) -> nir.NIRGraph:
    """Write ``model`` as a NIR graph.

    Parameters
    ----------
    model : SpikingNetwork or HybridSNN
        A task network from :func:`spikesat.snn.convert` (a chain), or an on-board part from
        :func:`spikesat.snn.convert_onboard` (a feed-forward graph with residual sums; see
        :mod:`spikesat.snn.nir_hybrid`).
    sample : torch.Tensor
        An input batch ``[B, ...]`` of the shape the network takes (``[B, D]`` for a task
        head, images for an on-board part), used to infer every layer's shape.
    path : path, optional
        Where to write the graph (HDF5, via ``nir.write``).

    Returns
    -------
    nir.NIRGraph

    Raises
    ------
    TypeError
        If ``model`` is not a SpikingNetwork or HybridSNN, or ``sample`` not a tensor.
    ValueError
        If ``sample`` has another shape than the network's first layer takes, or holds NaN;
        if a layer has no NIR primitive (named).
    """
    nir = _import_nir()
    if not isinstance(model, SpikingNetwork | HybridSNN):
        raise TypeError(
            f"export_nir takes a SpikingNetwork (spikesat.snn.convert) or a HybridSNN "
            f"(spikesat.snn.convert_onboard), got {type(model).__name__}"
        )
    check_tensor(
        sample,
        "sample",
        shape=model.expected_input_shape() or (..., None),
        hint="pass an input batch of the shape the network takes (one example is enough)",
    )
    if isinstance(model, HybridSNN):
        from spikesat.snn.nir_hybrid import hybrid_nir_nodes

        nodes, edges = hybrid_nir_nodes(model, sample)
    else:
        nodes, edges = _chain_nodes(model, sample)
    graph = nir.NIRGraph(
        nodes=nodes,
        edges=edges,
        metadata={
            "producer": "spikesat",
            "num_steps": model.num_steps,
            "encoding": "direct",
            "readout": "mean",
            "method": model.method,
        },
    )
    if path is not None:
        nir.write(str(path), graph)
    return graph


def _chain_nodes(
    model: SpikingNetwork, sample: torch.Tensor
) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """The chain ``input -> encoder -> body -> output`` of a converted task network."""
    nir = _import_nir()
    modules = [*model.encoder.named_children(), *model.body.named_children()]
    shapes = _input_shapes(model, sample, [m for _, m in modules])
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array(sample.shape[1:])})
    }
    chain = ["input"]
    for name, module in modules:
        nodes[name] = _node(name, module, shapes[module])
        chain.append(name)
    with torch.no_grad():
        out_shape = model(sample[:1]).shape[1:]
    nodes["output"] = nir.Output(output_type={"output": np.array(out_shape)})
    chain.append("output")
    return nodes, list(itertools.pairwise(chain))


def _input_shapes(model: SpikingNetwork, sample: torch.Tensor, modules: list[nn.Module]):
    shapes: dict[nn.Module, tuple[int, ...]] = {}
    handles = [m.register_forward_hook(_ShapeHook(shapes)) for m in modules]
    try:
        with torch.no_grad():
            steps = model.num_steps
            model.num_steps = 1
            model(sample[:1])
            model.num_steps = steps
    finally:
        for handle in handles:
            handle.remove()
    return shapes


class _ShapeHook:
    def __init__(self, store: dict) -> None:
        self.store = store

    def __call__(self, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        self.store[module] = tuple(args[0].shape[1:])


def _node(name: str, module: nn.Module, in_shape: tuple[int, ...]) -> nir.NIRNode:
    nir = _import_nir()
    if isinstance(module, nn.Linear):
        bias = module.bias if module.bias is not None else torch.zeros(module.out_features)
        return nir.Affine(weight=_np(module.weight), bias=_np(bias))
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        if module.padding_mode != "zeros":
            raise ValueError(
                f"NIR convolutions pad with zeros; {name!r} uses {module.padding_mode}"
            )
        bias = module.bias if module.bias is not None else torch.zeros(module.out_channels)
        cls = nir.Conv1d if isinstance(module, nn.Conv1d) else nir.Conv2d
        return cls(
            input_shape=in_shape[1:],
            weight=_np(module.weight),
            stride=module.stride,
            padding=module.padding,
            dilation=module.dilation,
            groups=module.groups,
            bias=_np(bias),
        )
    if isinstance(module, nn.Flatten):
        start = module.start_dim - 1 if module.start_dim > 0 else module.start_dim
        end = module.end_dim - 1 if module.end_dim > 0 else module.end_dim
        return nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=start, end_dim=end)
    if isinstance(module, nn.AvgPool2d | nn.AdaptiveAvgPool2d):
        kernel, stride, padding = _avg_pool_geometry(name, module, in_shape)
        return nir.AvgPool2d(
            kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(padding)
        )
    if isinstance(module, IFNeuron):
        ones = np.ones(in_shape, dtype=np.float32)
        meta = {
            "reset": "subtract",
            "reset_timing": "next-step",
            "v_init": module.v_init * module.threshold,
        }
        if module.beta == 1.0:
            return nir.IF(r=ones, v_threshold=ones * module.threshold, metadata=meta)
        tau = DT_S / (1.0 - module.beta)
        return nir.LIF(
            tau=ones * tau,
            r=ones * tau / DT_S,
            v_leak=ones * 0.0,
            v_threshold=ones * module.threshold,
            metadata={**meta, "dt_s": DT_S},
        )
    raise ValueError(
        f"layer {name!r} ({type(module).__name__}) has no NIR primitive; NIR export supports "
        "Linear, Conv1d, Conv2d, Flatten, AvgPool2d (and divisible AdaptiveAvgPool2d) and "
        "IF/LIF neurons (no LayerNorm or MaxPool)"
    )


def _avg_pool_geometry(name: str, module: nn.Module, in_shape: tuple[int, ...]):
    if isinstance(module, nn.AvgPool2d):
        kernel = _pair(module.kernel_size)
        stride = _pair(module.stride or module.kernel_size)
        padding = _pair(module.padding)
        if any(padding) and not module.count_include_pad:
            raise ValueError(f"{name!r}: NIR AvgPool2d divides by the full window")
        return kernel, stride, padding
    out = _pair(module.output_size)
    size = in_shape[-2:]
    out = tuple(s if o is None else o for s, o in zip(size, out, strict=True))
    if any(s % o for s, o in zip(size, out, strict=True)):
        raise ValueError(f"{name!r}: AdaptiveAvgPool2d {size}->{out} is not a uniform pooling")
    kernel = tuple(s // o for s, o in zip(size, out, strict=True))
    return kernel, kernel, (0, 0)


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple | list) else (value, value)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def run_nir(graph: nir.NIRGraph | str | Path, x: torch.Tensor, num_steps: int | None = None):
    """Execute a NIR graph written by :func:`export_nir` and return the mean readout.

    Nodes run in a topological order at every step; a node with several inputs gets their
    sum (NIR's convention).

    Parameters
    ----------
    graph : nir.NIRGraph or path
        The graph, or a file written by ``nir.write``.
    x : torch.Tensor
        Inputs ``[B, ...]``, presented at every step.
    num_steps : int, optional
        Steps to run (default: the graph's ``metadata["num_steps"]``).

    Returns
    -------
    torch.Tensor
        The output averaged over the steps ``[B, ...]``.
    """
    nir = _import_nir()
    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(str(graph))
    steps = check_num_steps(int(num_steps or graph.metadata["num_steps"]))
    node = graph.nodes.get("input")
    want = getattr(node, "input_type", {}).get("input") if node is not None else None
    expected = ("B", *(int(v) for v in want)) if want is not None else (..., None)
    check_tensor(x, "x", shape=expected, hint="pass inputs of the shape the graph was exported for")
    order, inputs = _feed_forward_order(graph)
    membranes: dict[str, torch.Tensor] = {}
    total = None
    for _ in range(steps):
        values = {"input": x}
        for name in order:
            h = sum(values[src] for src in inputs[name])
            values[name] = _apply(name, graph.nodes[name], h, membranes)
        h = values["output"]
        total = h if total is None else total + h
    return total / steps


def _feed_forward_order(graph: nir.NIRGraph) -> tuple[list[str], dict[str, list[str]]]:
    """The nodes after ``input`` in a topological order, and each node's predecessors."""
    inputs: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        if src not in graph.nodes or dst not in graph.nodes:
            raise ValueError(f"edge {src!r} -> {dst!r} names a node the graph does not have")
        inputs[dst].append(src)
    done, order = {"input"}, []
    pending = [n for n in graph.nodes if n != "input"]
    while pending:
        ready = [n for n in pending if inputs[n] and all(s in done for s in inputs[n])]
        if not ready:
            raise ValueError(
                f"run_nir executes feed-forward graphs fed by 'input'; {pending[:3]} are "
                "unreachable or in a cycle"
            )
        order += ready
        done.update(ready)
        pending = [n for n in pending if n not in done]
    if "output" not in done:
        raise ValueError("the graph has no 'output' node")
    return order, inputs


def _apply(name: str, node: nir.NIRNode, h: torch.Tensor, membranes: dict) -> torch.Tensor:
    nir = _import_nir()
    t = torch.as_tensor
    if isinstance(node, nir.Output):
        return h
    if isinstance(node, nir.Scale):
        return h * t(node.scale)
    if isinstance(node, nir.Affine):
        return F.linear(h, t(node.weight), t(node.bias))
    if isinstance(node, nir.Linear):
        return F.linear(h, t(node.weight))
    if isinstance(node, nir.Conv1d | nir.Conv2d):
        conv = F.conv1d if isinstance(node, nir.Conv1d) else F.conv2d
        padding = (
            node.padding if isinstance(node.padding, str) else tuple(np.atleast_1d(node.padding))
        )
        return conv(
            h,
            t(node.weight),
            t(node.bias),
            tuple(np.atleast_1d(node.stride)),
            padding,
            tuple(np.atleast_1d(node.dilation)),
            int(node.groups),
        )
    if isinstance(node, nir.Flatten):
        start = node.start_dim + 1 if node.start_dim >= 0 else node.start_dim
        end = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim
        return torch.flatten(h, start, end)
    if isinstance(node, nir.AvgPool2d):
        return F.avg_pool2d(
            h,
            tuple(int(k) for k in np.atleast_1d(node.kernel_size)),
            tuple(int(s) for s in np.atleast_1d(node.stride)),
            tuple(int(p) for p in np.atleast_1d(node.padding)),
        )
    if isinstance(node, nir.IF | nir.LIF):
        threshold = t(node.v_threshold)
        if name not in membranes:
            membranes[name] = torch.full_like(h, float(node.metadata.get("v_init", 0.0)))
        v = membranes[name]
        subtract = node.metadata.get("reset", "zero") == "subtract"
        fired_before = (v > threshold).to(h.dtype)
        if not subtract:
            v = torch.where(fired_before.bool(), t(node.v_reset).to(h.dtype), v)
        if isinstance(node, nir.IF):
            v = v + t(node.r) * h
        else:
            dt = float(node.metadata.get("dt_s", DT_S))
            v = v + dt / t(node.tau) * (t(node.v_leak) - v + t(node.r) * h)
        if subtract:  # snnTorch: the previous step's spike is subtracted, undecayed, now
            v = v - fired_before * threshold
        membranes[name] = v
        return (v > threshold).to(h.dtype)
    raise ValueError(f"run_nir does not execute NIR node {name!r} ({type(node).__name__})")
