"""``convert_onboard``: a LAM's on-board part as a hybrid spiking network.

Any module (residual blocks, attention, a zoo model's ``SplitModel.onboard``) is converted
where integrate-and-fire neurons can carry its activations, and left analog where they cannot:

1. **BatchNorm** fed by a convolution or linear layer is folded into it (found by running the
   part once and matching each BatchNorm's input tensor to the layer that produced it; the
   folded part is checked to answer as before).
2. A **max-pool fed by spikes** becomes a rate-gated max-pool (Rueckauer et al. 2017): each
   window passes, at every step, the spikes of the input neuron that has fired most so far,
   so its rate tends to the maximum of the input rates.
3. Every **ReLU** (and **QCFS**, whose threshold is kept) becomes an integrate-and-fire layer
   (snnTorch, reset by subtraction, membrane starting at ``v_init`` of the threshold) with the
   threshold ``theta`` of that activation: its maximum or a percentile on the calibration data
   (Diehl et al. 2015; Rueckauer et al. 2017). Each neuron emits spikes of amplitude ``theta``,
   which is the usual weight normalisation with ``theta`` folded into the next layer's
   weights. ``gelu="relu"`` turns GELUs into neurons too (an approximation: the ANN never
   computed ReLU there); ``gelu="analog"`` (default) keeps them analog.
4. What stays analog (LayerNorm, GELU, softmax attention, GRN, the first layer that sees the
   image) runs as it is at every time step, and its energy is counted as analog operations
   by :func:`spikesat.energy.count_ops`.

The part runs ``num_steps`` times on the same analog input (direct encoding); the output is
the mean over the steps (a rate); :meth:`HybridSNN.forward_spikes` gives the per-step spikes
when the part ends in a neuron, the payload of ``codecs.create("spikes", ...)``.
:meth:`HybridSNN.layer_table` lists every weighted and non-linear layer as spiking or analog.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spikesat.energy.synops import spike_mask
from spikesat.snn.activations import is_gelu
from spikesat.snn.batches import calibration_tensors
from spikesat.snn.calibration import activation_scales
from spikesat.snn.network import check_num_steps
from spikesat.snn.neurons import IFNeuron
from spikesat.snn.qcfs import QCFS

HYBRID_METHODS = ("max", "percentile", "qcfs")
GELU_MODES = ("analog", "relu")
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
_BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)
_ANALOG_NONLINEAR = (nn.LayerNorm, nn.GELU, nn.Softmax, nn.SiLU, nn.Sigmoid, nn.Tanh)


class ScaledIF(nn.Module):
    """Integrate-and-fire neurons of threshold ``theta`` emitting spikes of amplitude ``theta``.

    One call is one time step: current ``[B, ...]`` -> ``theta * spikes`` ``[B, ...]``.
    """

    def __init__(self, theta: float, v_init: float = 0.5, surrogate: str = "atan") -> None:
        super().__init__()
        if not theta > 0:
            raise ValueError(f"threshold must be > 0, got {theta!r}")
        self.theta = float(theta)
        self.neuron = IFNeuron(1.0, v_init=v_init, surrogate=surrogate)
        self.spike_total: torch.Tensor | None = None

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        spikes = self.neuron(current / self.theta)
        if self.training:  # the differentiable spike count, for a spike-rate loss
            total = spikes.sum()
            self.spike_total = total if self.spike_total is None else self.spike_total + total
        return spikes * self.theta

    def reset_state(self) -> None:
        """Forget the membranes and zero the spike counters (a new inference)."""
        self.neuron.reset()
        self.neuron.reset_counts()
        self.spike_total = None

    def extra_repr(self) -> str:
        return f"theta={self.theta:.4g}"


class RateMaxPool(nn.Module):
    """Max-pooling of spike trains gated by the inputs' firing so far (one call per step).

    Each window outputs the current spike of the input with the largest cumulative input
    ``[B, C, H, W]`` (ties: the first), so the output rate tends to the largest input rate.
    """

    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        self.kernel_size, self.stride = pool.kernel_size, pool.stride
        self.padding, self.dilation = pool.padding, pool.dilation
        self.counts: torch.Tensor | None = None

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        if self.counts is None or self.counts.shape != spikes.shape:
            self.counts = torch.zeros_like(spikes)
        self.counts = self.counts + spikes
        _, index = nn.functional.max_pool2d(
            self.counts, self.kernel_size, self.stride, self.padding, self.dilation,
            return_indices=True,
        )  # fmt: skip
        flat = spikes.flatten(2).gather(2, index.flatten(2))
        return flat.view(index.shape)

    def reset_state(self) -> None:
        self.counts = None


class StepCache(nn.Module):
    """Runs ``module`` at the first step of an inference and replays its output after.

    Wraps the layers that run before the first neuron (they see only the analog input), so
    the analog input stage is computed, and counted, once per inference.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.inner = module
        self.output: Any = None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.output is None:
            self.output = self.inner(*args, **kwargs)
        return self.output

    def reset_state(self) -> None:
        self.output = None


@dataclass(frozen=True)
class LayerRole:
    """How one layer of a converted part runs.

    Attributes
    ----------
    name : str
        Qualified module name in the part.
    kind : str
        Module class.
    role : {"spiking", "analog", "neuron", "analog-nonlinear"}
        ``spiking``: a weighted layer driven by spikes (synaptic ops); ``analog``: a weighted
        layer fed graded values (MACs); ``neuron``: integrate-and-fire; ``analog-nonlinear``:
        a normalisation or activation with no spiking form, run on graded values.
    reason : str
        Why it is analog (empty for spiking layers and neurons).
    """

    name: str
    kind: str
    role: str
    reason: str = ""


class HybridSNN(nn.Module):
    """A converted on-board part (see the module docstring).

    Parameters
    ----------
    part : nn.Module
        The part with BatchNorm folded and activations replaced by :class:`ScaledIF`.
    num_steps : int
        Time steps per inference.
    method : str
        How the thresholds were set.
    thresholds : dict of str to float
        Activation name -> ``theta``.
    """

    def __init__(
        self, part: nn.Module, num_steps: int, method: str, thresholds: dict[str, float]
    ) -> None:
        super().__init__()
        self.part = part
        self.num_steps = check_num_steps(num_steps)
        self.method = method
        self.thresholds = dict(thresholds)
        self.input_shape = getattr(part, "input_shape", None)
        self.last_spikes: dict[str, int] = {}
        self.last_updates: dict[str, int] = {}

    def expected_input_shape(self) -> tuple | None:
        """The input shape of the original part, when it declares one."""
        return None if self.input_shape is None else tuple(self.input_shape)

    def neurons(self) -> dict[str, ScaledIF]:
        """The integrate-and-fire layers by name."""
        return {n: m for n, m in self.part.named_modules() if isinstance(m, ScaledIF)}

    def _reset(self) -> None:
        """Start a new inference: membranes, counters, gates and cached input stage."""
        for module in self.part.modules():
            if isinstance(module, ScaledIF | RateMaxPool | StepCache):
                module.reset_state()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[B, C, H, W]`` -> the part's output averaged over the steps."""
        return self.forward_steps(x).mean(0)

    def rate_loss(self) -> torch.Tensor:
        """Spikes per neuron per step of the last training-mode call, differentiable through
        the surrogate gradient (the driver of the synaptic-op count)."""
        totals = [m.spike_total for m in self.neurons().values() if m.spike_total is not None]
        if not totals:
            raise RuntimeError("rate_loss needs a forward call in training mode first")
        updates = sum(self.last_updates.values())
        return torch.stack(totals).sum() / max(updates, 1)

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """The part's output at every step ``[num_steps, B, ...]``."""
        self._reset()
        steps = [self.part(x) for _ in range(self.num_steps)]
        spikes = {n: m.neuron.num_spikes for n, m in self.neurons().items()}
        updates = {n: m.neuron.num_updates for n, m in self.neurons().items()}
        totals = {n: m.spike_total for n, m in self.neurons().items()}
        self._reset()  # drop the state tensors: the module pickles cleanly
        for name, neuron in self.neurons().items():
            neuron.spike_total = totals[name]  # kept for rate_loss (None in eval mode)
        self.last_spikes, self.last_updates = spikes, updates
        return torch.stack(steps)

    def forward_spikes(self, x: torch.Tensor) -> torch.Tensor:
        """The binary spikes at the output ``[num_steps, B, ...]`` (float 0/1).

        Raises
        ------
        ValueError
            If the part does not end in spiking neurons (its output is graded).
        """
        steps = self.forward_steps(x)
        theta = self._output_theta(steps)
        return (steps / theta).round().clamp(0, 1)

    def _output_theta(self, steps: torch.Tensor) -> float:
        values = torch.unique(steps.detach())
        positive = values[values > 0]
        if len(positive) > 1 or bool((values < 0).any()):
            raise ValueError(
                "the converted part does not end in spiking neurons (its output takes "
                f"{len(values)} distinct values); cut the LAM right after an activation to send "
                "spikes, or send the rate forward(x) through a feature codec"
            )
        return float(positive[0]) if len(positive) else 1.0

    @property
    def spike_rate(self) -> float:
        """Spikes per neuron per step in the last call."""
        updates = sum(self.last_updates.values())
        return sum(self.last_spikes.values()) / updates if updates else 0.0

    def layer_spike_rates(self) -> dict[str, float]:
        """Spikes per neuron per step of each neuron layer in the last call."""
        return {
            n: self.last_spikes[n] / self.last_updates[n] if self.last_updates[n] else 0.0
            for n in self.last_spikes
        }

    def layer_table(self, x: torch.Tensor) -> list[LayerRole]:
        """Run one step on ``x`` and list each weighted, neuron and analog non-linear layer."""
        roles: dict[str, LayerRole] = {}
        names = {m: n.replace(".inner", "") for n, m in self.part.named_modules()}
        first = {"seen": False}

        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            name, kind = names[module], type(module).__name__
            if isinstance(module, ScaledIF):
                roles[name] = LayerRole(name, kind, "neuron")
            elif isinstance(module, _WEIGHTED):
                spikes = spike_mask(args[0]) is not None
                reason = "" if spikes else (
                    "takes the analog image" if not first["seen"] else "fed graded values"
                )  # fmt: skip
                roles[name] = LayerRole(name, kind, "spiking" if spikes else "analog", reason)
                first["seen"] = True
            elif isinstance(module, _ANALOG_NONLINEAR) or not _is_known(module):
                if not any(True for _ in module.children()):
                    roles[name] = LayerRole(
                        name, kind, "analog-nonlinear", "no integrate-and-fire form"
                    )

        handles = [m.register_forward_hook(hook) for m in self.part.modules()]
        try:
            self._reset()
            with torch.no_grad():
                self.part(x)
        finally:
            for handle in handles:
                handle.remove()
            self._reset()
        return list(roles.values())


def _is_known(module: nn.Module) -> bool:
    """Modules that are linear, pooling or views (spike-compatible without a neuron)."""
    simple = (
        nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
        nn.AdaptiveAvgPool2d, nn.Flatten, nn.Identity, nn.Dropout, nn.Sequential, ScaledIF,
        IFNeuron, StepCache, RateMaxPool,
    )  # fmt: skip
    if type(module).__name__ == "DropPath":  # timm's stochastic depth: identity at inference
        return True
    return isinstance(module, simple + _WEIGHTED) or type(module).__module__.startswith("snntorch")


def convert_onboard(
    part: nn.Module,
    calibration_data: Any,
    num_steps: int = 8,
    method: str = "percentile",
    percentile: float = 99.9,
    gelu: str = "analog",
    v_init: float = 0.5,
    surrogate: str = "atan",
) -> HybridSNN:
    """Convert ``part`` (e.g. ``models.split(lam, at).onboard``) to a :class:`HybridSNN`.

    Parameters
    ----------
    part : nn.Module
        The ANN; left unchanged.
    calibration_data : tensor or iterable of batches
        Representative inputs ``[N, C, H, W]`` for the thresholds.
    num_steps : int
        Time steps (>= 1).
    method : {"max", "percentile", "qcfs"}
        Thresholds from the activations' maximum or percentile, or the QCFS layers' learned
        ``lambda`` (the part must have been trained with QCFS activations).
    percentile : float
        For ``method="percentile"``, in (0, 100).
    gelu : {"analog", "relu"}
        Keep GELUs analog, or make them integrate-and-fire neurons as if they were ReLUs.
    v_init : float
        Initial membrane as a fraction of the threshold.
    surrogate : str
        Surrogate gradient of the neurons (for fine-tuning).

    Raises
    ------
    ValueError
        ``num_steps < 1``, an unknown method or gelu mode, calibration data that are empty,
        non-finite or of the wrong shape, a part with no activation that can spike (named), an
        activation that never fires on the calibration data, or a BatchNorm fold that changes
        the part's answers.
    """
    num_steps = check_num_steps(num_steps)
    if method not in HYBRID_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(HYBRID_METHODS)}")
    if gelu not in GELU_MODES:
        raise ValueError(f"unknown gelu mode {gelu!r}; choose one of {', '.join(GELU_MODES)}")
    if not 0 < percentile < 100:
        raise ValueError(f"percentile must be in (0, 100), got {percentile!r}")
    shape = getattr(part, "input_shape", None)
    batches = calibration_tensors(calibration_data, tuple(shape) if shape else None)
    model = copy.deepcopy(part).eval()
    _fold_batchnorms(model, batches[0][:8])
    names = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.ReLU | QCFS) or (gelu == "relu" and is_gelu(m))
    ]
    if not names:
        analog = sorted({type(m).__name__ for m in model.modules() if is_gelu(m)})
        raise ValueError(
            f"{type(part).__name__} has no ReLU or QCFS activation to turn into spiking neurons"
            + (f" (its {analog} stay analog; pass gelu='relu' to spike there)" if analog else "")
        )
    if method == "qcfs":
        plain = [n for n in names if not isinstance(model.get_submodule(n), QCFS)]
        if plain:
            raise ValueError(
                f"method='qcfs' needs QCFS activations, but {plain[:5]} are not; train with "
                "spikesat.snn.replace_relu_with_qcfs first, or use 'max' or 'percentile'"
            )
        thresholds = {n: float(model.get_submodule(n).threshold.detach()) for n in names}
    else:
        thresholds = activation_scales(
            model, batches, names, None if method == "max" else percentile
        )
    silent = [n for n, theta in thresholds.items() if not theta > 0]
    if silent:
        raise ValueError(
            f"activations {silent[:5]} never fire on the calibration data; use more "
            "representative calibration inputs"
        )
    for name in names:
        _set_submodule(model, name, ScaledIF(thresholds[name], v_init, surrogate))
    _gate_maxpools(model)
    _cache_input_stage(model, batches[0][:1])
    model.input_shape = shape
    return HybridSNN(model, num_steps, method, thresholds)


def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


@torch.no_grad()
def fold_batchnorm_into(layer: nn.Module, norm: nn.Module) -> None:
    """Fold the eval-mode BatchNorm ``norm`` into the Linear/Conv ``layer`` before it, in place."""
    std = torch.sqrt(norm.running_var + norm.eps)
    gamma = norm.weight if norm.affine else torch.ones_like(std)
    shift = norm.bias if norm.affine else torch.zeros_like(std)
    scale = gamma / std
    layer.weight.mul_(scale.reshape((-1,) + (1,) * (layer.weight.dim() - 1)))
    bias = layer.bias if layer.bias is not None else torch.zeros_like(std)
    layer.bias = nn.Parameter((bias - norm.running_mean) * scale + shift)


@torch.no_grad()
def _fold_batchnorms(model: nn.Module, sample: torch.Tensor) -> None:
    """Fold each BatchNorm whose input is a Linear/Conv output into that layer, in place."""
    producers: dict[int, nn.Module] = {}
    pairs: list[tuple[str, nn.Module, nn.Module]] = []
    names = {m: n for n, m in model.named_modules()}

    def record(module: nn.Module, args: tuple, output: Any) -> None:
        if isinstance(module, _WEIGHTED):
            producers[id(output)] = module
        elif isinstance(module, _BATCHNORM) and id(args[0]) in producers:
            pairs.append((names[module], producers[id(args[0])], module))

    handles = [m.register_forward_hook(record) for m in model.modules()]
    try:
        before = model(sample)
    finally:
        for handle in handles:
            handle.remove()
    for name, layer, norm in pairs:
        fold_batchnorm_into(layer, norm)
        _set_submodule(model, name, nn.Identity())
    after = model(sample)
    if not torch.allclose(before, after, rtol=1e-3, atol=1e-4 * float(before.abs().max())):
        raise ValueError(
            "folding BatchNorm into the layers before it changed the part's output (a "
            "convolution's output feeds more than its BatchNorm); this part cannot be folded"
        )


def _gate_maxpools(model: nn.Module) -> None:
    """Replace, in place, every 2-D max-pool right after a neuron in a Sequential by a
    :class:`RateMaxPool` (a max-pool of analog values is left as it is)."""
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        keys = list(module._modules)
        for before, key in itertools.pairwise(keys):
            if isinstance(module._modules[before], ScaledIF) and isinstance(
                module._modules[key], nn.MaxPool2d
            ):
                module._modules[key] = RateMaxPool(module._modules[key])


@torch.no_grad()
def _cache_input_stage(model: nn.Module, sample: torch.Tensor) -> None:
    """Wrap in :class:`StepCache` the largest modules that finish before the first neuron runs."""
    events: list[tuple[str, str]] = []
    names = {m: n for n, m in model.named_modules()}

    def pre(module: nn.Module, args: tuple) -> None:
        events.append(("start", names[module]))

    def post(module: nn.Module, args: tuple, output: Any) -> None:
        events.append(("end", names[module]))

    handles = [m.register_forward_pre_hook(pre) for m in model.modules()]
    handles += [m.register_forward_hook(post) for m in model.modules()]
    try:
        model(sample)
    finally:
        for handle in handles:
            handle.remove()
        for module in model.modules():
            if isinstance(module, ScaledIF | RateMaxPool):
                module.reset_state()
    first = next(
        i for i, (kind, n) in enumerate(events)
        if kind == "start" and isinstance(model.get_submodule(n), ScaledIF)
    )  # fmt: skip
    finished = {n for kind, n in events[:first] if kind == "end" and n}
    static = [n for n in finished if not any(n.startswith(p + ".") for p in finished if p != n)]
    for name in static:
        _set_submodule(model, name, StepCache(model.get_submodule(name)))
