"""The ``spikesat orbits`` command (via a test Typer app) and the demo stage."""

from __future__ import annotations

import json

import numpy as np
import typer
from typer.testing import CliRunner

from spikesat.cli.orbits import command, demo_stage
from spikesat.orbits import ContactPlan


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("orbits")(command)

    @app.callback()
    def main() -> None:
        """Test app."""

    return app


def test_orbits_command_writes_json_and_tracks(tmp_path) -> None:
    out = tmp_path / "orbits.json"
    png = tmp_path / "tracks.png"
    result = CliRunner().invoke(
        _app(),
        [
            "orbits",
            "--preset", "research-5x10",
            "--duration-s", "7200",
            "--step-s", "30",
            "--json", str(out),
            "--png", str(png),
            "--save", str(tmp_path / "plan"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wallops" in result.output and "max gap" in result.output
    data = json.loads(out.read_text())
    assert data["num_sats"] == 50 and data["num_stations"] == 6
    assert data["num_windows"] == sum(row["num_contacts"] for row in data["stations"])
    assert data["isl"] == "plus-grid" and 0.0 < data["eclipse_fraction"] < 0.6
    assert png.stat().st_size > 10_000
    plan = ContactPlan.load(tmp_path / "plan")
    assert len(plan.all_windows()) == data["num_windows"]


def test_orbits_command_tle_and_gantt(tmp_path, catalogue_path) -> None:
    png = tmp_path / "gantt.png"
    out = tmp_path / "s2.json"
    result = CliRunner().invoke(
        _app(),
        [
            "orbits",
            "--tle", str(catalogue_path),
            "--select", "SENTINEL-2",
            "--duration-s", "43200",
            "--step-s", "60",
            "--plot", "gantt",
            "--png", str(png),
            "--json", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["num_sats"] == 3 and data["isl"] is None
    assert data["constellation"]["kind"] == "tle"
    svalbard = next(row for row in data["stations"] if row["station"] == "Svalbard")
    assert svalbard["num_contacts"] >= 10  # three polar satellites over a polar station, 12 h
    assert png.stat().st_size > 5_000


def test_orbits_command_bad_input() -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["orbits", "--preset", "nope", "--duration-s", "60"])
    assert result.exit_code != 0 and "research-5x10" in result.output
    result = runner.invoke(_app(), ["orbits", "--stations", "kast", "--duration-s", "60"])
    assert result.exit_code != 0 and "ksat" in result.output
    result = runner.invoke(_app(), ["orbits", "--select", "STARLINK"])
    assert result.exit_code != 0 and "--tle" in result.output


def test_demo_stage() -> None:
    out = demo_stage(seed=3)
    assert out["constellation"] == "research-5x10"
    plan = out.pop("plan")
    json.dumps(out)  # the rest is JSON-ready
    assert out["station"] is not None and out["contact_duration_s"] > 0
    windows = plan.windows(out["sat"], [s.name for s in plan.stations].index(out["station"]))
    assert np.any(np.isclose(windows[:, 0], out["contact_start_s"]))
    again = demo_stage(seed=3)
    again.pop("plan")
    assert again == out
