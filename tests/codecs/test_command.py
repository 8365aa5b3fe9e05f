"""`spikesat codec` (evaluate and train) through Typer's CliRunner, and the demo stage."""

from __future__ import annotations

import json

import pytest
import torch
import typer
from typer.testing import CliRunner

from spikesat.cli.codec import app, command
from spikesat.cli.demo.codec_stage import demo_stage
from spikesat.codecs import create


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPIKESAT_NO_PROGRESS", "1")


def test_evaluate_as_plain_command(tmp_path) -> None:
    cli = typer.Typer()
    cli.command("codec")(command)
    cli.command("other")(lambda: None)  # two commands keep "codec" as a named sub-command
    out = tmp_path / "codec.json"
    png = tmp_path / "codec.png"
    result = CliRunner().invoke(
        cli,
        [
            "codec",
            "--num-samples",
            "16",
            "--codecs",
            "float16,int8,jpeg,factorized",
            "--qualities",
            "20,80",
            "--json",
            str(out),
            "--png",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["rows"]
    by_codec = {(r["codec"], r["setting"]): r for r in rows}
    assert (
        by_codec[("float16", "-")]["bytes_per_example"]
        > by_codec[("int8", "-")]["bytes_per_example"]
    )
    assert (
        by_codec[("jpeg", "q=20")]["bytes_per_example"]
        < by_codec[("jpeg", "q=80")]["bytes_per_example"]
    )
    assert (
        "not trained"
        in by_codec[("factorized", "not trained: run `spikesat codec train`")]["setting"]
    )
    assert png.stat().st_size > 1000


def test_train_then_evaluate_picks_up_the_sweep(tmp_path) -> None:
    runner = CliRunner()
    sweep = tmp_path / "sweep.json"
    result = runner.invoke(
        app,
        [
            "train",
            "--num-samples",
            "64",
            "--epochs",
            "1",
            "--lambdas",
            "0.001,0.1",
            "--latent-channels",
            "2",
            "--json",
            str(sweep),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(sweep.read_text())["rows"]
    assert [r["setting"] for r in rows] == ["lambda=0.001", "lambda=0.1"]
    assert all(str(tmp_path / "cache") in r["checkpoint"] for r in rows)
    out = tmp_path / "eval.json"
    result = runner.invoke(
        app, ["--num-samples", "16", "--codecs", "factorized", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    settings = [
        r["setting"] for r in json.loads(out.read_text())["rows"] if r["codec"] == "factorized"
    ]
    assert settings == ["lambda=0.001", "lambda=0.1"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--codecs", "int9"], "unknown 'int9'"),
        (["--qualities", "120"], "must be in 0..100"),
        (["--dataset", "mnist"], "synthetic"),
        (["train", "--codec", "int8"], "factorized, hyperprior"),
    ],
)
def test_bad_options(args, message) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output


def test_demo_stage_reports_bytes_and_accuracy_next_to_jpeg(stand_in_link, fixed_loss) -> None:
    import spikesat.models as models
    from spikesat.data import synthetic_scenes
    from spikesat.data.synthetic import PIXEL_MEAN, PIXEL_STD

    torch.manual_seed(0)
    images, labels = synthetic_scenes(16, image_size=64, seed=0).tensors()
    split = models.split(models.create("vit-micro-p8").eval(), at="blocks.1")
    with torch.no_grad():
        features = split.onboard(images)
    norm = {"mean": (PIXEL_MEAN,) * 3, "std": (PIXEL_STD,) * 3}
    row = demo_stage(
        split, features, labels, stand_in_link(), images, packet_error_fn=fixed_loss(0.0), **norm
    )
    assert row["codec"] == "int8" and row["num_erased"] == 0
    with torch.no_grad():
        int8 = create("int8", 64)
        expected = float((split.remote(int8(features)["x_hat"]).argmax(1) == labels).float().mean())
    assert row["accuracy"] == pytest.approx(expected)
    assert row["bytes_per_image"] == pytest.approx(
        sum(s.num_bytes for s in int8.compress(features)) / 16
    )
    assert row["jpeg_bytes_per_image"] > 0 and 0 <= row["jpeg_accuracy"] <= 1
    lossy = demo_stage(
        split,
        features,
        labels,
        stand_in_link(),
        images,
        arq=False,
        packet_error_fn=fixed_loss(1.0),
        **norm,
    )
    assert lossy["accuracy"] == 0.0 and lossy["num_erased"] == 16 and lossy["jpeg_num_erased"] == 16
