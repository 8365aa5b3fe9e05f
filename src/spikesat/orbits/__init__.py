"""Orbits: Walker and TLE constellations, vectorised propagation, ground stations, ISLs,
contact plans and eclipse.

The contract (DESIGN.md): :func:`walker_delta`, :func:`load_tle` and :func:`preset` return a
:class:`Constellation` whose ``positions_ecef_km(times)`` is ``[num_sats, num_times, 3]``;
:func:`time_grid` builds ``times``; :func:`ground_stations` returns :class:`GroundStation`
lists; :func:`contact_plan` returns a :class:`ContactPlan`.
"""

from __future__ import annotations

from spikesat.orbits.constellation import Constellation, Subpoints
from spikesat.orbits.contact_plan import (
    Contact,
    ContactPlan,
    GroundLinkSamples,
    IslLinkSamples,
    contact_plan,
)
from spikesat.orbits.frames import ecef_to_geodetic, geodetic_to_ecef_km
from spikesat.orbits.isl import ISL_TOPOLOGIES, PlusGrid
from spikesat.orbits.look_angles import LookAngles, look_angles
from spikesat.orbits.presets import PRESETS, PresetInfo, list_presets, preset
from spikesat.orbits.stations import (
    NETWORKS,
    GroundStation,
    ground_stations,
    read_geojson_stations,
)
from spikesat.orbits.sun import sun_positions_ecef_km, sunlit_fraction
from spikesat.orbits.timegrid import TimeGrid, time_grid
from spikesat.orbits.tle import DuplicateTLEWarning, TLEElements, TLEError, TLERecord, parse_tle
from spikesat.orbits.tle_constellation import (
    SGP4ErrorWarning,
    SGP4Failure,
    SGP4PropagationError,
    StaleTLEWarning,
    TLEConstellation,
    load_tle,
)
from spikesat.orbits.walker import (
    WalkerConstellation,
    sun_synchronous_inclination_deg,
    walker_delta,
    walker_star,
)
from spikesat.orbits.windows import Windows

__all__ = [
    "ISL_TOPOLOGIES",
    "NETWORKS",
    "PRESETS",
    "Constellation",
    "Contact",
    "ContactPlan",
    "DuplicateTLEWarning",
    "GroundLinkSamples",
    "GroundStation",
    "IslLinkSamples",
    "LookAngles",
    "PlusGrid",
    "PresetInfo",
    "SGP4ErrorWarning",
    "SGP4Failure",
    "SGP4PropagationError",
    "StaleTLEWarning",
    "Subpoints",
    "TLEConstellation",
    "TLEElements",
    "TLEError",
    "TLERecord",
    "TimeGrid",
    "WalkerConstellation",
    "Windows",
    "contact_plan",
    "ecef_to_geodetic",
    "geodetic_to_ecef_km",
    "ground_stations",
    "list_presets",
    "load_tle",
    "look_angles",
    "parse_tle",
    "preset",
    "read_geojson_stations",
    "sun_positions_ecef_km",
    "sun_synchronous_inclination_deg",
    "sunlit_fraction",
    "time_grid",
    "walker_delta",
    "walker_star",
]
