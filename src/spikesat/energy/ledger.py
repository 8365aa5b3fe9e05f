"""``EnergyLedger``: compute energy per device plus transmission energy, per inference and round.

Transmission energy is ``tx_power_w x num_bits / rate_bps`` (the radio's transmit power times
the airtime of the bits at the link's rate), with the power and rate taken from a link budget.
Every entry is tagged with the device that spent it and, optionally, the inference or training
round it belongs to, so the ledger sums by device, by inference and by round.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spikesat.energy.hardware import HardwareProfile
from spikesat.energy.joules import energy_joules
from spikesat.energy.opcount import OpCount

CATEGORIES = ("compute", "transmit")


def transmission_energy_j(tx_power_w: float, num_bits: float, rate_bps: float) -> float:
    """Energy to transmit ``num_bits`` at ``rate_bps`` with ``tx_power_w`` [J].

    Raises
    ------
    ValueError
        If the power or bit count is negative or not finite, or the rate is not positive.
    """
    if not (math.isfinite(tx_power_w) and tx_power_w >= 0):
        raise ValueError(f"tx_power_w must be a finite power >= 0 W, got {tx_power_w!r}")
    if not (math.isfinite(num_bits) and num_bits >= 0):
        raise ValueError(f"num_bits must be a finite count >= 0, got {num_bits!r}")
    if not (math.isfinite(rate_bps) and rate_bps > 0):
        raise ValueError(
            f"rate_bps must be a finite rate > 0 bit/s, got {rate_bps!r}; a link with no rate "
            "cannot carry the bits (skip the transmission or wait for a contact)"
        )
    return tx_power_w * num_bits / rate_bps


@dataclass
class LedgerEntry:
    """One spend of energy.

    Attributes
    ----------
    device : str
        Who spent it ("sat-3", "gs-0", ...).
    category : {"compute", "transmit"}
    energy_j : float
        Energy [J].
    inference : int or None
        Inference index the spend belongs to.
    round : int or None
        Training round the spend belongs to.
    details : dict
        Hardware profile and breakdown, or bits / rate / power of a transmission.
    """

    device: str
    category: str
    energy_j: float
    inference: int | None = None
    round: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class EnergyLedger:
    """Accumulate compute and transmission energy of devices, inferences and training rounds.

    Examples
    --------
    >>> ledger = EnergyLedger()
    >>> ledger.add_transmission("sat-0", num_bits=8e6, rate_bps=1e8, tx_power_w=10.0, inference=0)
    0.8
    >>> ledger.total_j
    0.8
    """

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def add_compute(
        self,
        device: str,
        ops: OpCount,
        hardware: str | HardwareProfile = "cmos45nm-fp32",
        inference: int | None = None,
        round: int | None = None,
    ) -> float:
        """Price ``ops`` on ``hardware`` and book it to ``device``; returns the energy [J]."""
        breakdown = energy_joules(ops, hardware)
        details = {
            "hardware": breakdown.hardware,
            "compute_j": breakdown.compute_j,
            "memory_j": breakdown.memory_j,
            "neuron_j": breakdown.neuron_j,
        }
        return self._add(device, "compute", breakdown.total_j, inference, round, details)

    def add_compute_joules(
        self,
        device: str,
        energy_j: float,
        inference: int | None = None,
        round: int | None = None,
        **details: Any,
    ) -> float:
        """Book an energy already in joules (e.g. a measured figure) to ``device``."""
        if not (math.isfinite(energy_j) and energy_j >= 0):
            raise ValueError(f"energy_j must be a finite energy >= 0 J, got {energy_j!r}")
        return self._add(device, "compute", float(energy_j), inference, round, details)

    def add_transmission(
        self,
        device: str,
        num_bits: float,
        rate_bps: float,
        tx_power_w: float,
        inference: int | None = None,
        round: int | None = None,
        link: str = "downlink",
    ) -> float:
        """Book ``tx_power_w x num_bits / rate_bps`` to the transmitting ``device`` [J]."""
        energy = transmission_energy_j(tx_power_w, num_bits, rate_bps)
        details = {
            "num_bits": float(num_bits),
            "rate_bps": float(rate_bps),
            "tx_power_w": float(tx_power_w),
            "airtime_s": float(num_bits) / float(rate_bps),
            "link": link,
        }
        return self._add(device, "transmit", energy, inference, round, details)

    def _add(
        self,
        device: str,
        category: str,
        energy_j: float,
        inference: int | None,
        round: int | None,
        details: dict[str, Any],
    ) -> float:
        if not isinstance(device, str) or not device:
            raise ValueError(f"device must be a non-empty name, got {device!r}")
        for label, value in (("inference", inference), ("round", round)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{label} must be an index >= 0 or None, got {value!r}")
        self.entries.append(LedgerEntry(device, category, energy_j, inference, round, details))
        return energy_j

    @property
    def total_j(self) -> float:
        """All energy booked [J]."""
        return sum(e.energy_j for e in self.entries)

    def summary(self, by: str = "device") -> dict[Any, dict[str, float]]:
        """Compute, transmit and total energy grouped ``by`` "device", "inference" or "round".

        Entries without an inference (or round) index are left out of that grouping.
        """
        if by not in ("device", "inference", "round"):
            raise ValueError(f"by must be 'device', 'inference' or 'round', got {by!r}")
        groups: dict[Any, dict[str, float]] = {}
        for entry in self.entries:
            key = getattr(entry, by)
            if key is None:
                continue
            group = groups.setdefault(key, {"compute_j": 0.0, "transmit_j": 0.0, "total_j": 0.0})
            group[f"{entry.category}_j"] += entry.energy_j
            group["total_j"] += entry.energy_j
        return dict(sorted(groups.items(), key=lambda item: str(item[0])))

    def to_dict(self, entries: bool = True) -> dict[str, Any]:
        """Totals, the three groupings and (``entries``) every entry, as plain Python types."""
        out = {
            "total_j": self.total_j,
            "compute_j": sum(e.energy_j for e in self.entries if e.category == "compute"),
            "transmit_j": sum(e.energy_j for e in self.entries if e.category == "transmit"),
            "per_device": self.summary("device"),
            "per_inference": {str(k): v for k, v in self.summary("inference").items()},
            "per_round": {str(k): v for k, v in self.summary("round").items()},
        }
        if entries:
            out["entries"] = [asdict(e) for e in self.entries]
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise :meth:`to_dict`; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text
