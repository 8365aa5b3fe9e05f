"""Reference frames: TEME -> Earth-fixed (ITRS without polar motion) and WGS-84 geodetic.

The TEME -> ITRS rotation is the one Skyfield applies to SGP4 output: a rotation about the
z axis by the Greenwich mean sidereal angle of 1982 (AIAA 2006-6753, Appendix C) evaluated at
UT1, with the Earth-rotation term in the velocity. Polar motion (a few metres) is omitted,
as it is in Skyfield unless a polar-motion table is loaded.
"""

from __future__ import annotations

import numpy as np
from skyfield.sgp4lib import theta_GMST1982

from spikesat.orbits.timegrid import JulianDates
from spikesat.units import EARTH_FLATTENING, EARTH_RADIUS_KM, SECONDS_PER_DAY

EARTH_ECCENTRICITY_SQ = EARTH_FLATTENING * (2.0 - EARTH_FLATTENING)
"""First eccentricity squared of the WGS-84 ellipsoid."""


def gmst_rad(jd: JulianDates) -> tuple[np.ndarray, np.ndarray]:
    """Greenwich mean sidereal angle (IAU 1982) and its rate.

    Parameters
    ----------
    jd : JulianDates
        Instants, arrays of any shape ``[...]``.

    Returns
    -------
    theta_rad : np.ndarray
        ``[...]`` angle [rad] in ``[0, 2 pi)``.
    theta_dot_rad_s : np.ndarray
        ``[...]`` rate [rad/s].
    """
    theta, theta_dot_per_day = theta_GMST1982(jd.whole, jd.ut1_fraction)
    return np.asarray(theta, dtype=np.float64), np.asarray(theta_dot_per_day) / SECONDS_PER_DAY


def inertial_to_ecef(
    r_km: np.ndarray,
    v_km_s: np.ndarray,
    theta_rad: np.ndarray,
    theta_dot_rad_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate TEME (or any true-of-date inertial) states into the Earth-fixed frame.

    Parameters
    ----------
    r_km, v_km_s : np.ndarray
        ``[..., 3]`` position [km] and velocity [km/s] in TEME.
    theta_rad, theta_dot_rad_s : np.ndarray
        ``[...]`` (broadcastable to the leading dims) sidereal angle [rad] and rate [rad/s].

    Returns
    -------
    r_ecef_km, v_ecef_km_s : np.ndarray
        ``[..., 3]`` Earth-fixed position [km] and velocity [km/s] (relative to the
        rotating Earth: ``v_ecef = R v - omega x r_ecef``).
    """
    c = np.cos(theta_rad)
    s = np.sin(theta_rad)
    x, y, z = r_km[..., 0], r_km[..., 1], r_km[..., 2]
    vx, vy, vz = v_km_s[..., 0], v_km_s[..., 1], v_km_s[..., 2]
    xe = c * x + s * y
    ye = -s * x + c * y
    vxe = c * vx + s * vy + theta_dot_rad_s * ye
    vye = -s * vx + c * vy - theta_dot_rad_s * xe
    r_out = np.stack([xe, ye, np.broadcast_to(z, xe.shape)], axis=-1)
    v_out = np.stack([vxe, vye, np.broadcast_to(vz, vxe.shape)], axis=-1)
    return r_out, v_out


def geodetic_to_ecef_km(
    lat_deg: np.ndarray | float, lon_deg: np.ndarray | float, alt_km: np.ndarray | float
) -> np.ndarray:
    """WGS-84 geodetic coordinates to Earth-fixed Cartesian.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        ``[...]`` geodetic latitude and longitude [deg].
    alt_km : array_like
        ``[...]`` height above the ellipsoid [km].

    Returns
    -------
    np.ndarray
        ``[..., 3]`` position [km].
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    alt = np.asarray(alt_km, dtype=np.float64)
    sin_lat = np.sin(lat)
    n = EARTH_RADIUS_KM / np.sqrt(1.0 - EARTH_ECCENTRICITY_SQ * sin_lat**2)
    x = (n + alt) * np.cos(lat) * np.cos(lon)
    y = (n + alt) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - EARTH_ECCENTRICITY_SQ) + alt) * sin_lat
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(r_km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Earth-fixed Cartesian to WGS-84 geodetic latitude, longitude and height.

    Uses the fixed-point latitude iteration (five passes give sub-millimetre heights for LEO).

    Parameters
    ----------
    r_km : np.ndarray
        ``[..., 3]`` position [km].

    Returns
    -------
    lat_deg, lon_deg, alt_km : np.ndarray
        ``[...]`` each.
    """
    x, y, z = r_km[..., 0], r_km[..., 1], r_km[..., 2]
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, p * (1.0 - EARTH_ECCENTRICITY_SQ))
    for _ in range(5):
        sin_lat = np.sin(lat)
        n = EARTH_RADIUS_KM / np.sqrt(1.0 - EARTH_ECCENTRICITY_SQ * sin_lat**2)
        lat = np.arctan2(z + EARTH_ECCENTRICITY_SQ * n * sin_lat, p)
    sin_lat = np.sin(lat)
    cos_lat = np.cos(lat)
    n = EARTH_RADIUS_KM / np.sqrt(1.0 - EARTH_ECCENTRICITY_SQ * sin_lat**2)
    # Height that stays well conditioned at all latitudes.
    alt = p * cos_lat + z * sin_lat - n * (1.0 - EARTH_ECCENTRICITY_SQ * sin_lat**2)
    return np.degrees(lat), np.degrees(lon), alt
