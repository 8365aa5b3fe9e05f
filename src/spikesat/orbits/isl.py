"""Inter-satellite link (ISL) topologies: the "plus-grid" of Walker shells.

Each satellite links to its two neighbours in its own plane and the satellites in the same
slot of the two adjacent planes (a "+Grid", as in Hypatia: Kassing et al., "Exploring the
'Internet from space' with Hypatia", ACM IMC 2020). Across the seam of a delta shell the
last plane links to the first with the slot shifted by the phasing factor, which keeps the
same along-track offset; star shells (counter-rotating seam) have no seam links.

A link is active at a step when both ends are below the polar cut-off latitude (cross-plane
links only), its length is at most ``max_range_km`` and the straight line between the two
satellites clears the Earth plus ``atmosphere_height_km``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spikesat._registry import Registry
from spikesat.orbits.constellation import Constellation
from spikesat.units import EARTH_RADIUS_KM

ISL_TOPOLOGIES: Registry = Registry("ISL topology")


@dataclass(frozen=True)
class IslCandidates:
    """The fixed link set of a topology.

    Attributes
    ----------
    sat_a, sat_b : np.ndarray
        int32 ``[L]`` link ends, ``sat_a < sat_b``.
    cross_plane : np.ndarray
        bool ``[L]``, True for links between planes (subject to the polar cut-off).
    """

    sat_a: np.ndarray
    sat_b: np.ndarray
    cross_plane: np.ndarray

    def __len__(self) -> int:
        return int(self.sat_a.size)


@ISL_TOPOLOGIES.register("plus-grid")
@dataclass(frozen=True)
class PlusGrid:
    """Four-neighbour ("+Grid") ISL topology with range, polar and Earth-grazing limits.

    Parameters
    ----------
    max_range_km : float
        Longest usable link [km] (default 5,000 km, about the line-of-sight limit for two
        550 km satellites grazing 80 km above the surface).
    polar_cutoff_lat_deg : float
        Cross-plane links are off while either end is above this |geocentric latitude| [deg].
    atmosphere_height_km : float
        The link's straight line must pass at least this high above the equatorial radius
        [km] (default 80 km, as Hypatia).
    """

    max_range_km: float = 5000.0
    polar_cutoff_lat_deg: float = 75.0
    atmosphere_height_km: float = 80.0

    def __post_init__(self) -> None:
        if not self.max_range_km > 0:
            raise ValueError(f"max_range_km={self.max_range_km} must be > 0 km")
        if not 0.0 <= self.polar_cutoff_lat_deg <= 90.0:
            raise ValueError(
                f"polar_cutoff_lat_deg={self.polar_cutoff_lat_deg} must be in [0, 90] degrees"
            )
        if not self.atmosphere_height_km >= 0:
            raise ValueError(f"atmosphere_height_km={self.atmosphere_height_km} must be >= 0 km")

    def to_dict(self) -> dict:
        """JSON-ready parameters."""
        return {
            "name": "plus-grid",
            "max_range_km": self.max_range_km,
            "polar_cutoff_lat_deg": self.polar_cutoff_lat_deg,
            "atmosphere_height_km": self.atmosphere_height_km,
        }

    def candidates(self, constellation: Constellation) -> IslCandidates:
        """The plus-grid link set of a Walker shell.

        Raises
        ------
        ValueError
            If the constellation has no plane structure (a TLE set): pass ``isl=None``.
        """
        planes = constellation.planes
        slots = getattr(constellation, "slots", None)
        if planes is None or slots is None:
            raise ValueError(
                "the plus-grid ISL topology needs a Walker shell with planes, but "
                f"{constellation!r} has none (TLE sets carry no shell structure); pass isl=None"
            )
        num_planes = int(constellation.num_planes)
        per_plane = constellation.num_sats // num_planes
        phasing = int(getattr(constellation, "phasing", 0))
        star = bool(getattr(constellation, "is_star", False))

        def index(p: np.ndarray, k: np.ndarray) -> np.ndarray:
            return p * per_plane + k % per_plane

        pairs: list[tuple[np.ndarray, np.ndarray, bool]] = []
        p = np.repeat(np.arange(num_planes), per_plane)
        k = np.tile(np.arange(per_plane), num_planes)
        if per_plane >= 2:
            pairs.append((index(p, k), index(p, k + 1), False))
        if num_planes >= 2:
            inner = p < num_planes - 1
            pairs.append((index(p[inner], k[inner]), index(p[inner] + 1, k[inner]), True))
            if not star:
                last = p == num_planes - 1
                pairs.append((index(p[last], k[last]), index(p[last] * 0, k[last] + phasing), True))
        if not pairs:
            empty = np.zeros(0, dtype=np.int32)
            return IslCandidates(empty, empty, np.zeros(0, dtype=bool))
        a = np.concatenate([x for x, _, _ in pairs])
        b = np.concatenate([y for _, y, _ in pairs])
        cross = np.concatenate([np.full(x.size, c) for x, _, c in pairs])
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keep = lo != hi
        key = lo[keep].astype(np.int64) * constellation.num_sats + hi[keep]
        _, first = np.unique(key, return_index=True)
        lo, hi, cross = lo[keep][first], hi[keep][first], cross[keep][first]
        return IslCandidates(lo.astype(np.int32), hi.astype(np.int32), cross.astype(bool))

    def evaluate(
        self, candidates: IslCandidates, r_km: np.ndarray, v_km_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which links are usable, their lengths and range rates over a chunk of steps.

        Parameters
        ----------
        candidates : IslCandidates
            ``L`` links.
        r_km, v_km_s : np.ndarray
            float64 ``[S, T, 3]`` satellite positions [km] and velocities [km/s] (any common
            frame; Earth-fixed here).

        Returns
        -------
        active : np.ndarray
            bool ``[L, T]``.
        range_km, range_rate_km_s : np.ndarray
            float64 ``[L, T]`` (for every candidate, active or not).
        """
        r1, r2 = r_km[candidates.sat_a], r_km[candidates.sat_b]
        d = r2 - r1
        dd = np.einsum("ltk,ltk->lt", d, d)
        rng = np.sqrt(dd)
        rate = np.einsum("ltk,ltk->lt", d, v_km_s[candidates.sat_b] - v_km_s[candidates.sat_a])
        rate /= np.where(rng > 0, rng, 1.0)
        active = (rng <= self.max_range_km) & clears_earth(r1, d, dd, self.atmosphere_height_km)
        if self.polar_cutoff_lat_deg < 90.0 and np.any(candidates.cross_plane):
            sin_cut = math.sin(math.radians(self.polar_cutoff_lat_deg))
            norm = np.linalg.norm(r_km, axis=-1)
            polar = np.abs(r_km[..., 2]) > sin_cut * norm
            blocked = polar[candidates.sat_a] | polar[candidates.sat_b]
            active &= ~(blocked & candidates.cross_plane[:, None])
        return active, rng, rate


def clears_earth(
    r1_km: np.ndarray, d_km: np.ndarray, dd_km2: np.ndarray, atmosphere_height_km: float
) -> np.ndarray:
    """Whether the segment ``r1 -> r1 + d`` stays above the Earth plus an atmosphere.

    The Earth is a sphere of the WGS-84 equatorial radius (conservative at the poles).

    Parameters
    ----------
    r1_km, d_km : np.ndarray
        ``[..., 3]`` segment start and direction [km].
    dd_km2 : np.ndarray
        ``[...]`` squared length ``d . d``.
    atmosphere_height_km : float
        Clearance above the surface [km].

    Returns
    -------
    np.ndarray
        bool ``[...]``.
    """
    lam = -np.einsum("...k,...k->...", r1_km, d_km) / np.where(dd_km2 > 0, dd_km2, 1.0)
    lam = np.clip(lam, 0.0, 1.0)
    closest = r1_km + lam[..., None] * d_km
    return np.linalg.norm(closest, axis=-1) >= EARTH_RADIUS_KM + atmosphere_height_km


def isl_topology(spec: object) -> PlusGrid | None:
    """Resolve ``isl=`` of :func:`contact_plan`: a name, a topology instance or None."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return ISL_TOPOLOGIES.create(spec)
    if isinstance(spec, PlusGrid):
        return spec
    raise TypeError(
        f"isl must be None, a topology name {ISL_TOPOLOGIES.names()} or a PlusGrid(...), "
        f"got {type(spec).__name__}"
    )
