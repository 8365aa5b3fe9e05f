"""The spikesat command: demo, train and pretrain end to end on tiny settings."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from spikesat.cli import app
from spikesat.cli.demo import run_demo

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path / "cache"))


def test_demo_runs_every_stage_and_caches_its_model() -> None:
    first = run_demo(num_train=250, epochs=1, progress=False, codec_epochs=1)
    stages = [row["stage"] for row in first["stages"]]
    assert stages == [
        "data",
        "LAM",
        "split",
        "remote",
        "orbit",
        "link",
        "codec",
        "spiking head",
        "spiking on-board",
        "energy",
        "federated",
        "decompose",
        "services",
        "specialists",
    ]
    summary = first["summary"]
    services = first["stages"][-2]["result"]
    assert "landcover" in services and "MILP placement downlinks" in services, services
    # The on-board part as a hybrid SNN: analog layers named, priced against its INT8 ANN.
    onboard = summary["snn_onboard"]
    assert onboard["analog_layers"] and 0.0 < onboard["spike_rate"] < 1.0
    assert onboard["snn_loihi_j"] > 0 and onboard["ann_int8_j"] > 0
    # The shipped reference LAM joins the demo LAM; pruning to one specialist removes the
    # other's MACs.
    specialists = summary["specialists"]
    assert specialists["reference_test_accuracy"] >= 0.97
    assert len(specialists["kept"]) == 1
    assert specialists["macs_pruned"] < specialists["macs_full"]
    json.dumps(summary)  # JSON-ready
    # The split is exact, so split inference scores exactly what the whole model scores.
    assert summary["accuracy"] == summary["accuracy_whole_model"]
    assert summary["split_point"]["at"] == "blocks.1"
    # The codec's real bytes are far fewer than the float features, and it was trained here.
    assert 0 < summary["codec"]["bytes_per_image"] < summary["split_point"]["bytes_fp32"] / 10
    assert summary["codec"]["cached"] is False
    energy = summary["energy"]
    assert energy["total_j"] == pytest.approx(energy["compute_j"] + energy["transmit_j"])
    airtime_s = (
        8
        * summary["codec"]["bytes_per_image"]
        / energy["ledger"]["entries"][1]["details"]["rate_bps"]
    )
    assert energy["transmit_j"] == pytest.approx(energy["tx_power_w"] * airtime_s)
    federated = summary["federated"]
    assert federated["rounds"] >= 1 and federated["sim_hours"] > 0
    assert 0.0 <= federated["accuracy"] <= 1.0 and federated["bytes_isl"] > 0
    # decompose's MILP choice runs one round of split-decomposed, priced as vit-small-p8.
    executed = summary["decompose"]["executed"]
    assert executed["strategy"] == "split-decomposed" and executed["sim_hours"] > 0
    assert 0.0 <= executed["accuracy"] <= 1.0 and executed["bytes_ground"] > 0
    second = run_demo(num_train=250, epochs=1, progress=False, codec_epochs=1)
    assert "loaded from cache" in second["stages"][1]["result"]
    assert second["summary"]["codec"]["cached"] is True
    assert second["summary"]["accuracy"] == summary["accuracy"]
    assert second["summary"]["codec"]["accuracy"] == summary["codec"]["accuracy"]


def test_train_command_writes_json_and_checkpoint(tmp_path) -> None:
    out = tmp_path / "train.json"
    result = runner.invoke(
        app,
        ["train", "--epochs", "1", "--num-train", "40", "--batch-size", "20", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert 0.0 <= payload["test_accuracy"] <= 1.0
    assert len(payload["history"]) == 1
    from pathlib import Path

    assert Path(payload["checkpoint"]).is_file()


def test_pretrain_command_reports_probe_and_finetune(tmp_path) -> None:
    out = tmp_path / "pretrain.json"
    result = runner.invoke(
        app,
        [
            "pretrain",
            "--model",
            "vit-micro-p8",
            "--epochs",
            "1",
            "--probe-epochs",
            "1",
            "--finetune-epochs",
            "1",
            "--num-train",
            "40",
            "--batch-size",
            "20",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert {"linear_probe_test_accuracy", "finetuned_test_accuracy"} <= payload.keys()
    assert len(payload["mae_history"]) == 1


def test_unknown_model_and_source_fail_clearly() -> None:
    result = runner.invoke(
        app, ["train", "--model", "vit-huge", "--epochs", "1", "--num-train", "20"]
    )
    assert result.exit_code == 2  # a one-line usage error naming the registered models
    assert "'vit-huge' is not one of: " in result.output and "vit-micro-p8" in result.output
    result = runner.invoke(app, ["train", "--data", "imagenet"])
    assert result.exit_code == 2  # a usage error naming the registered sources
    assert "'imagenet' is not one of: eurosat, folder, synthetic" in result.output
