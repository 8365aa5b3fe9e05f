"""``spikesat link`` through a Typer app, and the demo stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from spikesat.cli.link import command, demo_stage


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("link")(command)
    app.command("noop")(lambda: None)  # two commands keep "link" as a sub-command
    return app


def test_link_command_writes_json_and_png(tmp_path: Path) -> None:
    out_json, out_png = tmp_path / "link.json", tmp_path / "link.png"
    result = CliRunner().invoke(
        _app(),
        ["link", "--sat", "3", "--duration-s", "21600", "--step-s", "60", "--fading", "rician",
         "--json", str(out_json), "--png", str(out_png)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "downlink of" in result.output
    payload = json.loads(out_json.read_text())
    rows, summary = payload["rows"], payload["summary"]
    assert summary["sat"] == 3 and summary["budget"] == "x-band-eo-sentinel2"
    assert summary["contact_steps"] == len(rows) > 0
    assert all(r["rate_bps"] >= 0 and r["elevation_deg"] >= 10.0 - 1e-6 for r in rows)
    times = [r["time_s"] for r in rows]
    assert times == sorted(set(times))
    assert out_png.stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--preset", "c-band"], "s-band-tr38821-leo600"),
        (["--fading", "raleigh"], "rayleigh"),
        (["--sat", "99"], "--sat"),
    ],
)
def test_link_command_bad_arguments(args: list[str], match: str) -> None:
    result = CliRunner().invoke(_app(), ["link", "--duration-s", "600", *args])
    assert result.exit_code != 0
    assert match in result.output


def test_demo_stage_returns_the_downlink_figures() -> None:
    row = demo_stage(sat=0, fading="rician", feature_bytes=4096)
    assert row["budget"] == "x-band-eo-sentinel2"
    assert 0.0 < row["contact_fraction"] < 1.0
    assert row["min_snr_db"] <= row["mean_snr_db"] <= row["max_snr_db"]
    assert row["median_rate_bps"] > 1e8
    assert 0.0 <= row["packet_error_rate"] <= 1.0
    assert row["transfer_time_s"] == pytest.approx(8 * 4096 / row["median_rate_bps"], abs=0.02)
    state = row.pop("link_state")  # the median-SNR contact sample, for the codec stage
    assert row["min_snr_db"] <= state.snr_db <= row["max_snr_db"]
    assert state.rate_bps > 0 and state.modcod is not None
    json.dumps(row)
