"""The ``Constellation`` base class: one propagation contract for Walker shells and TLE sets."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesat.orbits.frames import ecef_to_geodetic, gmst_rad, inertial_to_ecef
from spikesat.orbits.timegrid import TimeGrid


@dataclass(frozen=True)
class Subpoints:
    """Sub-satellite points: geodetic latitude, longitude and height, each ``[S, T]``.

    Attributes
    ----------
    lat_deg, lon_deg : np.ndarray
        WGS-84 geodetic latitude and longitude [deg], longitude in ``(-180, 180]``.
    alt_km : np.ndarray
        Height above the WGS-84 ellipsoid [km].
    """

    lat_deg: np.ndarray
    lon_deg: np.ndarray
    alt_km: np.ndarray


class Constellation(ABC):
    """A set of satellites that can be propagated to Earth-fixed positions and velocities.

    Subclasses implement :meth:`propagate_teme` (inertial states in the TEME / true-of-date
    frame); this class rotates them into the Earth-fixed frame (ITRS without polar motion)
    the way Skyfield does.

    Attributes
    ----------
    sat_names : list[str]
        One name per satellite, in index order.
    planes : np.ndarray or None
        int32 ``[S]`` orbital plane of each satellite (Walker shells), or None (TLE sets).
    num_planes : int or None
        Number of planes, or None when ``planes`` is None.
    default_anchor_step_s : float or None
        Exact-propagation spacing for contact plans (see :func:`contact_plan`).
    """

    sat_names: list[str]
    planes: np.ndarray | None
    num_planes: int | None
    default_anchor_step_s: float | None = None
    """Anchor spacing [s] contact plans use with ``anchor_step_s="auto"`` (None: exact)."""

    @property
    def num_sats(self) -> int:
        """Number of satellites ``S``."""
        return len(self.sat_names)

    def __len__(self) -> int:
        return self.num_sats

    @abstractmethod
    def propagate_teme(
        self, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Inertial (TEME) states without checks, for chunked builders.

        Parameters
        ----------
        times : TimeGrid
            ``T`` instants.
        sat_index : np.ndarray, optional
            int ``[S']`` satellites to propagate (default: all).

        Returns
        -------
        r_km, v_km_s : np.ndarray
            float64 ``[S', T, 3]`` each.
        error_codes : np.ndarray or None
            ``[S', T]`` sgp4 error codes (0 = fine), or None for analytic propagators.
        """

    @abstractmethod
    def pair_states_teme(
        self, times: TimeGrid, sat_index: np.ndarray, offsets_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """TEME states of satellite ``sat_index[k]`` at ``offsets_s[k]``, each ``[E, 3]``.

        Parameters
        ----------
        times : TimeGrid
            Supplies the reference instant ``times.start``.
        sat_index : np.ndarray
            int ``[E]`` satellite of each element.
        offsets_s : np.ndarray
            float64 ``[E]`` seconds from ``times.start``.
        """

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (kind, parameters, source) for plans and reports."""

    def check_epochs(self, times: TimeGrid) -> None:  # noqa: B027 (optional hook)
        """Warn when ``times`` are outside the model's validity (TLE epochs); no-op here."""

    def failures(
        self, codes: np.ndarray, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> list:
        """Per-satellite summaries of propagation error codes (none for analytic models)."""
        return []

    def report_failures(self, failures: list) -> None:  # noqa: B027 (optional hook)
        """Warn about or raise for propagation failures; no-op for analytic models."""

    def propagate_ecef(
        self, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Earth-fixed states ``[S', T, 3]`` (km, km/s) and error codes, without checks."""
        r, v, codes = self.propagate_teme(times, sat_index)
        theta, theta_dot = gmst_rad(times.julian_dates())
        r, v = inertial_to_ecef(r, v, theta[None, :], theta_dot[None, :])
        return r, v, codes

    def states_teme(
        self, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checked inertial TEME states, float64 ``[S', T, 3]`` each (km, km/s)."""
        check_times(times)
        self.check_epochs(times)
        r, v, codes = self.propagate_teme(times, sat_index)
        if codes is not None:
            self.report_failures(self.failures(codes, times, sat_index))
        return r, v

    def states_ecef(
        self, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checked Earth-fixed positions [km] and velocities [km/s], float64 ``[S', T, 3]``.

        Stale TLE epochs warn; SGP4 error codes are reported per satellite.
        """
        check_times(times)
        self.check_epochs(times)
        r, v, codes = self.propagate_ecef(times, sat_index)
        if codes is not None:
            self.report_failures(self.failures(codes, times, sat_index))
        return r, v

    def pair_states_ecef(
        self, times: TimeGrid, sat_index: np.ndarray, offsets_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Earth-fixed states of satellite ``sat_index[k]`` at ``offsets_s[k]``, ``[E, 3]``."""
        offsets = np.asarray(offsets_s, dtype=np.float64)
        r, v = self.pair_states_teme(times, np.asarray(sat_index), offsets)
        theta, theta_dot = gmst_rad(times.julian_dates(offsets))
        return inertial_to_ecef(r, v, theta, theta_dot)

    def positions_ecef_km(self, times: TimeGrid) -> np.ndarray:
        """Earth-fixed (ITRS, no polar motion) positions.

        Parameters
        ----------
        times : TimeGrid
            ``T`` instants (see :func:`time_grid`).

        Returns
        -------
        np.ndarray
            float64 ``[num_sats, T, 3]`` [km].
        """
        return self.states_ecef(times)[0]

    def velocities_ecef_km_s(self, times: TimeGrid) -> np.ndarray:
        """Earth-fixed velocities, float64 ``[num_sats, T, 3]`` [km/s] (relative to the ground)."""
        return self.states_ecef(times)[1]

    def positions_teme_km(self, times: TimeGrid) -> np.ndarray:
        """Inertial TEME positions, float64 ``[num_sats, T, 3]`` [km]."""
        return self.states_teme(times)[0]

    def subpoints(self, times: TimeGrid) -> Subpoints:
        """Sub-satellite points (geodetic lat/lon and height), each ``[num_sats, T]``."""
        lat, lon, alt = ecef_to_geodetic(self.positions_ecef_km(times))
        return Subpoints(lat_deg=lat, lon_deg=lon, alt_km=alt)

    def index_of(self, name: str) -> int:
        """The index of the satellite called ``name`` (exact match).

        Raises
        ------
        ValueError
            If no satellite has that name; the message suggests close names.
        """
        try:
            return self.sat_names.index(name)
        except ValueError:
            import difflib

            close = difflib.get_close_matches(name, self.sat_names, n=3)
            raise ValueError(
                f"no satellite named {name!r} in this constellation of {self.num_sats}"
                + (f"; close names: {close}" if close else "")
            ) from None


def check_times(times: object) -> None:
    if not isinstance(times, TimeGrid):
        raise TypeError(
            f"times must be a TimeGrid, got {type(times).__name__}; build one with "
            "spikesat.orbits.time_grid(start, duration_s, step_s)"
        )
