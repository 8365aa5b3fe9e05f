"""Hardware profiles and energy arithmetic against the cited per-operation figures."""

from __future__ import annotations

import math

import pytest

from spikesat.energy import (
    HardwareProfile,
    LayerOps,
    OpCount,
    access_pj_per_byte,
    energy_joules,
    get_hardware,
    list_hardware,
)
from spikesat.energy.hardware import STATUSES

PJ = 1e-12


def test_registry_lists_cited_profiles():
    names = list_hardware()
    for name in ("cmos45nm-fp32", "cmos45nm-fp16", "cmos45nm-int8", "loihi", "spinnaker2"):
        assert name in names
    assert "jetson-tx2nx" in names  # the satellite edge accelerator
    for name in names:
        profile = get_hardware(name)
        assert profile.source and profile.status in STATUSES
    assert get_hardware("loihi").status == "measured"


def test_unknown_profile_lists_the_choices():
    with pytest.raises(ValueError, match="cmos45nm-fp32"):
        energy_joules(OpCount(), "cmos45nm-fp64")


def test_profile_needs_a_source():
    with pytest.raises(ValueError, match="source"):
        HardwareProfile("x", "d", "", "measured", 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="status"):
        HardwareProfile("x", "d", "s", "guessed", 1.0, 1.0, 1.0, 1.0)


def _ops(**counts) -> OpCount:
    return OpCount(per_layer=[LayerOps(name="layer", kind="Test", **counts)])


def test_horowitz_compute_figures():
    ops = _ops(macs=1000, acs=300, synops=200)
    # FP32: MAC = 3.7 pJ mult + 0.9 pJ add; AC and synop = 0.9 pJ add (Horowitz 2014)
    assert energy_joules(ops, "cmos45nm-fp32").compute_j == pytest.approx(
        (1000 * 4.6 + 300 * 0.9) * PJ
    )
    # FP16: 1.1 + 0.4 pJ MAC, 0.4 pJ add
    assert energy_joules(ops, "cmos45nm-fp16").compute_j == pytest.approx(
        (1000 * 1.5 + 300 * 0.4) * PJ
    )
    # INT8: 0.2 pJ 8-bit mult + 0.1 pJ 32-bit accumulate; 0.1 pJ 32-bit add
    assert energy_joules(ops, "cmos45nm-int8").compute_j == pytest.approx(
        (1000 * 0.3 + 300 * 0.1) * PJ
    )


def test_loihi_figures_and_dense_fallback():
    spiking = _ops(synops=100, acs=120, neuron_updates=10, spikes=5)
    e = energy_joules(spiking, "loihi")
    # Davies et al. 2018: 23.6 pJ per synaptic op, 81 pJ per (active) neuron update,
    # 1.7 pJ per spike within a tile; bias adds are part of the neuron update; memory included
    assert e.compute_j == pytest.approx(100 * 23.6 * PJ)
    assert e.neuron_j == pytest.approx((10 * 81.0 + 5 * 1.7) * PJ)
    assert e.memory_j == 0.0
    dense = _ops(macs=1000)
    fallback = energy_joules(dense, "loihi")
    assert fallback.compute_j == pytest.approx(1000 * 0.3 * PJ)
    assert fallback.per_layer[0]["priced_on"] == "cmos45nm-int8"


def test_gpu_runs_spiking_layers_densely():
    ops = _ops(synops=10, acs=10, spike_layer_macs=1000, neuron_updates=4)
    e = energy_joules(ops, "jetson-tx2nx")
    per_mac_pj = 15.0 / (1.33e12 / 2) * 1e12  # 15 W at 1.33 TFLOPS FP16
    assert per_mac_pj == pytest.approx(22.56, rel=1e-3)
    assert e.compute_j == pytest.approx(1000 * per_mac_pj * PJ)
    assert e.neuron_j == pytest.approx(4 * per_mac_pj * PJ)


def test_sram_energy_by_memory_size():
    # Horowitz: 64-bit access 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB), DRAM 1.3-2.6 nJ
    assert access_pj_per_byte(1024) == pytest.approx(10 / 8)
    assert access_pj_per_byte(8 * 1024) == pytest.approx(10 / 8)
    assert access_pj_per_byte(32 * 1024) == pytest.approx(20 / 8)
    assert access_pj_per_byte(1024 * 1024) == pytest.approx(100 / 8)
    assert access_pj_per_byte(16 * 1024) == pytest.approx(math.sqrt(10 * 20) / 8)
    assert access_pj_per_byte(10 * 1024 * 1024) == pytest.approx(1300 / 8)
    with pytest.raises(ValueError):
        access_pj_per_byte(-1)


def test_memory_energy_uses_the_profile_precision():
    ops = _ops(param_reads=100, num_params=100, activation_reads=50, max_activation=50)
    fp32 = energy_joules(ops, "cmos45nm-fp32")
    # 100 weights x 4 B in a 400 B memory, 50 activations x 4 B in a 400 B buffer: 1.25 pJ/B
    assert fp32.memory_j == pytest.approx((400 + 200) * 1.25 * PJ)
    int8 = energy_joules(ops, "cmos45nm-int8")
    assert int8.memory_j == pytest.approx((100 + 50) * 1.25 * PJ)
    assert fp32.total_j == pytest.approx(fp32.compute_j + fp32.memory_j + fp32.neuron_j)
