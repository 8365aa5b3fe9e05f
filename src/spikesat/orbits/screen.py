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
"""

from __future__ import annotations

import math

import numpy as np

from spikesat.orbits.look_angles import StationFrames, look_from_enu

SCREEN_BLOCK_STEPS = 7
"""Steps represented by one screened centre step (odd, so the centre is in the middle)."""

SCREEN_SLACK_RAD = 1e-4
"""Angle added to every cone [rad] to cover float32 rounding of the screened dot products."""


def ground_samples(
    r_km: np.ndarray,
    v_km_s: np.ndarray,
    frames: StationFrames,
    sin_min: float,
    block_steps: int = SCREEN_BLOCK_STEPS,
) -> tuple[np.ndarray, ...]:
    """Every (satellite, step, station) sample whose elevation sine is at least ``sin_min``.

    Parameters
    ----------
    r_km, v_km_s : np.ndarray
        float64 ``[S, T, 3]`` Earth-fixed positions [km] and velocities [km/s] (any memory
        layout); NaN states (SGP4 failures) never qualify.
    frames : StationFrames
        ``G`` stations.
    sin_min : float
        Sine of the lowest elevation to keep (geodetic, as in :func:`pair_look`).
    block_steps : int
        Steps per screened block (see the module docstring); 1 screens every step.

    Returns
    -------
    sat, step, station : np.ndarray
        int64 ``[N]`` each, sorted by step, then satellite, then station: exactly the samples
        with ``(r - g) . up >= sin_min * |r - g|``.
    elevation_deg, azimuth_deg, range_km, range_rate_km_s : np.ndarray
        float64 ``[N]`` each, as :func:`pair_look` returns them.
    """
    if isinstance(block_steps, bool) or not isinstance(block_steps, int) or block_steps < 1:
        raise ValueError(f"block_steps={block_steps!r} must be a positive int")
    num_steps = r_km.shape[1]
    block, sat, station = _candidates(r_km, frames, sin_min, block_steps)
    # Flat row index into whichever of [S, T] or [T, S] order the arrays are stored in.
    rows, sat_stride, step_stride = _rows(r_km)
    vel, vel_sat_stride, vel_step_stride = _rows(v_km_s)
    # Exact test, triple-major [K, B]: each triple's station data is gathered once.
    steps = np.minimum(block[:, None] * block_steps + np.arange(block_steps), num_steps - 1)
    d = rows[sat[:, None] * sat_stride + steps * step_stride] - frames.ecef_km[station][:, None]
    enu = d @ frames.rotation[station].transpose(0, 2, 1)  # [K, B, 3]
    with np.errstate(invalid="ignore"):
        keep = enu[..., 2] >= sin_min * np.sqrt(np.einsum("kbl,kbl->kb", d, d))
    order = _step_major(block, block_steps, num_steps)
    order = order[keep.ravel()[order]]
    triple, offset = np.divmod(order, block_steps)
    sat, station, step = sat[triple], station[triple], block[triple] * block_steps + offset
    d, enu = d.reshape(-1, 3)[order], enu.reshape(-1, 3)[order]
    v = vel[sat * vel_sat_stride + step * vel_step_stride]
    return (sat, step, station, *look_from_enu(enu, d, v))


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
    radius = np.sqrt(np.einsum("stk,stk->st", r_km, r_km))  # [S, T]
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
    return np.nonzero(near)


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


def _step_major(block: np.ndarray, block_steps: int, num_steps: int) -> np.ndarray:
    """Flat ``[K * B]`` indices of every triple's steps, in (step, sat, station) order.

    The triples arrive ordered by block, then satellite and station; listing every block's
    group once per step of the block keeps that order without a sort. Steps past the grid's
    end (a partial last block) are left out.
    """
    if block.size == 0:
        return np.zeros(0, dtype=np.int64)
    num_blocks = int(block[-1]) + 1
    group_start = np.searchsorted(block, np.arange(num_blocks + 1))
    group_size = np.diff(group_start)
    steps_in_block = np.minimum(block_steps, num_steps - np.arange(num_blocks) * block_steps)
    out_size = group_size * steps_in_block
    out_start = np.concatenate([[0], np.cumsum(out_size)])
    owner = np.repeat(np.arange(num_blocks), out_size)
    local = np.arange(out_start[-1]) - out_start[owner]
    size = group_size[owner]
    return (group_start[owner] + local % size) * block_steps + local // size
