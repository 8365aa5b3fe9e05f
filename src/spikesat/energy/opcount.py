"""Operation and memory-traffic counts of one forward pass: :class:`LayerOps` and :class:`OpCount`.

The counts are hardware independent. Memory traffic is kept in *elements* (numbers read or
written) so that a hardware profile can price it at its own precision (4 bytes per value for
FP32, 1 byte for INT8, 1 bit per spike); :attr:`OpCount.memory_bytes` gives the traffic at the
model's own precision.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

COUNT_FIELDS = (
    "macs",
    "acs",
    "synops",
    "spike_layer_macs",
    "neuron_updates",
    "spikes",
    "param_reads",
    "activation_reads",
    "activation_writes",
    "spike_reads",
    "spike_writes",
    "state_reads",
    "state_writes",
)
"""The additive count fields shared by :class:`LayerOps` and :class:`OpCount`."""


@dataclass
class LayerOps:
    """Counts for one layer (one module), summed over all of its calls in the forward pass.

    Attributes
    ----------
    name : str
        The module's qualified name in the model ("" for the root module).
    kind : str
        The module's class name.
    macs : int
        Dense multiply-accumulates (inputs that are not spikes), from ``torch.utils.flop_counter``.
    acs : int
        Accumulates of spike-driven layers: one per synaptic event plus one bias addition per
        output element and time step.
    synops : int
        Synaptic operations: input spikes times their exact fan-out (the number of output
        elements each spike reaches, padding and stride included).
    spike_layer_macs : int
        The dense MACs the spike-driven layers would cost if run densely at every time step
        (what a GPU-like, non-event-driven engine executes).
    neuron_updates : int
        Spiking-neuron state updates (one per neuron per time step).
    spikes : int
        Spikes emitted by the layer's neurons.
    param_reads : int
        Parameter elements read: every parameter once per call of a dense layer, one weight per
        synaptic event for a spike-driven layer.
    activation_reads, activation_writes : int
        Graded (non-spike) activation elements read and written at the layer's boundary.
    spike_reads, spike_writes : int
        Spike events read, and spike bits written (one per neuron per time step).
    state_reads, state_writes : int
        Membrane-state elements read and written (one each per neuron update).
    num_params : int
        Parameter elements the layer holds (sizes the weight memory).
    max_activation : int
        Largest activation tensor (elements) at the layer's boundary (sizes the activation memory).
    bytes_per_param, bytes_per_activation, bytes_per_state : float
        The model's own element sizes, used by :attr:`memory_bytes`.
    """

    name: str
    kind: str
    macs: int = 0
    acs: int = 0
    synops: int = 0
    spike_layer_macs: int = 0
    neuron_updates: int = 0
    spikes: int = 0
    param_reads: int = 0
    activation_reads: int = 0
    activation_writes: int = 0
    spike_reads: int = 0
    spike_writes: int = 0
    state_reads: int = 0
    state_writes: int = 0
    num_params: int = 0
    max_activation: int = 0
    bytes_per_param: float = 4.0
    bytes_per_activation: float = 4.0
    bytes_per_state: float = 4.0

    @property
    def memory_bytes(self) -> float:
        """Bytes read and written at the model's own precision (spikes at 1 bit) [B]."""
        return (
            self.param_reads * self.bytes_per_param
            + (self.activation_reads + self.activation_writes) * self.bytes_per_activation
            + (self.spike_reads + self.spike_writes) / 8.0
            + (self.state_reads + self.state_writes) * self.bytes_per_state
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of every field plus ``memory_bytes``."""
        out = asdict(self)
        out["memory_bytes"] = self.memory_bytes
        return out


@dataclass
class OpCount:
    """Counts of a whole forward pass: totals over :attr:`per_layer`.

    Attributes
    ----------
    per_layer : list of LayerOps
        One entry per module that did counted work, in first-call order.
    batch_size : int
        Examples in the counted batch; :meth:`per_example` divides by it.
    num_steps : int
        Time steps the model ran for (1 for an ANN).
    """

    per_layer: list[LayerOps] = field(default_factory=list)
    batch_size: int = 1
    num_steps: int = 1

    def total(self, name: str) -> int:
        """The sum of one count field (``"macs"``, ``"synops"``, ...) over :attr:`per_layer`."""
        if name not in COUNT_FIELDS:
            raise ValueError(f"unknown count {name!r}; valid counts: {', '.join(COUNT_FIELDS)}")
        return sum(getattr(layer, name) for layer in self.per_layer)

    @property
    def macs(self) -> int:
        """Dense multiply-accumulates."""
        return self.total("macs")

    @property
    def acs(self) -> int:
        """Accumulates of spike-driven layers (synaptic events plus bias additions)."""
        return self.total("acs")

    @property
    def synops(self) -> int:
        """Synaptic operations: spikes times exact fan-out."""
        return self.total("synops")

    @property
    def spike_layer_macs(self) -> int:
        """Dense MACs the spike-driven layers would cost on a non-event-driven engine."""
        return self.total("spike_layer_macs")

    @property
    def neuron_updates(self) -> int:
        """Spiking-neuron state updates."""
        return self.total("neuron_updates")

    @property
    def spikes(self) -> int:
        """Spikes emitted."""
        return self.total("spikes")

    @property
    def param_reads(self) -> int:
        """Parameter elements read."""
        return self.total("param_reads")

    @property
    def activation_reads(self) -> int:
        """Graded activation elements read."""
        return self.total("activation_reads")

    @property
    def activation_writes(self) -> int:
        """Graded activation elements written."""
        return self.total("activation_writes")

    @property
    def spike_reads(self) -> int:
        """Spike events read."""
        return self.total("spike_reads")

    @property
    def spike_writes(self) -> int:
        """Spike bits written."""
        return self.total("spike_writes")

    @property
    def state_reads(self) -> int:
        """Membrane-state elements read."""
        return self.total("state_reads")

    @property
    def state_writes(self) -> int:
        """Membrane-state elements written."""
        return self.total("state_writes")

    @property
    def memory_bytes(self) -> float:
        """Total bytes read and written at the model's own precision [B]."""
        return sum(layer.memory_bytes for layer in self.per_layer)

    @property
    def num_params(self) -> int:
        """Parameter elements held by the counted layers."""
        return sum(layer.num_params for layer in self.per_layer)

    @property
    def spike_rate(self) -> float:
        """Spikes per neuron update (0 for a network without spiking neurons)."""
        updates = self.neuron_updates
        return self.spikes / updates if updates else 0.0

    def per_example(self) -> OpCount:
        """The same counts divided by :attr:`batch_size` (rounded to integers)."""
        layers = []
        for layer in self.per_layer:
            values = {f.name: getattr(layer, f.name) for f in fields(LayerOps)}
            for key in COUNT_FIELDS:
                values[key] = round(values[key] / self.batch_size)
            values["max_activation"] = round(values["max_activation"] / self.batch_size)
            layers.append(LayerOps(**values))
        return OpCount(per_layer=layers, batch_size=1, num_steps=self.num_steps)

    def to_dict(self) -> dict[str, Any]:
        """Totals, run facts and the per-layer list as plain Python types."""
        totals = {key: getattr(self, key) for key in COUNT_FIELDS}
        return {
            **totals,
            "memory_bytes": self.memory_bytes,
            "num_params": self.num_params,
            "spike_rate": self.spike_rate,
            "batch_size": self.batch_size,
            "num_steps": self.num_steps,
            "per_layer": [layer.to_dict() for layer in self.per_layer],
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise :meth:`to_dict` to JSON; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpCount:
        """Rebuild an :class:`OpCount` from :meth:`to_dict` output (exact round trip)."""
        names = {f.name for f in fields(LayerOps)}
        layers = [
            LayerOps(**{k: v for k, v in layer.items() if k in names})
            for layer in data["per_layer"]
        ]
        return cls(per_layer=layers, batch_size=data["batch_size"], num_steps=data["num_steps"])
