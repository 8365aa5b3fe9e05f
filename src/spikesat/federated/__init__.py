"""Federated fine-tuning over a time-varying constellation, on a simulated clock.

- :func:`federate` runs a strategy ("fedavg-ground", "fedisl", "on-board-only", "fedasync",
  "split-lam", "split-decomposed": each satellite's own split point and LoRA rank, as
  :func:`decompose` chooses them; :func:`list_strategies`) over a contact plan, with a
  :class:`Clock` that moves bytes only inside contact windows at the link-trace rates and
  books energy to an ``EnergyLedger``;
- :func:`federated_data` builds per-satellite non-IID partitions; :func:`centralised_accuracy`
  and :func:`real_target` give a run a target that means something (a fraction of what the
  same model reaches on the pooled images), and ``federate(..., target_accuracy=)`` stops there;
- backends "local" and "ray" run the local training; :class:`FaultModel` injects failures,
  drop-outs, missed windows and corrupted uploads;
- :mod:`~spikesat.federated.aggregate` (FedAvg, ring all-reduce, staleness weights) and
  :mod:`~spikesat.federated.lora` (peft LoRA with heterogeneous ranks, FLoRA stacking);
  :mod:`spikesat.federated.flower` adapts a strategy to Flower (the ``[flower]`` extra);
- :func:`decompose` picks each satellite's split point and LoRA rank from its
  :func:`satellite_resources` (compute, memory, energy, link, contact time) by MILP.
"""

from __future__ import annotations

from spikesat.federated.aggregate import (
    ring_allreduce,
    ring_allreduce_bytes,
    staleness_weight,
    weighted_average,
)
from spikesat.federated.backends import (
    Backend,
    LocalBackend,
    LocalConfig,
    RayBackend,
    create_backend,
    list_backends,
)
from spikesat.federated.clock import Clock, SimulationHorizonError, Transfer, schedule_transfer
from spikesat.federated.compute import ComputeProfile, get_computer, list_computers
from spikesat.federated.data import FederatedData, federated_data
from spikesat.federated.decompose import (
    Decomposition,
    SatelliteResources,
    candidate_costs,
    decompose,
    satellite_resources,
)
from spikesat.federated.faults import FaultModel, deliver_update
from spikesat.federated.lora import (
    add_lora,
    aggregate_lora,
    lora_state,
    merge_lora_delta,
)
from spikesat.federated.network import LinkSegments, Network
from spikesat.federated.payload import (
    CorruptUpdateError,
    UpdateId,
    decode_update,
    encode_update,
)
from spikesat.federated.simulation import Federation, FederationResult, build_network, federate
from spikesat.federated.strategies import (
    FedAsync,
    FedAvgGround,
    FedIsl,
    OnboardOnly,
    SplitDecomposed,
    SplitLam,
    Strategy,
    create_strategy,
    list_strategies,
)
from spikesat.federated.targets import centralised_accuracy, check_target, real_target

__all__ = [
    "Backend",
    "Clock",
    "ComputeProfile",
    "CorruptUpdateError",
    "Decomposition",
    "FaultModel",
    "FedAsync",
    "FedAvgGround",
    "FedIsl",
    "FederatedData",
    "Federation",
    "FederationResult",
    "LinkSegments",
    "LocalBackend",
    "LocalConfig",
    "Network",
    "OnboardOnly",
    "RayBackend",
    "SatelliteResources",
    "SimulationHorizonError",
    "SplitDecomposed",
    "SplitLam",
    "Strategy",
    "Transfer",
    "UpdateId",
    "add_lora",
    "aggregate_lora",
    "build_network",
    "candidate_costs",
    "centralised_accuracy",
    "check_target",
    "create_backend",
    "create_strategy",
    "decode_update",
    "decompose",
    "deliver_update",
    "encode_update",
    "federate",
    "federated_data",
    "get_computer",
    "list_backends",
    "list_computers",
    "list_strategies",
    "lora_state",
    "merge_lora_delta",
    "real_target",
    "ring_allreduce",
    "ring_allreduce_bytes",
    "satellite_resources",
    "schedule_transfer",
    "staleness_weight",
    "weighted_average",
]
