"""``spikesat infer`` end to end on the built-in scenes (the demo's shipped backbone)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from spikesat.cli import app


def test_infer_serves_landcover_and_cloud_and_writes_json(tmp_path):
    out = tmp_path / "infer.json"
    result = CliRunner().invoke(
        app,
        ["infer", "--num-requests", "48", "--epochs", "1", "--codec", "int8", "--json", str(out),
         "--save", str(tmp_path / "services")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    names = [s["name"] for s in payload["services"]]
    assert names == [
        "tokenizer:rgb", "backbone:0", "encode@blocks.1", "decode@blocks.1", "backbone:1",
        "head:landcover", "head:cloud",
    ]  # fmt: skip
    assert payload["tasks"]["landcover"]["value"] > 0.8  # the shipped LAM on its own scenes
    assert 0.0 <= payload["tasks"]["cloud"]["value"] < 0.5
    assert 1.0 < payload["macs_ratio_to_one_single_task_model"] < 1.3
    assert payload["energy_per_request_j"] > 0
    assert (tmp_path / "services" / "services.json").is_file()
    assert "head:cloud" in result.output or "head:cl" in result.output


def test_infer_simulates_placements_and_plots(tmp_path):
    out, png = tmp_path / "infer.json", tmp_path / "placement.png"
    result = CliRunner().invoke(
        app,
        ["infer", "--num-requests", "16", "--epochs", "1", "--task", "landcover",
         "--placement", "milp", "--placement", "bent-pipe", "--hours", "1",
         "--rate-per-h", "30", "--tiles", "100", "--json", str(out), "--png", str(png)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    placed = json.loads(out.read_text())["placement"]
    assert list(placed["methods"]) == ["milp", "bent-pipe"] and placed["num_requests"] > 0
    assert placed["tiles"] == 100
    milp, bent = placed["methods"]["milp"], placed["methods"]["bent-pipe"]
    assert milp["delivered_fraction"] == bent["delivered_fraction"] == 1.0
    assert bent["downlink_bytes_per_request"] == 100 * 64 * 64 * 3
    assert milp["downlink_bytes_per_request"] < bent["downlink_bytes_per_request"]
    assert sum(milp["latency_s"]) <= sum(bent["latency_s"]) * (1 + 1e-9)
    assert png.stat().st_size > 10_000


def test_infer_placement_bad_input_is_one_line():
    for args, words in (
        (["--placement", "ilp"], "ilp"),
        (["--placement", "milp", "--objective", "cost"], "cost"),
        (["--png", "x.png"], "--placement"),
    ):
        result = CliRunner().invoke(app, ["infer", *args])
        assert result.exit_code == 2 and words in result.output
        assert "Traceback" not in result.output
