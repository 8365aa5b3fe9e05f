"""The Sun from JPL's DE421 (shipped offline by skyfield-data) and conical Earth shadow."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from spikesat.orbits.timegrid import TimeGrid
from spikesat.units import EARTH_RADIUS_KM

SUN_RADIUS_KM = 695_700.0
"""Nominal solar radius [km] (IAU 2015 Resolution B3)."""


def _ephemeris() -> Any:
    """JPL DE421 from skyfield-data's folder, offline (a Skyfield ``SpiceKernel``)."""
    from skyfield.api import Loader

    with warnings.catch_warnings():
        # skyfield-data warns at import that its bundled finals2000A.all (Earth orientation)
        # has expired; spikesat reads only de421.bsp from it, which does not expire.
        warnings.simplefilter("ignore", RuntimeWarning)
        import skyfield_data

        folder = skyfield_data.get_skyfield_data_path()
    return Loader(folder, verbose=False)("de421.bsp")


def sun_positions_ecef_km(times: TimeGrid, offsets_s: np.ndarray | None = None) -> np.ndarray:
    """Geometric Sun position relative to the Earth's centre in the Earth-fixed frame.

    Uses DE421 and Skyfield's ITRS frame (no polar motion), matching the satellites' frame.

    Parameters
    ----------
    times : TimeGrid
        Instants.
    offsets_s : np.ndarray, optional
        float64 ``[T']`` offsets to use instead of the grid's own.

    Returns
    -------
    np.ndarray
        float64 ``[T, 3]`` [km].
    """
    from skyfield.framelib import itrs

    eph = _ephemeris()
    t = times.skyfield_time(offsets_s)
    xyz = (eph["sun"] - eph["earth"]).at(t).frame_xyz(itrs).km
    return np.ascontiguousarray(np.asarray(xyz, dtype=np.float64).T.reshape(-1, 3))


def sunlit_fraction(r_sat_km: np.ndarray, r_sun_km: np.ndarray) -> np.ndarray:
    """Fraction of the solar disc visible from each satellite (conical shadow model).

    Montenbruck & Gill, *Satellite Orbits* (Springer 2000), sec. 3.4.2: with ``a`` the
    apparent radius of the Sun, ``b`` that of the Earth and ``c`` their apparent separation,
    the satellite is sunlit (1) when ``c >= a + b``, in umbra (0) when ``c <= b - a``, and
    otherwise sees ``1 - overlap / (pi a^2)`` of the disc (penumbra).

    Parameters
    ----------
    r_sat_km : np.ndarray
        ``[..., 3]`` satellite positions [km].
    r_sun_km : np.ndarray
        ``[..., 3]`` Sun positions in the same frame (broadcastable) [km].

    Returns
    -------
    np.ndarray
        float64 ``[...]`` in ``[0, 1]``.
    """
    to_sun = r_sun_km - r_sat_km
    d_sun = np.linalg.norm(to_sun, axis=-1)
    d_earth = np.linalg.norm(r_sat_km, axis=-1)
    a = np.arcsin(np.clip(SUN_RADIUS_KM / d_sun, -1.0, 1.0))
    b = np.arcsin(np.clip(EARTH_RADIUS_KM / d_earth, -1.0, 1.0))
    cos_c = -np.einsum("...k,...k->...", r_sat_km, to_sun) / (d_earth * d_sun)
    c = np.arccos(np.clip(cos_c, -1.0, 1.0))
    a, b, c = np.broadcast_arrays(a, b, c)
    fraction = np.ones(c.shape)
    partial = (c < a + b) & (c > np.abs(b - a))
    fraction[c <= b - a] = 0.0
    annular = c <= a - b
    fraction[annular] = 1.0 - (b[annular] / a[annular]) ** 2
    if np.any(partial):
        ap, bp, cp = a[partial], b[partial], c[partial]
        x = (cp * cp + ap * ap - bp * bp) / (2.0 * cp)
        y = np.sqrt(np.maximum(ap * ap - x * x, 0.0))
        overlap = (
            ap * ap * np.arccos(np.clip(x / ap, -1, 1))
            + bp * bp * np.arccos(np.clip((cp - x) / bp, -1, 1))
            - cp * y
        )
        fraction[partial] = 1.0 - overlap / (np.pi * ap * ap)
    return np.clip(fraction, 0.0, 1.0)
