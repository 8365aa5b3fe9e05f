"""Walker constellations: circular orbits with J2 secular drift, on numpy or torch.

A Walker pattern ``i: T/P/F`` puts ``T`` satellites in ``P`` equally spaced planes of
``T/P`` equally spaced satellites; satellites in adjacent planes are offset in argument of
latitude by ``F * 360 / T`` degrees (Walker, J. Br. Interplanet. Soc. 37, 559-572, 1984).
"Delta" patterns spread the planes' ascending nodes over 360 degrees, "star" patterns over
180 degrees (polar constellations such as Iridium and OneWeb).

J2 (Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed., ch. 9) makes the
node regress and the argument of latitude advance at constant secular rates for a circular
orbit of semi-major axis ``a`` and inclination ``i``::

    dRAAN/dt = -3/2 n J2 (R/a)^2 cos i
    du/dt    =  n [1 + 3/2 J2 (R/a)^2 (4 cos^2 i - 1)]     (dω/dt + dM/dt, e = 0)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from spikesat.orbits.constellation import Constellation, check_times
from spikesat.orbits.frames import gmst_rad
from spikesat.orbits.timegrid import TimeGrid, parse_utc
from spikesat.units import EARTH_J2, EARTH_MU_KM3_S2, EARTH_RADIUS_KM

DEFAULT_WALKER_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
"""Epoch of a Walker shell built with ``epoch=None``: plane 0's node is at RAAN 0 then."""

TWO_PI = 2.0 * math.pi


def j2_secular_rates_rad_s(
    altitude_km: float, inclination_deg: float, j2: bool = True
) -> tuple[float, float]:
    """Secular rates of RAAN and argument of latitude of a circular orbit.

    Parameters
    ----------
    altitude_km : float
        Height of the circular orbit above the equatorial radius [km].
    inclination_deg : float
        Inclination [deg].
    j2 : bool
        Include the J2 terms; ``False`` gives the Keplerian rates (0 and ``n``).

    Returns
    -------
    raan_dot_rad_s, u_dot_rad_s : float
        [rad/s] each.
    """
    a = EARTH_RADIUS_KM + altitude_km
    n = math.sqrt(EARTH_MU_KM3_S2 / a**3)
    if not j2:
        return 0.0, n
    k = EARTH_J2 * (EARTH_RADIUS_KM / a) ** 2
    cos_i = math.cos(math.radians(inclination_deg))
    return -1.5 * n * k * cos_i, n * (1.0 + 1.5 * k * (4.0 * cos_i**2 - 1.0))


def sun_synchronous_inclination_deg(altitude_km: float) -> float:
    """Inclination that makes a circular orbit's node drift 360 deg per tropical year [deg].

    Raises
    ------
    ValueError
        If no sun-synchronous circular orbit exists at that height (above ~5,970 km).
    """
    a = EARTH_RADIUS_KM + altitude_km
    n = math.sqrt(EARTH_MU_KM3_S2 / a**3)
    target = TWO_PI / (365.2421897 * 86400.0)
    cos_i = -target / (1.5 * n * EARTH_J2 * (EARTH_RADIUS_KM / a) ** 2)
    if cos_i < -1.0:
        raise ValueError(
            f"no sun-synchronous circular orbit at altitude_km={altitude_km}; choose a lower one"
        )
    return math.degrees(math.acos(cos_i))


def circular_states(
    a_km: float,
    u: Any,
    node: Any,
    cos_i: float,
    sin_i: float,
    u_dot: float,
    node_dot: float,
    xp: Any,
) -> tuple[Any, Any]:
    """Position and velocity on a circular orbit, for numpy or torch arrays.

    With ``node`` the RAAN this gives inertial states; with ``node`` = RAAN - sidereal angle
    (and ``node_dot`` = RAAN rate - Earth rotation rate) it gives Earth-fixed states directly.

    Parameters
    ----------
    a_km : float
        Orbit radius [km].
    u, node : array
        ``[...]`` argument of latitude and node longitude [rad] (broadcastable).
    cos_i, sin_i : float
        Cosine and sine of the inclination.
    u_dot, node_dot : float or array
        Rates [rad/s] (broadcastable).
    xp : module
        ``numpy`` or ``torch``.

    Returns
    -------
    r_km, v_km_s : array
        ``[..., 3]`` each.
    """
    cu, su = xp.cos(u), xp.sin(u)
    cn, sn = xp.cos(node), xp.sin(node)
    x = a_km * (cu * cn - su * cos_i * sn)
    y = a_km * (cu * sn + su * cos_i * cn)
    z = a_km * su * sin_i
    vx = u_dot * a_km * (-su * cn - cu * cos_i * sn) - node_dot * y
    vy = u_dot * a_km * (-su * sn + cu * cos_i * cn) + node_dot * x
    vz = u_dot * a_km * cu * sin_i
    x, y, z, vx, vy, vz = (_broadcast(t, x, xp) for t in (x, y, z, vx, vy, vz))
    return xp.stack((x, y, z), -1), xp.stack((vx, vy, vz), -1)


def _broadcast(t: Any, like: Any, xp: Any) -> Any:
    if xp is np:
        return np.broadcast_to(t, np.broadcast_shapes(np.shape(t), np.shape(like)))
    return t.expand(like.shape) if t.shape != like.shape else t


class WalkerConstellation(Constellation):
    """A Walker shell of circular orbits with J2 secular drift.

    Build one with :func:`walker_delta`, :func:`walker_star` or :func:`preset`.

    Attributes
    ----------
    num_sats, num_planes, phasing : int
        Walker ``T/P/F``.
    sats_per_plane : int
        ``T / P``.
    altitude_km, inclination_deg, raan_spread_deg : float
        Shell height above the equatorial radius [km], inclination [deg] and the arc over
        which the planes' nodes are spread (360 delta, 180 star) [deg].
    epoch : datetime
        UTC instant at which plane 0's node is at ``raan0_deg`` and satellite 0 at the node.
    raan_rad, u0_rad : np.ndarray
        float64 ``[S]`` node longitude and argument of latitude of each satellite at ``epoch``.
    planes : np.ndarray
        int32 ``[S]`` plane of each satellite; ``slots`` gives its index within the plane.
    source : str
        Citation for a preset shell ("" for a user-built one).
    """

    def __init__(
        self,
        num_sats: int,
        num_planes: int,
        phasing: int,
        altitude_km: float,
        inclination_deg: float,
        epoch: datetime | str | None = None,
        raan_spread_deg: float = 360.0,
        raan0_deg: float = 0.0,
        j2: bool = True,
        name: str = "walker",
        source: str = "",
    ) -> None:
        _check_walker(num_sats, num_planes, phasing, altitude_km, inclination_deg, raan_spread_deg)
        self.num_planes = int(num_planes)
        self.phasing = int(phasing)
        self.sats_per_plane = int(num_sats) // self.num_planes
        self.altitude_km = float(altitude_km)
        self.inclination_deg = float(inclination_deg)
        self.raan_spread_deg = float(raan_spread_deg)
        self.raan0_deg = float(raan0_deg)
        self.j2 = bool(j2)
        self.name = str(name)
        self.source = str(source)
        self.epoch = DEFAULT_WALKER_EPOCH if epoch is None else parse_utc(epoch, "epoch")
        plane = np.repeat(np.arange(self.num_planes), self.sats_per_plane)
        slot = np.tile(np.arange(self.sats_per_plane), self.num_planes)
        self.planes = plane.astype(np.int32)
        self.slots = slot.astype(np.int32)
        self.raan_rad = np.radians(self.raan0_deg + plane * self.raan_spread_deg / self.num_planes)
        self.u0_rad = np.radians(
            slot * 360.0 / self.sats_per_plane + plane * self.phasing * 360.0 / num_sats
        )
        self.sat_names = [f"{self.name}-{p}-{s}" for p, s in zip(plane, slot, strict=True)]
        self.raan_dot_rad_s, self.u_dot_rad_s = j2_secular_rates_rad_s(
            self.altitude_km, self.inclination_deg, self.j2
        )

    @property
    def semi_major_axis_km(self) -> float:
        """Orbit radius [km]."""
        return EARTH_RADIUS_KM + self.altitude_km

    @property
    def period_s(self) -> float:
        """Nodal period ``2 pi / (du/dt)`` [s] (the Keplerian period when ``j2=False``)."""
        return TWO_PI / self.u_dot_rad_s

    @property
    def is_star(self) -> bool:
        """True when the nodes span less than 360 deg (no cross-plane seam links)."""
        return self.raan_spread_deg < 360.0 - 1e-9

    def describe(self) -> dict[str, Any]:
        """JSON-ready parameters of the shell."""
        return {
            "kind": "walker",
            "name": self.name,
            "num_sats": self.num_sats,
            "num_planes": self.num_planes,
            "phasing": self.phasing,
            "altitude_km": self.altitude_km,
            "inclination_deg": self.inclination_deg,
            "raan_spread_deg": self.raan_spread_deg,
            "raan0_deg": self.raan0_deg,
            "j2": self.j2,
            "epoch": self.epoch.isoformat(),
            "source": self.source,
        }

    def __repr__(self) -> str:
        pattern = "star" if self.is_star else "delta"
        return (
            f"WalkerConstellation({self.name!r}, {self.inclination_deg:g} deg: "
            f"{self.num_sats}/{self.num_planes}/{self.phasing} {pattern}, "
            f"{self.altitude_km:g} km)"
        )

    def _angles(
        self, times: TimeGrid, offsets_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Drift of u and RAAN since epoch (mod 2 pi) and the time since epoch [s]."""
        dt = (times.start - self.epoch).total_seconds() + np.asarray(offsets_s, dtype=np.float64)
        du = np.mod(self.u_dot_rad_s * dt, TWO_PI)
        dnode = np.mod(self.raan_dot_rad_s * dt, TWO_PI)
        return du, dnode, dt

    def _select(self, sat_index: np.ndarray | None) -> np.ndarray:
        if sat_index is None:
            return np.arange(self.num_sats)
        return np.asarray(sat_index, dtype=np.int64)

    def propagate_teme(
        self, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, None]:
        """Inertial states ``[S', T, 3]`` (the shell's mean-of-date frame); no error codes."""
        idx = self._select(sat_index)
        du, dnode, _ = self._angles(times, times.offsets_s)
        u = self.u0_rad[idx, None] + du[None, :]
        node = self.raan_rad[idx, None] + dnode[None, :]
        r, v = self._states(u, node, self.raan_dot_rad_s, np)
        return r, v, None

    def propagate_ecef(
        self, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, None]:
        """Earth-fixed states ``[S', T, 3]`` in one pass (node longitude = RAAN - GMST)."""
        idx = self._select(sat_index)
        du, dnode, _ = self._angles(times, times.offsets_s)
        theta, theta_dot = gmst_rad(times.julian_dates())
        u = self.u0_rad[idx, None] + du[None, :]
        node = self.raan_rad[idx, None] + (dnode - theta)[None, :]
        r, v = self._states(u, node, self.raan_dot_rad_s - theta_dot[None, :], np)
        return r, v, None

    def pair_states_teme(
        self, times: TimeGrid, sat_index: np.ndarray, offsets_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inertial states of ``sat_index[k]`` at ``offsets_s[k]``, each ``[E, 3]``."""
        idx = np.asarray(sat_index, dtype=np.int64)
        du, dnode, _ = self._angles(times, offsets_s)
        return self._states(
            self.u0_rad[idx] + du, self.raan_rad[idx] + dnode, self.raan_dot_rad_s, np
        )

    def states_ecef_torch(
        self,
        times: TimeGrid,
        device: Any = None,
        dtype: Any = None,
    ) -> tuple[Any, Any]:
        """Earth-fixed states on a torch device (a GPU when one is present).

        Angles are reduced modulo 2 pi in float64 before the trigonometry, so ``float32``
        keeps metre-level accuracy over long spans.

        Parameters
        ----------
        times : TimeGrid
            ``T`` instants.
        device : str or torch.device, optional
            Default: ``"cuda"`` when available, else ``"cpu"``.
        dtype : torch.dtype, optional
            ``torch.float64`` (default) or ``torch.float32``.

        Returns
        -------
        r_km, v_km_s : torch.Tensor
            ``[num_sats, T, 3]`` each, on ``device``.
        """
        import torch

        check_times(times)
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.float64 if dtype is None else dtype
        if dtype not in (torch.float64, torch.float32):
            raise ValueError(f"dtype={dtype} is not supported; use torch.float64 or torch.float32")
        du, dnode, _ = self._angles(times, times.offsets_s)
        theta, theta_dot = gmst_rad(times.julian_dates())

        def f64(a: np.ndarray) -> Any:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64, device=device)

        u = torch.remainder(f64(self.u0_rad)[:, None] + f64(du)[None, :], TWO_PI)
        node = torch.remainder(f64(self.raan_rad)[:, None] + f64(dnode - theta)[None, :], TWO_PI)
        node_dot = (self.raan_dot_rad_s - f64(theta_dot)[None, :]).to(dtype)
        return self._states(u.to(dtype), node.to(dtype), node_dot, torch)

    def _states(self, u: Any, node: Any, node_dot: Any, xp: Any) -> tuple[Any, Any]:
        inc = math.radians(self.inclination_deg)
        return circular_states(
            self.semi_major_axis_km,
            u,
            node,
            math.cos(inc),
            math.sin(inc),
            self.u_dot_rad_s,
            node_dot,
            xp,
        )


def _check_walker(
    num_sats: object,
    num_planes: object,
    phasing: object,
    altitude_km: object,
    inclination_deg: object,
    raan_spread_deg: object,
) -> None:
    for name, value in (("num_sats", num_sats), ("num_planes", num_planes), ("phasing", phasing)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    for name, value in (
        ("altitude_km", altitude_km),
        ("inclination_deg", inclination_deg),
        ("raan_spread_deg", raan_spread_deg),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"{name} must be a number, got {type(value).__name__} ({value!r})")
        if not math.isfinite(float(value)):
            raise ValueError(f"{name}={value!r} must be finite")
    if num_planes <= 0 or num_sats <= 0:
        raise ValueError(
            f"num_sats={num_sats} and num_planes={num_planes} must both be positive integers"
        )
    if num_sats % num_planes:
        lower = (num_sats // num_planes) * num_planes
        raise ValueError(
            f"num_sats={num_sats} is not divisible by num_planes={num_planes}: a Walker shell "
            "needs the same number of satellites in every plane; use "
            f"num_sats={lower or num_planes} or {lower + num_planes}, or another num_planes"
        )
    if not 0 <= phasing < num_planes:
        raise ValueError(
            f"phasing={phasing} must be an integer in [0, num_planes-1] = [0, {num_planes - 1}]"
        )
    if altitude_km <= 0:
        raise ValueError(
            f"altitude_km={altitude_km} must be > 0 km above the Earth's equatorial radius "
            "(e.g. 550 for Starlink shell 1)"
        )
    if not 0.0 <= inclination_deg <= 180.0:
        raise ValueError(f"inclination_deg={inclination_deg} must be in [0, 180] degrees")
    if not 0.0 < raan_spread_deg <= 360.0:
        raise ValueError(
            f"raan_spread_deg={raan_spread_deg} must be in (0, 360]: 360 for a delta pattern, "
            "180 for a star pattern"
        )


def walker_delta(
    num_sats: int,
    num_planes: int,
    phasing: int,
    altitude_km: float,
    inclination_deg: float,
    epoch: datetime | str | None = None,
    *,
    raan0_deg: float = 0.0,
    j2: bool = True,
    name: str = "walker",
    source: str = "",
) -> WalkerConstellation:
    """A Walker-delta shell ``inclination_deg: num_sats/num_planes/phasing``.

    Parameters
    ----------
    num_sats : int
        Total satellites ``T``; must be divisible by ``num_planes``.
    num_planes : int
        Number of planes ``P``, nodes spread evenly over 360 deg.
    phasing : int
        Walker phasing factor ``F`` in ``[0, P-1]``: adjacent planes are offset by
        ``F * 360 / T`` deg in argument of latitude.
    altitude_km : float
        Circular-orbit height above the equatorial radius [km], > 0.
    inclination_deg : float
        Inclination [deg], in ``[0, 180]``.
    epoch : datetime or str, optional
        When plane 0's node is at ``raan0_deg`` (default 2025-01-01T00:00Z).
    raan0_deg : float
        Node longitude of plane 0 at the epoch [deg].
    j2 : bool
        Include J2 secular drift (default True).
    name : str
        Prefix of the satellite names ``"{name}-{plane}-{slot}"``.
    source : str
        Citation, for presets.

    Returns
    -------
    WalkerConstellation

    Examples
    --------
    >>> shell = walker_delta(50, 5, 1, altitude_km=550, inclination_deg=53)
    >>> shell.num_sats, shell.num_planes
    (50, 5)
    """
    return WalkerConstellation(
        num_sats,
        num_planes,
        phasing,
        altitude_km,
        inclination_deg,
        epoch,
        raan_spread_deg=360.0,
        raan0_deg=raan0_deg,
        j2=j2,
        name=name,
        source=source,
    )


def walker_star(
    num_sats: int,
    num_planes: int,
    phasing: int,
    altitude_km: float,
    inclination_deg: float,
    epoch: datetime | str | None = None,
    *,
    raan0_deg: float = 0.0,
    j2: bool = True,
    name: str = "walker",
    source: str = "",
) -> WalkerConstellation:
    """A Walker-star (polar) shell: nodes spread over 180 deg, as Iridium and OneWeb fly.

    Same parameters as :func:`walker_delta`. The first and last planes counter-rotate
    across the "seam", so plus-grid ISLs do not link them.
    """
    return WalkerConstellation(
        num_sats,
        num_planes,
        phasing,
        altitude_km,
        inclination_deg,
        epoch,
        raan_spread_deg=180.0,
        raan0_deg=raan0_deg,
        j2=j2,
        name=name,
        source=source,
    )
