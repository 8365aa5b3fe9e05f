"""Free-space path loss and Earth-space slant-range geometry."""

from __future__ import annotations

import numpy as np

from spikesat.channels._checks import check_distance_km, check_elevation_deg, check_positive
from spikesat.units import SPEED_OF_LIGHT_M_S

MEAN_EARTH_RADIUS_KM = 6371.0
"""Mean Earth radius [km] used by 3GPP TR 38.811 Section 6.6.2 for the slant range."""

FSPL_CONSTANT_DB = 20.0 * np.log10(4.0 * np.pi * 1e3 * 1e9 / SPEED_OF_LIGHT_M_S)
"""``20 log10(4 pi / c)`` with distance in km and frequency in GHz: 92.45 dB."""


def free_space_path_loss_db(distance_km: object, frequency_ghz: float) -> np.ndarray | float:
    """Free-space path loss ``20 log10(4 pi d f / c)`` [dB] (Friis; ITU-R P.525-4 eq. 1).

    Parameters
    ----------
    distance_km : float or array
        Link distance [km], > 0.
    frequency_ghz : float
        Carrier frequency [GHz], > 0 (free space has no upper validity limit).

    Returns
    -------
    float or ndarray
        Path loss [dB], same shape as ``distance_km``.

    Examples
    --------
    >>> round(float(free_space_path_loss_db(550.0, 2.0)), 1)
    153.3
    """
    distance = check_distance_km(distance_km)
    if (distance == 0.0).any():
        raise ValueError(
            "distance_km must be > 0 km: the free-space path loss is undefined at zero range"
        )
    frequency = check_positive(frequency_ghz, "frequency_ghz")
    loss = FSPL_CONSTANT_DB + 20.0 * np.log10(frequency) + 20.0 * np.log10(distance)
    return float(loss) if loss.ndim == 0 else loss


def slant_range_km(
    altitude_km: object,
    elevation_deg: object,
    earth_radius_km: float = MEAN_EARTH_RADIUS_KM,
) -> np.ndarray | float:
    """Distance from a ground terminal to a satellite at ``altitude_km`` seen at ``elevation_deg``.

    ``d = sqrt(R^2 sin^2(el) + h^2 + 2 R h) - R sin(el)`` (3GPP TR 38.811 eq. 6.6-3,
    spherical Earth of radius ``earth_radius_km``).

    Parameters
    ----------
    altitude_km : float or array
        Satellite altitude above the spherical Earth [km], >= 0.
    elevation_deg : float or array
        Elevation angle [deg] in [-90, 90].
    earth_radius_km : float
        Earth radius [km]; 6371 km as in TR 38.811.

    Returns
    -------
    float or ndarray
        Slant range [km].
    """
    altitude = check_distance_km(altitude_km, "altitude_km")
    elevation = np.radians(check_elevation_deg(elevation_deg))
    radius = check_positive(earth_radius_km, "earth_radius_km")
    sin_el = np.sin(elevation)
    distance = (
        np.sqrt(radius**2 * sin_el**2 + altitude**2 + 2.0 * radius * altitude) - radius * sin_el
    )
    return float(distance) if distance.ndim == 0 else distance
