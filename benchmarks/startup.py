"""Start-up: ``spikesat --help``, ``import spikesat``, ``import spikesat.codecs`` and the demo.

Each figure is the wall time of a fresh interpreter (a subprocess of this one, so nothing is
imported yet; the OS file cache is warm after the first run):

* ``spikesat --help`` (``python -c "from spikesat.cli import main; main()" --help``), best of 5,
  against ``python -m pip --help`` measured the same way (the peer) and ``python -c pass``;
* ``import spikesat`` and ``import spikesat.codecs``, best of 5, and the top cumulative entries
  of ``python -X importtime -c "import spikesat.codecs"``;
* ``spikesat demo`` twice: first with a fresh, empty ``SPIKESAT_CACHE`` (what a new user waits),
  then again on the same cache (cached). A run past its timeout is stopped and counts as not met.

Goals (the headline), on 2 CPU cores: ``spikesat --help`` <= 1.5 s, first demo <= 300 s, cached
demo <= 60 s; ratio = spikesat --help / pip --help.

Run: ``python benchmarks/startup.py`` (demo timeout 900 s) or ``--quick`` (the same
measurements, best of 3, with the demo's timeouts cut to 1.1 x its goals: a run past that has
missed its goal anyway, so the verdict is the same and the suite stays bounded; the first
demo's figure is then a lower bound). ``--skip-demo`` leaves the demo out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import headline, write_results

CLI = "from spikesat.cli import main; main()"
GOAL_HELP_S = 1.5
GOAL_FIRST_DEMO_S = 300.0
GOAL_CACHED_DEMO_S = 60.0
TOP_IMPORTS = 15


def timed_run(
    command: list[str], env: dict[str, str] | None = None, timeout_s: float | None = None
) -> dict[str, Any]:
    """Run ``command`` once: wall time [s], return code (None on timeout) and output tail."""
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = None
        output = (exc.stdout or b"").decode(errors="replace") if exc.stdout else ""
    return {
        "wall_s": time.perf_counter() - began,
        "returncode": returncode,
        "timed_out": returncode is None,
        "output": output,
    }


def best_of(command: list[str], repeats: int) -> dict[str, Any]:
    """Best and every wall time of ``repeats`` fresh runs of ``command`` (each must succeed)."""
    runs = [timed_run(command) for _ in range(repeats)]
    failed = [r for r in runs if r["returncode"] != 0]
    if failed:
        raise RuntimeError(f"{' '.join(command)} failed: {failed[0]['output'][-2000:]}")
    times = [r["wall_s"] for r in runs]
    return {"command": command, "best_s": min(times), "runs_s": times}


def import_profile(module: str, top: int = TOP_IMPORTS) -> list[dict[str, Any]]:
    """The ``top`` entries of ``python -X importtime -c "import <module>"`` by cumulative time."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    entries = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        entries.append(
            {
                "module": name.strip(),
                "depth": (len(name) - len(name.lstrip()) - 1) // 2,
                "self_s": int(self_us) / 1e6,
                "cumulative_s": int(cumulative_us) / 1e6,
            }
        )
    return sorted(entries, key=lambda e: e["cumulative_s"], reverse=True)[:top]


def demo_runs(out: Path, first_timeout_s: float, cached_timeout_s: float) -> dict[str, Any]:
    """``spikesat demo`` on a fresh empty cache, then again on the same cache."""
    cache = Path(tempfile.mkdtemp(prefix="spikesat-startup-cache-"))
    env = {**os.environ, "SPIKESAT_CACHE": str(cache), "SPIKESAT_NO_PROGRESS": "1"}
    command = [sys.executable, "-c", CLI, "demo"]
    results: dict[str, Any] = {"command": command}
    try:
        for label, timeout_s in (("first", first_timeout_s), ("cached", cached_timeout_s)):
            if label == "cached" and results["first"]["returncode"] != 0:
                results["cached"] = {"measured": False, "reason": "the first demo did not finish"}
                break
            print(f"demo ({label}, timeout {timeout_s:g} s)", flush=True)
            run = timed_run(command, env=env, timeout_s=timeout_s)
            log = out / f"demo_{label}.log"
            log.write_text(run.pop("output"))
            results[label] = {**run, "measured": True, "timeout_s": timeout_s, "log": log.name}
            print(f"demo ({label}): {run['wall_s']:.1f} s, return code {run['returncode']}")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return results


def _demo_cell(run: dict[str, Any]) -> str:
    if not run.get("measured"):
        return "not measured"
    if run["timed_out"]:
        return f"> {run['timeout_s']:g} s (timed out)"
    if run["returncode"] != 0:
        return f"failed (exit {run['returncode']}) after {run['wall_s']:.1f} s"
    return f"{run['wall_s']:.1f} s"


def _demo_met(run: dict[str, Any] | None, goal_s: float) -> bool | None:
    if run is None or not run.get("measured"):
        return None
    return run["returncode"] == 0 and run["wall_s"] <= goal_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="best of 3, demo timeouts ~ goals")
    parser.add_argument("--skip-demo", action="store_true", help="leave the demo runs out")
    parser.add_argument("--demo-timeout-s", type=float, default=None, help="per demo run")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    repeats = 3 if args.quick else 5
    python = sys.executable
    measured = {
        "spikesat --help": best_of([python, "-c", CLI, "--help"], repeats),
        "python -m pip --help (peer)": best_of([python, "-m", "pip", "--help"], repeats),
        "python -c pass": best_of([python, "-c", "pass"], repeats),
        "import spikesat": best_of([python, "-c", "import spikesat"], repeats),
        "import spikesat.codecs": best_of([python, "-c", "import spikesat.codecs"], repeats),
    }
    for name, entry in measured.items():
        print(f"{name}: best {entry['best_s']:.3f} s of {entry['runs_s']}", flush=True)
    profile = import_profile("spikesat.codecs")
    if args.skip_demo:
        demo: dict[str, Any] = {"skipped": True}
    else:
        if args.demo_timeout_s is not None:
            first_t = cached_t = args.demo_timeout_s
        elif args.quick:
            first_t, cached_t = 1.1 * GOAL_FIRST_DEMO_S, 1.1 * GOAL_CACHED_DEMO_S
        else:
            first_t = cached_t = 900.0
        demo = demo_runs(args.out, first_t, cached_t)

    help_s = measured["spikesat --help"]["best_s"]
    pip_s = measured["python -m pip --help (peer)"]["best_s"]
    verdicts = [
        help_s <= GOAL_HELP_S,
        _demo_met(demo.get("first"), GOAL_FIRST_DEMO_S),
        _demo_met(demo.get("cached"), GOAL_CACHED_DEMO_S),
    ]
    met = False if False in verdicts else (None if None in verdicts else True)
    if demo.get("skipped"):
        demo_text = "demo skipped"
    else:
        demo_text = f"demo first {_demo_cell(demo['first'])}, cached {_demo_cell(demo['cached'])}"
    head = headline(
        figure=f"spikesat --help {help_s:.2f} s; {demo_text}",
        peer=f"python -m pip --help {pip_s:.2f} s",
        ratio=help_s / pip_s,
        goal=f"--help <= {GOAL_HELP_S:g} s, first demo <= {GOAL_FIRST_DEMO_S:g} s, cached demo "
        f"<= {GOAL_CACHED_DEMO_S:g} s on 2 cores (ratio = spikesat --help / pip --help)",
        met=met,
    )

    def yes_no(value: bool | None) -> str:
        return {True: "met", False: "NOT met", None: "-"}[value]

    rows = [
        ["spikesat --help", help_s, f"<= {GOAL_HELP_S:g} s", yes_no(verdicts[0])],
        ["python -m pip --help (peer)", pip_s, "-", "-"],
        ["python -c pass", measured["python -c pass"]["best_s"], "-", "-"],
        ["import spikesat", measured["import spikesat"]["best_s"], "-", "-"],
        ["import spikesat.codecs", measured["import spikesat.codecs"]["best_s"], "-", "-"],
    ]
    if not demo.get("skipped"):
        rows += [
            [
                "spikesat demo, fresh cache",
                _demo_cell(demo["first"]),
                f"<= {GOAL_FIRST_DEMO_S:g} s",
                yes_no(verdicts[1]),
            ],
            [
                "spikesat demo, cached",
                _demo_cell(demo["cached"]),
                f"<= {GOAL_CACHED_DEMO_S:g} s",
                yes_no(verdicts[2]),
            ],
        ]
    top = "; ".join(f"{e['module']} {e['cumulative_s']:.2f} s" for e in profile[:8])
    notes = (
        f"Wall times of fresh subprocesses of {python} (best of {repeats} runs; every run in the "
        "JSON), on a shared machine with "
        f"{os.cpu_count()} CPUs: other jobs move these figures. The demo runs once on a fresh "
        "empty SPIKESAT_CACHE (it trains or loads everything a new user's first run does), "
        "then once more on that cache; a run stopped at its timeout counts as not met and its "
        "figure is a lower bound. Top cumulative imports of `import spikesat.codecs` "
        f"(python -X importtime): {top}."
        + (
            " PYTHONDONTWRITEBYTECODE is set here, so modules without a shipped .pyc are "
            "compiled on every import."
            if os.environ.get("PYTHONDONTWRITEBYTECODE")
            else ""
        )
        + (
            " --quick: best of 3 and demo timeouts of 1.1 x the goals (a smoke configuration)."
            if args.quick
            else ""
        )
    )
    measurements = list(measured)
    seconds = [measured[n]["best_s"] for n in measurements]
    goals: list[float | None] = [GOAL_HELP_S, None, None, None, None]
    hatched = [False] * len(measurements)
    if not demo.get("skipped"):
        for label, goal_s in (("first", GOAL_FIRST_DEMO_S), ("cached", GOAL_CACHED_DEMO_S)):
            run = demo[label]
            if run.get("measured"):
                measurements.append(f"spikesat demo ({label})")
                seconds.append(run["wall_s"])
                goals.append(goal_s)
                hatched.append(run["returncode"] != 0)

    def plot(fig) -> None:
        ax = fig.subplots()
        ys = range(len(measurements))
        bars = ax.barh(list(ys), seconds, color="C0")
        for bar, bad in zip(bars, hatched, strict=True):
            if bad:
                bar.set_hatch("//")
                bar.set_color("C3")
        ax.bar_label(bars, fmt="%.3g s", padding=3)
        for y, goal_s in zip(ys, goals, strict=True):
            if goal_s is not None:
                ax.plot([goal_s, goal_s], [y - 0.4, y + 0.4], color="k", lw=2)
        ax.set_yticks(list(ys), measurements)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("wall time (s); black ticks: goals; hatched: timed out or failed")
        ax.set_title("spikesat start-up" + (" (quick)" if args.quick else ""))

    write_results(
        "startup_quick" if args.quick else "startup",
        {
            "quick": args.quick,
            "measured": measured,
            "import_profile_spikesat_codecs": profile,
            "demo": demo,
            "python_dont_write_bytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
            "goals_s": {
                "help": GOAL_HELP_S,
                "first_demo": GOAL_FIRST_DEMO_S,
                "cached_demo": GOAL_CACHED_DEMO_S,
            },
        },
        ["measurement", "wall time (s)", "goal", "met"],
        rows,
        out_dir=args.out,
        started_s=started,
        notes=notes,
        headline=head,
        plot=plot,
    )


if __name__ == "__main__":
    main()
