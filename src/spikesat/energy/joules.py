"""``energy_joules``: price an :class:`OpCount` on a hardware profile, with a breakdown.

Per layer, with profile ``P``:

* **compute** = ``macs x P.mac_pj`` + (event-driven hardware) ``synops x P.synop_pj +
  (acs - synops) x P.ac_pj``, or (GPU-like hardware) ``spike_layer_macs x P.mac_pj``;
* **neuron** = ``neuron_updates x P.neuron_update_pj + spikes x P.spike_pj``;
* **memory** ("sram-by-size" profiles) = bytes moved x access energy of the memory that holds
  them (:func:`spikesat.energy.memory.access_pj_per_byte`): parameters from a weight memory
  sized to all parameters of the model, graded activations and spikes (1 bit each) from an
  activation memory sized to twice the largest per-example activation (input and output
  buffers), membranes from a state memory sized to the neurons of one time step.

A graded (non-spiking) layer on a profile without a dense datapath (``mac_pj is None``, the
neuromorphic chips) is priced, compute and memory, on ``P.dense_fallback``; the breakdown's
``priced_on`` says so for every layer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spikesat.energy.hardware import HardwareProfile, get_hardware
from spikesat.energy.memory import access_pj_per_byte, memory_level
from spikesat.energy.opcount import LayerOps, OpCount

PJ = 1e-12
"""Joules per picojoule."""


@dataclass
class EnergyBreakdown:
    """Energy of one counted forward pass on one hardware profile [J].

    Attributes
    ----------
    hardware : str
        Profile name.
    compute_j, memory_j, neuron_j : float
        MAC/AC/synaptic-op energy, memory-access energy, neuron-update (and spike) energy [J].
    per_layer : list of dict
        ``{"name", "compute_j", "memory_j", "neuron_j", "priced_on"}`` per layer.
    memory_sizes_bytes : dict
        The weight, activation and state memory sizes used to pick access energies [B].
    batch_size : int
        Examples in the counted batch (the energies are for the whole batch).
    status, source : str
        Copied from the profile.
    """

    hardware: str
    compute_j: float
    memory_j: float
    neuron_j: float
    per_layer: list[dict[str, Any]] = field(default_factory=list)
    memory_sizes_bytes: dict[str, float] = field(default_factory=dict)
    batch_size: int = 1
    status: str = ""
    source: str = ""

    @property
    def total_j(self) -> float:
        """compute + memory + neuron energy [J]."""
        return self.compute_j + self.memory_j + self.neuron_j

    @property
    def per_example_j(self) -> float:
        """Total energy per example [J]."""
        return self.total_j / self.batch_size

    def to_dict(self) -> dict[str, Any]:
        """All fields plus ``total_j`` and ``per_example_j``."""
        out = asdict(self)
        out["total_j"] = self.total_j
        out["per_example_j"] = self.per_example_j
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise :meth:`to_dict`; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text


def energy_joules(
    ops: OpCount, hardware: str | HardwareProfile = "cmos45nm-fp32"
) -> EnergyBreakdown:
    """Price ``ops`` on ``hardware``.

    Parameters
    ----------
    ops : OpCount
        From :func:`spikesat.energy.count_ops`.
    hardware : str or HardwareProfile
        A name from :func:`spikesat.energy.list_hardware` or a profile.

    Returns
    -------
    EnergyBreakdown
        ``compute_j``, ``memory_j``, ``neuron_j``, ``total_j`` for the counted batch.

    Raises
    ------
    TypeError
        If ``ops`` is not an :class:`OpCount`.
    ValueError
        For an unknown hardware name (the message lists the profiles).
    """
    if not isinstance(ops, OpCount):
        raise TypeError(
            f"ops must be an OpCount from spikesat.energy.count_ops, got {type(ops).__name__}"
        )
    profile = get_hardware(hardware)
    sizes = _memory_sizes(ops, profile)
    fallback = get_hardware(profile.dense_fallback) if profile.dense_fallback else None
    fallback_sizes = _memory_sizes(ops, fallback) if fallback else None
    rows = []
    for layer in ops.per_layer:
        graded = layer.neuron_updates == 0 and layer.synops == 0 and layer.acs == 0
        if graded and profile.mac_pj is None:
            rows.append(
                _price_layer(layer, profile, sizes, dense_on=fallback, dense_sizes=fallback_sizes)
            )
        else:
            rows.append(_price_layer(layer, profile, sizes))
    return EnergyBreakdown(
        hardware=profile.name,
        compute_j=sum(r["compute_j"] for r in rows),
        memory_j=sum(r["memory_j"] for r in rows),
        neuron_j=sum(r["neuron_j"] for r in rows),
        per_layer=rows,
        memory_sizes_bytes=sizes,
        batch_size=ops.batch_size,
        status=profile.status,
        source=profile.source,
    )


def _memory_sizes(ops: OpCount, profile: HardwareProfile) -> dict[str, float]:
    """Per-example working-set sizes of the weight, activation and state memories [B]."""
    neurons_per_step = sum(layer.neuron_updates for layer in ops.per_layer) / max(
        ops.num_steps * ops.batch_size, 1
    )
    largest = max((layer.max_activation for layer in ops.per_layer), default=0)
    return {
        "weights": ops.num_params * profile.bytes_per_value,
        "activations": 2.0 * largest / ops.batch_size * profile.bytes_per_value,
        "state": neurons_per_step * profile.bytes_per_state,
    }


def _price_layer(
    layer: LayerOps,
    profile: HardwareProfile,
    sizes: dict[str, float],
    dense_on: HardwareProfile | None = None,
    dense_sizes: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Energy of one layer [J]; dense MACs (and their memory) on ``dense_on`` when given."""
    mac_profile = dense_on or profile
    compute_pj = layer.macs * mac_profile.mac_pj if layer.macs else 0.0
    if profile.event_driven:
        compute_pj += layer.synops * profile.synop_pj + (layer.acs - layer.synops) * profile.ac_pj
    else:
        compute_pj += layer.spike_layer_macs * profile.mac_pj if layer.spike_layer_macs else 0.0
    neuron_pj = layer.neuron_updates * profile.neuron_update_pj + layer.spikes * profile.spike_pj
    memory_profile, memory_sizes = (dense_on, dense_sizes) if dense_on else (profile, sizes)
    memory_pj = 0.0
    if memory_profile.memory == "sram-by-size":
        weights = layer.param_reads * memory_profile.bytes_per_value
        activations = (layer.activation_reads + layer.activation_writes) * (
            memory_profile.bytes_per_value
        ) + (layer.spike_reads + layer.spike_writes) / 8.0
        state = (layer.state_reads + layer.state_writes) * memory_profile.bytes_per_state
        memory_pj = (
            weights * access_pj_per_byte(memory_sizes["weights"])
            + activations * access_pj_per_byte(memory_sizes["activations"])
            + state * access_pj_per_byte(memory_sizes["state"])
        )
    return {
        "name": layer.name,
        "compute_j": compute_pj * PJ,
        "memory_j": memory_pj * PJ,
        "neuron_j": neuron_pj * PJ,
        "priced_on": memory_profile.name,
        "memory_level": memory_level(memory_sizes["weights"]),
    }
