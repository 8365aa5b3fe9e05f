"""Contact plans: ground-station windows, sparse link samples, ISLs, routing and eclipse.

``contact_plan(...)`` sweeps the time grid in chunks (never a dense ``[S, G, T]`` array of
the whole problem), keeps only the (satellite, station, step) samples in view, refines window
edges by root finding, evaluates the ISL topology per step and the conical Earth shadow, and
returns a :class:`ContactPlan` that saves to ``.npz`` + ``.json`` and loads back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikesat.orbits.constellation import Constellation, check_times
from spikesat.orbits.hermite import HermiteSegments
from spikesat.orbits.isl import IslCandidates, isl_topology
from spikesat.orbits.look_angles import StationFrames
from spikesat.orbits.screen import screen_chunk
from spikesat.orbits.stations import GroundStation, check_stations, ground_stations
from spikesat.orbits.sun import sun_positions_ecef_km, sunlit_fraction
from spikesat.orbits.timegrid import TimeGrid
from spikesat.orbits.windows import Windows, extract_windows, hidden_pass_margin_deg, merge_runs
from spikesat.units import propagation_delay_s

PLAN_FORMAT_VERSION = 1


@dataclass(frozen=True)
class GroundLinkSamples:
    """One entry per (satellite, station, step) with elevation >= the mask, sorted by step.

    Attributes
    ----------
    sat, station, time_index : np.ndarray
        int32 ``[N]``.
    range_km, elevation_deg, azimuth_deg : np.ndarray
        float64 ``[N]`` slant range [km], elevation [deg], azimuth [deg].
    range_rate_km_s : np.ndarray
        float64 ``[N]`` d(range)/dt [km/s], positive when receding (for Doppler).
    """

    sat: np.ndarray
    station: np.ndarray
    time_index: np.ndarray
    range_km: np.ndarray
    elevation_deg: np.ndarray
    azimuth_deg: np.ndarray
    range_rate_km_s: np.ndarray

    def __len__(self) -> int:
        return int(self.sat.size)

    def take(self, index: np.ndarray | slice) -> GroundLinkSamples:
        """The selected entries."""
        return GroundLinkSamples(**{k: v[index] for k, v in asdict(self).items()})


@dataclass(frozen=True)
class IslLinkSamples:
    """One entry per active ISL (``sat_a < sat_b``) and step, sorted by step.

    Attributes
    ----------
    sat_a, sat_b, time_index : np.ndarray
        int32 ``[N]``.
    range_km, range_rate_km_s : np.ndarray
        float64 ``[N]`` link length [km] and its rate [km/s] (stored as float32, so
        rounded to under a millimetre).
    """

    sat_a: np.ndarray
    sat_b: np.ndarray
    time_index: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray

    def __len__(self) -> int:
        return int(self.sat_a.size)


@dataclass(frozen=True)
class Contact:
    """One contact window of a satellite with a station (seconds from ``times[0]``)."""

    sat: int
    station: int
    station_name: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Window length [s]."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class IslState:
    """The ISL part of a plan: the fixed link set and per-step activity and geometry.

    Attributes
    ----------
    candidates : IslCandidates
        ``L`` links.
    active : np.ndarray
        bool ``[L, T]``.
    range_km, range_rate_km_s : np.ndarray
        float32 ``[L, T]``.
    config : dict
        The topology's parameters.
    """

    candidates: IslCandidates
    active: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray
    config: dict


class ContactPlan:
    """Everything time-varying about a constellation's links over a time grid.

    Build with :func:`contact_plan`; see the module docstring. Indices: satellites ``0..S-1``
    (``sat_names``), stations ``0..G-1`` (``stations``), steps ``0..T-1`` (``times``).
    """

    def __init__(
        self,
        times: TimeGrid,
        sat_names: list[str],
        planes: np.ndarray | None,
        stations: list[GroundStation],
        min_elevation_deg: float,
        ground: GroundLinkSamples,
        windows: Windows,
        isl: IslState | None,
        sunlit_fraction: np.ndarray | None,
        constellation_info: dict[str, Any],
        sgp4_failures: list[dict[str, Any]],
    ) -> None:
        self.times = times
        self.sat_names = list(sat_names)
        self.planes = planes
        self.stations = list(stations)
        self.min_elevation_deg = float(min_elevation_deg)
        self._ground = ground
        self._windows = windows
        self._isl = isl
        self.sunlit_fraction = sunlit_fraction
        self.constellation_info = constellation_info
        self.sgp4_failures = sgp4_failures
        self._window_keys = windows.sat.astype(np.int64) * self.num_stations + windows.station
        self._ground_bounds = np.searchsorted(ground.time_index, np.arange(len(times) + 1))

    # ------------------------------------------------------------------ sizes and repr
    @property
    def num_sats(self) -> int:
        """Number of satellites ``S``."""
        return len(self.sat_names)

    @property
    def num_stations(self) -> int:
        """Number of ground stations ``G``."""
        return len(self.stations)

    @property
    def num_planes(self) -> int | None:
        """Number of orbital planes (None for TLE sets)."""
        return None if self.planes is None else int(self.planes.max()) + 1

    def __repr__(self) -> str:
        isl = "no ISLs" if self._isl is None else f"{len(self._isl.candidates)} ISL candidates"
        return (
            f"ContactPlan({self.num_sats} sats x {self.num_stations} stations x "
            f"{len(self.times)} steps, {len(self._windows)} windows, {isl})"
        )

    # ------------------------------------------------------------------ ground links
    def ground_links(self, time_index: int | None = None) -> GroundLinkSamples:
        """Sparse satellite-station samples in view (all steps, or one step)."""
        if time_index is None:
            return self._ground
        t = self.check_time_index(time_index)
        return self._ground.take(slice(self._ground_bounds[t], self._ground_bounds[t + 1]))

    def all_windows(self) -> Windows:
        """Every contact window, sorted by (sat, station, start)."""
        return self._windows

    def windows(self, sat: int, station: int) -> np.ndarray:
        """Contact windows of satellite ``sat`` with station ``station``.

        Returns
        -------
        np.ndarray
            float64 ``[K, 2]`` of ``(start_s, end_s)`` seconds from ``times[0]``, edges
            refined to within 1 s (to 1 ms by construction) and clipped to the grid.
        """
        sat = self.check_sat_index(sat)
        station = self._check_index(station, self.num_stations, "station")
        key = sat * self.num_stations + station
        lo, hi = np.searchsorted(self._window_keys, [key, key + 1])
        return np.stack([self._windows.start_s[lo:hi], self._windows.end_s[lo:hi]], axis=-1)

    def next_contact(self, sat: int, after_s: float = 0.0) -> Contact | None:
        """The first window of ``sat`` (any station) still open at or after ``after_s``.

        Returns None when the satellite has no further contact in the plan.
        """
        sat = self.check_sat_index(sat)
        w = self._windows
        lo, hi = np.searchsorted(w.sat, [sat, sat + 1])
        open_after = np.flatnonzero(w.end_s[lo:hi] > after_s) + lo
        if open_after.size == 0:
            return None
        k = open_after[np.argmin(np.maximum(w.start_s[open_after], after_s))]
        station = int(w.station[k])
        return Contact(
            sat=sat,
            station=station,
            station_name=self.stations[station].name,
            start_s=float(max(w.start_s[k], after_s)),
            end_s=float(w.end_s[k]),
        )

    def station_gaps_s(self, station: int) -> np.ndarray:
        """Gaps between a station's contacts with any satellite, float64 ``[K]`` [s].

        Overlapping windows of different satellites are merged first; the time before the
        first and after the last contact is not counted.
        """
        station = self._check_index(station, self.num_stations, "station")
        sel = self._windows.station == station
        return _gaps(self._windows.start_s[sel], self._windows.end_s[sel])

    def sat_gaps_s(self, sat: int) -> np.ndarray:
        """Gaps between a satellite's contacts with any station, float64 ``[K]`` [s]."""
        sat = self.check_sat_index(sat)
        sel = self._windows.sat == sat
        return _gaps(self._windows.start_s[sel], self._windows.end_s[sel])

    def station_summary(self) -> list[dict[str, Any]]:
        """Per-station contacts, contact time, mean and maximum gap (JSON-ready)."""
        rows = []
        for j, station in enumerate(self.stations):
            sel = self._windows.station == j
            gaps = self.station_gaps_s(j)
            rows.append(
                {
                    "station": station.name,
                    "num_contacts": int(sel.sum()),
                    "num_sats_seen": int(np.unique(self._windows.sat[sel]).size),
                    "contact_time_s": float(np.sum(self._windows.duration_s[sel])),
                    "mean_gap_s": float(gaps.mean()) if gaps.size else None,
                    "max_gap_s": float(gaps.max()) if gaps.size else None,
                }
            )
        return rows

    # ------------------------------------------------------------------ ISLs
    def isl_links(self, time_index: int | None = None) -> IslLinkSamples:
        """Active ISLs per step (all steps, or one); empty arrays for a plan without ISLs."""
        if self._isl is None:
            zi, zf = np.zeros(0, dtype=np.int32), np.zeros(0)
            return IslLinkSamples(zi, zi, zi, zf, zf)
        isl = self._isl
        if time_index is None:
            t, link = np.nonzero(isl.active.T)
        else:
            t0 = self.check_time_index(time_index)
            link = np.flatnonzero(isl.active[:, t0])
            t = np.full(link.size, t0)
        return IslLinkSamples(
            sat_a=isl.candidates.sat_a[link],
            sat_b=isl.candidates.sat_b[link],
            time_index=t.astype(np.int32),
            range_km=isl.range_km[link, t].astype(np.float64),
            range_rate_km_s=isl.range_rate_km_s[link, t].astype(np.float64),
        )

    @property
    def isl_config(self) -> dict | None:
        """The ISL topology's parameters, or None."""
        return None if self._isl is None else dict(self._isl.config)

    def isl_degree(self, time_index: int) -> np.ndarray:
        """Active ISLs per satellite at one step, int64 ``[S]``."""
        links = self.isl_links(time_index)
        return np.bincount(
            np.concatenate([links.sat_a, links.sat_b]), minlength=self.num_sats
        ).astype(np.int64)

    # ------------------------------------------------------------------ routing
    def graph(self, time_index: int) -> Any:
        """The network at one step as a ``networkx.Graph``.

        Nodes are ``("sat", i)`` and ``("gs", j)``; edges carry ``delay_s`` (propagation
        delay [s]), ``range_km`` and ``kind`` (``"isl"`` or ``"ground"``).
        """
        import networkx as nx

        t = self.check_time_index(time_index)
        g = nx.Graph()
        g.add_nodes_from((("sat", i) for i in range(self.num_sats)), kind="sat")
        g.add_nodes_from((("gs", j) for j in range(self.num_stations)), kind="gs")
        isl = self.isl_links(t)
        for a, b, r in zip(isl.sat_a, isl.sat_b, isl.range_km, strict=True):
            g.add_edge(
                ("sat", int(a)),
                ("sat", int(b)),
                delay_s=float(propagation_delay_s(r)),
                range_km=float(r),
                kind="isl",
            )
        ground = self.ground_links(t)
        for s, j, r in zip(ground.sat, ground.station, ground.range_km, strict=True):
            g.add_edge(
                ("sat", int(s)),
                ("gs", int(j)),
                delay_s=float(propagation_delay_s(r)),
                range_km=float(r),
                kind="ground",
            )
        return g

    def latency_to_ground_s(self, time_index: int) -> np.ndarray:
        """Shortest propagation delay from every satellite to any station over ISLs.

        Returns
        -------
        np.ndarray
            float64 ``[S]`` [s]; ``inf`` where no route exists at that step.
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import dijkstra

        t = self.check_time_index(time_index)
        isl = self.isl_links(t)
        ground = self.ground_links(t)
        n = self.num_sats + self.num_stations
        rows = np.concatenate([isl.sat_a, ground.station + self.num_sats]).astype(np.int64)
        cols = np.concatenate([isl.sat_b, ground.sat]).astype(np.int64)
        delay = propagation_delay_s(np.concatenate([isl.range_km, ground.range_km]))
        adjacency = coo_matrix((delay, (rows, cols)), shape=(n, n)).tocsr()
        sources = np.arange(self.num_sats, n)
        dist = dijkstra(adjacency, directed=False, indices=sources, min_only=True)
        return np.asarray(dist[: self.num_sats], dtype=np.float64)

    def route_to_ground(self, sat: int, time_index: int) -> tuple[float, list[tuple[str, int]]]:
        """Fastest route from ``sat`` to any station at one step.

        Returns
        -------
        delay_s : float
            Propagation delay of the route [s] (``inf`` and an empty path if none).
        path : list of nodes
            From ``("sat", sat)`` to a ``("gs", j)`` node.
        """
        import networkx as nx

        sat = self.check_sat_index(sat)
        g = self.graph(time_index)
        sources = [("gs", j) for j in range(self.num_stations)]
        try:
            delay, path = nx.multi_source_dijkstra(
                g, sources, target=("sat", sat), weight="delay_s"
            )
        except nx.NetworkXNoPath:
            return math.inf, []
        return float(delay), list(reversed(path))

    # ------------------------------------------------------------------ eclipse
    def sunlit(self, min_fraction: float = 0.5) -> np.ndarray:
        """Sunlit flags, bool ``[S, T]``: at least ``min_fraction`` of the solar disc visible.

        ``min_fraction=1`` flags only full sunlight; a tiny value counts penumbra as sunlit.
        """
        if self.sunlit_fraction is None:
            raise ValueError("this plan was built with eclipse=False; rebuild with eclipse=True")
        if not 0.0 < min_fraction <= 1.0:
            raise ValueError(f"min_fraction={min_fraction} must be in (0, 1]")
        return self.sunlit_fraction >= min_fraction - 1e-6

    def eclipsed(self) -> np.ndarray:
        """In the Earth's umbra or penumbra (less than half the disc visible), bool ``[S, T]``."""
        return ~self.sunlit(0.5)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` (arrays) and ``<path>.json`` (metadata); returns the npz path."""
        npz_path, json_path = _plan_paths(path)
        npz_path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"offsets_s": np.asarray(self.times.offsets_s)}
        for key, value in asdict(self._ground).items():
            arrays[f"ground_{key}"] = value
        for key, value in asdict(self._windows).items():
            arrays[f"win_{key}"] = value
        if self.planes is not None:
            arrays["planes"] = self.planes
        if self._isl is not None:
            arrays["isl_sat_a"] = self._isl.candidates.sat_a
            arrays["isl_sat_b"] = self._isl.candidates.sat_b
            arrays["isl_cross_plane"] = self._isl.candidates.cross_plane
            arrays["isl_active"] = self._isl.active
            arrays["isl_range_km"] = self._isl.range_km
            arrays["isl_range_rate_km_s"] = self._isl.range_rate_km_s
        if self.sunlit_fraction is not None:
            arrays["sunlit_fraction"] = self.sunlit_fraction
        np.savez(npz_path, **arrays)
        meta = {
            "format_version": PLAN_FORMAT_VERSION,
            "start_utc": self.times.start.isoformat(),
            "sat_names": self.sat_names,
            "stations": [s.to_dict() for s in self.stations],
            "min_elevation_deg": self.min_elevation_deg,
            "isl": self.isl_config,
            "constellation": self.constellation_info,
            "sgp4_failures": self.sgp4_failures,
        }
        json_path.write_text(json.dumps(meta, indent=1) + "\n")
        return npz_path

    @classmethod
    def load(cls, path: str | Path) -> ContactPlan:
        """Read a plan written by :meth:`save` (no pickled objects)."""
        npz_path, json_path = _plan_paths(path)
        for p in (npz_path, json_path):
            if not p.is_file():
                raise FileNotFoundError(f"contact plan file {str(p)!r} not found")
        meta = json.loads(json_path.read_text())
        if meta.get("format_version") != PLAN_FORMAT_VERSION:
            raise ValueError(
                f"{json_path} has format_version {meta.get('format_version')!r}; this spikesat "
                f"reads version {PLAN_FORMAT_VERSION}; rebuild the plan"
            )
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        times = TimeGrid(meta["start_utc"], arrays["offsets_s"])
        stations = [
            GroundStation(**{**s, "frequency_bands": tuple(s["frequency_bands"])})
            for s in meta["stations"]
        ]
        ground = GroundLinkSamples(
            **{k[len("ground_") :]: v for k, v in arrays.items() if k.startswith("ground_")}
        )
        windows = Windows(
            **{k[len("win_") :]: v for k, v in arrays.items() if k.startswith("win_")}
        )
        isl = None
        if meta["isl"] is not None:
            isl = IslState(
                candidates=IslCandidates(
                    arrays["isl_sat_a"], arrays["isl_sat_b"], arrays["isl_cross_plane"]
                ),
                active=arrays["isl_active"],
                range_km=arrays["isl_range_km"],
                range_rate_km_s=arrays["isl_range_rate_km_s"],
                config=meta["isl"],
            )
        return cls(
            times=times,
            sat_names=meta["sat_names"],
            planes=arrays.get("planes"),
            stations=stations,
            min_elevation_deg=meta["min_elevation_deg"],
            ground=ground,
            windows=windows,
            isl=isl,
            sunlit_fraction=arrays.get("sunlit_fraction"),
            constellation_info=meta["constellation"],
            sgp4_failures=meta["sgp4_failures"],
        )

    # ------------------------------------------------------------------ checks
    def check_time_index(self, time_index: object) -> int:
        """``time_index`` as an int step of the plan.

        Raises
        ------
        TypeError
            If it is not an integer.
        ValueError
            If it is outside ``[0, len(times) - 1]``.
        """
        return self._check_index(time_index, len(self.times), "time_index")

    def check_sat_index(self, sat: object, what: str = "sat") -> int:
        """``sat`` as an int satellite index of the plan (errors as :meth:`check_time_index`,
        naming the argument ``what``)."""
        return self._check_index(sat, self.num_sats, what)

    @staticmethod
    def _check_index(value: object, size: int, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{what} must be an int index, got {type(value).__name__}")
        if not 0 <= int(value) < size:
            raise ValueError(f"{what}={value} is out of range [0, {size - 1}]")
        return int(value)


def _anchor_every(
    constellation: Constellation, times: TimeGrid, anchor_step_s: float | str | None
) -> int:
    """Grid steps between exactly propagated anchors (1: every step exact)."""
    if isinstance(anchor_step_s, str):
        if anchor_step_s != "auto":
            raise ValueError(
                f"anchor_step_s={anchor_step_s!r}: use a number of seconds, 'auto' or None"
            )
        anchor_step_s = constellation.default_anchor_step_s
    if anchor_step_s is None or len(times) < 3:
        return 1
    if isinstance(anchor_step_s, bool) or not anchor_step_s > 0:
        raise ValueError(f"anchor_step_s={anchor_step_s!r} must be > 0 seconds, 'auto' or None")
    steps = np.diff(times.offsets_s)
    if np.ptp(steps) > 1e-9 * max(steps.max(), 1.0) or steps[0] <= 0:
        return 1  # interpolation needs a uniform grid
    return max(1, int(anchor_step_s // steps[0]))


class _Anchors:
    """Exactly propagated anchor states of a whole sweep, filled chunk by chunk.

    Parameters
    ----------
    num_sats : int
        ``S``.
    times : TimeGrid
        The plan's grid.
    anchor_every : int
        Grid steps between anchors (``>= 2``); the last step is always an anchor.
    """

    def __init__(self, num_sats: int, times: TimeGrid, anchor_every: int) -> None:
        last = len(times) - 1
        self.index = np.unique(np.minimum(np.arange(0, last + anchor_every, anchor_every), last))
        self.anchor_s = times.offsets_s[self.index]
        # Anchor-major [A, S, 3]: one anchor's states are contiguous (see HermiteSegments).
        self.r_km = np.full((self.index.size, num_sats, 3), np.nan)
        self.v_km_s = np.full((self.index.size, num_sats, 3), np.nan)
        self.codes: np.ndarray | None = None
        self.num_filled = 0

    def states(
        self, constellation: Constellation, times: TimeGrid, c0: int, c1: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Interpolated states ``[S, c1-c0, 3]`` of steps ``c0..c1-1`` (and SGP4 codes)."""
        a0 = min(int(np.searchsorted(self.index, c0, side="right")) - 1, self.index.size - 2)
        a1 = max(int(np.searchsorted(self.index, c1 - 1, side="left")), a0 + 1)
        span = slice(a0, a1 + 1)
        # The previous chunk already propagated the anchor this chunk starts from.
        new = slice(max(a0, self.num_filled), a1 + 1)
        if new.start < new.stop:
            r_new, v_new, codes_new = constellation.propagate_ecef(times.subset(self.index[new]))
            self.r_km[new] = r_new.transpose(1, 0, 2)
            self.v_km_s[new] = v_new.transpose(1, 0, 2)
            if codes_new is not None:
                if self.codes is None:
                    self.codes = np.zeros(r_new.shape[:1] + self.index.shape, codes_new.dtype)
                self.codes[:, new] = codes_new
            self.num_filled = new.stop
        r_a, v_a = self.r_km[span].transpose(1, 0, 2), self.v_km_s[span].transpose(1, 0, 2)
        offsets = times.offsets_s
        r, v = HermiteSegments(offsets[self.index[span]], r_a, v_a).at(offsets[c0:c1])
        if self.codes is None:
            return r, v, None
        codes_a = self.codes[:, span]
        # A step inherits the worse of its two anchors' codes (NaN states propagate too).
        seg = np.clip(
            np.searchsorted(self.index[span], np.arange(c0, c1), side="right") - 1,
            0,
            a1 - a0 - 1,
        )
        return r, v, np.maximum(codes_a[:, seg], codes_a[:, seg + 1])

    def interpolant(self) -> HermiteSegments:
        """The Hermite interpolant through every anchor (valid after the sweep)."""
        return HermiteSegments(
            self.anchor_s, self.r_km.transpose(1, 0, 2), self.v_km_s.transpose(1, 0, 2)
        )


def _concatenate(parts: list[tuple[np.ndarray, ...]], num_columns: int) -> tuple[np.ndarray, ...]:
    """Column-wise concatenation of per-chunk tuples of arrays."""
    return tuple(np.concatenate([part[k] for part in parts]) for k in range(num_columns))


def _plan_paths(path: str | Path) -> tuple[Path, Path]:
    base = Path(path)
    if base.suffix in (".npz", ".json"):
        base = base.with_suffix("")
    return base.parent / f"{base.name}.npz", base.parent / f"{base.name}.json"


def _gaps(start_s: np.ndarray, end_s: np.ndarray) -> np.ndarray:
    if start_s.size == 0:
        return np.zeros(0)
    order = np.argsort(start_s)
    start, end = start_s[order], end_s[order]
    covered_until = np.maximum.accumulate(end)
    gaps = start[1:] - covered_until[:-1]
    return gaps[gaps > 0]


def contact_plan(
    constellation: Constellation,
    times: TimeGrid,
    stations: list[GroundStation] | str,
    min_elevation_deg: float = 10.0,
    isl: object = "plus-grid",
    *,
    eclipse: bool = True,
    max_chunk_elements: int = 8_000_000,
    anchor_step_s: float | str | None = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> ContactPlan:
    """Compute the contact plan of a constellation over a time grid.

    Parameters
    ----------
    constellation : Constellation
        A Walker shell or a TLE set.
    times : TimeGrid
        ``T`` steps (see :func:`time_grid`).
    stations : list[GroundStation] or str
        ``G`` stations, or a network name/path for :func:`ground_stations`.
    min_elevation_deg : float
        Elevation mask [deg], in ``[-90, 90)``.
    isl : str, PlusGrid or None
        ISL topology (``"plus-grid"`` or a configured ``PlusGrid(...)``); None skips ISLs
        (required for TLE sets, which have no plane structure).
    eclipse : bool
        Also compute the sunlit fraction per satellite and step (DE421 Sun, conical shadow).
    max_chunk_elements : int
        Largest ``S x G x T_chunk`` block swept at once (memory control: the screen of
        :mod:`spikesat.orbits.screen` holds about 1 byte per element, plus the candidate
        samples).
    anchor_step_s : float, "auto" or None
        Propagate exactly every ``anchor_step_s`` seconds (rounded to whole grid steps) and
        fill the steps between with cubic Hermite interpolation of the anchor states
        (:mod:`spikesat.orbits.hermite`; ~0.3 m for 60 s anchors at 550 km). ``"auto"`` uses
        the constellation's ``default_anchor_step_s`` (60 s for SGP4 sets, exact for the
        analytic Walker propagator); None propagates every step exactly. Window edges are
        refined on the same interpolant (:mod:`spikesat.orbits.windows`). The anchor states
        of the whole grid are kept for that: ``48 x S x T / anchor steps`` bytes.
    progress : callable, optional
        Called as ``progress(steps_done, num_steps)`` after each chunk.

    Returns
    -------
    ContactPlan
    """
    check_times(times)
    if not isinstance(constellation, Constellation):
        raise TypeError(
            f"constellation must be a Constellation (walker_delta, preset or load_tle), got "
            f"{type(constellation).__name__}"
        )
    if isinstance(stations, str | Path):
        stations = ground_stations(stations)
    check_stations(stations)
    if isinstance(min_elevation_deg, bool) or not isinstance(min_elevation_deg, int | float):
        raise TypeError(f"min_elevation_deg must be a number, got {min_elevation_deg!r}")
    if not -90.0 <= min_elevation_deg < 90.0:
        raise ValueError(f"min_elevation_deg={min_elevation_deg} must be in [-90, 90) degrees")
    if not isinstance(max_chunk_elements, int) or max_chunk_elements < 1:
        raise ValueError(f"max_chunk_elements={max_chunk_elements!r} must be a positive int")
    topology = isl_topology(isl)
    candidates = None if topology is None else topology.candidates(constellation)

    frames = StationFrames.from_stations(stations)
    num_sats, num_stations, num_times = constellation.num_sats, len(stations), len(times)
    constellation.check_epochs(times)
    near_deg = max(
        min_elevation_deg - hidden_pass_margin_deg(times.step_s, min_elevation_deg), -90.0
    )
    # ISLs add a few [L, T_chunk, 3] arrays (L ~ 2 S): count a step as at least 8 S elements.
    chunk = max(1, max_chunk_elements // (num_sats * max(num_stations, 8)))
    anchor_every = _anchor_every(constellation, times, anchor_step_s)
    anchors = None
    if anchor_every > 1:
        chunk = max(anchor_every, chunk // anchor_every * anchor_every)
        anchors = _Anchors(num_sats, times, anchor_every)
    sun = sun_positions_ecef_km(times) if eclipse else None

    visible_parts: list[tuple[np.ndarray, ...]] = []
    near_parts: list[tuple[np.ndarray, ...]] = []
    run_parts: list[tuple[np.ndarray, ...]] = []
    codes_all = np.zeros((num_sats, num_times), dtype=np.uint8)
    lit = np.ones((num_sats, num_times), dtype=np.float32) if eclipse else None
    if candidates is not None:
        num_links = len(candidates)
        isl_active = np.zeros((num_links, num_times), dtype=bool)
        isl_range = np.zeros((num_links, num_times), dtype=np.float32)
        isl_rate = np.zeros((num_links, num_times), dtype=np.float32)
    for c0 in range(0, num_times, chunk):
        c1 = min(c0 + chunk, num_times)
        if anchors is None:
            r, v, codes = constellation.propagate_ecef(times.subset(slice(c0, c1)))
        else:
            r, v, codes = anchors.states(constellation, times, c0, c1)
        if codes is not None:
            codes_all[:, c0:c1] = codes
        found = screen_chunk(r, v, frames, min_elevation_deg, near_deg)
        s_i, t_i, g_i, *look = found.visible
        indices = (s_i.astype(np.int32), g_i.astype(np.int32), (t_i + c0).astype(np.int32))
        visible_parts.append((*indices, *look))
        s_i, t_i, g_i, elevation = found.near
        near_parts.append((s_i, g_i, t_i + c0, elevation))
        pair, first, last, max_el = found.runs
        run_parts.append((pair, first + c0, last + c0, max_el))
        if candidates is not None:
            active, length, length_rate = topology.evaluate(candidates, r, v)
            isl_active[:, c0:c1] = active
            isl_range[:, c0:c1] = length
            isl_rate[:, c0:c1] = length_rate
        if lit is not None:
            lit[:, c0:c1] = sunlit_fraction(r, sun[None, c0:c1])
        del r, v
        if progress is not None:
            progress(c1, num_times)

    sat, station, tidx, elevation, azimuth, rng, rate = _concatenate(visible_parts, 7)
    del visible_parts
    windows = extract_windows(
        constellation,
        times,
        frames,
        float(min_elevation_deg),
        runs=merge_runs(*_concatenate(run_parts, 4), num_sats * num_stations),
        near=_concatenate(near_parts, 4),
        interpolant=None if anchors is None else anchors.interpolant(),
    )
    ground = GroundLinkSamples(
        sat=sat,
        station=station,
        time_index=tidx,
        range_km=rng,
        elevation_deg=elevation,
        azimuth_deg=azimuth,
        range_rate_km_s=rate,
    )
    failures = constellation.failures(codes_all, times) if np.any(codes_all) else []
    constellation.report_failures(failures)
    isl_state = None
    if candidates is not None:
        isl_state = IslState(candidates, isl_active, isl_range, isl_rate, topology.to_dict())
    return ContactPlan(
        times=times,
        sat_names=constellation.sat_names,
        planes=None if constellation.planes is None else np.asarray(constellation.planes),
        stations=list(stations),
        min_elevation_deg=float(min_elevation_deg),
        ground=ground,
        windows=windows,
        isl=isl_state,
        sunlit_fraction=lit,
        constellation_info=constellation.describe(),
        sgp4_failures=[asdict(f) for f in failures],
    )
