"""Physical constants and unit helpers.

Every helper works on Python floats, numpy arrays and torch tensors alike. Constants carry
their unit in their name and cite their source.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

ArrayLike = TypeVar("ArrayLike")

SPEED_OF_LIGHT_M_S = 299_792_458.0
"""Speed of light in vacuum [m/s] (exact, SI definition)."""

BOLTZMANN_DBW_PER_K_HZ = 10.0 * math.log10(1.380649e-23)
"""Boltzmann's constant in dB(W/K/Hz), -228.6 (from k = 1.380649e-23 J/K, exact, SI 2019)."""

BOLTZMANN_J_PER_K = 1.380649e-23
"""Boltzmann's constant [J/K] (exact, SI 2019)."""

EARTH_RADIUS_KM = 6378.137
"""WGS-84 equatorial radius [km] (NIMA TR8350.2)."""

EARTH_FLATTENING = 1.0 / 298.257223563
"""WGS-84 flattening (NIMA TR8350.2)."""

EARTH_MU_KM3_S2 = 398_600.4418
"""Earth's gravitational parameter GM [km^3/s^2] (WGS-84, NIMA TR8350.2)."""

EARTH_J2 = 1.08262668e-3
"""Earth's second zonal harmonic J2 (EGM-96 / WGS-84, unnormalised)."""

EARTH_ROTATION_RAD_S = 7.292115e-5
"""Earth's rotation rate [rad/s] (WGS-84, NIMA TR8350.2)."""

SECONDS_PER_DAY = 86_400.0
"""Seconds in a day [s]."""


def db_to_lin(value_db: ArrayLike) -> ArrayLike:
    """Convert a power ratio from decibels to linear: ``10 ** (value_db / 10)``."""
    return 10.0 ** (value_db / 10.0)


def lin_to_db(value: ArrayLike) -> ArrayLike:
    """Convert a linear power ratio to decibels: ``10 log10(value)``.

    Works on floats, numpy arrays and torch tensors; zero gives ``-inf``.
    """
    if hasattr(value, "log10"):
        return 10.0 * value.log10()
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(value)


def dbm_to_w(value_dbm: ArrayLike) -> ArrayLike:
    """Convert power from dBm to watts."""
    return 10.0 ** ((value_dbm - 30.0) / 10.0)


def w_to_dbm(power_w: ArrayLike) -> ArrayLike:
    """Convert power from watts to dBm."""
    return lin_to_db(power_w) + 30.0


def dbw_to_w(value_dbw: ArrayLike) -> ArrayLike:
    """Convert power from dBW to watts."""
    return 10.0 ** (value_dbw / 10.0)


def w_to_dbw(power_w: ArrayLike) -> ArrayLike:
    """Convert power from watts to dBW."""
    return lin_to_db(power_w)


def km_to_m(distance_km: ArrayLike) -> ArrayLike:
    """Convert kilometres to metres."""
    return distance_km * 1000.0


def m_to_km(distance_m: ArrayLike) -> ArrayLike:
    """Convert metres to kilometres."""
    return distance_m / 1000.0


def propagation_delay_s(distance_km: ArrayLike) -> ArrayLike:
    """Free-space propagation delay [s] over ``distance_km`` [km] at the speed of light."""
    return distance_km * 1000.0 / SPEED_OF_LIGHT_M_S
