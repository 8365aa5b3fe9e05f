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
