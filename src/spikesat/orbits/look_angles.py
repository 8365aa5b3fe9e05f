"""Elevation, azimuth and range from ground stations to satellites, vectorised.

"Up" is the WGS-84 ellipsoid normal at the station (geodetic), as in Skyfield's ``altaz``;
no refraction. Station-to-satellite products are matrix products over the station axis, so a
chunk of ``[S, T]`` positions against ``G`` stations costs a few BLAS calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikesat.orbits.stations import GroundStation, stations_ecef_km


@dataclass(frozen=True)
class StationFrames:
    """Earth-fixed positions and local east/north/up unit vectors of ``G`` stations.

    Attributes
    ----------
    ecef_km, east, north, up : np.ndarray
        float64 ``[G, 3]`` each.
    """

    ecef_km: np.ndarray
    east: np.ndarray
    north: np.ndarray
    up: np.ndarray

    @classmethod
    def from_stations(cls, stations: list[GroundStation]) -> StationFrames:
        """Build the frames of ``stations``."""
        ecef = stations_ecef_km(stations)
        lat = np.radians([s.lat_deg for s in stations])
        lon = np.radians([s.lon_deg for s in stations])
        up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
        east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], -1)
        north = np.cross(up, east)
        return cls(ecef_km=ecef, east=east, north=north, up=up)

    @property
    def rotation(self) -> np.ndarray:
        """Earth-fixed to east/north/up rotations, float64 ``[G, 3, 3]`` (rows e, n, u)."""
        return np.stack([self.east, self.north, self.up], axis=1)

    def to_enu(self, d_km: np.ndarray, station: np.ndarray) -> np.ndarray:
        """East, north and up components ``[E, 3]`` of vectors ``d_km`` ``[E, 3]`` at ``station``.

        One gather of the stations' ``[3, 3]`` rotations and one contraction (cheaper than
        three gathered dot products).
        """
        return np.einsum("nk,njk->nj", d_km, self.rotation[station])


@dataclass(frozen=True)
class LookAngles:
    """Topocentric look angles, each float64 ``[S, G, T]``.

    Attributes
    ----------
    elevation_deg : np.ndarray
        Elevation above the local horizon [deg].
    azimuth_deg : np.ndarray
        Azimuth from north through east [deg] in ``[0, 360)``.
    range_km : np.ndarray
        Slant range [km].
    """

    elevation_deg: np.ndarray
    azimuth_deg: np.ndarray
    range_km: np.ndarray


def look_angles(sat_ecef_km: np.ndarray, stations: list[GroundStation]) -> LookAngles:
    """Elevation, azimuth and range of every satellite from every station.

    The output is dense ``[S, G, T]``: for whole shells over long grids use
    :func:`~spikesat.orbits.contact_plan`, which works in chunks and keeps only links in view.

    Parameters
    ----------
    sat_ecef_km : np.ndarray
        float64 ``[S, T, 3]`` Earth-fixed satellite positions [km].
    stations : list[GroundStation]
        ``G`` stations.

    Returns
    -------
    LookAngles
        Arrays ``[S, G, T]``.
    """
    r = np.asarray(sat_ecef_km, dtype=np.float64)
    if r.ndim != 3 or r.shape[-1] != 3:
        raise ValueError(
            f"sat_ecef_km must have shape [S, T, 3], got {r.shape}; use "
            "constellation.positions_ecef_km(times)"
        )
    frames = StationFrames.from_stations(stations)
    d = r[:, None, :, :] - frames.ecef_km[None, :, None, :]
    rng = np.linalg.norm(d, axis=-1)
    up = np.einsum("sgtk,gk->sgt", d, frames.up)
    east = np.einsum("sgtk,gk->sgt", d, frames.east)
    north = np.einsum("sgtk,gk->sgt", d, frames.north)
    elevation = np.degrees(np.arcsin(np.clip(up / rng, -1.0, 1.0)))
    azimuth = azimuth_deg(east, north)
    return LookAngles(elevation_deg=elevation, azimuth_deg=azimuth, range_km=rng)


def pair_look(
    r_km: np.ndarray, v_km_s: np.ndarray, station: np.ndarray, frames: StationFrames
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Look angles and range rate for matched (satellite state, station) pairs.

    Parameters
    ----------
    r_km, v_km_s : np.ndarray
        float64 ``[E, 3]`` Earth-fixed satellite position [km] and velocity [km/s].
    station : np.ndarray
        int ``[E]`` station index of each pair.
    frames : StationFrames
        The stations.

    Returns
    -------
    elevation_deg, azimuth_deg, range_km, range_rate_km_s : np.ndarray
        float64 ``[E]`` each; the range rate is positive when the satellite recedes.
    """
    d = r_km - frames.ecef_km[station]
    return look_from_enu(frames.to_enu(d, station), d, v_km_s)


def look_from_enu(
    enu_km: np.ndarray,
    d_km: np.ndarray,
    v_km_s: np.ndarray,
    range_km: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pair_look` from station-to-satellite vectors ``d_km`` ``[E, 3]`` [km] and their
    east/north/up components ``enu_km`` ``[E, 3]`` (:meth:`StationFrames.to_enu`); pass
    ``range_km`` ``[E]`` (``|d_km|``) if it is already known."""
    rng = np.sqrt(np.einsum("ek,ek->e", d_km, d_km)) if range_km is None else range_km
    elevation = np.degrees(np.arcsin(np.clip(enu_km[:, 2] / rng, -1.0, 1.0)))
    azimuth = azimuth_deg(enu_km[:, 0], enu_km[:, 1])
    range_rate = np.einsum("ek,ek->e", d_km, v_km_s) / rng
    return elevation, azimuth, rng, range_rate


def azimuth_deg(east_km: np.ndarray, north_km: np.ndarray) -> np.ndarray:
    """Azimuth from north through east [deg] in ``[0, 360)`` of east/north components.

    ``180 - atan2(e, -n)`` needs no modulo; ``+ 0.0`` turns ``-0.0`` into ``+0.0``.
    """
    return 180.0 - np.degrees(np.arctan2(east_km + 0.0, -north_km))
