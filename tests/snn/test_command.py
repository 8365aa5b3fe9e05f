"""The `spikesat snn` command, run through Typer's CliRunner with a tiny configuration."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from spikesat.cli.snn import command


def test_snn_command_writes_json_and_png(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    app = typer.Typer()
    app.command("snn")(command)
    app.command("noop")(lambda: None)
    out_json, out_png = tmp_path / "snn.json", tmp_path / "snn.png"
    args = [
        "snn",
        "--num-samples",
        "120",
        "--image-size",
        "16",
        "--epochs",
        "1",
        "--steps",
        "1,4",
        "--methods",
        "max,qcfs",
        "--qcfs-epochs",
        "2",
        "--json",
        str(out_json),
        "--png",
        str(out_png),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text())
    models_seen = {row["model"] for row in data["rows"]}
    assert models_seen == {"ann-fp32", "ann-int8", "ann-qcfs", "snn-max", "snn-qcfs"}
    assert len(data["rows"]) == 3 + 2 * 2
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in data["rows"])
    assert out_png.stat().st_size > 1000
    assert list((tmp_path / "cache").glob("snn-vit-micro-p8-synthetic-*.pt"))
    bad = CliRunner().invoke(app, ["snn", "--hardware", "tpu"])
    assert bad.exit_code != 0
    bad = CliRunner().invoke(app, ["snn", "--steps", "0"])
    assert bad.exit_code != 0
