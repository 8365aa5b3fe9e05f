"""``spikesat federate`` through a Typer app, and the demo stage."""

from __future__ import annotations

import json

import pytest
import torch
import typer
from typer.testing import CliRunner

from spikesat.cli.federate import command, demo_stage

SMALL = [
    "--rounds",
    "1",
    "--num-train",
    "100",
    "--num-test",
    "20",
    "--horizon-h",
    "24",
    "--step-s",
    "60",
    "--scheme",
    "iid",
]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("federate")(command)
    app.command("noop")(lambda: None)  # two commands, so "federate" is a subcommand
    return app


def test_federate_writes_history_json_and_png(tmp_path) -> None:
    out, png = tmp_path / "fed.json", tmp_path / "fed.png"
    result = CliRunner().invoke(
        _app(),
        [
            "federate",
            "-s",
            "fedavg-ground",
            "-s",
            "fedisl",
            *SMALL,
            "--json",
            str(out),
            "--png",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "fedisl" in result.output
    payload = json.loads(out.read_text())
    assert {h["strategy"] for h in payload["history"]} == {"fedavg-ground", "fedisl"}
    for entry in payload["history"]:
        for key in (
            "sim_time_s",
            "accuracy",
            "bytes_isl",
            "bytes_ground_up",
            "bytes_ground_down",
            "energy_j",
        ):
            assert key in entry
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_federate_passes_intra_plane_rounds_to_fedisl(tmp_path) -> None:
    """Two plane all-reduces per ground round send twice the ISL bytes of one."""
    isl_bytes = {}
    for rounds in (1, 2):
        out = tmp_path / f"k{rounds}.json"
        args = ["federate", "-s", "fedisl", *SMALL, "--intra-plane-rounds", str(rounds)]
        result = CliRunner().invoke(_app(), [*args, "--json", str(out)])
        assert result.exit_code == 0, result.output
        isl_bytes[rounds] = json.loads(out.read_text())["history"][0]["bytes_isl"]
    assert isl_bytes[2] > isl_bytes[1] > 0
    result = CliRunner().invoke(
        _app(), ["federate", "-s", "fedisl", *SMALL, "--intra-plane-rounds", "0"]
    )
    assert result.exit_code == 2 and "--intra-plane-rounds" in result.output


def test_federate_split_steps_trains_within_windows(tmp_path) -> None:
    """--split-steps runs split-lam's window schedule: several steps per plane per round."""
    out = tmp_path / "split.json"
    args = ["federate", "-s", "split-lam", *SMALL, "--split-steps", "3", "--json", str(out)]
    result = CliRunner().invoke(_app(), [*args, "--micro-batches", "4"])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    steps = payload["history"][0]["steps_per_plane"]
    assert steps and all(1 <= k <= 3 for k in steps) and max(steps) > 1
    assert payload["runs"]["split-lam"]["config"]["strategy_config"]["micro_batches"] == 4
    result = CliRunner().invoke(
        _app(), ["federate", "-s", "split-lam", *SMALL, "--split-steps", "0"]
    )
    assert result.exit_code == 2 and "--split-steps" in result.output


def test_federate_bad_names_list_the_choices() -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["federate", "-s", "fedprox", *SMALL])
    assert result.exit_code != 0 and "fedavg-ground" in result.output
    result = runner.invoke(_app(), ["federate", "--constellation", "starlink", *SMALL])
    assert result.exit_code != 0 and "starlink-shell1" in result.output


def test_demo_stage_fine_tunes_a_copy_of_the_model() -> None:
    import spikesat.models as models
    from spikesat.data import synthetic_scenes
    from spikesat.data.synthetic import PIXEL_STD

    lam = models.create("vit-micro-p8", img_size=32)
    before = {k: v.clone() for k, v in lam.state_dict().items()}
    train = synthetic_scenes(300, image_size=32, seed=1).tensors()
    test = synthetic_scenes(50, image_size=32, seed=2).tensors()
    row = demo_stage(lam, train, test, (PIXEL_STD,) * 3, rounds=1, num_test=50)
    assert row["strategy"] == "fedisl" and row["rounds"] == 1
    assert 0.0 <= row["accuracy_before"] <= 1.0 and 0.0 <= row["accuracy"] <= 1.0
    assert all(torch.equal(before[k], v) for k, v in lam.state_dict().items())
    with pytest.raises(ValueError, match="too few"):
        demo_stage(lam, (train[0][:100], train[1][:100]), test, (PIXEL_STD,) * 3)
    assert row["sim_hours"] > 0 and row["bytes_isl"] > 0 and row["bytes_ground"] > 0
    assert row["energy_j"] > 0


def test_read_noise_has_the_stated_standard_deviation_in_pixel_units() -> None:
    from spikesat.cli.federate import add_read_noise
    from spikesat.data.synthetic import PIXEL_STD

    images = torch.zeros(64, 3, 32, 32)
    noisy = add_read_noise(images, 0.15, (PIXEL_STD,) * 3, torch.Generator().manual_seed(0))
    # Normalised units are pixel units / PIXEL_STD; 196,608 draws put the sample std within 1%.
    assert float(noisy.std() * PIXEL_STD) == pytest.approx(0.15, rel=0.01)
    assert float(noisy.mean()) == pytest.approx(0.0, abs=0.01)
    again = add_read_noise(images, 0.15, (PIXEL_STD,) * 3, torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)


def test_federate_prices_the_run_as_a_larger_lam(tmp_path) -> None:
    """--price-as charges a larger LAM's update bytes; bad pricing options are one line."""
    out = tmp_path / "priced.json"
    args = ["federate", "-s", "fedavg-ground", *SMALL, "--json", str(out)]
    priced = [*args, "--price-as", "vit-small-p8", "--onboard", "jetson-nano-5w"]
    result = CliRunner().invoke(_app(), priced)
    assert result.exit_code == 0, result.output
    config = json.loads(out.read_text())["runs"]["fedavg-ground"]["config"]
    assert config["price_as"]["model"] == "vit-small-p8" and config["onboard"] == "jetson-nano-5w"
    assert config["update_bytes"] > 4 * config["price_as"]["trainable_params"]
    for bad, option in (
        (["--price-as", "vit-huge"], "--price-as"),
        (["--price-image-size", "64"], "--price-image-size"),
        (["--onboard", "cray-1"], "--onboard"),
        (["--cpus-per-actor", "0"], "--cpus-per-actor"),
    ):
        result = CliRunner().invoke(_app(), [*args, *bad])
        assert result.exit_code == 2 and option in result.output, result.output
        assert "Traceback" not in result.output
