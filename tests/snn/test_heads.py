"""Spiking heads of a split LAM, the INT8 head, their energy and the demo stage."""

from __future__ import annotations

import pytest
import torch

import spikesat.models as models
from spikesat.cli.snn import demo_stage
from spikesat.energy import count_ops, energy_joules
from spikesat.snn import accuracy, head_energy, int8_head, spiking_head


def test_int8_head_matches_the_fp32_head(task):
    head, x, _, x_test, y_test = task
    q = int8_head(head, x)
    agree = (q(x_test).argmax(1) == head(x_test).argmax(1)).float().mean()
    assert agree > 0.97
    assert abs(accuracy(q, x_test, y_test) - accuracy(head, x_test, y_test)) < 0.03


def test_head_energy_prices_all_three_heads(task):
    head, x, y, x_test, _ = task
    snn = spiking_head(head, x, num_steps=4, method="qcfs", labels=y, qcfs_epochs=5)
    energy = head_energy(head, snn, x_test, hardware=["cmos45nm-fp32", "loihi"])
    ann_ops = count_ops(head, x_test).per_example()
    assert energy["ann_fp32_j"] == pytest.approx(energy_joules(ann_ops, "cmos45nm-fp32").total_j)
    assert energy["ann_int8_j"] < energy["ann_fp32_j"]
    assert set(energy["snn_j"]) == {"cmos45nm-fp32", "loihi"}
    assert energy["ann_macs"] == 8 * 32 + 32 * 4
    assert energy["snn_macs"] == 8 * 32  # only the analog input layer
    assert 0 < energy["snn_synops"] < 4 * 32 * 4
    with pytest.raises(ValueError, match="labels"):
        spiking_head(head, x, method="qcfs")


def test_split_model_head_and_demo_stage():
    lam = models.create("vit-micro-p8").eval()
    sm = models.split(lam, at="blocks.2")
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(64, 64, generator=gen)
    labels = lam.head(features).argmax(1).detach()  # a task the ANN head solves exactly
    snn = spiking_head(sm, features, num_steps=8, method="percentile")
    assert snn(features).shape == (64, 10)
    row = demo_stage(lam, features, labels, num_steps=4, method="qcfs", hardware="loihi")
    for key in ("ann_accuracy", "snn_accuracy", "ann_fp32_j", "ann_int8_j", "snn_j"):
        assert isinstance(row[key], float)
    assert row["ann_accuracy"] == 1.0
    assert row["snn_hardware"] == "loihi" and row["num_steps"] == 4
    with pytest.raises(ValueError, match="features"):
        demo_stage(lam, features[:, :, None], labels)
    # Calibrating on separate data measures every example given.
    apart = demo_stage(lam, features[:16], labels[:16], calibration=(features[16:], labels[16:]))
    assert apart["ann_accuracy"] == 1.0
    with pytest.raises(ValueError, match="calibration"):
        demo_stage(lam, features, labels, calibration=(features[:, :3, None], labels))
