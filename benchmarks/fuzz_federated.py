"""Federated faults under fuzzing: corrupted uploads, satellites failing, runs killed with SIGKILL.

Three parts, each counted by outcome (goal: 0 silently wrong, 0 crashes, 0 hangs):

1. **Upload frames.** A real update (the trainable state of ``vit-micro-p8``, 1.0 MB) is sent
   as sat-7's round-3 frame; each case applies one corruption and the station decodes it with
   ``decode_update(expect=..., like=...)``. Corruptions (drawn uniformly): 1-8 bit flips
   anywhere, a burst of random bytes, truncation, extension, random bytes of the same length,
   a replay of the same satellite's frame from an earlier round, another satellite's frame of
   the same round, a frame of another run, header identity fields edited, and digest-valid
   frames around malformed bodies (unloadable bytes, missing or extra tensors, other shapes or
   dtypes, NaN) that a faulty sender could produce. Outcomes: **clear error**
   (``CorruptUpdateError`` with a message), **correct decode** (bit-identical state),
   **silently wrong** (decoded to anything else), **crash** (any other exception), **hang**.
2. **Fault scenarios.** ``federate`` runs on a 20-satellite, 2-plane shell (fedavg-ground and
   fedisl alternately, 3 rounds, full quorum) under random faults: 0-40% of the satellites
   failing permanently at a random round, at its start or mid-round (after training, before
   the upload), drop-outs, missed passes and corrupted uploads. A scenario is **correct** when
   every round's contributors are exactly the satellites the fault model keeps alive (each
   once) and the final model equals, bit for bit, a reference run that has the same failures
   at their rounds' start and no transmission faults (so nothing but the dead satellites'
   updates was lost); **silently wrong** otherwise.
3. **SIGKILL and resume.** ``spikesat federate`` (6 rounds, checkpoint every round, faults on)
   is killed with SIGKILL at a uniformly random time between 80% of the time to its first
   checkpoint and the end of the uninterrupted run's wall time (before the first checkpoint,
   between rounds, during a checkpoint write), then rerun with
   ``--resume``. **Resumed equal**: final model, contributions and history (except wall
   times) equal the uninterrupted run's; **silently wrong** otherwise; **crash**: the resume
   failed; **finished first**: the run ended before the kill (not a trial).

Run: ``python benchmarks/fuzz_federated.py`` (10,000 frames, 40 scenarios, 20 kills) or
``--quick`` (300, 4, 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import headline, outcome_bars, write_results
from spikesat.federated import (
    CorruptUpdateError,
    FaultModel,
    LocalConfig,
    UpdateId,
    build_network,
    decode_update,
    encode_update,
    federate,
    federated_data,
)
from spikesat.federated.payload import frame_update
from spikesat.federated.simulation import CHECKPOINT_NAME
from spikesat.models import create
from spikesat.orbits import walker_delta

OUTCOMES = ("clear error", "correct", "silently wrong", "crash", "hang")
SENT = UpdateId(run=0x5EED_F00D_0000_0001, sender=7, round=3, key=0)
KILL_ROUNDS = 6
KILL_ARGS = [
    "federate",
    "--rounds", str(KILL_ROUNDS),
    "--num-train", "160",
    "--num-test", "40",
    "--failure-prob", "0.05",
    "--failure-point", "mid-round",
    "--corruption-prob", "0.3",
    "--missed-window-prob", "0.2",
]  # fmt: skip
CLI = "import sys; from spikesat.cli import app; sys.argv[0] = 'spikesat'; app()"


class Hang(Exception):
    """Raised by the per-case alarm."""


def _alarm(signum, frame):
    raise Hang()


# -- part 1: upload frames ---------------------------------------------------------------------
def _record(state: dict, **changes) -> bytes:
    buffer = io.BytesIO()
    torch.save({"state": {**state, **changes}, "meta": {"num_samples": 5}}, buffer)
    return buffer.getvalue()


def corruptions(state: dict[str, torch.Tensor], frame: bytes):
    """The corruption kinds: name -> function(rng) -> received bytes."""
    names = sorted(state)
    first = names[0]

    def flips(rng):
        data = bytearray(frame)
        for bit in rng.choice(len(data) * 8, size=int(rng.integers(1, 9)), replace=False):
            data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)

    def burst(rng):
        data = bytearray(frame)
        start = int(rng.integers(0, len(data)))
        length = int(rng.integers(1, 65))
        data[start : start + length] = rng.bytes(min(length, len(data) - start))
        return bytes(data)

    def truncate(rng):
        return frame[: int(rng.integers(0, len(frame)))]

    def extend(rng):
        return frame + rng.bytes(int(rng.integers(1, 256)))

    def random_bytes(rng):
        return rng.bytes(len(frame))

    def identity(**fields):
        return encode_update(state, {"num_samples": 5}, dataclasses.replace(SENT, **fields))

    def replay(rng):
        return identity(round=int(rng.integers(0, SENT.round)))

    def misrouted(rng):
        return identity(sender=int(rng.choice([s for s in range(20) if s != SENT.sender])))

    def foreign(rng):
        return identity(run=int(rng.integers(0, 2**63)))

    def header_edit(rng):
        data = bytearray(frame)
        offset = int(rng.choice([8, 16, 20, 24]))  # run, sender, round, key
        data[offset] ^= int(rng.integers(1, 256))
        return bytes(data)

    def malformed(rng):
        kind = int(rng.integers(0, 6))
        if kind == 0:
            body = rng.bytes(int(rng.integers(1, 4096)))
        elif kind == 1:
            body = _record({k: v for k, v in state.items() if k != first})
        elif kind == 2:
            body = _record(state, extra=torch.zeros(3))
        elif kind == 3:
            body = _record(state, **{first: state[first].flatten()[:-1]})
        elif kind == 4:
            body = _record(state, **{first: state[first].double()})
        else:
            bad = state[first].clone()
            bad.view(-1)[int(rng.integers(0, bad.numel()))] = float("nan")
            body = _record(state, **{first: bad})
        return frame_update(body, SENT)

    return {
        "bit flips": flips,
        "burst": burst,
        "truncation": truncate,
        "extension": extend,
        "random bytes": random_bytes,
        "replay (earlier round)": replay,
        "misrouted (other satellite)": misrouted,
        "foreign (other run)": foreign,
        "header identity edit": header_edit,
        "digest-valid malformed body": malformed,
    }


def fuzz_frames(num_cases: int, seed: int, limit_s: float) -> tuple[Counter, dict, list[str], int]:
    """Part 1: outcome counts, per-kind counts, a few examples and the frame's size [B]."""
    model = create("vit-micro-p8", num_classes=10, img_size=32, seed=seed)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    frame = encode_update(state, {"num_samples": 5}, SENT)
    kinds = corruptions(state, frame)
    rng = np.random.default_rng(seed)
    outcomes: Counter[str] = Counter()
    per_kind = {k: Counter() for k in kinds}
    examples: list[str] = []
    for index in range(num_cases):
        kind = list(kinds)[int(rng.integers(len(kinds)))]
        received = kinds[kind](rng)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
        try:
            with warnings.catch_warnings():  # torch warns of odd pickle protocols in random bytes
                warnings.simplefilter("ignore")
                decoded, _ = decode_update(received, expect=SENT, like=state)
            same = set(decoded) == set(state) and all(
                torch.equal(decoded[k], state[k]) for k in state
            )
            outcome = "correct" if same else "silently wrong"
        except CorruptUpdateError as error:
            outcome = "clear error" if str(error) else "crash"
        except Hang:
            outcome = "hang"
        except Exception as error:  # the point of the fuzz: count anything else
            outcome = "crash"
            examples.append(f"case {index} ({kind}): {type(error).__name__}: {error}"[:300])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        outcomes[outcome] += 1
        per_kind[kind][outcome] += 1
    return outcomes, per_kind, examples, len(frame)


# -- part 2: fault scenarios -------------------------------------------------------------------
def _states_equal(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def fuzz_scenarios(num_runs: int, seed: int) -> tuple[Counter, list[str], float]:
    """Part 2: outcome counts, examples, share of satellites that failed."""
    shell = walker_delta(20, 2, 1, altitude_km=550.0, inclination_deg=53.0, name="fuzz-2x10")
    network = build_network(shell, "default", horizon_h=48.0, step_s=60.0)
    data = federated_data(20, num_train=120, num_test=40, planes=network.planes, seed=seed)
    local = LocalConfig(epochs=1, batch_size=8, lr=1e-3)
    rng = np.random.default_rng(seed + 1)
    outcomes: Counter[str] = Counter()
    examples: list[str] = []
    failed_share = []
    rounds = 3
    for index in range(num_runs):
        strategy = ("fedavg-ground", "fedisl")[index % 2]
        dead = rng.choice(20, size=int(rng.integers(0, 9)), replace=False)  # 0-40%: mean 20%
        failures = {int(s): int(rng.integers(0, rounds)) for s in dead}
        point = ("round-start", "mid-round")[int(rng.integers(2))]
        faults = FaultModel(
            failures=failures,
            failure_point=point,
            dropout_prob=float(rng.uniform(0, 0.2)),
            missed_window_prob=float(rng.uniform(0, 0.4)),
            corruption_prob=float(rng.uniform(0, 0.5)),
            seed=int(rng.integers(1 << 31)),
        )
        reference = FaultModel(
            failures=failures, dropout_prob=faults.dropout_prob, seed=faults.seed
        )
        failed_share.append(len(failures) / 20)
        common = dict(network=network, data=data, rounds=rounds, local=local, seed=seed)
        try:
            run = federate(strategy, faults=faults, **common)
            ref = federate(strategy, faults=reference, **common)
            right = _states_equal(run, ref)
            for r in range(rounds):
                alive = [
                    s
                    for s in range(20)
                    if faults.participates(s, r) and not faults.fails_mid_round(s, r)
                ]
                entries = [tuple(e) for e in run.contributions.get(r, [])]
                right &= sorted(s for s, _ in entries) == alive and len(set(entries)) == len(
                    entries
                )
            outcome = "correct" if right else "silently wrong"
            if not right:
                examples.append(f"scenario {index} ({strategy}, {point}): {faults.to_dict()}")
        except Exception as error:  # counted, not raised
            outcome = "crash"
            examples.append(f"scenario {index}: {type(error).__name__}: {error}"[:300])
        outcomes[outcome] += 1
    return outcomes, examples, float(np.mean(failed_share)) if failed_share else 0.0


# -- part 3: SIGKILL and resume ----------------------------------------------------------------
def _command(folder: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", CLI, *KILL_ARGS, "--checkpoint-dir", str(folder), *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _finished(folder: Path, json_path: Path, timeout_s: float) -> tuple[dict, list]:
    """Run to the end (resuming); the final checkpoint and the history without wall times."""
    subprocess.run(
        _command(folder, "--resume", "--json", str(json_path)),
        env=_env(),
        check=True,
        capture_output=True,
        timeout=timeout_s,
    )
    history = json.loads(json_path.read_text())["history"]
    strip = [{k: v for k, v in h.items() if k != "wall_s"} for h in history]
    return torch.load(folder / CHECKPOINT_NAME, weights_only=False), strip


def _first_checkpoint_s(folder: Path, timeout_s: float) -> float:
    """Seconds from a fresh start until the first checkpoint exists (start-up excluded from
    the kill window below); the run is killed once it has been measured."""
    began = time.monotonic()
    run = subprocess.Popen(
        _command(folder), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while not (folder / CHECKPOINT_NAME).exists() and time.monotonic() - began < timeout_s:
        time.sleep(0.02)
    first_s = time.monotonic() - began
    run.kill()
    run.wait()
    return first_s


def fuzz_kills(num_kills: int, seed: int, timeout_s: float, tmp: Path) -> tuple[Counter, dict]:
    """Part 3: outcome counts and the kill times (uniform between 80% of the time to the first
    checkpoint and the end of an uninterrupted run)."""
    began = time.monotonic()
    reference, ref_history = _finished(tmp / "reference", tmp / "reference.json", timeout_s)
    wall_s = time.monotonic() - began
    first_s = _first_checkpoint_s(tmp / "first", timeout_s)
    rng = np.random.default_rng(seed + 2)
    outcomes: Counter[str] = Counter()
    kills = {
        "kill_after_s": [],
        "rounds_done_at_kill": [],
        "reference_wall_s": wall_s,
        "first_checkpoint_s": first_s,
    }
    for index in range(num_kills):
        folder = tmp / f"kill-{index}"
        delay_s = float(rng.uniform(0.8 * first_s, wall_s))
        run = subprocess.Popen(
            _command(folder), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            run.wait(timeout=delay_s)
            outcomes["finished first"] += 1
            continue
        except subprocess.TimeoutExpired:
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
        checkpoint = folder / CHECKPOINT_NAME
        done = (
            torch.load(checkpoint, weights_only=False)["rounds_done"] if checkpoint.exists() else 0
        )
        kills["kill_after_s"].append(delay_s)
        kills["rounds_done_at_kill"].append(int(done))
        try:
            final, history = _finished(folder, tmp / f"kill-{index}.json", timeout_s)
        except subprocess.TimeoutExpired:
            outcomes["hang"] += 1
            continue
        except (subprocess.CalledProcessError, OSError, ValueError):
            outcomes["crash"] += 1
            continue
        same = (
            final["rounds_done"] == reference["rounds_done"]
            and final["contributions"] == reference["contributions"]
            and history == ref_history
            and all(torch.equal(final["model"][k], v) for k, v in reference["model"].items())
        )
        outcomes["correct" if same else "silently wrong"] += 1
    return outcomes, kills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 frames, 4 scenarios, 2 kills")
    parser.add_argument("--cases", type=int, default=None, help="corrupted frames (override)")
    parser.add_argument("--scenarios", type=int, default=None, help="fault scenarios")
    parser.add_argument("--kills", type=int, default=None, help="SIGKILL + resume trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit-s", type=float, default=5.0, help="per frame: a hang")
    parser.add_argument("--run-timeout-s", type=float, default=300.0, help="per CLI run")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    started = time.time()
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _alarm)
    num_cases = args.cases or (300 if args.quick else 10_000)
    num_scenarios = args.scenarios or (4 if args.quick else 40)
    num_kills = args.kills or (2 if args.quick else 20)

    t0 = time.perf_counter()
    frames, per_kind, frame_examples, frame_bytes = fuzz_frames(
        num_cases, args.seed, args.time_limit_s
    )
    frames_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scenarios, scenario_examples, failed_share = fuzz_scenarios(num_scenarios, args.seed)
    scenarios_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        kills, kill_times = fuzz_kills(num_kills, args.seed, args.run_timeout_s, Path(tmp))
    kills_s = time.perf_counter() - t0

    columns = ["part", "trials", *OUTCOMES, "finished first"]
    rows = [
        [f"frames: {kind}", sum(c.values()), *(c[o] for o in OUTCOMES), ""]
        for kind, c in per_kind.items()
    ]
    rows.append(["frames: all", num_cases, *(frames[o] for o in OUTCOMES), ""])
    rows.append(["fault scenarios", num_scenarios, *(scenarios[o] for o in OUTCOMES), ""])
    rows.append(
        ["SIGKILL + resume", num_kills, *(kills[o] for o in OUTCOMES), kills["finished first"]]
    )
    bad = sum(c[o] for c in (frames, scenarios, kills) for o in ("silently wrong", "crash", "hang"))
    at_kill = Counter(kill_times["rounds_done_at_kill"])
    notes = (
        f"Frames: one {frame_bytes / 1e6:.2f} MB update (vit-micro-p8), "
        f"{num_cases} corruptions in {frames_s:.0f} s. Scenarios: {num_scenarios} runs "
        f"(fedavg-ground and fedisl alternately), on average {100 * failed_share:.0f}% of the "
        f"satellites failing, in {scenarios_s:.0f} s. Kills: {num_kills} trials in "
        f"{kills_s:.0f} s; the uninterrupted run took {kill_times['reference_wall_s']:.1f} s "
        f"(first checkpoint after {kill_times['first_checkpoint_s']:.1f} s); "
        f"rounds checkpointed when killed: {dict(sorted(at_kill.items()))}. Goal: 0 silently "
        "wrong, 0 crashes, 0 hangs." + (" QUICK configuration." if args.quick else "")
    )
    write_results(
        "fuzz_federated_quick" if args.quick else "fuzz_federated",
        {
            "frames": dict(frames),
            "frames_per_kind": {k: dict(v) for k, v in per_kind.items()},
            "scenarios": dict(scenarios),
            "kills": dict(kills),
            "kill_times": kill_times,
            "examples": frame_examples[:10] + scenario_examples[:10],
            "mean_failed_share": failed_share,
            "seed": args.seed,
        },
        columns,
        rows,
        out_dir=args.out,
        started_s=started,
        notes=notes,
        headline=headline(
            figure=f"{num_cases} corrupted uploads, {num_scenarios} fault scenarios, "
            f"{num_kills} SIGKILL+resume runs: {bad} silently wrong, crashed or hung "
            f"({frames['clear error']} clear errors; {scenarios['correct']} scenarios and "
            f"{kills['correct']} resumed runs exact)",
            peer="",
            ratio=None,
            goal="0 silently wrong, 0 crashes, 0 hangs",
            met=bad == 0,
        ),
        plot=lambda fig: _plot(fig, frames, scenarios, kills),
    )


def _plot(fig, frames: Counter, scenarios: Counter, kills: Counter) -> None:
    """Outcome bars per part, the goal's three outcomes in red."""
    parts = (
        ("corrupted uploads", frames),
        ("fault scenarios", scenarios),
        ("SIGKILL + resume", kills),
    )
    for i, (title, counts) in enumerate(parts):
        outcome_bars(fig.add_subplot(1, 3, i + 1), counts, OUTCOMES, title, "trials", rotation=60)
    fig.suptitle("federated faults by outcome (goal: no red bar)")


if __name__ == "__main__":
    main()
