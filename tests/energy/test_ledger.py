"""EnergyLedger: transmission energy, grouping by device / inference / round, JSON."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from spikesat.energy import EnergyLedger, count_ops, energy_joules, transmission_energy_j


def test_transmission_energy_is_power_times_airtime():
    assert transmission_energy_j(10.0, 8e6, 1e8) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="rate_bps"):
        transmission_energy_j(10.0, 8e6, 0.0)
    with pytest.raises(ValueError, match="tx_power_w"):
        transmission_energy_j(float("nan"), 1.0, 1.0)


def test_ledger_groups_and_serialises():
    ops = count_ops(nn.Linear(16, 8), torch.randn(1, 16))
    ledger = EnergyLedger()
    compute = ledger.add_compute("sat-0", ops, "cmos45nm-int8", inference=0)
    assert compute == pytest.approx(energy_joules(ops, "cmos45nm-int8").total_j)
    ledger.add_transmission("sat-0", num_bits=1e6, rate_bps=1e7, tx_power_w=5.0, inference=0)
    ledger.add_transmission("sat-1", num_bits=2e6, rate_bps=1e7, tx_power_w=5.0, round=3)
    ledger.add_compute_joules("gs-0", 2.0, round=3)
    assert ledger.total_j == pytest.approx(compute + 0.5 + 1.0 + 2.0)
    by_device = ledger.summary("device")
    assert by_device["sat-0"]["transmit_j"] == pytest.approx(0.5)
    assert by_device["sat-0"]["compute_j"] == pytest.approx(compute)
    assert ledger.summary("inference")[0]["total_j"] == pytest.approx(compute + 0.5)
    assert ledger.summary("round")[3]["total_j"] == pytest.approx(3.0)
    data = json.loads(ledger.to_json())
    assert data["per_round"]["3"]["transmit_j"] == pytest.approx(1.0)
    assert len(data["entries"]) == 4
    totals = ledger.to_dict(entries=False)
    assert "entries" not in totals and totals == {k: v for k, v in data.items() if k != "entries"}
    with pytest.raises(ValueError, match="by"):
        ledger.summary("satellite")
    with pytest.raises(ValueError, match="round"):
        ledger.add_compute_joules("gs-0", 1.0, round=-1)
