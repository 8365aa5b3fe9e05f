"""Named constellation shells, each with its source: ``preset(name)`` and ``list_presets()``.

Every preset records ``source`` (the filing or publication of the numbers) and ``status``
("published" where the numbers are the operator's, "modelled" where spikesat chose a value the
filings leave open, such as the Walker phasing factor). The real shells were also checked
against the shared CelesTrak catalogue of 2025-10-03 (inclination, mean-motion height and node
clustering of the OneWeb, Iridium, Kuiper and Sentinel-2 objects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from spikesat._registry import Registry
from spikesat.orbits.timegrid import parse_utc
from spikesat.orbits.walker import (
    DEFAULT_WALKER_EPOCH,
    WalkerConstellation,
    sun_synchronous_inclination_deg,
    walker_delta,
    walker_star,
)

PRESETS: Registry[WalkerConstellation] = Registry("constellation preset")


@dataclass(frozen=True)
class PresetInfo:
    """A row of :func:`list_presets`: the shell's parameters and where they come from."""

    name: str
    num_sats: int
    num_planes: int
    phasing: int
    altitude_km: float
    inclination_deg: float
    pattern: str
    source: str


def preset(name: str, epoch: datetime | str | None = None) -> WalkerConstellation:
    """Build a named constellation shell.

    Parameters
    ----------
    name : str
        One of :func:`list_presets` (e.g. ``"starlink-shell1"``, ``"research-5x10"``).
    epoch : datetime or str, optional
        Reference epoch of the Walker pattern (default 2025-01-01T00:00Z).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the presets and the closest match.
    """
    return PRESETS.create(name, epoch=epoch)


def list_presets() -> list[PresetInfo]:
    """All presets with their parameters and sources, sorted by name."""
    rows = []
    for name in PRESETS.names():
        shell = PRESETS.create(name)
        rows.append(
            PresetInfo(
                name=name,
                num_sats=shell.num_sats,
                num_planes=shell.num_planes,
                phasing=shell.phasing,
                altitude_km=shell.altitude_km,
                inclination_deg=shell.inclination_deg,
                pattern="star" if shell.is_star else "delta",
                source=shell.source,
            )
        )
    return rows


@PRESETS.register("starlink-shell1")
def _starlink_shell1(epoch: datetime | str | None = None) -> WalkerConstellation:
    return walker_delta(
        1584,
        72,
        1,
        altitude_km=550.0,
        inclination_deg=53.0,
        epoch=epoch,
        name="starlink-shell1",
        source=(
            "published: SpaceX Gen1 modification, FCC 21-48 (SAT-MOD-20200417-00037, "
            "27 Apr 2021): 1,584 satellites, 72 planes x 22, 550 km, 53.0 deg; modelled: "
            "Walker phasing F=1 (not fixed by the filing)"
        ),
    )


@PRESETS.register("kuiper-630")
def _kuiper_630(epoch: datetime | str | None = None) -> WalkerConstellation:
    return walker_delta(
        1156,
        34,
        1,
        altitude_km=630.0,
        inclination_deg=51.9,
        epoch=epoch,
        name="kuiper-630",
        source=(
            "published: Kuiper Systems LLC authorization, FCC 20-102 (30 Jul 2020): 630 km "
            "shell of 34 planes x 34 satellites at 51.9 deg; modelled: phasing F=1"
        ),
    )


@PRESETS.register("oneweb")
def _oneweb(epoch: datetime | str | None = None) -> WalkerConstellation:
    return walker_star(
        588,
        12,
        1,
        altitude_km=1200.0,
        inclination_deg=87.9,
        epoch=epoch,
        name="oneweb",
        source=(
            "published: OneWeb Gen-1 (Phase 1) design of 588 operational satellites in 12 "
            "near-polar planes x 49 at ~1,200 km, 87.9 deg; checked against CelesTrak's "
            "2025-10-03 catalogue: 651 ONEWEB objects in 12 node clusters spanning ~180 deg, "
            "median 87.91 deg, 1,202 km; modelled: star pattern over 180 deg, F=1"
        ),
    )


@PRESETS.register("iridium")
def _iridium(epoch: datetime | str | None = None) -> WalkerConstellation:
    return walker_star(
        66,
        6,
        1,
        altitude_km=781.0,
        inclination_deg=86.4,
        epoch=epoch,
        name="iridium",
        source=(
            "published: Iridium, 66 satellites in 6 polar planes x 11 at 781 km, 86.4 deg "
            "(Maine, Devieux & Swan, 'Overview of IRIDIUM satellite network', WESCON/95; "
            "CelesTrak 2025-10-03: 6 node clusters, median 86.40 deg, 778 km); modelled: "
            "star pattern over 180 deg, F=1"
        ),
    )


@PRESETS.register("research-5x10")
def _research_5x10(epoch: datetime | str | None = None) -> WalkerConstellation:
    return walker_delta(
        50,
        5,
        1,
        altitude_km=550.0,
        inclination_deg=53.0,
        epoch=epoch,
        name="research",
        source=(
            "modelled: spikesat's small research shell (5 planes x 10 satellites, 550 km, "
            "53 deg, Walker 53:50/5/1), sized for fast experiments; not an operator's system"
        ),
    )


@PRESETS.register("sentinel-2")
def _sentinel2(epoch: datetime | str | None = None) -> WalkerConstellation:
    epoch_utc = DEFAULT_WALKER_EPOCH if epoch is None else parse_utc(epoch, "epoch")
    # Descending node at 10:30 local mean solar time, so the ascending node is at 22:30:
    # RAAN = right ascension of the mean Sun + (22.5 h - 12 h) * 15 deg/h.
    raan0_deg = (mean_sun_right_ascension_deg(epoch_utc) + 157.5) % 360.0
    return walker_delta(
        2,
        1,
        0,
        altitude_km=786.0,
        inclination_deg=round(sun_synchronous_inclination_deg(786.0), 3),
        epoch=epoch_utc,
        raan0_deg=raan0_deg,
        name="sentinel-2",
        source=(
            "published: ESA Sentinel-2 User Handbook (ESA, 2015): sun-synchronous, 786 km mean "
            "altitude, 98.62 deg, 10:30 descending node, two satellites 180 deg apart; "
            "modelled: inclination 98.54 deg from the J2-only sun-synchronous condition at 786 km "
            "above the equatorial radius (the published 98.62 deg would drift 0.994 deg/day "
            "in this J2-only model instead of 0.9856)"
        ),
    )


def mean_sun_right_ascension_deg(when: datetime) -> float:
    """Right ascension of the mean Sun [deg] (Astronomical Almanac low-precision formula).

    ``L = 280.460 + 0.9856474 d`` with ``d`` days from J2000.0; good to ~1 deg, enough to
    place a sun-synchronous node at a chosen local time.
    """
    j2000 = parse_utc("2000-01-01T12:00:00Z")
    days = (parse_utc(when) - j2000).total_seconds() / 86400.0
    return math.fmod(280.460 + 0.9856474 * days, 360.0) % 360.0
