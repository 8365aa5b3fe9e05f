"""Ground-station networks, GeoJSON files, and look angles against Skyfield."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from spikesat import orbits

NETWORK_SIZES = {
    "ksat": 36,
    "aws": 12,
    "atlas": 11,
    "leaf": 18,
    "nen": 18,
    "ssc": 10,
    "viasat": 9,
    "dsn": 3,
}


def test_default_network_is_built_in_and_cited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKESAT_DATA_DIR", raising=False)
    stations = orbits.ground_stations()
    assert len(stations) == 6
    assert all(s.source for s in stations)
    svalbard = stations[0]
    assert (svalbard.name, svalbard.lat_deg, svalbard.lon_deg) == ("Svalbard", 78.23, 15.41)
    with pytest.raises(ValueError, match="SPIKESAT_DATA_DIR"):
        orbits.ground_stations("ksat")


def test_shared_networks(data_dir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIKESAT_DATA_DIR", str(data_dir))
    for name, size in NETWORK_SIZES.items():
        stations = orbits.ground_stations(name)
        assert len(stations) == size, name
    dsn = orbits.ground_stations("DSN")
    assert dsn[0].name == "Goldstone" and dsn[0].lat_deg == pytest.approx(35.426667)
    assert "Ka" in dsn[0].frequency_bands


def test_unknown_network_lists_choices() -> None:
    with pytest.raises(ValueError, match="Did you mean 'ksat'") as err:
        orbits.ground_stations("kast")
    for name in ("aws", "default", "dsn", "nen", "viasat"):
        assert name in str(err.value)


def test_user_file_and_bad_files(tmp_path) -> None:
    good = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [10.0, 50.0, 300.0]},
                "properties": {"name": "Mine", "provider": "me"},
            }
        ],
    }
    path = tmp_path / "mine.geojson"
    path.write_text(json.dumps(good))
    (station,) = orbits.ground_stations(path)
    assert (station.lat_deg, station.lon_deg, station.alt_m) == (50.0, 10.0, 300.0)
    no_coords = {"type": "FeatureCollection", "features": [{"properties": {"name": "X"}}]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(no_coords))
    with pytest.raises(ValueError, match=r"feature 0 \('X'\) has no coordinates"):
        orbits.ground_stations(bad)
    bad.write_text(json.dumps({"type": "FeatureCollection"}))
    with pytest.raises(ValueError, match="no 'features' list"):
        orbits.ground_stations(bad)
    swapped = {**good, "features": [{**good["features"][0], "geometry": {"coordinates": [10, 95]}}]}
    bad.write_text(json.dumps(swapped))
    with pytest.raises(ValueError, match=r"lat_deg=95.*\[lon, lat\]"):
        orbits.ground_stations(bad)
    with pytest.raises(FileNotFoundError):
        orbits.ground_stations(tmp_path / "nope.json")


def test_geodetic_round_trip() -> None:
    lat = np.array([-89.0, -45.0, 0.0, 30.0, 78.23])
    lon = np.array([-170.0, 10.0, 100.0, -75.0, 15.41])
    alt = np.array([0.0, 1.5, 550.0, 1200.0, 35786.0])
    r = orbits.geodetic_to_ecef_km(lat, lon, alt)
    lat2, lon2, alt2 = orbits.ecef_to_geodetic(r)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    np.testing.assert_allclose(alt2, alt, atol=1e-6)


def test_look_angles_match_skyfield(skyfield_ts) -> None:
    from skyfield.api import EarthSatellite, wgs84

    iss = (
        "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
        "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
    )
    shell = orbits.load_tle("\n".join(iss) + "\n")
    stations = [orbits.GroundStation("A", 40.0, -75.0, 100.0), orbits.GroundStation("B", -30, 20)]
    times = orbits.time_grid("2019-12-09T18:00:00Z", 5400, 60)
    angles = orbits.look_angles(shell.positions_ecef_km(times), stations)
    assert angles.elevation_deg.shape == (1, 2, len(times))
    sat = EarthSatellite(*iss, ts=skyfield_ts)
    t = times.skyfield_time()
    for j, st in enumerate(stations):
        topos = wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.alt_m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            alt, az, dist = (sat - topos).at(t).altaz()
        np.testing.assert_allclose(angles.elevation_deg[0, j], alt.degrees, atol=1e-5)
        np.testing.assert_allclose(angles.range_km[0, j], dist.km, atol=1e-4)
        daz = (angles.azimuth_deg[0, j] - az.degrees + 180) % 360 - 180
        np.testing.assert_allclose(daz, 0.0, atol=1e-4)
