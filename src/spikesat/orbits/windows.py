"""Contact windows from sampled elevations, with edges refined by root finding.

Grid samples only say a satellite was above the mask at step ``k`` and below at ``k - 1``;
the true rise lies in between. Each edge is refined by safeguarded Newton steps on the
bracket's elevation polynomials (below), to far better than the 1 ms tolerance, with
scipy's vectorised bracketing root finder (Chandrupatla's method,
``scipy.optimize.elementwise.find_root``) as the fallback. Passes that peak above the mask
entirely between two samples are found from sampled local maxima just below the mask
(``scipy.optimize.elementwise.find_minimum`` on minus the elevation's sine).

Inside a bracket the position comes from a cubic Hermite interpolant. When the sweep
filled its grid from exactly propagated anchors (SGP4 sets), the bracket's cubic is the
same anchors' interpolant restricted to the bracket
(:meth:`~spikesat.orbits.hermite.HermiteSegments.pair_cubics`, ~0.3 m for 60 s anchors at
550 km) and nothing is propagated again. Against exactly propagated bracket
ends that moves edges by 0.06 ms (median) to 2 ms (99.9th percentile) over a day of
Starlink passes, and by up to ~0.1 s for grazing passes whose peak clears the mask by
under 0.01 deg, where the crossing time is ill-conditioned. Otherwise the bracket's two
ends are propagated exactly and interpolated; the error is about
``h**4 * max|d4r/dt4| / 384``: under a millimetre for 20 s brackets and a few metres for
120 s ones in LEO, far below a millisecond of edge time. Brackets wider than
``2 * HERMITE_MAX_STEP_S`` evaluate the exact propagator at every trial instant instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.optimize.elementwise import find_minimum, find_root

from spikesat.orbits.constellation import Constellation
from spikesat.orbits.hermite import HermiteSegments, end_state_cubic
from spikesat.orbits.look_angles import StationFrames
from spikesat.orbits.timegrid import TimeGrid
from spikesat.units import EARTH_RADIUS_KM

EDGE_TOLERANCE_S = 1e-3
"""Absolute tolerance of refined window edges [s]."""

LOWEST_ALTITUDE_KM = 200.0
"""Lowest satellite height assumed when bounding how fast elevation can change [km]."""

FASTEST_GROUND_SPEED_KM_S = 8.3
"""Upper bound on a LEO satellite's speed relative to a ground station [km/s] (orbital
speed at 200 km, 7.8 km/s, plus the equatorial rotation speed, 0.47 km/s)."""

PARABOLA_SLACK_DEG = 0.05
"""Peaks whose three-sample parabola stays this far below the mask [deg] are not searched."""


def hidden_pass_margin_deg(step_s: float, min_elevation_deg: float) -> float:
    """Elevation band below the mask [deg] in which a sampled local maximum may hide a pass.

    For a satellite crossing the sky at angular rate ``w`` (speed over slant range), the
    elevation near a peak at ``e0`` is ``e0 - c t^2 / 2`` with ``c = w^2 tan(e0)``; the
    nearest sample is at most ``step_s / 2`` from the peak, hence at most ``c step^2 / 8``
    below it. ``w`` is bounded by the fastest speed over the shortest slant range at which
    the mask can be crossed (a satellite at :data:`LOWEST_ALTITUDE_KM`); the band is twice
    the bound, and at least 0.05 deg.
    """
    sin_e = math.sin(math.radians(min_elevation_deg))
    radius, height = EARTH_RADIUS_KM, LOWEST_ALTITUDE_KM
    slant_km = -radius * sin_e + math.sqrt((radius * sin_e) ** 2 + 2 * radius * height + height**2)
    rate = FASTEST_GROUND_SPEED_KM_S / slant_km
    curvature = rate**2 * max(1.0, math.tan(math.radians(min(min_elevation_deg, 89.0))))
    return max(0.05, 2.0 * math.degrees(curvature * step_s**2 / 8.0))


@dataclass(frozen=True)
class Windows:
    """Contact windows, sorted by (sat, station, start).

    Attributes
    ----------
    sat, station : np.ndarray
        int32 ``[K]``.
    start_s, end_s : np.ndarray
        float64 ``[K]`` seconds from ``times[0]``; edges at the grid's ends are clipped.
    max_elevation_deg : np.ndarray
        float64 ``[K]`` highest sampled (or, for sub-step passes, refined) elevation [deg].
    """

    sat: np.ndarray
    station: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    max_elevation_deg: np.ndarray

    def __len__(self) -> int:
        return int(self.sat.size)

    @property
    def duration_s(self) -> np.ndarray:
        """float64 ``[K]`` window lengths [s]."""
        return self.end_s - self.start_s


HERMITE_MAX_STEP_S = 60.0
"""Largest grid step [s] for which brackets use Hermite-interpolated states."""


NEWTON_MAX_ITERATIONS = 12
"""Safeguarded Newton steps per edge before the bracketing fallback takes over."""


class _EdgeElevation:
    """Sine of the elevation minus the sine of the mask inside a set of brackets.

    The sine is a monotone transform of the elevation, so it has the same mask crossings and
    peaks. Inside a Hermite bracket the station-to-satellite vector is a cubic in the
    bracket's normalised time ``s``, so its up component is a cubic and its squared length a
    sextic; both are precomputed per bracket, and an evaluation (with its slope, for Newton's
    method) is two Horner sums.

    Parameters
    ----------
    constellation, times, frames : ...
        What is being refined.
    min_elevation_deg : float
        The mask [deg].
    sat, station : np.ndarray
        int ``[E]`` the pair of each bracket.
    lo_s, hi_s : np.ndarray
        float64 ``[E]`` bracket ends [s from ``times.start``].
    interpolant : HermiteSegments or None
        Positions of every satellite over the whole grid; None propagates bracket ends.
    """

    def __init__(
        self,
        constellation: Constellation,
        times: TimeGrid,
        frames: StationFrames,
        min_elevation_deg: float,
        sat: np.ndarray,
        station: np.ndarray,
        lo_s: np.ndarray,
        hi_s: np.ndarray,
        interpolant: HermiteSegments | None = None,
    ) -> None:
        self.constellation = constellation
        self.times = times
        self.frames = frames
        self.sin_mask = math.sin(math.radians(min_elevation_deg))
        self.sat = np.asarray(sat, dtype=np.int64)
        self.station = np.asarray(station, dtype=np.int64)
        self.lo_s = np.asarray(lo_s, dtype=np.float64)
        self.width_s = np.asarray(hi_s, dtype=np.float64) - self.lo_s
        self.hermite = bool(np.all(self.width_s <= 2.0 * HERMITE_MAX_STEP_S))
        if self.hermite and self.sat.size:
            if interpolant is None:
                curve = end_state_cubic(
                    partial(constellation.pair_states_ecef, times), self.sat, self.lo_s, hi_s
                )
            else:
                curve = interpolant.pair_cubics(self.sat, self.lo_s, hi_s)
            self.poly = _elevation_polynomials(
                curve, frames.ecef_km.take(self.station, 0), frames.up.take(self.station, 0)
            )

    def __call__(self, offsets_s: np.ndarray, edge: np.ndarray) -> np.ndarray:
        shape = np.shape(offsets_s)
        x = np.ravel(offsets_s)
        e = np.broadcast_to(edge, shape).ravel().astype(np.int64)
        if self.hermite:
            sin_el, _ = self._sine_and_slope((x - self.lo_s[e]) / self.width_s[e], e)
        else:
            r, _ = self.constellation.pair_states_ecef(self.times, self.sat[e], x)
            station = self.station[e]
            d = r - self.frames.ecef_km[station]
            sin_el = np.einsum("ek,ek->e", d, self.frames.up[station]) / np.linalg.norm(d, axis=-1)
        return (sin_el - self.sin_mask).reshape(shape)

    def _sine_and_slope(self, s: np.ndarray, edge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Elevation sine and its derivative d/ds at normalised times ``s`` ``[n]``."""
        c = self.poly.take(edge, 1)  # [11, n]: the up cubic, then the squared-range sextic
        up = ((c[3] * s + c[2]) * s + c[1]) * s + c[0]
        up_slope = (3.0 * c[3] * s + 2.0 * c[2]) * s + c[1]
        range2, range2_slope = c[10], 6.0 * c[10]
        for k in range(9, 4, -1):
            range2 = range2 * s + c[k]
            range2_slope = range2_slope * s + (k - 4) * c[k]
        range2 = range2 * s + c[4]
        inverse = 1.0 / np.sqrt(range2)
        sin_el = up * inverse
        return sin_el, (up_slope - 0.5 * sin_el * inverse * range2_slope) * inverse

    def negative(self, offsets_s: np.ndarray, edge: np.ndarray) -> np.ndarray:
        """Minus :meth:`__call__`, for peak finding by minimisation."""
        return -self(offsets_s, edge)

    def roots(self, edge: np.ndarray, lo_s: np.ndarray, hi_s: np.ndarray) -> np.ndarray:
        """Mask crossings of brackets ``edge`` inside ``[lo_s, hi_s]`` (a sign change).

        Hermite brackets take safeguarded Newton steps on the polynomials (a step that leaves
        the shrinking sign-change bracket bisects it instead) until a step is under a tenth
        of :data:`EDGE_TOLERANCE_S` (the error left after such a step is of the order of its
        square); any that do not settle in
        :data:`NEWTON_MAX_ITERATIONS`, and all other brackets, go to scipy's bracketing
        solver. A bracket without a sign change (an SGP4 failure gives NaN) keeps a grid edge.
        """
        if edge.size == 0:
            return np.zeros(0)
        edge = np.asarray(edge, dtype=np.int64)
        lo_s, hi_s = np.asarray(lo_s, dtype=np.float64), np.asarray(hi_s, dtype=np.float64)
        f_lo, f_hi = self(lo_s, edge), self(hi_s, edge)
        crossing = np.isfinite(f_lo) & np.isfinite(f_hi) & ((f_lo < 0) != (f_hi < 0))
        roots = np.where(f_lo >= 0, lo_s, hi_s)
        todo = np.flatnonzero(crossing)
        if self.hermite and todo.size:
            lo, hi = lo_s[todo].copy(), hi_s[todo].copy()
            settled, x = self._newton(edge[todo], lo, hi, f_lo[todo], f_hi[todo])
            roots[todo[settled]] = x[settled]
            lo_s, hi_s = lo_s.copy(), hi_s.copy()
            lo_s[todo], hi_s[todo] = lo, hi  # the shrunk brackets, for the fallback
            todo = todo[~settled]
        if todo.size:
            result = find_root(
                self,
                (lo_s[todo], hi_s[todo]),
                args=(edge[todo],),
                tolerances={"xatol": EDGE_TOLERANCE_S, "xrtol": 0.0, "fatol": 0.0, "frtol": 0.0},
            )
            found = np.asarray(result.x, dtype=np.float64)
            good = np.isfinite(found) & np.asarray(result.success)
            roots[todo[good]] = found[good]
        return roots

    def _newton(
        self,
        edge: np.ndarray,
        lo_s: np.ndarray,
        hi_s: np.ndarray,
        f_lo: np.ndarray,
        f_hi: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Safeguarded Newton iteration on sign-change brackets (shrinks ``lo_s``/``hi_s``).

        Returns
        -------
        settled : np.ndarray
            bool ``[n]``: the last step was under a tenth of :data:`EDGE_TOLERANCE_S`.
        x_s : np.ndarray
            float64 ``[n]`` the roots [s from ``times.start``].
        """
        base, width = self.lo_s[edge], self.width_s[edge]
        lo, hi = (lo_s - base) / width, (hi_s - base) / width
        x = lo + (hi - lo) * f_lo / (f_lo - f_hi)  # regula falsi start
        lo_negative = f_lo < 0
        tolerance = 0.1 * EDGE_TOLERANCE_S / width
        settled = np.zeros(edge.size, dtype=bool)
        active = np.arange(edge.size)
        for _ in range(NEWTON_MAX_ITERATIONS):
            sin_el, slope = self._sine_and_slope(x[active], edge[active])
            value = sin_el - self.sin_mask
            at_lo = (value < 0) == lo_negative[active]  # x replaces the end of its sign
            lo[active] = np.where(at_lo, x[active], lo[active])
            hi[active] = np.where(at_lo, hi[active], x[active])
            with np.errstate(divide="ignore", invalid="ignore"):
                step = x[active] - value / slope
            outside = ~((step >= lo[active]) & (step <= hi[active]))
            step = np.where(outside, 0.5 * (lo[active] + hi[active]), step)
            done = np.abs(step - x[active]) <= tolerance[active]
            x[active] = step
            settled[active[done]] = True
            active = active[~done]
            if active.size == 0:
                break
        lo_s[:], hi_s[:] = base + lo * width, base + hi * width
        return settled, base + x * width


def _elevation_polynomials(
    curve: tuple[np.ndarray, ...], station_km: np.ndarray, up: np.ndarray
) -> np.ndarray:
    """Per-bracket polynomial coefficients of ``up . d(s)`` and ``|d(s)|**2``, ``[11, E]``.

    ``d(s)`` is the satellite's cubic ``curve`` (coefficients of ``s**0..s**3``, ``[E, 3]``
    each, from :func:`~spikesat.orbits.hermite.hermite_cubic`) minus the station's position
    ``station_km`` ``[E, 3]``; ``up`` ``[E, 3]`` is the station's up vector. Rows 0-3 hold the
    up component's coefficients of ``s**0..s**3``, rows 4-10 the squared length's of
    ``s**0..s**6``.
    """
    d = (curve[0] - station_km, *curve[1:])
    out = np.zeros((11, station_km.shape[0]))
    for i, ci in enumerate(d):
        out[i] = np.einsum("ek,ek->e", ci, up)
        out[4 + 2 * i] += np.einsum("ek,ek->e", ci, ci)
        for j in range(i + 1, 4):
            out[4 + i + j] += 2.0 * np.einsum("ek,ek->e", ci, d[j])
    return out


def extract_windows(
    constellation: Constellation,
    times: TimeGrid,
    frames: StationFrames,
    min_elevation_deg: float,
    runs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    near: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    interpolant: HermiteSegments | None = None,
) -> Windows:
    """Turn runs of visible samples into windows with refined edges.

    Parameters
    ----------
    constellation, times, frames : ...
        What was sampled.
    min_elevation_deg : float
        Elevation mask [deg].
    runs : tuple of np.ndarray
        ``(pair, first_step, last_step, max_elevation_deg)`` ``[R]``: maximal runs of
        consecutive steps at or above the mask per pair ``sat * G + station``, over the
        whole grid (:func:`merge_runs`).
    near : tuple of np.ndarray
        ``(sat, station, time_index, elevation_deg)`` of the samples in the band just below
        the mask (:func:`hidden_pass_margin_deg`), sorted by time index, used to find passes
        between samples.
    interpolant : HermiteSegments, optional
        The sweep's interpolant of exactly propagated anchors; without it, bracket ends are
        propagated exactly.

    Returns
    -------
    Windows
    """
    offsets = times.offsets_s
    num_times = len(times)
    num_stations = frames.ecef_km.shape[0]
    run_pair, k0, k1, max_el = runs
    start = offsets[k0]
    end = offsets[k1]

    # One bracket per interior edge: rises in (t[k0-1], t[k0]), sets in (t[k1], t[k1+1]).
    rise = np.flatnonzero(k0 > 0)
    sets = np.flatnonzero(k1 < num_times - 1)
    edge_pair = np.concatenate([run_pair[rise], run_pair[sets]])
    lo = np.concatenate([offsets[k0[rise] - 1], offsets[k1[sets]]])
    hi = np.concatenate([offsets[k0[rise]], offsets[k1[sets] + 1]])
    edges = _EdgeElevation(
        constellation,
        times,
        frames,
        min_elevation_deg,
        edge_pair // num_stations,
        edge_pair % num_stations,
        lo,
        hi,
        interpolant,
    )
    crossing = edges.roots(np.arange(edge_pair.size), lo, hi)
    start[rise] = crossing[: rise.size]
    end[sets] = crossing[rise.size :]

    hidden = _hidden_passes(constellation, times, frames, min_elevation_deg, near, interpolant)
    run_pair = np.concatenate([run_pair, hidden[0]])
    start = np.concatenate([start, hidden[1]])
    end = np.concatenate([end, hidden[2]])
    max_el = np.concatenate([max_el, hidden[3]])
    order = np.lexsort((start, run_pair))
    return Windows(
        sat=(run_pair[order] // num_stations).astype(np.int32),
        station=(run_pair[order] % num_stations).astype(np.int32),
        start_s=start[order],
        end_s=end[order],
        max_elevation_deg=max_el[order],
    )


def visibility_runs(
    pair: np.ndarray, block: np.ndarray, elevation_deg: np.ndarray, num_pairs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of visible steps from samples tested block by block.

    Parameters
    ----------
    pair : np.ndarray
        int ``[K]`` pair (``sat * G + station``) of each tested block.
    block : np.ndarray
        int ``[K]`` block index (block ``b`` covers steps ``b*B .. b*B + B-1``), sorted.
    elevation_deg : np.ndarray
        float64 ``[K, B]`` elevation of each visible step, ``-inf`` where not visible
        (blocks not listed are not visible anywhere).
    num_pairs : int
        Number of pairs (the sort's key range).

    Returns
    -------
    pair, first_step, last_step : np.ndarray
        int64 ``[R]``, sorted by (pair, first step).
    max_elevation_deg : np.ndarray
        float64 ``[R]`` highest elevation of each run.
    """
    num_rows, block_steps = elevation_deg.shape
    order = stable_order(pair, num_pairs)  # (pair, block): consecutive rows of a pair join
    pair, block = pair.take(order), block.take(order)
    elevation = elevation_deg.take(order, 0).ravel()
    joined = np.zeros(num_rows, dtype=bool)
    joined[1:] = (pair[1:] == pair[:-1]) & (block[1:] == block[:-1] + 1)
    seen = elevation > -np.inf
    before = np.zeros_like(seen)  # the previous step of the same pair was visible
    before[1:] = seen[:-1]
    before[::block_steps] &= joined
    after = np.zeros_like(seen)
    after[:-1] = seen[1:]
    after[block_steps - 1 :: block_steps] &= np.append(joined[1:], False)
    first = np.flatnonzero(seen & ~before)
    last = np.flatnonzero(seen & ~after)
    if first.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    # A run's segment up to the next run's start holds only -inf besides the run itself.
    max_el = np.maximum.reduceat(elevation, first)
    row_first, row_last = first // block_steps, last // block_steps
    return (
        pair[row_first],
        block[row_first] * block_steps + first % block_steps,
        block[row_last] * block_steps + last % block_steps,
        max_el,
    )


def merge_runs(
    pair: np.ndarray, first: np.ndarray, last: np.ndarray, max_el: np.ndarray, num_pairs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join runs that continue each other (one chunk's last step, the next chunk's first).

    Parameters
    ----------
    pair, first, last, max_el : np.ndarray
        ``[R]`` runs of :func:`visibility_runs` from consecutive chunks, in chunk order and
        with grid step indices.
    num_pairs : int
        Number of pairs.

    Returns
    -------
    tuple of np.ndarray
        The same columns for the joined runs, sorted by (pair, first step).
    """
    order = stable_order(pair, num_pairs)  # chunks are in time order, so (pair, first)
    pair, first, last, max_el = (x.take(order) for x in (pair, first, last, max_el))
    joins = np.zeros(pair.size, dtype=bool)
    joins[1:] = (pair[1:] == pair[:-1]) & (first[1:] == last[:-1] + 1)
    if not np.any(joins):
        return pair, first, last, max_el
    head = np.flatnonzero(~joins)
    tail = np.append(head[1:], pair.size) - 1
    return pair[head], first[head], last[tail], np.maximum.reduceat(max_el, head)


def stable_order(keys: np.ndarray, num_keys: int) -> np.ndarray:
    """Stable argsort of non-negative int keys below ``num_keys``, int64 ``[N]``.

    Keys are sorted by 16-bit digits (NumPy radix-sorts 16-bit integers in linear time):
    one pass below 2**16 keys, two passes below 2**32, a comparison sort beyond.
    """
    if num_keys <= 1 << 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    if num_keys <= 1 << 32:
        low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
        return low[np.argsort((keys[low] >> 16).astype(np.uint16), kind="stable")]
    return np.argsort(keys, kind="stable")


def _hidden_passes(
    constellation: Constellation,
    times: TimeGrid,
    frames: StationFrames,
    min_elevation_deg: float,
    near: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    interpolant: HermiteSegments | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Passes whose peak clears the mask between samples that are all below it."""
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
    sat, station, tidx, elev = near
    if sat.size == 0:
        return empty
    num_stations = frames.ecef_km.shape[0]
    offsets = times.offsets_s
    num_times = len(times)
    pair = sat.astype(np.int64) * num_stations + station
    order = stable_order(pair, constellation.num_sats * num_stations)
    pair, tidx, elev = pair[order], tidx[order].astype(np.int64), elev[order]
    same_prev = np.concatenate([[False], (pair[1:] == pair[:-1]) & (tidx[1:] == tidx[:-1] + 1)])
    same_next = np.concatenate([(pair[1:] == pair[:-1]) & (tidx[1:] == tidx[:-1] + 1), [False]])
    prev_el = np.where(same_prev, np.roll(elev, 1), -np.inf)
    next_el = np.where(same_next, np.roll(elev, -1), -np.inf)
    # Interior samples only: a peak within the first or last step cannot be bracketed.
    peak = (elev >= prev_el) & (elev >= next_el) & (tidx > 0) & (tidx < num_times - 1)
    # Where both neighbours were sampled, a parabola through the three samples estimates the
    # peak to far better than PARABOLA_SLACK_DEG; skip peaks that clearly stay below the mask.
    curvature = 2.0 * elev - prev_el - next_el
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = elev + (next_el - prev_el) ** 2 / (8.0 * curvature)
    known = np.isfinite(estimate) & (curvature > 0)
    peak &= ~known | (estimate >= min_elevation_deg - PARABOLA_SLACK_DEG)
    if not np.any(peak):
        return empty
    pair, k = pair[peak], tidx[peak]
    lo, mid, hi = offsets[k - 1], offsets[k], offsets[k + 1]
    fn = _EdgeElevation(
        constellation,
        times,
        frames,
        min_elevation_deg,
        pair // num_stations,
        pair % num_stations,
        lo,
        hi,
        interpolant,
    )
    edge = np.arange(pair.size)
    result = find_minimum(
        fn.negative,
        (lo, mid, hi),
        args=(edge,),
        tolerances={"xatol": EDGE_TOLERANCE_S, "xrtol": 0.0},
    )
    peak_s = np.asarray(result.x, dtype=np.float64)
    peak_excess = -np.asarray(result.f_x, dtype=np.float64)  # sine of the peak minus the mask's
    clears = np.isfinite(peak_excess) & (peak_excess > 0)
    if not np.any(clears):
        return empty
    edge, peak_s = edge[clears], peak_s[clears]
    rise = fn.roots(edge, lo[clears], peak_s)
    sets = fn.roots(edge, peak_s, hi[clears])
    peak_deg = np.degrees(np.arcsin(np.minimum(peak_excess[clears] + fn.sin_mask, 1.0)))
    return pair[clears], rise, sets, peak_deg
