"""Channel layers and link traces: spikesat vs NumPy and ITU-Rpy references.

Three measurements in one process:

1. **Fading-layer throughput** (complex samples/s, generate + apply) of every registered layer
   on a ``[256, 4096]`` complex64 batch, on CPU (and on CUDA when present). The peer is a
   NumPy reference of the same block-fading channel (``numpy.random.Generator``) for AWGN,
   Rayleigh and Rician, on the same shapes.
2. **Link traces for Starlink shell 1 over one day** (1584 satellites, 60 s steps, the 36
   KSAT stations of the shared data or the 6 built-in ones): the time of the contact plan
   (orbits, for context), then ``link_trace`` with no fading, with Rician fading and with the
   ITU-R atmosphere; time, samples/s and peak memory (tracemalloc, allocations made by the
   call).
3. **ITU-R atmosphere**: spikesat's per-station elevation table vs ITU-Rpy evaluated directly
   on every sample (the peer), on the same samples: time and largest difference.

Goal (the headline): every layer with a NumPy peer at least as fast as it on one CPU thread
(ratio = spikesat / NumPy samples per second >= 1; the headline shows Rician and the slowest
ratio decides), next to the time of the day-long ``link_trace``.

Run: ``python benchmarks/channels.py`` (full) or ``python benchmarks/channels.py --quick`` (a
smoke configuration: a 16 x 1024 batch and the 50-satellite research shell for 2 h; not a result).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import headline, write_results
from spikesat import orbits
from spikesat.channels import ItuAtmosphere, create, link_trace, list_channels

LAYER_KWARGS = {"rician": {"k_factor": 10.0}, "tr38811": {"scenario": "urban"}}


def _timeit(fn, repeats: int, sync=None) -> float:
    fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def numpy_reference(name: str, x: np.ndarray, snr_db: float, rng: np.random.Generator):
    """The same block-fading channel in NumPy: one coefficient per example, measured power."""
    batch = x.shape[0]
    if name == "awgn":
        h = np.ones((batch, 1), np.complex64)
    else:
        k = 10.0 if name == "rician" else 0.0
        scatter = (rng.standard_normal((batch, 1)) + 1j * rng.standard_normal((batch, 1))) / 2**0.5
        los = np.exp(2j * np.pi * rng.random((batch, 1)))
        h = (np.sqrt(k / (k + 1)) * los + np.sqrt(1 / (k + 1)) * scatter).astype(np.complex64)
    noise = rng.standard_normal(x.shape, np.float32) + 1j * rng.standard_normal(x.shape, np.float32)
    power = np.mean(np.abs(x) ** 2, axis=1, keepdims=True)
    std = np.sqrt(power / 10 ** (snr_db / 10) / 2).astype(np.float32)
    return h * x + std * noise.astype(np.complex64)


def layer_throughput(batch: int, length: int, repeats: int) -> list[dict]:
    """Samples/s of every layer on CPU (and CUDA), with the NumPy peer where it exists."""
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    x_np = (np.random.default_rng(0).standard_normal((batch, length)) * (1 + 1j)).astype(
        np.complex64
    )
    for name in list_channels():
        kwargs = LAYER_KWARGS.get(name, {})
        entry = {"layer": name, "kwargs": kwargs, "num_samples": batch * length}
        for device in devices:
            layer = create(name, **kwargs)
            x = torch.from_numpy(x_np).to(device)
            generator = torch.Generator(device=device).manual_seed(0)
            sync = torch.cuda.synchronize if device == "cuda" else None
            with torch.no_grad():
                seconds = _timeit(
                    lambda layer=layer, x=x, g=generator: layer(x, 10.0, generator=g), repeats, sync
                )
            entry[f"{device}_samples_per_s"] = batch * length / seconds
        if name in ("awgn", "rayleigh", "rician"):
            rng = np.random.default_rng(0)
            seconds = _timeit(
                lambda name=name, rng=rng: numpy_reference(name, x_np, 10.0, rng), repeats
            )
            entry["numpy_samples_per_s"] = batch * length / seconds
            entry["cpu_speedup_vs_numpy"] = (
                entry["cpu_samples_per_s"] / entry["numpy_samples_per_s"]
            )
        rows.append(entry)
    return rows


def _measure(fn):
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def traces(constellation: str, network: str, duration_s: float, step_s: float) -> dict:
    """Contact plan then link traces of the given shell; times and peak memory."""
    shell = orbits.preset(constellation)
    times = orbits.time_grid(shell.epoch, duration_s, step_s)
    stations = orbits.ground_stations(network)
    start = time.perf_counter()
    plan = orbits.contact_plan(shell, times, stations, min_elevation_deg=25.0, eclipse=False)
    plan_s = time.perf_counter() - start
    out = {
        "constellation": constellation,
        "num_sats": plan.num_sats,
        "network": network,
        "num_stations": len(stations),
        "num_steps": len(times),
        "step_s": step_s,
        "min_elevation_deg": 25.0,
        "contact_plan_s": plan_s,
        "num_ground_samples": len(plan.ground_links()),
        "num_isl_samples": len(plan.isl_links()),
        "runs": [],
    }
    cases = [
        ("no fading", {}),
        ("rician K=10", {"fading": create("rician", k_factor=10.0)}),
        ("ITU-R atmosphere p=1%", {"atmosphere_exceedance_percent": 1.0}),
    ]
    for label, kwargs in cases:
        trace, seconds, peak_mib = _measure(
            lambda kwargs=kwargs: link_trace(plan, "ka-band-tr38821-leo600", seed=0, **kwargs)
        )
        total = len(trace) + len(trace.isl)
        out["runs"].append(
            {
                "case": label,
                "seconds": seconds,
                "samples_per_s": total / seconds,
                "peak_mib": peak_mib,
                "mean_ground_rate_mbps": float(trace.rate_bps.mean() / 1e6),
                "mean_isl_rate_mbps": float(trace.isl.rate_bps.mean() / 1e6),
            }
        )
    out["plan"] = plan
    return out


def atmosphere_vs_itur(plan, num_samples: int) -> dict:
    """Tabulated ITU-R attenuation (spikesat) against ITU-Rpy on every sample (the peer)."""
    import itur

    links = plan.ground_links()
    rng = np.random.default_rng(0)
    pick = rng.choice(len(links), size=min(num_samples, len(links)), replace=False)
    station, elevation = links.station[pick], links.elevation_deg[pick]
    sites = [ItuAtmosphere(s.lat_deg, s.lon_deg, alt_m=s.alt_m, include_scintillation=False)
             for s in plan.stations]  # fmt: skip
    start = time.perf_counter()
    ours = np.empty(pick.size)
    for j in np.unique(station):
        mask = station == j
        ours[mask] = sites[int(j)].attenuation_db(20.0, elevation[mask])
    ours_s = time.perf_counter() - start
    lat = np.array([plan.stations[j].lat_deg for j in station])
    lon = np.array([plan.stations[j].lon_deg for j in station])
    alt = np.array([plan.stations[j].alt_m for j in station]) / 1e3
    start = time.perf_counter()
    direct = itur.atmospheric_attenuation_slant_path(
        lat, lon, 20.0, elevation, 1.0, 1.0, hs=alt, eta=0.5, include_scintillation=False
    ).value
    direct_s = time.perf_counter() - start
    return {
        "num_samples": int(pick.size),
        "spikesat_table_s": ours_s,
        "itur_direct_s": direct_s,
        "speedup": direct_s / ours_s,
        "max_abs_difference_db": float(np.max(np.abs(ours - direct))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke configuration")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    data_dir = os.environ.get("SPIKESAT_DATA_DIR")
    network = "ksat" if data_dir and Path(data_dir, "ground_stations").is_dir() else "default"
    if args.quick:
        layers = layer_throughput(batch=16, length=1024, repeats=2)
        trace = traces("research-5x10", network, 2 * 3600.0, 60.0)
        atmosphere = atmosphere_vs_itur(trace["plan"], 2000)
    else:
        layers = layer_throughput(batch=256, length=4096, repeats=5)
        trace = traces("starlink-shell1", network, 86400.0, 60.0)
        atmosphere = atmosphere_vs_itur(trace["plan"], 20000)
    del trace["plan"]
    trace["process_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    columns = ["measurement", "spikesat", "peer", "ratio", "unit"]
    rows = []
    for entry in layers:
        peer = entry.get("numpy_samples_per_s")
        ratio = "-" if peer is None else entry["cpu_speedup_vs_numpy"]
        peer = "-" if peer is None else peer / 1e6
        rows.append(
            [f"layer {entry['layer']} (CPU)", entry["cpu_samples_per_s"] / 1e6, peer, ratio,
             "Msamples/s"]
        )  # fmt: skip
        if "cuda_samples_per_s" in entry:
            rows.append([f"layer {entry['layer']} (CUDA)", entry["cuda_samples_per_s"] / 1e6,
                         "-", "-", "Msamples/s"])  # fmt: skip
    rows.append(["contact plan (orbits, context)", trace["contact_plan_s"], "-", "-", "s"])
    for run in trace["runs"]:
        rows.append([f"link_trace {run['case']}", run["seconds"], "-", "-", "s"])
        rows.append([f"link_trace {run['case']} peak memory", run["peak_mib"], "-", "-", "MiB"])
    rows.append(
        ["ITU-R attenuation, tabulated vs ITU-Rpy direct", atmosphere["spikesat_table_s"],
         atmosphere["itur_direct_s"], atmosphere["speedup"], "s (ratio = speedup)"]
    )  # fmt: skip
    rows.append(["ITU-R tabulation max |difference|", atmosphere["max_abs_difference_db"], "-",
                 "-", "dB"])  # fmt: skip
    notes = (
        f"Link traces: {trace['constellation']} ({trace['num_sats']} satellites), "
        f"{trace['num_stations']} stations ({trace['network']}), {trace['num_steps']} steps of "
        f"{trace['step_s']:.0f} s, elevation mask {trace['min_elevation_deg']} deg: "
        f"{trace['num_ground_samples']} ground-link and {trace['num_isl_samples']} ISL samples; "
        "budget ka-band-tr38821-leo600, ISLs ka-band-isl. Peak memory is what link_trace "
        "allocates (tracemalloc); the process peak RSS (plan included) is "
        f"{trace['process_peak_rss_mib']:.0f} MiB. Layer throughput: complex64 "
        "generate + apply, torch threads = " + str(args.threads) + ", NumPy peer single-threaded. "
        "Sionna/OpenNTN are not run: they need numpy >= 2 / TensorFlow, which cannot be "
        "installed beside compressai (numpy < 2)."
        + (" --quick: a smoke configuration, not a result." if args.quick else "")
    )
    rician = next(e for e in layers if e["layer"] == "rician")
    peered = [e for e in layers if "cpu_speedup_vs_numpy" in e]
    slowest = min(peered, key=lambda e: e["cpu_speedup_vs_numpy"])
    plain = trace["runs"][0]
    head = headline(
        figure=f"link_trace {trace['constellation']} ({trace['num_sats']} sats, "
        f"{trace['num_steps']} steps): {plain['seconds']:.2f} s; Rician layer "
        f"{rician['cpu_samples_per_s'] / 1e6:.1f} Msamples/s",
        peer=f"NumPy Rician {rician['numpy_samples_per_s'] / 1e6:.1f} Msamples/s",
        ratio=rician["cpu_speedup_vs_numpy"],
        goal="every layer with a NumPy peer at least as fast as NumPy, 1 thread (ratio = "
        f"spikesat / NumPy samples/s >= 1; slowest here: {slowest['layer']} "
        f"{slowest['cpu_speedup_vs_numpy']:.2f})",
        met=slowest["cpu_speedup_vs_numpy"] >= 1.0,
    )

    def plot(fig) -> None:
        ax = fig.subplots()
        names = [e["layer"] for e in layers]
        xs = np.arange(len(names))
        ours = [e["cpu_samples_per_s"] / 1e6 for e in layers]
        theirs = [e.get("numpy_samples_per_s", np.nan) / 1e6 for e in layers]
        ax.bar(xs - 0.2, ours, 0.4, label="spikesat (torch CPU)")
        ax.bar(xs + 0.2, theirs, 0.4, label="NumPy reference")
        ax.set_xticks(xs, names, rotation=30, ha="right")
        ax.set_ylabel("Msamples/s (generate + apply)")
        ax.set_title(
            f"Fading layers, {layers[0]['num_samples']} complex samples, {args.threads} thread"
            + (" (quick)" if args.quick else "")
        )
        ax.legend()

    write_results(
        "channels_quick" if args.quick else "channels",
        {"layers": layers, "traces": trace, "atmosphere": atmosphere, "quick": args.quick},
        columns,
        rows,
        out_dir=args.out,
        started_s=started,
        notes=notes,
        headline=head,
        plot=plot,
    )


if __name__ == "__main__":
    main()
