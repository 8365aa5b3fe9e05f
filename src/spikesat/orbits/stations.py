"""Ground stations: GeoJSON networks from the shared data, a user's file, or a built-in default.

``ground_stations(name_or_path)`` looks names up in :data:`NETWORKS` (a :class:`Registry`).
The shared networks (KSAT, AWS Ground Station, ATLAS, Leaf Space, NASA NEN, SSC, Viasat, DSN)
are read from ``$SPIKESAT_DATA_DIR/ground_stations/<name>.json`` (the GeoJSON files of
duncaneddy/brahe @ 68b02560, MIT). ``"default"`` is built in and needs no data.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikesat._registry import Registry
from spikesat.orbits.frames import geodetic_to_ecef_km

NETWORKS: Registry[list] = Registry("ground-station network")

SHARED_NETWORKS = ("atlas", "aws", "dsn", "ksat", "leaf", "nen", "ssc", "viasat")
"""Networks read from the shared data folder."""


@dataclass(frozen=True)
class GroundStation:
    """A ground station on the WGS-84 ellipsoid.

    Attributes
    ----------
    name : str
        Station name.
    lat_deg, lon_deg : float
        Geodetic latitude [-90, 90] and longitude [-180, 360) [deg].
    alt_m : float
        Height above the ellipsoid [m].
    provider : str
        Operator or network.
    frequency_bands : tuple[str, ...]
        Bands the station supports (e.g. ``("S", "X")``).
    source : str
        Where the coordinates come from.
    """

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    provider: str = ""
    frequency_bands: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""

    def __post_init__(self) -> None:
        for attr in ("lat_deg", "lon_deg", "alt_m"):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise TypeError(f"station {self.name!r}: {attr} must be a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"station {self.name!r}: {attr}={value!r} must be finite")
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(
                f"station {self.name!r}: lat_deg={self.lat_deg} is outside [-90, 90]; "
                "GeoJSON coordinates are [lon, lat], check the order"
            )
        if not -180.0 <= self.lon_deg < 360.0:
            raise ValueError(
                f"station {self.name!r}: lon_deg={self.lon_deg} is outside [-180, 360)"
            )
        object.__setattr__(self, "frequency_bands", tuple(self.frequency_bands))

    def ecef_km(self) -> np.ndarray:
        """Earth-fixed position, float64 ``[3]`` [km]."""
        return geodetic_to_ecef_km(self.lat_deg, self.lon_deg, self.alt_m / 1000.0)

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "name": self.name,
            "lat_deg": self.lat_deg,
            "lon_deg": self.lon_deg,
            "alt_m": self.alt_m,
            "provider": self.provider,
            "frequency_bands": list(self.frequency_bands),
            "source": self.source,
        }


_BRAHE = "github duncaneddy/brahe @ 68b02560 data/groundstations (MIT)"


@NETWORKS.register("default")
def default_network() -> list[GroundStation]:
    """Six well-known stations spread over latitudes, built in (no data needed).

    Coordinates as listed in the NASA NEN and KSAT GeoJSON networks of brahe (the same
    files the shared data holds); heights are not given there and are set to 0 m.
    """
    rows = [
        ("Svalbard", 78.23, 15.41, "KSAT / NASA NEN", ("S", "X"), "nen.json"),
        ("Fairbanks (ASF)", 64.858985, -147.849593, "NASA NEN", ("S", "X"), "nen.json"),
        ("Wallops", 37.945963, -75.461431, "NASA NEN", ("S", "X"), "nen.json"),
        ("Santiago", -33.1333, -70.6667, "NASA NEN / SSC", ("S", "X"), "nen.json"),
        ("Hartebeesthoek", -25.89, 27.71, "NASA NEN / KSAT", ("S", "X"), "nen.json"),
        ("Singapore", 1.32, 103.7, "NASA NEN / KSAT", ("S", "X"), "nen.json"),
    ]
    return [
        GroundStation(name, lat, lon, 0.0, provider, bands, f"{_BRAHE}, {src}")
        for name, lat, lon, provider, bands, src in rows
    ]


class SharedNetwork:
    """Factory that reads one shared GeoJSON network from ``$SPIKESAT_DATA_DIR``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self) -> list[GroundStation]:
        root = os.environ.get("SPIKESAT_DATA_DIR")
        path = Path(root or "") / "ground_stations" / f"{self.name}.json"
        if not root or not path.is_file():
            raise ValueError(
                f"ground-station network {self.name!r} is read from "
                "$SPIKESAT_DATA_DIR/ground_stations/"
                f"{self.name}.json, which is not available (SPIKESAT_DATA_DIR={root!r}); set "
                "SPIKESAT_DATA_DIR to the shared data folder, pass a GeoJSON file path, or use "
                "the built-in 'default' network"
            )
        return read_geojson_stations(path, source=f"{_BRAHE}, {self.name}.json")


for _name in SHARED_NETWORKS:
    NETWORKS.register(_name)(SharedNetwork(_name))


def read_geojson_stations(path: str | Path, source: str | None = None) -> list[GroundStation]:
    """Read a GeoJSON FeatureCollection of Point features as ground stations.

    Each feature needs ``geometry.coordinates = [lon_deg, lat_deg]`` or
    ``[lon_deg, lat_deg, alt_m]``; ``properties.name`` names it (else "station <i>"), and
    optional ``provider``, ``frequency_bands`` and ``alt_m`` are kept.

    Raises
    ------
    ValueError
        If the file is not GeoJSON, has no features, or a feature lacks coordinates.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"station file {str(path)!r} is not valid JSON: {err}") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list) or not features:
        raise ValueError(
            f"station file {str(path)!r} has no 'features' list; write a GeoJSON "
            'FeatureCollection of Point features: {"type": "FeatureCollection", "features": '
            '[{"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, '
            '"properties": {"name": "..."}}]}'
        )
    stations = []
    for i, feature in enumerate(features):
        props = (feature.get("properties") or {}) if isinstance(feature, dict) else {}
        name = str(props.get("name") or f"station {i}")
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(coords, list | tuple)
            or len(coords) < 2
            or not all(isinstance(c, int | float) for c in coords[:3])
        ):
            raise ValueError(
                f"station file {str(path)!r}: feature {i} ({name!r}) has no coordinates; each "
                "feature needs geometry.coordinates = [lon_deg, lat_deg] or "
                "[lon_deg, lat_deg, alt_m]"
            )
        alt_m = float(coords[2]) if len(coords) > 2 else float(props.get("alt_m", 0.0))
        stations.append(
            GroundStation(
                name=name,
                lat_deg=float(coords[1]),
                lon_deg=float(coords[0]),
                alt_m=alt_m,
                provider=str(props.get("provider", "")),
                frequency_bands=tuple(props.get("frequency_bands", ())),
                source=source or str(path),
            )
        )
    return stations


def ground_stations(name_or_path: str | Path = "default") -> list[GroundStation]:
    """A ground-station network by name, or from a user's GeoJSON file.

    Parameters
    ----------
    name_or_path : str or Path
        A network name (``"default"`` built in; ``"ksat"``, ``"aws"``, ``"atlas"``,
        ``"leaf"``, ``"nen"``, ``"ssc"``, ``"viasat"``, ``"dsn"`` from the shared data) or
        the path of a GeoJSON file.

    Returns
    -------
    list[GroundStation]

    Raises
    ------
    ValueError
        For an unknown network (the message lists the choices), unavailable shared data or
        a malformed file.
    """
    if isinstance(name_or_path, Path) or (
        isinstance(name_or_path, str)
        and (name_or_path.lower().endswith((".json", ".geojson")) or os.sep in name_or_path)
    ):
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"station file {str(path)!r} not found; pass an existing GeoJSON file or one of "
                f"the networks {NETWORKS.names()}"
            )
        return read_geojson_stations(path)
    if not isinstance(name_or_path, str):
        raise TypeError(
            f"name_or_path must be a network name or a path, got {type(name_or_path).__name__}"
        )
    return NETWORKS.create(name_or_path.lower())


def stations_ecef_km(stations: list[GroundStation]) -> np.ndarray:
    """Earth-fixed positions of ``stations``, float64 ``[G, 3]`` [km]."""
    check_stations(stations)
    return geodetic_to_ecef_km(
        [s.lat_deg for s in stations],
        [s.lon_deg for s in stations],
        [s.alt_m / 1000.0 for s in stations],
    )


def check_stations(stations: object) -> None:
    """Raise TypeError/ValueError unless ``stations`` is a non-empty list of GroundStation."""
    if not isinstance(stations, list | tuple) or not stations:
        raise ValueError(
            f"stations must be a non-empty list of GroundStation, got {stations!r}; build one "
            "with spikesat.orbits.ground_stations('default')"
        )
    for s in stations:
        if not isinstance(s, GroundStation):
            raise TypeError(f"stations must hold GroundStation objects, got {type(s).__name__}")
