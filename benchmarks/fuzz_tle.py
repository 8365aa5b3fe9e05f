"""Fuzzed TLE catalogues: every corrupted catalogue is refused clearly or read as sgp4 reads it.

Each catalogue takes 50-200 real element sets from the shared CelesTrak catalogue (three-line
sets) and applies 1-5 random mutations: character substitutions (with and without a repaired
checksum), column shifts, deleted, duplicated and swapped lines, duplicated sets with a newer
epoch, line-ending changes (``\\r\\n``, ``\\r``, mixed, none at all), Unicode digits, extreme
values written over a field (with a valid checksum), truncated and over-long lines; half the
catalogues get one mutation, the others 2-5. A quarter of the catalogues are written to a file
and loaded by path, the rest passed as text.

Every outcome is judged against an oracle that does not use spikesat: the mutated text split
on its line endings into (name, line 1, line 2) sets, sgp4's own ``Satrec.twoline2rv`` of each
loaded pair, and a plain reading of the pair's fixed columns. Outcomes:

- **clear error**: ``ValueError`` / ``FileNotFoundError`` with a message;
- **loaded and correct**: every loaded set is a (name, line 1, line 2) of the text, sgp4 reads
  each element as its columns say, no catalogue number of the text is missing, and the
  propagated states equal sgp4's own, with no warning;
- **warned**: the same, with a warning that names what happened (duplicate catalogue numbers
  dropped, or SGP4 failures, where every NaN or sub-surface state is named);
- **silently wrong**: loaded, but any of those checks fails;
- **crash**: any other exception;
- **hang**: no answer within the time limit (``--timeout-s``).

Run: ``python benchmarks/fuzz_tle.py`` (1,000 catalogues) or ``--quick`` (100); ``--out DIR``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from sgp4.api import Satrec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import headline, outcome_bars, write_results
from spikesat import orbits

OUTCOMES = ("clear error", "loaded and correct", "warned", "silently wrong", "crash", "hang")
EARTH_RADIUS_KM = 6378.135
ALPHABET = "0123456789 .+-AUXZex_\t\x00\u0660\u00a0"
UNICODE_DIGITS = [chr(0x0660 + d) for d in range(10)] + [chr(0xFF10 + d) for d in range(10)]
# (column, text): extreme or impossible values written over a field.
EXTREMES = {
    1: [
        (19, "57"),
        (19, "56"),
        (21, "000.00000000"),
        (21, "366.99999999"),
        (21, "999.99999999"),
        (34, "-.99999999"),
        (34, " .99999999"),
        (45, " 99999+9"),
        (45, "-99999-9"),
        (54, " 99999+9"),
        (54, "-99999+9"),
        (54, " 99999-1"),
        (63, "4"),
    ],
    2: [
        (9, "180.0000"),
        (9, "999.9999"),
        (18, "359.9999"),
        (18, "360.0001"),
        (27, "9999999"),
        (27, "9500000"),
        (27, "0000000"),
        (35, "999.9999"),
        (44, "360.0000"),
        (53, "99.99999999"),
        (53, "17.00000000"),
        (53, "16.40000000"),
        (53, " 0.00000001"),
        (53, " 0.00000000"),
        (53, " 1.00270000"),
        (64, "99999"),
    ],
}
KINDS = (
    "substitute",
    "substitute+checksum",
    "shift",
    "delete line",
    "duplicate line",
    "swap lines",
    "duplicate set",
    "line endings",
    "unicode digit",
    "extreme value",
    "truncate/extend line",
)


MIXED = "2-5 mutations of any kinds"


class Hang(Exception):
    """Raised by the alarm when one catalogue takes longer than the limit."""


def checksum(line: str) -> str:
    """The modulo-10 checksum digit of the first 68 characters (sgp4's rule, written here)."""
    total = sum(int(c) if c in "0123456789" else (1 if c == "-" else 0) for c in line[:68])
    return str(total % 10)


def with_checksum(line: str) -> str:
    return line[:68] + checksum(line) if len(line) >= 69 else line


def real_sets(path: Path) -> list[tuple[str, str, str]]:
    lines = path.read_text().splitlines()
    return [(lines[i - 1], lines[i], lines[i + 1]) for i, s in enumerate(lines) if s[:2] == "1 "]


def _data_line(lines: list[str], rng: np.random.Generator) -> int:
    data = [i for i, s in enumerate(lines) if s[:2] in ("1 ", "2 ")]
    return int(rng.choice(data)) if data else int(rng.integers(len(lines)))


def mutate(lines: list[str], kind: str, rng: np.random.Generator) -> tuple[list[str], str | None]:
    """Apply one mutation of ``kind``; returns the lines and an optional line ending."""
    lines = list(lines)
    if not lines:
        return lines, None
    if kind in ("substitute", "substitute+checksum"):
        i = _data_line(lines, rng)
        col = int(rng.integers(max(len(lines[i]), 1)))
        char = ALPHABET[int(rng.integers(len(ALPHABET)))]
        line = lines[i][:col] + char + lines[i][col + 1 :]
        lines[i] = with_checksum(line) if kind == "substitute+checksum" and col < 68 else line
    elif kind == "shift":
        i = _data_line(lines, rng)
        col = int(rng.integers(1, 68))
        text = lines[i][:68]
        if rng.random() < 0.5:
            text = text[:col] + " " + text[col:67]
        else:
            text = text[:col] + text[col + 1 :] + " "
        lines[i] = with_checksum(text + "0") if rng.random() < 0.7 else text + lines[i][68:]
    elif kind == "delete line":
        del lines[int(rng.integers(len(lines)))]
    elif kind == "duplicate line":
        i = int(rng.integers(len(lines)))
        lines.insert(i, lines[i])
    elif kind == "swap lines":
        i, j = rng.integers(len(lines), size=2)
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "duplicate set":
        starts = [i for i, s in enumerate(lines) if s[:2] == "1 " and i + 1 < len(lines)]
        if starts:
            i = int(rng.choice(starts))
            line1 = lines[i]
            if re.fullmatch(r"[0-9]{3}\.[0-9]{8}", line1[20:32]):
                day = min(float(line1[20:32]) + float(rng.uniform(-2, 2)), 365.0)
                line1 = with_checksum(line1[:20] + f"{max(day, 1.0):012.8f}" + line1[32:])
            name = lines[i - 1] if i > 0 and lines[i - 1][:2] not in ("1 ", "2 ") else "COPY"
            at = int(rng.integers(len(lines) + 1))
            while 0 < at < len(lines) and lines[at][:2] in ("1 ", "2 "):
                at += 1  # insert between sets
            lines[at:at] = [name, line1, lines[i + 1]]
    elif kind == "line endings":
        return lines, ["\r\n", "\r", "\n\n", "mixed", "none"][int(rng.integers(5))]
    elif kind == "unicode digit":
        i = _data_line(lines, rng)
        cols = [c for c, ch in enumerate(lines[i][:68]) if ch in "0123456789"]
        if cols:
            col = int(rng.choice(cols))
            digit = int(lines[i][col])
            uni = UNICODE_DIGITS[digit + (10 if rng.random() < 0.3 else 0)]
            lines[i] = lines[i][:col] + uni + lines[i][col + 1 :]
    elif kind == "extreme value":
        i = _data_line(lines, rng)
        which = 1 if lines[i][:1] == "1" else 2
        col, text = EXTREMES[which][int(rng.integers(len(EXTREMES[which])))]
        line = lines[i][: col - 1] + text + lines[i][col - 1 + len(text) :]
        lines[i] = with_checksum(line)
    elif kind == "truncate/extend line":
        i = _data_line(lines, rng)
        if rng.random() < 0.5:
            lines[i] = lines[i][: int(rng.integers(0, 69))]
        else:
            lines[i] = lines[i] + "".join(rng.choice(list("0123 x"), size=int(rng.integers(1, 4))))
    return lines, None


def join(lines: list[str], eol: str | None, rng: np.random.Generator) -> str:
    if eol == "none":  # every line run together: no line break at all
        return "".join(lines)
    if eol == "mixed":
        ends = rng.choice(["\n", "\r\n", "\r"], size=len(lines))
        return "".join(s + e for s, e in zip(lines, ends, strict=True))
    return (eol or "\n").join(lines) + (eol or "\n")


def oracle_sets(text: str) -> list[tuple[str | None, str, str]]:
    """(name, line 1, line 2) of the text, read without spikesat (for the judgement only)."""
    lines = [s.rstrip(" \t") for s in re.split(r"\r\n|\r|\n", text)]
    lines = [s for s in lines if s.strip()]
    sets = []
    for i in range(len(lines) - 1):
        if lines[i][:2] == "1 " and lines[i + 1][:2] == "2 ":
            name = lines[i - 1] if i > 0 and lines[i - 1][:2] not in ("1 ", "2 ") else None
            if name is not None and name.startswith("0 "):
                name = name[2:]
            sets.append((None if name is None else name.strip(), lines[i], lines[i + 1]))
    return sets


def column_reading(line1: str, line2: str) -> dict[str, float]:
    """sgp4's elements (in sgp4's units) as a plain reading of the fixed columns gives them."""
    xpdotp = 1440.0 / (2.0 * np.pi)
    deg = np.pi / 180.0

    def exp(text: str) -> float:
        return float(text[0].strip() + "." + text[1:6]) * 10.0 ** int(text[6:8])

    return {
        "epochdays": float(line1[20:32]),
        "ndot": float(line1[33:43]) / (xpdotp * 1440.0),
        "nddot": exp(line1[44:52]) / (xpdotp * 1440.0 * 1440.0),
        "bstar": exp(line1[53:61]),
        "inclo": float(line2[8:16]) * deg,
        "nodeo": float(line2[17:25]) * deg,
        "ecco": float("0." + line2[26:33]),
        "argpo": float(line2[34:42]) * deg,
        "mo": float(line2[43:51]) * deg,
        "no_kozai": float(line2[52:63]) / xpdotp,
    }


def judge(text: str, shell, caught: list[warnings.WarningMessage], times) -> tuple[str, str]:
    """Classify a loaded catalogue: (outcome, reason when silently wrong)."""
    sets = oracle_sets(text)
    by_lines = {(s[1], s[2]): s[0] for s in sets}
    messages = [str(w.message) for w in caught]
    duplicate_warned = any("repeat a catalogue number" in m for m in messages)
    for rec in shell.records:
        if (rec.line1, rec.line2) not in by_lines:
            return "silently wrong", f"set at line {rec.line_number} is not a pair of the text"
        name = by_lines[(rec.line1, rec.line2)]
        if rec.name != (name or f"NORAD {rec.line1[2:7].strip()}"):
            return "silently wrong", f"set {rec.line1[2:7]} named {rec.name!r}, text says {name!r}"
        if not (rec.line1.isascii() and rec.line2.isascii()):
            return "silently wrong", f"non-ASCII line accepted at line {rec.line_number}"
        try:
            ref = column_reading(rec.line1, rec.line2)
        except ValueError:
            return "silently wrong", f"line {rec.line_number}: columns are not plain numbers"
        sat = Satrec.twoline2rv(rec.line1, rec.line2)
        for attr, value in ref.items():
            if not np.isclose(getattr(sat, attr), value, rtol=1e-12, atol=0.0):
                return "silently wrong", f"line {rec.line_number}: sgp4 reads {attr} differently"
    groups: dict[str, list[float]] = {}
    for _, line1, _ in sets:
        groups.setdefault(_satnum(line1), []).append(_epoch_key(line1))
    loaded = [_satnum(rec.line1) for rec in shell.records]
    if len(set(loaded)) != len(loaded):
        return "silently wrong", "a catalogue number is loaded twice"
    if set(loaded) != set(groups):
        missing = sorted(set(groups) - set(loaded))[:3]
        return "silently wrong", f"sets of the text are missing: {missing}"
    if len(sets) != len(shell.records) and not duplicate_warned:
        return "silently wrong", "sets dropped without a warning"
    for rec, key in zip(shell.records, loaded, strict=True):
        if _epoch_key(rec.line1) < max(groups[key]):
            return "silently wrong", f"NORAD {key}: an older duplicate was kept"
    with warnings.catch_warnings(record=True) as during:
        warnings.simplefilter("always")
        r = shell.positions_teme_km(times)
    failures = [str(w.message) for w in during if issubclass(w.category, orbits.SGP4ErrorWarning)]
    jd = times.julian_dates()
    radius = np.linalg.norm(r, axis=-1)
    for k, rec in enumerate(shell.records):
        _, ref_r, _ = Satrec.twoline2rv(rec.line1, rec.line2).sgp4_array(jd.whole, jd.utc_fraction)
        if not np.array_equal(r[k], ref_r, equal_nan=True):
            return "silently wrong", f"{rec.name}: positions differ from sgp4's own"
        bad = ~np.isfinite(radius[k]) | (radius[k] < EARTH_RADIUS_KM)
        if bad.any() and not any(f"(index {k})" in m for m in failures):
            return "silently wrong", f"{rec.name}: NaN or sub-surface states without a warning"
    relevant = [w for w in caught if not issubclass(w.category, orbits.StaleTLEWarning)]
    return ("warned" if relevant or failures else "loaded and correct"), ""


def _satnum(line1: str) -> str:
    return line1[2:7].strip().lstrip("0")


def _epoch_key(line1: str) -> float:
    """The epoch as a sortable number (four-digit year * 1000 + day), from the columns."""
    try:
        year = int(line1[18:20])
        return (1900 + year if year >= 57 else 2000 + year) * 1000.0 + float(line1[20:32])
    except ValueError:
        return float("nan")


def run_one(text: str, as_file: bool, tmp: Path, timeout_s: int, index: int) -> tuple[str, str]:
    def alarm(signum, frame):
        raise Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout_s)
    try:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if as_file:
                    path = tmp / f"catalogue_{index}.tle"
                    path.write_bytes(text.encode("utf-8"))
                    shell = orbits.load_tle(path)
                else:
                    shell = orbits.load_tle(text)
        except (ValueError, FileNotFoundError) as err:
            message = str(err)
            return ("clear error", message) if message.strip() else ("crash", "empty message")
        try:  # propagation and the judgement: any exception here is a crash
            epochs = sorted(rec.epoch for rec in shell.records)
            start = epochs[len(epochs) // 2].replace(microsecond=0)
            times = orbits.time_grid(start, 7200, 1800)
            return judge(text, shell, list(caught), times)
        except Hang:
            raise
        except Exception as err:
            return "crash", f"after loading: {type(err).__name__}: {err}"
    except Hang:
        return "hang", f"no answer in {timeout_s} s"
    except Exception as err:
        return "crash", f"{type(err).__name__}: {err}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 catalogues instead of 1,000")
    parser.add_argument("--catalogues", type=int, default=None, help="override the count")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--timeout-s", type=int, default=30, help="per catalogue: a hang")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    started = time.time()
    data = args.data_dir or Path(os.environ.get("SPIKESAT_DATA_DIR", "../shared/data"))
    path = data / "tle" / "celestrak_active_2025-10-03.tle"
    if not path.is_file():
        raise SystemExit(f"{path} not found; pass --data-dir or set SPIKESAT_DATA_DIR")
    pool = real_sets(path)
    count = args.catalogues or (100 if args.quick else 1000)
    rng = np.random.default_rng(args.seed)
    outcomes: Counter[str] = Counter()
    per_kind: dict[str, Counter[str]] = {k: Counter() for k in (*KINDS, MIXED)}
    examples: dict[str, list[str]] = {k: [] for k in OUTCOMES}
    errors_naming_a_line = 0
    not_found = 0  # text with no line break at all is a path that does not exist
    seconds = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for index in range(count):
            picks = rng.choice(len(pool), size=int(rng.integers(50, 201)), replace=False)
            lines = [s for i in picks for s in pool[int(i)]]
            num_mutations = 1 if rng.random() < 0.5 else int(rng.integers(2, 6))
            kinds = [KINDS[int(k)] for k in rng.integers(len(KINDS), size=num_mutations)]
            eol = None
            for kind in kinds:
                lines, new_eol = mutate(lines, kind, rng)
                eol = new_eol or eol
            text = join(lines, eol, rng)
            t0 = time.perf_counter()
            outcome, detail = run_one(text, rng.random() < 0.25, tmp, args.timeout_s, index)
            seconds.append(time.perf_counter() - t0)
            outcomes[outcome] += 1
            per_kind[kinds[0] if len(kinds) == 1 else MIXED][outcome] += 1
            if outcome == "clear error" and re.search(r"line \d+", detail):
                errors_naming_a_line += 1
            if outcome == "clear error" and detail.startswith("TLE file "):
                not_found += 1
            if len(examples[outcome]) < 5:
                examples[outcome].append(f"catalogue {index} ({', '.join(kinds)}): {detail[:300]}")
    columns = ["mutation", "catalogues", *OUTCOMES]
    rows = [
        [kind, sum(per_kind[kind].values()), *(per_kind[kind][o] for o in OUTCOMES)]
        for kind in (*KINDS, MIXED)
    ]
    rows.append(["all catalogues", count, *(outcomes[o] for o in OUTCOMES)])
    notes = (
        f"{count} catalogues of 50-200 sets from {path.name} ({len(pool)} sets), seed "
        f"{args.seed}: half get one mutation (a row per kind), the others 2-5 of any kinds "
        "(one row). "
        f"{errors_naming_a_line} of "
        f"{outcomes['clear error']} errors name a line number; {not_found} are "
        "FileNotFoundError naming the path (text run together with no line break reads as a "
        "path). Median "
        f"{1e3 * float(np.median(seconds)):.0f} ms per catalogue (load, judge and propagate "
        "5 steps). Goal: 0 silently wrong, 0 crash, 0 hang."
        + (" QUICK configuration." if args.quick else "")
    )
    write_results(
        "fuzz_tle_quick" if args.quick else "fuzz_tle",
        {
            "outcomes": dict(outcomes),
            "per_kind": {k: dict(v) for k, v in per_kind.items()},
            "examples": examples,
            "errors_naming_a_line": errors_naming_a_line,
            "file_not_found_errors": not_found,
            "catalogues": count,
            "seed": args.seed,
            "median_s_per_catalogue": float(np.median(seconds)),
        },
        columns,
        rows,
        out_dir=args.out,
        started_s=started,
        notes=notes,
        headline=headline(
            figure=f"{count} fuzzed catalogues: {outcomes['silently wrong']} silently wrong, "
            f"{outcomes['crash']} crashes, {outcomes['hang']} hangs ({outcomes['clear error']} "
            f"clear errors, {outcomes['loaded and correct']} read as sgp4 reads them, "
            f"{outcomes['warned']} warned)",
            peer="",
            ratio=None,
            goal="0 silently wrong, 0 crashes, 0 hangs",
            met=outcomes["silently wrong"] + outcomes["crash"] + outcomes["hang"] == 0,
        ),
        plot=lambda fig: outcome_bars(
            fig.add_subplot(),
            outcomes,
            OUTCOMES,
            "fuzzed TLE catalogues by outcome (goal: no red bar)",
            "catalogues",
        ),
    )


if __name__ == "__main__":
    main()
