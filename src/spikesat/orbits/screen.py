"""Which (satellite, step, station) samples clear an elevation mask, without a dense test.

Testing every sample against every station costs ``S x T x G`` products. The screen here
costs ``S x T / B x G``: each block of ``B`` consecutive steps is represented by its centre
step, and only the (satellite, block, station) triples whose centre direction lies within a
conservative cone around the station are expanded to their steps and tested exactly.

The cone is rigorous for the sampled steps:

* A satellite at radius ``r`` seen at geocentric elevation ``e_c`` from a station at radius
  ``g`` lies at the Earth-central angle ``arccos(g cos(e_c) / r) - e_c`` from it, which
  decreases with ``e_c`` and ``g`` and grows with ``r``. The geodetic elevation used for the
  mask differs from the geocentric one by at most the angle between the station's geodetic
  up and its radius vector.
* A step ``j`` steps from the block centre is within the sum of the ``j`` step-to-step
  central angles of the centre direction (the triangle inequality on the sphere); the screen
  uses the satellite's largest step angle in the chunk times the block's half width.

The exact test is laid out per triple and step, so the runs of consecutive visible steps of
each pair (the contact windows at grid resolution) come from a sort of the triples, not of
the samples (:func:`~spikesat.orbits.windows.visibility_runs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikesat.orbits.look_angles import StationFrames, look_from_enu
from spikesat.orbits.windows import stable_order, visibility_runs

SCREEN_BLOCK_STEPS = 7
"""Steps represented by one screened centre step (odd, so the centre is in the middle)."""

SCREEN_SLACK_RAD = 1e-4
"""Angle added to every cone [rad] to cover float32 rounding of the screened dot products."""


@dataclass(frozen=True)
class ScreenedChunk:
    """What the screen found in one chunk of steps (step indices count from the chunk's first).

    Attributes
    ----------
    visible : tuple of np.ndarray
        ``(sat, step, station, elevation_deg, azimuth_deg, range_km, range_rate_km_s)``,
        ``[N]`` each (int64, then float64, as :func:`pair_look` returns them): every sample
        at or above the mask, sorted by step, then satellite, then station.
    near : tuple of np.ndarray
        ``(sat, step, station, elevation_deg)`` ``[M]`` each, in the same order: the samples
        in the band below the mask (down to the near elevation), where passes may hide
        between samples.
    runs : tuple of np.ndarray
        ``(pair, first_step, last_step, max_elevation_deg)`` ``[R]`` each: the maximal runs
        of consecutive visible steps of each (satellite, station) pair, ``pair = sat * G +
        station`` (see :func:`~spikesat.orbits.windows.visibility_runs`).
    """

    visible: tuple[np.ndarray, ...]
    near: tuple[np.ndarray, ...]
    runs: tuple[np.ndarray, ...]


def screen_chunk(
    r_km: np.ndarray,
    v_km_s: np.ndarray,
    frames: StationFrames,
    min_elevation_deg: float,
    near_elevation_deg: float,
    block_steps: int = SCREEN_BLOCK_STEPS,
) -> ScreenedChunk:
    """Every (satellite, step, station) sample above ``near_elevation_deg``, split at the mask.

    Parameters
    ----------
    r_km, v_km_s : np.ndarray
        float64 ``[S, T, 3]`` Earth-fixed positions [km] and velocities [km/s] (any memory
        layout); NaN states (SGP4 failures) never qualify.
    frames : StationFrames
        ``G`` stations.
    min_elevation_deg : float
        The elevation mask [deg] (geodetic, as in :func:`pair_look`).
    near_elevation_deg : float
        Lowest elevation to keep [deg], at most the mask.
    block_steps : int
        Steps per screened block (see the module docstring); 1 screens every step.

    Returns
    -------
    ScreenedChunk
        Exactly the samples with ``(r - g) . up >= sin(near) * |r - g|``, split by
        ``elevation_deg >= min_elevation_deg``, and the visible runs.
    """
    if isinstance(block_steps, bool) or not isinstance(block_steps, int) or block_steps < 1:
        raise ValueError(f"block_steps={block_steps!r} must be a positive int")
    if not near_elevation_deg <= min_elevation_deg:
        raise ValueError(
            f"near_elevation_deg={near_elevation_deg} must not exceed the mask {min_elevation_deg}"
        )
    num_steps, num_stations = r_km.shape[1], frames.ecef_km.shape[0]
    sin_near = math.sin(math.radians(near_elevation_deg))
    block, sat, station = _candidates(r_km, frames, sin_near, block_steps)
    steps, d, enu, range_km, keep = _exact_test(
        r_km, frames, sin_near, block, sat, station, block_steps
    )
    kept = np.flatnonzero(keep)  # (block, sat, station, step) order
    triple, step = kept // block_steps, steps.ravel()[kept]
    pair = sat * num_stations + station  # [K]
    sat, station = sat.take(triple), station.take(triple)
    vel, vel_sat_stride, vel_step_stride = _rows(v_km_s)
    v = vel.take(sat * vel_sat_stride + step * vel_step_stride, 0)
    look = look_from_enu(
        enu.reshape(-1, 3).take(kept, 0), d.reshape(-1, 3).take(kept, 0), v, range_km.ravel()[kept]
    )
    in_view = look[0] >= min_elevation_deg
    # Kept samples are in block order, so a stable sort by step gives (step, sat, station).
    order = stable_order(step, num_steps)
    columns = (sat, step, station, *look)
    seen, below = order[in_view[order]], order[~in_view[order]]
    visible = tuple(column.take(seen) for column in columns)
    near = tuple(column.take(below) for column in columns[:4])

    elevation = np.full(keep.shape, -np.inf)  # [K, B], -inf where not visible
    elevation.ravel()[kept[in_view]] = look[0][in_view]
    runs = visibility_runs(pair, block, elevation, r_km.shape[0] * num_stations)
    return ScreenedChunk(visible, near, runs)


def _exact_test(
    r_km: np.ndarray,
    frames: StationFrames,
    sin_min: float,
    block: np.ndarray,
    sat: np.ndarray,
    station: np.ndarray,
    block_steps: int,
) -> tuple[np.ndarray, ...]:
    """Test every step of the candidate (block, satellite, station) triples ``[K]``.

    Returns
    -------
    steps : np.ndarray
        int64 ``[K, B]`` step of each test (past the grid's end in a partial last block).
    d, enu : np.ndarray
        float64 ``[K, B, 3]`` station-to-satellite vectors, Earth-fixed and east/north/up.
    range_km : np.ndarray
        float64 ``[K, B]`` their lengths.
    keep : np.ndarray
        bool ``[K, B]``: the elevation sine is at least ``sin_min`` (and the step exists).
    """
    num_steps = r_km.shape[1]
    # Flat row index into whichever of [S, T] or [T, S] order the arrays are stored in.
    rows, sat_stride, step_stride = _rows(r_km)
    # Triple-major [K, B]: each triple's station data is gathered once. take(axis=0)
    # gathers [N, 3] rows several times faster than fancy indexing.
    steps = block[:, None] * block_steps + np.arange(block_steps)
    d = rows.take(sat[:, None] * sat_stride + np.minimum(steps, num_steps - 1) * step_stride, 0)
    d -= frames.ecef_km.take(station, 0)[:, None]
    enu = d @ frames.rotation.take(station, 0).transpose(0, 2, 1)
    range_km = np.sqrt(np.einsum("kbl,kbl->kb", d, d))
    with np.errstate(invalid="ignore"):
        keep = enu[..., 2] >= sin_min * range_km
    keep &= steps < num_steps  # a partial last block repeats the last step
    return steps, d, enu, range_km, keep


def _rows(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``x`` ``[S, T, 3]`` as rows ``[S*T, 3]`` (a view when possible) and its row strides."""
    num_sats, num_steps, _ = x.shape
    if x.transpose(1, 0, 2).flags.c_contiguous:
        return x.transpose(1, 0, 2).reshape(-1, 3), 1, num_sats
    return np.ascontiguousarray(x).reshape(-1, 3), num_steps, 1


def _candidates(
    r_km: np.ndarray, frames: StationFrames, sin_min: float, block_steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(block, satellite, station) triples that may clear the mask somewhere in the block,
    in that order (int64 ``[K]`` each)."""
    num_sats, num_steps, _ = r_km.shape
    half = block_steps // 2
    centres = np.minimum(np.arange(half, num_steps + half, block_steps), num_steps - 1)
    radius = np.sqrt(r_km[..., 0] ** 2 + r_km[..., 1] ** 2 + r_km[..., 2] ** 2)  # [S, T]
    station_radius = np.linalg.norm(frames.ecef_km, axis=-1)
    geocentric = frames.ecef_km / station_radius[:, None]  # [G, 3] unit vectors
    cone = _cone_cos(r_km, radius, frames, station_radius, geocentric, sin_min, half)  # [S]
    # Block-major [B, S, ...] so that nonzero() yields (block, sat, station) order directly.
    unit = (r_km[:, centres] / radius[:, centres, None]).transpose(1, 0, 2).astype(np.float32)
    cos_angle = unit @ geocentric.T.astype(np.float32)  # [B, S, G]
    with np.errstate(invalid="ignore"):
        near = cos_angle >= cone[None, :, None]
    del cos_angle
    # A block with a NaN state is expanded for every station (the exact test drops NaNs).
    broken = ~np.isfinite(radius)
    if np.any(broken):
        padded = np.pad(broken, ((0, 0), (0, centres.size * block_steps - num_steps)))
        near |= padded.reshape(num_sats, centres.size, block_steps).any(-1).T[:, :, None]
    # flatnonzero and two divisions cost half of a three-axis nonzero.
    flat = np.flatnonzero(near)
    block, rest = np.divmod(flat, num_sats * near.shape[2])
    sat, station = np.divmod(rest, near.shape[2])
    return block, sat, station


def _cone_cos(
    r_km: np.ndarray,
    radius: np.ndarray,
    frames: StationFrames,
    station_radius: np.ndarray,
    geocentric: np.ndarray,
    sin_min: float,
    half: int,
) -> np.ndarray:
    """Cosine of each satellite's screening cone half-angle, float64 ``[S]``.

    ``radius`` ``[S, T]`` holds the satellites' radii, ``station_radius`` ``[G]`` and
    ``geocentric`` ``[G, 3]`` the stations' radii and radial unit vectors.
    """
    tilt = float(np.max(np.arccos(np.clip(np.sum(geocentric * frames.up, -1), -1.0, 1.0))))
    elevation = math.asin(max(min(sin_min, 1.0), -1.0)) - tilt
    highest = np.fmax.reduce(radius, axis=1)  # NaN only for an all-NaN satellite
    with np.errstate(invalid="ignore"):
        ratio = station_radius.min() * math.cos(elevation) / highest
        central = np.arccos(np.clip(ratio, -1.0, 1.0)) - elevation
    step_angle = np.zeros(r_km.shape[0])
    if r_km.shape[1] > 1 and half > 0:
        dot = np.einsum("stk,stk->st", r_km[:, 1:], r_km[:, :-1])
        cos_step = dot / (radius[:, 1:] * radius[:, :-1])
        lowest = np.fmin.reduce(cos_step, axis=1)
        step_angle = np.arccos(np.clip(lowest, -1.0, 1.0))
    angle = central + half * step_angle + SCREEN_SLACK_RAD
    # All-NaN satellites get NaN here and are handled as broken blocks by the caller.
    return np.where(angle >= math.pi, -2.0, np.cos(np.minimum(angle, math.pi)))
