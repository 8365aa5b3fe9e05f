"""TLE parsing, validation errors (line number + field), selection, stale epochs, SGP4 errors."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sgp4.api import Satrec

from spikesat import orbits
from spikesat.orbits.tle import tle_checksum

# ISS element set from the sgp4 documentation (valid checksums).
ISS = (
    "ISS (ZARYA)",
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)


def _with_checksum(line: str) -> str:
    return line[:68] + str(tle_checksum(line))


def _text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_three_and_two_line_sets() -> None:
    shell = orbits.load_tle(_text(*ISS))
    assert shell.sat_names == ["ISS (ZARYA)"] and shell.planes is None
    assert shell.epochs[0].year == 2019 and shell.epochs[0].timetuple().tm_yday == 343
    two_line = orbits.load_tle(_text(ISS[1], ISS[2]))
    assert two_line.sat_names == ["NORAD 25544"]
    prefixed = orbits.load_tle(_text("0 ISS (ZARYA)", ISS[1], ISS[2]))
    assert prefixed.sat_names == ["ISS (ZARYA)"]


def test_shared_catalogue_loads_and_selects(catalogue: orbits.TLEConstellation) -> None:
    assert catalogue.num_sats == 12801
    sentinel2 = catalogue.select("SENTINEL-2")
    assert sentinel2.sat_names == ["SENTINEL-2A", "SENTINEL-2B", "SENTINEL-2C"]
    assert catalogue.select("sentinel-2?").num_sats == 3  # wildcard, case-insensitive
    assert catalogue.select("STARLINK").num_sats == 8428
    with pytest.raises(ValueError, match="no satellite name matches 'NOPE-SAT'"):
        catalogue.select("NOPE-SAT")


def test_bad_checksum_names_line_and_field() -> None:
    bad = ISS[2][:68] + str((int(ISS[2][68]) + 1) % 10)
    with pytest.raises(orbits.TLEError, match=r"line 3: field 'checksum' \(column 69\)") as err:
        orbits.load_tle(_text(ISS[0], ISS[1], bad))
    assert err.value.line_number == 3 and err.value.field == "checksum"


def test_truncated_line() -> None:
    with pytest.raises(orbits.TLEError, match=r"line 2: line 1 is truncated: 50 characters") as err:
        orbits.load_tle(_text(ISS[0], ISS[1][:50], ISS[2]))
    assert err.value.field == "line length"
    with pytest.raises(orbits.TLEError, match="line 2: line 1 has no line 2"):
        orbits.load_tle(_text(ISS[0], ISS[1]))


def test_lines_out_of_order() -> None:
    with pytest.raises(orbits.TLEError, match=r"line 2: field 'line number'.*no line 1 precedes"):
        orbits.load_tle(_text(ISS[0], ISS[2], ISS[1]))


def test_malformed_fields_name_the_field() -> None:
    inclination = _with_checksum(ISS[2][:8] + " 51.6x39" + ISS[2][16:])
    with pytest.raises(orbits.TLEError, match=r"line 3: field 'inclination' \(columns 9-16\)"):
        orbits.load_tle(_text(ISS[0], ISS[1], inclination))
    epoch = _with_checksum(ISS[1][:20] + "4x3.69339541" + ISS[1][32:])
    with pytest.raises(orbits.TLEError, match="field 'epoch day'") as err:
        orbits.load_tle(_text(ISS[0], epoch, ISS[2]))
    assert err.value.line_number == 2
    bstar = _with_checksum(ISS[1][:53] + " 38792=4" + ISS[1][61:])
    with pytest.raises(orbits.TLEError, match="field 'bstar drag term'"):
        orbits.load_tle(_text(ISS[0], bstar, ISS[2]))
    other = _with_checksum(ISS[2][:2] + "25545" + ISS[2][7:])
    with pytest.raises(orbits.TLEError, match="field 'satellite number'.*different sets"):
        orbits.load_tle(_text(ISS[0], ISS[1], other))


def test_error_line_numbers_count_from_the_file(tmp_path) -> None:
    path = tmp_path / "sats.tle"
    bad = ISS[2][:68] + "0"
    path.write_text(_text(*ISS, *ISS, ISS[0], ISS[1], bad))
    with pytest.raises(orbits.TLEError, match=r"sats.tle line 9: field 'checksum'"):
        orbits.load_tle(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        orbits.load_tle(tmp_path / "missing.tle")


def test_teme_equals_sgp4(catalogue: orbits.TLEConstellation) -> None:
    """Our TEME positions equal sgp4's own per-satellite results to 1 mm."""
    sample = catalogue.subset(np.arange(0, catalogue.num_sats, 400))
    times = orbits.time_grid("2025-10-03T00:00:00Z", 7200, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", orbits.StaleTLEWarning)
        r = sample.positions_teme_km(times)
    jd = times.julian_dates()
    for i, rec in enumerate(sample.records):
        sat = Satrec.twoline2rv(rec.line1, rec.line2)
        for k in range(len(times)):
            err, ref, _ = sat.sgp4(jd.whole[k], jd.utc_fraction[k])
            assert err == 0
            assert np.linalg.norm(np.subtract(ref, r[i, k])) < 1e-6  # km: 1 mm


def test_ecef_matches_skyfield_itrs(catalogue: orbits.TLEConstellation, skyfield_ts) -> None:
    """Earth-fixed positions within 50 m of Skyfield's ITRS for the same TLEs and times."""
    from skyfield.api import EarthSatellite
    from skyfield.framelib import itrs

    sample = catalogue.subset(np.arange(7, catalogue.num_sats, 1100))
    times = orbits.time_grid("2025-10-02T12:00:00Z", 86400, 1800)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", orbits.StaleTLEWarning)
        r, v = sample.states_ecef(times)
    t = times.skyfield_time()
    for i, rec in enumerate(sample.records):
        sat = EarthSatellite(rec.line1, rec.line2, rec.name, skyfield_ts)
        ref = sat.at(t).frame_xyz_and_velocity(itrs)
        dist_m = np.linalg.norm(ref[0].km.T - r[i], axis=-1) * 1000
        assert dist_m.max() < 50.0, rec.name
        # Velocities relative to the rotating Earth agree to a few mm/s.
        assert np.abs(ref[1].km_per_s.T - v[i]).max() < 1e-5


def test_stale_epoch_warns_with_age() -> None:
    shell = orbits.load_tle(_text(*ISS))
    times = orbits.time_grid("2020-01-09T00:00:00Z", 600, 60)
    with pytest.warns(orbits.StaleTLEWarning, match=r"'ISS \(ZARYA\)', is 30\.3 days away"):
        shell.positions_ecef_km(times)
    fresh = orbits.time_grid("2019-12-10T00:00:00Z", 600, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shell.positions_ecef_km(fresh)


def _decaying_set() -> str:
    # ISS elements with an enormous drag term: SGP4 reports decay (error 6) within weeks.
    line1 = _with_checksum(ISS[1][:53] + " 99999-1" + ISS[1][61:])
    return _text("DOOMED", line1, ISS[2])


def test_sgp4_errors_are_reported_per_satellite() -> None:
    shell = orbits.load_tle(_decaying_set() + _text(*ISS), max_epoch_age_days=400)
    times = orbits.time_grid("2019-12-09T16:00:00Z", 60 * 86400, 86400)
    with pytest.warns(orbits.SGP4ErrorWarning, match=r"DOOMED \(index 0\): sgp4 error 6") as rec:
        r = shell.positions_ecef_km(times)
    assert "ISS" not in str(rec[0].message)
    assert np.isnan(r[0, -1]).all() and np.isfinite(r[1]).all()
    failures = shell.failures(shell.propagate_teme(times)[2], times)
    assert [(f.name, f.code) for f in failures] == [("DOOMED", 6)]
    strict = orbits.load_tle(_decaying_set(), max_epoch_age_days=400, on_error="raise")
    with pytest.raises(orbits.SGP4PropagationError, match="DOOMED"):
        strict.positions_ecef_km(times)


def test_pickle_rebuilds_satrecs() -> None:
    shell = orbits.load_tle(_text(*ISS))
    times = orbits.time_grid("2019-12-09T17:00:00Z", 600, 60)
    back = pickle.loads(pickle.dumps(shell))
    np.testing.assert_array_equal(back.positions_teme_km(times), shell.positions_teme_km(times))


def test_bad_policy_and_empty_input() -> None:
    with pytest.raises(ValueError, match="on_error='ignore'"):
        orbits.load_tle(_text(*ISS), on_error="ignore")
    with pytest.raises(ValueError, match="no element sets"):
        orbits.load_tle("\n\n")
