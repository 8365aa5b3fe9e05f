"""Bitstream fuzzing: corrupted streams of every byte codec, counted by outcome.

For every registered codec that produces bytes (``produces_bytes``), two streams of 3 examples
(``a``, the one sent, and ``b``, another compress call of other data) are compressed once with
48-byte packets (so an example spans several packets). Each case applies one corruption to
the bytes of ``a`` and decodes the result twice:

- **raise** mode: ``Bitstream.from_bytes`` (strict) then ``decompress`` (default);
- **flag** mode: ``Bitstream.from_bytes(strict=False)`` then
  ``decompress(on_error="flag", shape=...)``.

Corruptions (drawn uniformly): bit flips (1-8 anywhere in the batch), a burst of random bytes,
truncation, extension (random bytes, or a packet of another example), packet swaps across
streams (same example and index from ``b``), a whole example from ``b``, packet reordering
within an example, example reordering, duplicated packets or examples, dropped packets,
random bytes in place of an example (with and without a valid-looking header), and header or
payload edits with a recomputed packet CRC (what a CRC collision would let through).

Outcomes per mode: **clear error** (``ValueError``; in flag mode the batch failed, which
counts as a failure), **correct decode** (every row equals the clean decode of what its slot
received), **flagged** (the flagged rows are damaged, every other row is correct),
**silently wrong** (a row that is not flagged and not correct), **crash** (any other
exception), **hang** (over the per-case time limit). "What its slot received": example ``i``
of ``a``, or example ``i`` of ``b`` when that example was moved in whole and outvotes ``a``
(without being told the stream id no decoder can tell them apart).

Run: ``python benchmarks/fuzz.py`` (10,000 cases per codec) or ``--quick`` (300).
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import RESULTS_DIR, headline, write_results
from spikesat.codecs import CODECS, Bitstream, create, list_codecs
from spikesat.codecs.bitstream import CRC_BYTES, MAGIC, VERSION
from spikesat.codecs.registry import codec_kind

OUTCOMES = ("clear_error", "correct_decode", "flagged", "silently_wrong", "crash", "hang")
SMALL_OPTIONS = {
    "factorized": {"hidden_channels": 8, "latent_channels": 4},
    "hyperprior": {"hidden_channels": 8, "latent_channels": 4, "hyper_channels": 2},
}
MTU_BYTES = 48
SHAPE = (3, 8, 8)


class Hang(Exception):
    """Raised by the per-case alarm."""


def _alarm(signum, frame):
    raise Hang()


# -- corruptions --------------------------------------------------------------------------------
# Each takes (rng, packets of a, packets of b) as lists of per-example lists of packet bytes and
# returns the three examples' bytes as the receiver gets them.


def _join(packets):
    return [b"".join(p) for p in packets]


def _flip_bits(rng, pa, pb):
    examples = _join(pa)
    data = bytearray(b"".join(examples))
    for bit in rng.choice(len(data) * 8, size=int(rng.integers(1, 9)), replace=False):
        data[bit // 8] ^= 1 << (bit % 8)
    bounds = np.cumsum([0, *map(len, examples)])
    return [bytes(data[bounds[i] : bounds[i + 1]]) for i in range(3)]


def _burst(rng, pa, pb):
    examples = _join(pa)
    e = int(rng.integers(3))
    data = bytearray(examples[e])
    at = int(rng.integers(len(data)))
    data[at : at + int(rng.integers(1, 17))] = rng.bytes(int(rng.integers(1, 17)))
    examples[e] = bytes(data)
    return examples


def _truncate(rng, pa, pb):
    examples = _join(pa)
    e = int(rng.integers(3))
    examples[e] = examples[e][: int(rng.integers(len(examples[e])))]
    return examples


def _extend(rng, pa, pb):
    examples = _join(pa)
    e = int(rng.integers(3))
    if rng.random() < 0.5:
        extra = rng.bytes(int(rng.integers(1, 65)))
    else:  # a packet of another example (same stream or the other one)
        source = pa if rng.random() < 0.5 else pb
        j = int(rng.integers(3))
        extra = source[j][int(rng.integers(len(source[j])))]
    examples[e] += extra
    return examples


def _swap_packets_across(rng, pa, pb):
    e = int(rng.integers(3))
    mixed = [list(p) for p in pa]
    for k in rng.choice(len(mixed[e]), size=int(rng.integers(1, len(mixed[e]) + 1)), replace=False):
        if k < len(pb[e]):
            mixed[e][k] = pb[e][k]
    return _join(mixed)


def _example_across(rng, pa, pb):
    examples = _join(pa)
    examples[int(rng.integers(3))] = b"".join(pb[int(rng.integers(3))])
    return examples


def _reorder_packets(rng, pa, pb):
    e = int(rng.integers(3))
    mixed = [list(p) for p in pa]
    mixed[e] = [mixed[e][i] for i in rng.permutation(len(mixed[e]))]
    return _join(mixed)


def _reorder_examples(rng, pa, pb):
    examples = _join(pa)
    return [examples[i] for i in rng.permutation(3)]


def _duplicate(rng, pa, pb):
    examples = _join(pa)
    e = int(rng.integers(3))
    if rng.random() < 0.5:  # a packet twice
        examples[e] += pa[e][int(rng.integers(len(pa[e])))]
    else:  # an example in another slot too
        examples[int(rng.integers(3))] = examples[e]
    return examples


def _drop_packets(rng, pa, pb):
    e = int(rng.integers(3))
    mixed = [list(p) for p in pa]
    drop = set(
        rng.choice(len(mixed[e]), size=int(rng.integers(1, len(mixed[e]) + 1)), replace=False)
    )
    mixed[e] = [p for i, p in enumerate(mixed[e]) if i not in drop]
    return _join(mixed)


def _random_bytes(rng, pa, pb):
    examples = _join(pa)
    e = int(rng.integers(3))
    junk = rng.bytes(int(rng.integers(0, 2 * len(examples[e]) + 1)))
    if rng.random() < 0.5:  # past the framing: magic, version, this codec's id
        junk = MAGIC + bytes([VERSION, pa[e][0][3]]) + junk
    examples[e] = junk
    return examples


def _recrc(raw: bytearray) -> bytes:
    raw[-CRC_BYTES:] = zlib.crc32(bytes(raw[:-CRC_BYTES])).to_bytes(CRC_BYTES, "big")
    return bytes(raw)


def _edit_with_valid_crc(rng, pa, pb):
    """Change header or payload bytes of one packet and recompute its CRC."""
    e = int(rng.integers(3))
    mixed = [list(p) for p in pa]
    k = int(rng.integers(len(mixed[e])))
    raw = bytearray(mixed[e][k])
    # Bytes 4..7 stream id, 8.. varints, then payload, digest (last packet) and CRC.
    at = int(rng.integers(4, len(raw) - CRC_BYTES))
    raw[at] ^= int(rng.integers(1, 256))
    mixed[e][k] = _recrc(raw)
    return _join(mixed)


CORRUPTIONS = {
    "bit_flips": _flip_bits,
    "burst": _burst,
    "truncation": _truncate,
    "extension": _extend,
    "packet_swap_across_streams": _swap_packets_across,
    "example_from_other_stream": _example_across,
    "packet_reorder": _reorder_packets,
    "example_reorder": _reorder_examples,
    "duplicate": _duplicate,
    "packet_drop": _drop_packets,
    "random_bytes": _random_bytes,
    "edit_with_valid_crc": _edit_with_valid_crc,
}


# -- one codec ----------------------------------------------------------------------------------


def _rows_right(x_hat, rows, clean, other) -> bool:
    return all(torch.equal(x_hat[i], clean[i]) or torch.equal(x_hat[i], other[i]) for i in rows)


def _lenient(data: bytes) -> Bitstream:
    try:
        return Bitstream.from_bytes(data, strict=False)
    except ValueError:  # no bytes at all
        return Bitstream([])


def _raise_mode(codec, examples, clean, other) -> str:
    try:
        streams = [Bitstream.from_bytes(data) for data in examples]
        x_hat = codec.decompress(streams)
    except ValueError:
        return "clear_error"
    return "correct_decode" if _rows_right(x_hat, range(3), clean, other) else "silently_wrong"


def _flag_mode(codec, examples, clean, other) -> str:
    try:
        result = codec.decompress(
            [_lenient(data) for data in examples], on_error="flag", shape=SHAPE
        )
    except ValueError:
        return "clear_error"  # the degraded mode failed the batch: a failure here
    kept = torch.nonzero(~result.erasure_mask).flatten().tolist()
    if not _rows_right(result.x_hat, kept, clean, other):
        return "silently_wrong"
    return "flagged" if len(kept) < 3 else "correct_decode"


def _run_case(fn, *args, limit_s: float) -> tuple[str, str]:
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    start = time.perf_counter()
    try:
        outcome, detail = fn(*args), ""
    except Hang:
        outcome, detail = "hang", f"over {limit_s} s"
    except Exception as err:  # every other exception is a crash, recorded
        outcome, detail = "crash", f"{type(err).__name__}: {err}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if outcome != "hang" and time.perf_counter() - start > limit_s:
        outcome, detail = "hang", f"took {time.perf_counter() - start:.2f} s"
    return outcome, detail


def fuzz_codec(name: str, num_cases: int, seed: int, limit_s: float) -> dict:
    """Run ``num_cases`` corruptions of codec ``name``; counts per mode, outcome and kind."""
    codec = create(name, 3, mtu_bytes=MTU_BYTES, **SMALL_OPTIONS.get(name, {})).eval()
    codec.seed_stream_ids(seed)
    gen = torch.Generator().manual_seed(seed)
    scale = 1.0 if not CODECS.get(name).accepts_tokens else 10.0  # images in [0, 1]
    xa, xb = (torch.rand(3, *SHAPE, generator=gen) * scale for _ in range(2))
    a, b = codec.compress(xa), codec.compress(xb)
    clean, other = codec.decompress(a), codec.decompress(b)
    for i in range(3):  # a wrong row must be visible as wrong
        assert not torch.equal(clean[i], other[i]) and not torch.equal(clean[i], clean[i - 1])
    pa = [[p.raw for p in s.packets] for s in a]
    pb = [[p.raw for p in s.packets] for s in b]
    rng = np.random.default_rng(seed)
    kinds = list(CORRUPTIONS)
    counts = {mode: Counter() for mode in ("raise", "flag")}
    by_kind = {mode: {k: Counter() for k in kinds} for mode in ("raise", "flag")}
    failures: list[dict] = []
    started = time.perf_counter()
    for case in range(num_cases):
        kind = kinds[int(rng.integers(len(kinds)))]
        examples = CORRUPTIONS[kind](rng, pa, pb)
        for mode, fn in (("raise", _raise_mode), ("flag", _flag_mode)):
            outcome, detail = _run_case(fn, codec, examples, clean, other, limit_s=limit_s)
            counts[mode][outcome] += 1
            by_kind[mode][kind][outcome] += 1
            bad = outcome in ("silently_wrong", "crash", "hang") or (
                mode == "flag" and outcome == "clear_error"
            )
            if bad and len(failures) < 20:
                failures.append(
                    {"case": case, "kind": kind, "mode": mode, "outcome": outcome,
                     "detail": detail[:300]}
                )  # fmt: skip
    return {
        "codec": name,
        "num_cases": num_cases,
        "seconds": round(time.perf_counter() - started, 2),
        "packets_per_example": [s.num_packets for s in a],
        "bytes_per_example": [s.num_bytes for s in a],
        "counts": {mode: {o: counts[mode][o] for o in OUTCOMES} for mode in counts},
        "by_kind": {
            mode: {k: dict(c) for k, c in kinds_.items()} for mode, kinds_ in by_kind.items()
        },
        "failures": failures,
    }


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    signal.signal(signal.SIGALRM, _alarm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 cases per codec")
    parser.add_argument("--cases", type=int, default=None, help="cases per codec (override)")
    parser.add_argument("--codecs", nargs="*", default=None, help="a subset of the byte codecs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit-s", type=float, default=5.0, help="per case and mode")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per job")
    parser.add_argument("--jobs", type=int, default=1, help="codecs fuzzed in parallel")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output directory")
    args = parser.parse_args()
    _init_worker(args.threads)
    started = time.time()
    byte_codecs = [
        n for n in list_codecs() if CODECS.get(n).produces_bytes and codec_kind(n) != "spikes"
    ]
    names = args.codecs or byte_codecs
    unknown = sorted(set(names) - set(byte_codecs))
    if unknown:
        parser.error(f"not byte codecs: {unknown}; choose from {byte_codecs}")
    num_cases = args.cases or (300 if args.quick else 10_000)
    jobs = [(name, num_cases, args.seed, args.time_limit_s) for name in names]
    if args.jobs > 1:
        context = multiprocessing.get_context("fork")
        with context.Pool(args.jobs, _init_worker, (args.threads,)) as pool:
            runs = pool.starmap(fuzz_codec, jobs, chunksize=1)
    else:
        runs = [fuzz_codec(*job) for job in jobs]
    for run in runs:
        counts = run["counts"]
        print(f"{run['codec']}: {run['seconds']} s, raise {counts['raise']}, flag {counts['flag']}")

    columns = ["codec", "mode", "cases", *OUTCOMES]
    rows = []
    totals = {mode: Counter() for mode in ("raise", "flag")}
    for run in runs:
        for mode in ("raise", "flag"):
            c = run["counts"][mode]
            totals[mode].update(c)
            rows.append([run["codec"], mode, run["num_cases"], *(c[o] for o in OUTCOMES)])
    for mode in ("raise", "flag"):
        rows.append(["all", mode, num_cases * len(runs), *(totals[mode][o] for o in OUTCOMES)])
    bad = sum(totals[m][o] for m in totals for o in ("silently_wrong", "crash", "hang"))
    bad += totals["flag"]["clear_error"]
    notes = (
        f"{num_cases} corruptions per codec ({', '.join(CORRUPTIONS)}), drawn uniformly with "
        f"seed {args.seed}; batches of 3 examples of shape {SHAPE} in {MTU_BYTES}-byte "
        f"packets (learned codecs untrained, small: {SMALL_OPTIONS}); a case over "
        f"{args.time_limit_s} s is a hang. In flag mode a clear error means the degraded "
        "mode failed the batch (a failure). 'correct decode' = every row is the clean "
        "decode of what its slot received (an example moved whole from the other stream "
        "into its own slot, outvoting the sent stream, decodes as that stream's example: "
        "without the stream id no decoder can tell). Per-kind counts and the first failures "
        f"are in the JSON. Failures (silently wrong + crash + hang + flag-mode errors): {bad}."
        + (" QUICK configuration." if num_cases < 10_000 else "")
    )
    write_results(
        "fuzz_quick" if num_cases < 10_000 else "fuzz",
        {"runs": runs, "num_cases_per_codec": num_cases, "failures_total": bad},
        columns,
        rows,
        out_dir=args.out,
        started_s=started,
        notes=notes,
        headline=headline(
            figure=f"{num_cases * len(runs)} bitstream corruptions over {len(runs)} byte codecs, "
            f"each decoded in raise and flag mode: {bad} silently wrong, crashes, hangs or "
            f"failed batches ({totals['raise']['clear_error']} clear errors in raise mode, "
            f"{totals['flag']['flagged']} flagged in flag mode)",
            peer="",
            ratio=None,
            goal="0 silently wrong, 0 crashes, 0 hangs, and degraded mode never fails a batch",
            met=bad == 0,
        ),
        plot=lambda fig: _plot_outcomes(fig, totals),
    )
    if bad:
        sys.exit(1)


def _plot_outcomes(fig, totals: dict[str, Counter]) -> None:
    """Outcome counts in raise and in flag mode, side by side; failures in red."""
    import numpy as np

    ax = fig.add_subplot()
    x = np.arange(len(OUTCOMES))
    for offset, mode in ((-0.2, "raise"), (0.2, "flag")):
        ax.bar(x + offset, [totals[mode][o] for o in OUTCOMES], width=0.4, label=f"{mode} mode")
    for i, outcome in enumerate(OUTCOMES):
        if outcome in ("silently_wrong", "crash", "hang"):
            ax.axvspan(i - 0.45, i + 0.45, color="tab:red", alpha=0.08)
    ax.set_xticks(x, [o.replace("_", " ") for o in OUTCOMES], rotation=20)
    ax.set_ylabel("cases")
    ax.set_title("bitstream corruptions by outcome (shaded: must stay at 0)")
    ax.legend()


if __name__ == "__main__":
    main()
