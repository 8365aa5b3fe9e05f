"""Bad input never shows a traceback: one ``Error: ...`` line, exit 2, and no work done first.

Every case is rejected before any training, data loading or contact plan: the heavy entry
points are replaced by a tripwire, and the cache folder must stay empty.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from spikesat.cli import app

runner = CliRunner()

# A TLE with a huge drag term: SGP4 fails (error 1, NaN states) at every step ten days later.
DECAYED_TLE = (
    "DECAYED\n"
    "1 25544U 98067A   24001.50000000  .00016717  00000-0  99999-0 0  9999\n"
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.49815296 12349\n"
)

NOT_A_FOLDER = "/etc/hostname/out.json"  # its "parent" is a file: unwritable even for root

CASES = {
    # train: every option
    "train-model": (["train", "--model", "nope"], "'nope'"),
    "train-epochs": (["train", "--epochs", "0"], "--epochs"),
    "train-epochs-text": (["train", "--epochs", "ten"], "--epochs"),
    "train-batch-size": (["train", "--batch-size", "-4"], "--batch-size"),
    "train-lr-zero": (["train", "--lr", "0"], "--lr"),
    "train-lr-nan": (["train", "--lr", "nan"], "--lr"),
    "train-num-train": (["train", "--num-train", "0"], "--num-train"),
    "train-modality": (["train", "--modality", "sar"], "'sar'"),
    "train-data": (["train", "--data", "bogus"], "'bogus'"),
    "train-data-dir": (["train", "--data-dir", "/nonexistent"], "/nonexistent"),
    "train-init": (["train", "--init", "/nonexistent.pt"], "--init"),
    "train-json": (["train", "--json", NOT_A_FOLDER], "--json"),
    "train-out": (["train", "--out", NOT_A_FOLDER], "--out"),
    # pretrain
    "pretrain-not-vit": (["pretrain", "--model", "resnet18"], "vit-tiny-p8"),
    "pretrain-epochs": (["pretrain", "--epochs", "-5"], "--epochs"),
    "pretrain-probe-epochs": (["pretrain", "--probe-epochs", "0"], "--probe-epochs"),
    "pretrain-json": (["pretrain", "--json", NOT_A_FOLDER], "--json"),
    # snn
    "snn-dataset": (["snn", "--dataset", "bogus"], "'bogus'"),
    "snn-model": (["snn", "--model", "bogus"], "vit-micro-p8"),
    "snn-num-samples": (["snn", "--num-samples", "5"], "--num-samples"),
    "snn-methods": (["snn", "--methods", "qcfs,bogus"], "percentile"),
    "snn-steps": (["snn", "--steps", "1,x"], "--steps"),
    "snn-hardware": (["snn", "--hardware", "gpu9000"], "loihi"),
    "snn-json": (["snn", "--json", NOT_A_FOLDER], "--json"),
    # codec
    "codec-model": (["codec", "--model", "bogus"], "vit-micro-p8"),
    "codec-at": (["codec", "--at", "bogus"], "blocks.2"),
    "codec-codecs": (["codec", "--codecs", "zip"], "factorized"),
    "codec-qualities": (["codec", "--qualities", "200"], "--qualities"),
    "codec-num-samples": (["codec", "--num-samples", "0"], "--num-samples"),
    "codec-json": (["codec", "--json", NOT_A_FOLDER], "--json"),
    "codec-train-codec": (["codec", "train", "--codec", "jpeg"], "hyperprior"),
    "codec-train-at": (["codec", "train", "--at", "head"], "--at"),
    "codec-train-lr": (["codec", "train", "--lr", "-1"], "--lr"),
    # demo and federate
    "demo-data-dir": (["demo", "--data-dir", "/nonexistent"], "/nonexistent"),
    "demo-data": (["demo", "--data", "bogus"], "'bogus'"),
    "demo-json": (["demo", "--json", NOT_A_FOLDER], "--json"),
    "federate-data-dir": (["federate", "--data-dir", "/nonexistent"], "/nonexistent"),
    "federate-strategy": (["federate", "--strategy", "bogus"], "fedavg-ground"),
    "federate-model": (["federate", "--model", "bogus"], "vit-micro-p8"),
    "federate-scheme": (["federate", "--scheme", "bogus"], "dirichlet"),
    "federate-constellation": (["federate", "--constellation", "bogus"], "research-5x10"),
    "federate-backend": (["federate", "--backend", "bogus"], "ray"),
    "federate-eclipse": (["federate", "--eclipse", "night"], "sunlit"),
    "federate-rounds": (["federate", "--rounds", "0"], "--rounds"),
    "federate-quorum": (["federate", "--quorum", "1.5"], "--quorum"),
    "federate-failure-point": (["federate", "--failure-point", "never"], "mid-round"),
    "federate-corruption-prob": (["federate", "--corruption-prob", "1.0"], "--corruption-prob"),
    "federate-json": (["federate", "--json", NOT_A_FOLDER], "--json"),
    # orbits and link
    "orbits-preset": (["orbits", "--preset", "bogus"], "research-5x10"),
    "orbits-tle": (["orbits", "--tle", "/nonexistent.tle"], "--tle"),
    "orbits-duration": (["orbits", "--duration-s", "-1"], "--duration-s"),
    "orbits-step": (["orbits", "--step-s", "0"], "--step-s"),
    "orbits-elevation": (["orbits", "--min-elevation-deg", "120"], "--min-elevation-deg"),
    "orbits-plot": (["orbits", "--plot", "pie"], "gantt"),
    "orbits-json": (["orbits", "--json", NOT_A_FOLDER], "--json"),
    "link-preset": (["link", "--preset", "bogus"], "x-band-eo-sentinel2"),
    "link-constellation": (["link", "--constellation", "bogus"], "research-5x10"),
    "link-fading": (["link", "--fading", "bogus"], "rayleigh"),
    "link-sat": (["link", "--sat", "999"], "--sat"),
    "link-rain": (["link", "--rain-percent", "0"], "--rain-percent"),
    "link-json": (["link", "--json", NOT_A_FOLDER], "--json"),
    # infer
    "infer-task": (["infer", "--task", "bogus"], "landcover"),
    "infer-task-ndvi": (["infer", "--task", "ndvi"], "MS scenes paired with RGB"),
    "infer-split-at": (["infer", "--split-at", "head"], "blocks.<i>"),
    "infer-codec": (["infer", "--codec", "zip"], "int8"),
    "infer-hardware": (["infer", "--hardware", "gpu9000"], "loihi"),
    "infer-requests": (["infer", "--num-requests", "0"], "--num-requests"),
    "infer-data-dir": (["infer", "--data-dir", "/nonexistent"], "/nonexistent"),
    "infer-json": (["infer", "--json", NOT_A_FOLDER], "--json"),
    # bench and the group itself
    "bench-json": (["bench", "--out", "OUT", "--json", NOT_A_FOLDER], "--json"),
    "unknown-command": (["bogus"], "bogus"),
}


class HeavyWorkRan(BaseException):
    """Raised by the tripwires: a BaseException, so neither the CLI's safety net nor CliRunner
    catches it, and it fails the test it trips in."""


def _tripwire(*args: object, **kwargs: object) -> None:
    raise HeavyWorkRan("work started before the bad option was rejected")


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Replace every heavy entry point by a tripwire; an empty cache folder to watch."""
    import spikesat.cli.codec
    import spikesat.cli.demo
    import spikesat.cli.federate
    import spikesat.cli.infer
    import spikesat.cli.link
    import spikesat.cli.orbits
    import spikesat.cli.pretrain
    import spikesat.cli.snn
    import spikesat.cli.train
    import spikesat.train

    for module, name in [
        (spikesat.train, "fit"),
        (spikesat.train, "pretrain_mae"),
        (spikesat.cli.train, "load_data_splits"),
        (spikesat.cli.pretrain, "load_data_splits"),
        (spikesat.cli.snn, "lam_features"),
        (spikesat.cli.snn, "sweep_num_steps"),
        (spikesat.cli.codec, "load_data_splits"),
        (spikesat.cli.codec, "train_lambda_sweep"),
        (spikesat.cli.federate, "build_network"),
        (spikesat.cli.federate, "federate"),
        (spikesat.cli.demo, "run_demo"),
        (spikesat.cli.infer, "run_infer"),
        (spikesat.cli.orbits, "contact_plan"),
        (spikesat.cli.link, "_plan"),
    ]:
        monkeypatch.setattr(module, name, _tripwire)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("SPIKESAT_CACHE", str(cache))
    return cache


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: "), output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize("args, names", CASES.values(), ids=CASES.keys())
def test_bad_option_is_one_line_and_exit_2(
    args: list[str], names: str, no_work: Path, tmp_path: Path
) -> None:
    args = [str(tmp_path / "bench") if a == "OUT" else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert names in line  # names the option, the bad value or a valid choice
    assert not any(no_work.rglob("*")), "something was written to the cache"


def test_tle_whose_every_position_is_nan_is_an_error(tmp_path: Path) -> None:
    tle = tmp_path / "decayed.tle"
    tle.write_text(DECAYED_TLE)
    args = ["orbits", "--tle", str(tle), "--start", "2024-01-11T00:00:00"]
    result = runner.invoke(app, [*args, "--duration-s", "600", "--step-s", "60"])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert "SGP4 failed for every satellite" in line and "DECAYED" in line


def _demo_raises(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """``spikesat demo`` (which catches nothing itself) raising ``error`` from the library."""
    import spikesat.cli.demo

    def run_demo(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(spikesat.cli.demo, "run_demo", run_demo)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad\nvalue"),
        TypeError("bad type"),
        FileNotFoundError("no such file"),
        ImportError("install spikesat[extra]"),
        ModuleNotFoundError("No module named 'flwr'"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_library_input_errors_become_one_line(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    _demo_raises(monkeypatch, error)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 2, result.output
    assert " ".join(str(error).split()) in _one_error_line(result.output)


def test_a_real_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    _demo_raises(monkeypatch, RuntimeError("a bug"))
    result = runner.invoke(app, ["demo"])
    assert isinstance(result.exception, RuntimeError)


def test_spikesat_traceback_shows_the_caught_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _demo_raises(monkeypatch, ValueError("raw"))
    monkeypatch.setenv("SPIKESAT_TRACEBACK", "1")
    result = runner.invoke(app, ["demo"])
    assert isinstance(result.exception, ValueError)


def test_good_help_still_exits_0() -> None:
    result = runner.invoke(app, ["orbits", "--help"])
    assert result.exit_code == 0
    assert "--tle" in result.output
