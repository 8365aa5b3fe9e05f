"""Energy accounting: op counters (MAC / AC / synaptic ops), hardware profiles, EnergyLedger.

>>> from spikesat.energy import count_ops, energy_joules, list_hardware
>>> ops = count_ops(model.eval(), images)                    # doctest: +SKIP
>>> energy_joules(ops, "cmos45nm-int8").total_j              # doctest: +SKIP
"""

from __future__ import annotations

from spikesat.energy.counter import count_ops
from spikesat.energy.hardware import (
    HARDWARE,
    HardwareProfile,
    get_hardware,
    list_hardware,
    register_hardware,
)
from spikesat.energy.joules import EnergyBreakdown, energy_joules
from spikesat.energy.ledger import EnergyLedger, LedgerEntry, transmission_energy_j
from spikesat.energy.memory import access_pj_per_byte
from spikesat.energy.opcount import LayerOps, OpCount

__all__ = [
    "HARDWARE",
    "EnergyBreakdown",
    "EnergyLedger",
    "HardwareProfile",
    "LayerOps",
    "LedgerEntry",
    "OpCount",
    "access_pj_per_byte",
    "count_ops",
    "energy_joules",
    "get_hardware",
    "list_hardware",
    "register_hardware",
    "transmission_energy_j",
]
