"""``spikesat bench`` on fake benchmark scripts: summary rows, failures reported, --only checked."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spikesat.cli import app

runner = CliRunner()

GOOD = textwrap.dedent(
    """
    import argparse, json, sys
    from pathlib import Path

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print("measuring", "quick" if args.quick else "full", flush=True)
    (args.out / "alpha.png").write_bytes(b"\\x89PNG fake")
    head = {"figure": "plan 2.0 s CPU", "peer": "Skyfield 120 s CPU", "ratio": 60.0,
            "goal": ">= 50x faster", "met": True}
    payload = {"benchmark": "alpha", "headline": head, "plot": "alpha.png",
               "results": {"quick": args.quick}}
    (args.out / "alpha.json").write_text(json.dumps(payload))
    """
)
BAD = textwrap.dedent(
    """
    import sys
    print("about to crash", flush=True)
    raise SystemExit(1)
    """
)


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    (folder / "alpha.py").write_text(GOOD)
    (folder / "beta.py").write_text(BAD)
    (folder / "_report.py").write_text("raise SystemExit('a helper, never run')\n")
    return folder


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKESAT_NO_PROGRESS", "1")
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path / "cache"))


def test_bench_summarises_every_area_and_reports_the_failed_one(bench_dir, tmp_path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["bench", "--quick", "--out", str(out), "--benchmarks-dir", str(bench_dir), "--json",
         str(tmp_path / "bench.json")],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "beta" in result.output and str(out / "beta" / "log.txt") in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads((tmp_path / "bench.json").read_text()) == summary
    assert [e["area"] for e in summary["areas"]] == ["alpha", "beta"]  # helpers are skipped
    alpha, beta = summary["areas"]
    assert alpha["status"] == "ok" and alpha["returncode"] == 0
    assert alpha["headline"]["ratio"] == 60.0 and alpha["headline"]["met"] is True
    assert "--quick" in alpha["command"]
    assert (out / "alpha.png").read_bytes() == b"\x89PNG fake"
    assert "measuring quick" in (out / "alpha" / "log.txt").read_text()
    assert beta["status"] == "failed" and beta["returncode"] == 1 and beta["headline"] is None
    assert "about to crash" in (out / "beta" / "log.txt").read_text()
    assert summary["failed"] == ["beta"]
    rows = [line for line in (out / "summary.md").read_text().splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| area | figure | peer (same run) | ratio | goal | met |")
    assert rows[2].startswith(
        "| alpha | plan 2.0 s CPU | Skyfield 120 s CPU | 60 | >= 50x faster | met |"
    )
    assert rows[3].startswith("| beta | - | - | - | - | FAILED (exit 1;")


def test_only_runs_a_subset_and_succeeds(bench_dir, tmp_path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["bench", "--out", str(out), "--benchmarks-dir", str(bench_dir), "--only", "alpha"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [e["area"] for e in summary["areas"]] == ["alpha"]
    command = summary["areas"][0]["command"]
    assert command[1].endswith("alpha.py") and command[2:] == ["--out", str(out / "alpha")]
    assert not (out / "beta").exists()


def test_only_with_an_unknown_name_is_a_one_line_error(bench_dir, tmp_path) -> None:
    result = runner.invoke(
        app,
        ["bench", "--out", str(tmp_path / "out"), "--benchmarks-dir", str(bench_dir), "--only",
         "alpha,gamma"],
    )  # fmt: skip
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "gamma" in lines[0] and "valid: alpha, beta" in lines[0]
    assert not (tmp_path / "out").exists()


def test_missing_benchmarks_folder_is_a_one_line_error(tmp_path) -> None:
    missing = tmp_path / "nowhere"
    result = runner.invoke(
        app, ["bench", "--out", str(tmp_path / "out"), "--benchmarks-dir", str(missing)]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "--benchmarks-dir" in lines[0]


def test_default_benchmarks_folder_is_the_repository_one() -> None:
    from spikesat.cli.bench import default_benchmarks_dir, discover

    folder = default_benchmarks_dir()
    assert folder.name == "benchmarks"
    if folder.is_dir():  # a source checkout (not an installed wheel)
        assert {"orbits", "channels", "codecs", "snn", "federated"} <= set(discover(folder))
