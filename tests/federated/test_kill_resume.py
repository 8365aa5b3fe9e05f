"""A ``spikesat federate`` run killed with SIGKILL and resumed ends with the uninterrupted
run's model, history and contributions: no update lost, none counted twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from spikesat.federated.simulation import CHECKPOINT_NAME

ROUNDS = 6
ARGS = [
    "federate",
    "--strategy", "fedavg-ground",
    "--rounds", str(ROUNDS),
    "--num-train", "160",
    "--num-test", "40",
    "--corruption-prob", "0.3",
    "--failure-prob", "0.05",
]  # fmt: skip
CLI = "import sys; from spikesat.cli import app; sys.argv[0] = 'spikesat'; app()"


def _command(folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", CLI, *ARGS, "--checkpoint-dir", str(folder), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _rounds_done(path: Path) -> int:
    try:
        return int(torch.load(path, weights_only=False)["rounds_done"])
    except (OSError, EOFError, RuntimeError, KeyError):
        return 0


def test_sigkill_then_resume_equals_the_uninterrupted_run(tmp_path) -> None:
    full, killed = tmp_path / "full", tmp_path / "killed"
    done = subprocess.run(
        _command(full, "--json", str(tmp_path / "full.json")),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    run = subprocess.Popen(_command(killed), env=_env(), stdout=subprocess.DEVNULL)
    checkpoint = killed / CHECKPOINT_NAME
    deadline = time.monotonic() + 240
    while _rounds_done(checkpoint) < 2 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be killed: make it longer"
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL
    assert 2 <= _rounds_done(checkpoint) < ROUNDS

    resumed = subprocess.run(
        _command(killed, "--resume", "--json", str(tmp_path / "resumed.json")),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    a = torch.load(full / CHECKPOINT_NAME, weights_only=False)
    b = torch.load(checkpoint, weights_only=False)
    assert a["rounds_done"] == b["rounds_done"] == ROUNDS
    assert a["contributions"] == b["contributions"]
    for name, value in a["model"].items():
        assert torch.equal(value, b["model"][name]), name

    def strip(path: Path) -> list[dict]:
        history = json.loads(path.read_text())["history"]
        return [{k: v for k, v in h.items() if k != "wall_s"} for h in history]

    assert strip(tmp_path / "resumed.json") == strip(tmp_path / "full.json")
