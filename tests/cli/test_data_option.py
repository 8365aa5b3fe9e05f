"""``--data folder --data-dir PATH`` on every command that takes data (tiny settings)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from typer.testing import CliRunner

from spikesat.cli import app
from spikesat.cli.demo import run_demo
from spikesat.data import list_sources

runner = CliRunner()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPIKESAT_NO_PROGRESS", "1")


@pytest.fixture(scope="module")
def bands5(tmp_path_factory) -> Path:
    """Three classes of 40 five-band uint16 GeoTIFFs, 16 x 16 (class = mean level)."""
    root = tmp_path_factory.mktemp("bands5")
    rng = np.random.default_rng(0)
    for label, name in enumerate(("crop", "sea", "city")):
        (root / name).mkdir()
        for i in range(40):
            array = rng.integers(0, 1000, (5, 16, 16), dtype=np.uint16) + 1500 * label
            tifffile.imwrite(root / name / f"{i}.tif", array, photometric="minisblack")
    return root


@pytest.fixture(scope="module")
def rgb(tmp_path_factory) -> Path:
    """Two classes of 12 RGB PNGs of mixed sizes."""
    root = tmp_path_factory.mktemp("rgb")
    rng = np.random.default_rng(1)
    for label, name in enumerate(("dark", "bright")):
        (root / name).mkdir()
        for i in range(12):
            size = int(rng.integers(20, 40))
            pixels = rng.integers(0, 128, (size, size, 3), dtype=np.uint8) + 127 * label
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


def _run(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def test_help_lists_the_registered_sources() -> None:
    for command in ("train", "pretrain", "demo", "snn", "codec", "federate"):
        result = runner.invoke(
            app, [command, "--help"], env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"}
        )
        assert result.exit_code == 0, result.output
        assert "--data" in result.output
        assert ", ".join(list_sources()) in _plain(result.output), command


def test_train_and_pretrain_on_a_folder(bands5: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.json"
    common = ["--data", "folder", "--data-dir", str(bands5), "--batch-size", "16"]
    _run(["train", *common, "--epochs", "1", "--num-train", "32", "--json", str(out)])
    payload = json.loads(out.read_text())
    assert payload["data"].startswith("folder-") and Path(payload["checkpoint"]).is_file()
    out = tmp_path / "pretrain.json"
    _run(
        [
            "pretrain",
            *common,
            "--model",
            "vit-micro-p8",
            "--epochs",
            "1",
            "--probe-epochs",
            "1",
            "--finetune-epochs",
            "1",
            "--num-train",
            "32",
            "--json",
            str(out),
        ]
    )
    assert 0.0 <= json.loads(out.read_text())["finetuned_test_accuracy"] <= 1.0


def _plain(output: str) -> str:
    """CLI output without rich's box drawing and line wrapping."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", output)


def test_bad_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--data", "folder", "--data-dir", str(tmp_path / "x")])
    assert result.exit_code == 2 and "does not exist" in _plain(result.output)
    result = runner.invoke(app, ["train", "--data", "imagenet"])
    assert result.exit_code == 2 and "eurosat, folder, synthetic" in _plain(result.output)


def test_codec_on_folders(bands5: Path, rgb: Path, tmp_path: Path) -> None:
    out = tmp_path / "codec.json"
    args = ["codec", "--num-samples", "8", "--codecs", "int8,jpeg", "--qualities", "50"]
    _run([*args, "--data", "folder", "--data-dir", str(bands5), "--json", str(out)])
    rows = {r["codec"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["jpeg"]["setting"].startswith("n/a: 5 bands")
    assert rows["int8"]["bytes_per_example"] > 0
    _run([*args, "--dataset", "folder", "--data-dir", str(rgb), "--json", str(out)])
    rows = {r["codec"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["jpeg"]["bytes_per_example"] > 0 and 0 <= rows["jpeg"]["accuracy"] <= 1


def test_snn_on_a_folder(bands5: Path, tmp_path: Path) -> None:
    out = tmp_path / "snn.json"
    _run(
        [
            "snn",
            "--data",
            "folder",
            "--data-dir",
            str(bands5),
            "--num-samples",
            "24",
            "--epochs",
            "1",
            "--steps",
            "2",
            "--methods",
            "max",
            "--hardware",
            "loihi",
            "--json",
            str(out),
        ]
    )
    payload = json.loads(out.read_text())
    assert payload["num_train"] == 24 and payload["rows"]


def test_federate_on_a_folder(bands5: Path, tmp_path: Path) -> None:
    out = tmp_path / "federate.json"
    _run(
        [
            "federate",
            "--data",
            "folder",
            "--data-dir",
            str(bands5),
            "--rounds",
            "1",
            "--num-train",
            "80",
            "--num-test",
            "20",
            "--image-size",
            "16",
            "--horizon-h",
            "24",
            "--step-s",
            "60",
            "--scheme",
            "iid",
            "--json",
            str(out),
        ]
    )
    assert len(json.loads(out.read_text())["history"]) >= 1


def test_demo_on_a_folder(bands5: Path) -> None:
    result = run_demo(
        data_dir=bands5, source="folder", num_train=40, epochs=1, progress=False, codec_epochs=1
    )
    assert result["summary"]["data"].startswith("folder-")
    codec_row = next(r for r in result["stages"] if r["stage"] == "codec")
    assert "JPEG" not in codec_row["result"]  # five bands: no JPEG comparison
    federated_row = next(r for r in result["stages"] if r["stage"] == "federated")
    assert federated_row["result"].startswith("skipped:")  # too few scenes for 50 satellites
    specialists_row = next(r for r in result["stages"] if r["stage"] == "specialists")
    assert specialists_row["result"].startswith("skipped:")  # the reference LAM reads RGB
    help_text = runner.invoke(app, ["demo", "--help"]).output
    assert "--data-dir" in help_text
