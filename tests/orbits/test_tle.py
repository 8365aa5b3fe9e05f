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
    with pytest.raises(
        orbits.TLEError, match=r"line 3 \('ISS \(ZARYA\)'\): field 'checksum' \(column 69\)"
    ) as err:
        orbits.load_tle(_text(ISS[0], ISS[1], bad))
    assert err.value.line_number == 3 and err.value.field == "checksum"


def test_truncated_line() -> None:
    with pytest.raises(
        orbits.TLEError, match=r"line 2 \('ISS \(ZARYA\)'\): line 1 is truncated: 50 characters"
    ) as err:
        orbits.load_tle(_text(ISS[0], ISS[1][:50], ISS[2]))
    assert err.value.field == "line length"
    with pytest.raises(orbits.TLEError, match=r"line 2 \('ISS \(ZARYA\)'\): line 1 has no line 2"):
        orbits.load_tle(_text(ISS[0], ISS[1]))


def test_lines_out_of_order() -> None:
    with pytest.raises(
        orbits.TLEError,
        match=r"line 2 \('ISS \(ZARYA\)'\): field 'line number'.*no line 1 precedes",
    ):
        orbits.load_tle(_text(ISS[0], ISS[2], ISS[1]))


def test_malformed_fields_name_the_field() -> None:
    inclination = _with_checksum(ISS[2][:8] + " 51.6x39" + ISS[2][16:])
    with pytest.raises(
        orbits.TLEError, match=r"line 3 \('ISS \(ZARYA\)'\): field 'inclination' \(columns 9-16\)"
    ):
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
    with pytest.raises(
        orbits.TLEError, match=r"sats.tle line 9 \('ISS \(ZARYA\)'\): field 'checksum'"
    ):
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
    line1 = _with_checksum(ISS[1][:2] + "25545" + ISS[1][7:53] + " 99999-1" + ISS[1][61:])
    return _text("DOOMED", line1, _with_checksum(ISS[2][:2] + "25545" + ISS[2][7:]))


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


# --- every column checked (issue 20) -------------------------------------------------------


def _put(line: str, column: int, text: str) -> str:
    """``line`` with ``text`` written from 1-based ``column`` on, checksum recomputed."""
    return _with_checksum(line[: column - 1] + text + line[column - 1 + len(text) :])


@pytest.mark.parametrize("column", [2, 9, 18, 33, 44, 53, 62, 64])
def test_letter_in_a_line1_separator_is_an_error(column: int) -> None:
    # A letter counts 0 in the checksum, so the line keeps a valid checksum; sgp4's sscanf
    # would stop at it and leave the later elements unset (every position NaN).
    bad = ISS[1][: column - 1] + "X" + ISS[1][column:]
    assert tle_checksum(bad) == int(bad[68])
    with pytest.raises(orbits.TLEError) as err:
        orbits.load_tle(_text(ISS[0], bad, ISS[2]))
    message = str(err.value)
    assert f"line 2 ('ISS (ZARYA)'): field 'separator' (column {column}) of line 1" in message
    assert "must be blank" in message and "re-download" in message
    assert err.value.line_number == 2 and err.value.columns == (column, column)
    assert err.value.satellite == "ISS (ZARYA)"


def test_digit_moved_into_a_separator_is_an_error() -> None:
    # Moving the '1' of the argument of perigee (' 17.6667', columns 35-42) into the separator
    # column 34 keeps the checksum; sgp4 would read the argument of perigee as 1 degree and
    # every later element from the wrong columns.
    moved = ISS[2][:33] + "1  7.6667" + ISS[2][42:]
    assert tle_checksum(moved) == int(moved[68]) and len(moved) == 69
    with pytest.raises(orbits.TLEError, match=r"field 'separator' \(column 34\) of line 2 is '1'"):
        orbits.load_tle(_text(ISS[0], ISS[1], moved))


def test_unicode_digits_are_rejected() -> None:
    # U+0660 (ARABIC-INDIC DIGIT ZERO) passes str.isdigit and float(); the checksum of a
    # non-ASCII character is 0, the same as the '0' it replaces.
    bad = ISS[2][:27] + "\u0660" + ISS[2][28:]
    with pytest.raises(orbits.TLEError, match=r"'eccentricity' \(columns 27-33\).*U\+0660"):
        orbits.load_tle(_text(ISS[0], ISS[1], bad))
    bad_epoch = ISS[1][:21] + "\u0663" + ISS[1][22:]
    with pytest.raises(orbits.TLEError, match=r"'epoch day' \(columns 21-32\).*not ASCII"):
        orbits.load_tle(_text(ISS[0], bad_epoch, ISS[2]))


@pytest.mark.parametrize(
    ("line", "column", "text", "field"),
    [
        (1, 8, "X", "classification"),
        (1, 10, "98O67A", "international designator"),
        (1, 19, "1a", "epoch year"),
        (1, 34, "+0.0001764", "mean motion first derivative"),
        (1, 45, " 00000 0", "mean motion second derivative"),
        (1, 54, " 38792e4", "bstar drag term"),
        (1, 54, "38792-4 ", "bstar drag term"),
        (1, 63, "2", "ephemeris type"),
        (1, 65, " 9 9", "element set number"),
        (2, 9, "51.6439 ", "inclination"),
        (2, 27, "000741 ", "eccentricity"),
        (2, 53, "15.5010347 ", "mean motion"),
        (2, 64, "2 248", "revolution number"),
        (2, 1, "3", "line number"),
    ],
)
def test_malformed_columns_name_field_and_expectation(
    line: int, column: int, text: str, field: str
) -> None:
    lines = [ISS[1], ISS[2]]
    lines[line - 1] = _put(lines[line - 1], column, text)
    with pytest.raises(orbits.TLEError, match=f"field '{field}'") as err:
        orbits.load_tle(_text(ISS[0], *lines))
    assert err.value.line_number == line + 1
    assert "must be" in str(err.value) or "should be" in str(err.value)


def test_values_out_of_range() -> None:
    with pytest.raises(orbits.TLEError, match=r"'inclination' \(columns 9-16\) is '181.0000'"):
        orbits.load_tle(_text(ISS[0], ISS[1], _put(ISS[2], 9, "181.0000")))
    with pytest.raises(orbits.TLEError, match=r"'epoch day' .* outside \[1, 366\)"):
        orbits.load_tle(_text(ISS[0], _put(ISS[1], 19, "19366.50000000"), ISS[2]))
    leap = orbits.load_tle(_text(ISS[0], _put(ISS[1], 19, "20366.50000000"), ISS[2]))
    assert leap.epochs[0].isoformat() == "2020-12-31T12:00:00+00:00"
    with pytest.raises(orbits.TLEError, match="'mean motion'.*must be > 0"):
        orbits.load_tle(_text(ISS[0], ISS[1], _put(ISS[2], 53, " 0.00000000")))


def test_perigee_below_the_surface_is_an_error() -> None:
    # e = 0.95 at the ISS's mean motion: a = 6797 km, a (1 - e) = 340 km, 6,038 km underground.
    bad = _put(ISS[2], 27, "9500000")
    with pytest.raises(
        orbits.TLEError, match=r"line 3 \('ISS \(ZARYA\)'\): the perigee is 6038 km"
    ):
        orbits.load_tle(_text(ISS[0], ISS[1], bad))
    # Too fast for any orbit above the ground (17.5 rev/day: a = 6267 km).
    with pytest.raises(orbits.TLEError, match="perigee is 116 km below") as err:
        orbits.load_tle(_text(ISS[1], _put(ISS[2], 53, "17.50000000")))
    assert err.value.satellite == "NORAD 25544" and err.value.field == "perigee"
    # A high eccentricity with the perigee above the ground (a Molniya-like orbit) is fine.
    molniya = _put(_put(ISS[2], 27, "7000000"), 53, " 2.00600000")
    assert orbits.load_tle(_text(ISS[0], ISS[1], molniya)).records[0].elements.eccentricity == 0.7


def test_elements_are_read_from_the_columns() -> None:
    rec = orbits.load_tle(_text(*ISS)).records[0]
    e = rec.elements
    assert (e.satnum, e.classification, e.epoch_year, e.epoch_day) == (25544, "U", 19, 343.69339541)
    assert (e.ndot, e.nddot, e.bstar) == (0.00001764, 0.0, 0.38792e-4)
    assert (e.inclination_deg, e.raan_deg, e.eccentricity) == (51.6439, 211.2001, 0.0007417)
    assert (e.argp_deg, e.mean_anomaly_deg, e.mean_motion_rev_day) == (
        17.6667,
        85.6398,
        15.50103472,
    )
    assert (e.ephemeris_type, e.element_set_number, e.revolution_number) == (0, 999, 20248)
    assert 400 < e.perigee_altitude_km < 430
    alpha5 = orbits.load_tle(_text(_put(ISS[1], 3, "A0001"), _put(ISS[2], 3, "A0001")))
    assert alpha5.records[0].elements.satnum == 100001
    assert alpha5.sat_names == ["NORAD A0001"]
    assert alpha5._satrecs[0].satnum == 100001


def test_sgp4_reading_is_cross_checked() -> None:
    """A set whose recorded elements differ from what sgp4 reads is refused."""
    from dataclasses import replace

    rec = orbits.load_tle(_text(*ISS)).records[0]
    wrong = replace(rec, elements=replace(rec.elements, argp_deg=18.6667))
    with pytest.raises(orbits.TLEError, match="sgp4 reads field 'argument of perigee'"):
        orbits.TLEConstellation([wrong])
    # A record built by hand (no elements) is read and checked like a file.
    bare = orbits.TLERecord("ISS", ISS[1], ISS[2], 1, "25544", rec.epoch)
    assert orbits.TLEConstellation([bare]).records[0].elements == rec.elements
    broken = orbits.TLERecord("ISS", ISS[1], _put(ISS[2], 34, "1"), 1, "25544", rec.epoch)
    with pytest.raises(orbits.TLEError, match="separator"):
        orbits.TLEConstellation([broken])


def test_sgp4_initialisation_errors_are_refused() -> None:
    from spikesat.orbits.tle_constellation import check_sgp4_reading

    rec = orbits.load_tle(_text(*ISS)).records[0]

    class Failed:
        error = 4

    with pytest.raises(orbits.TLEError, match="sgp4 cannot initialise.*error 4, semilatus"):
        check_sgp4_reading([rec], [Failed()], "<text>")


def test_duplicate_catalogue_numbers_keep_the_newest_epoch() -> None:
    newer = _put(ISS[1], 19, "19350.00000000")
    other = (_put(ISS[1], 3, "25545"), _put(ISS[2], 3, "25545"))
    text = _text("OLD ISS", *ISS[1:], "OTHER", *other, "NEW ISS", newer, ISS[2])
    with pytest.warns(
        orbits.DuplicateTLEWarning, match=r"NORAD 25544 'NEW ISS': kept the set at line 8"
    ):
        shell = orbits.load_tle(text)
    assert shell.sat_names == ["NEW ISS", "OTHER"]  # the kept set takes the first place
    assert shell.epochs[0].timetuple().tm_yday == 350
    # Order in the file does not matter: the newest epoch wins.
    text = _text("NEW ISS", newer, ISS[2], "OLD ISS", *ISS[1:])
    with pytest.warns(orbits.DuplicateTLEWarning, match="dropped the set at line 5"):
        assert orbits.load_tle(text).sat_names == ["NEW ISS"]
    # Equal epochs: the later set in the file is kept.
    with pytest.warns(orbits.DuplicateTLEWarning):
        assert orbits.load_tle(_text("A", *ISS[1:], "B", *ISS[1:])).sat_names == ["B"]
    # Zero-padded and blank-padded numbers are the same satellite.
    padded = (_put(ISS[1], 3, "00005"), _put(ISS[2], 3, "00005"))
    blank = (_put(ISS[1], 3, "    5"), _put(ISS[2], 3, "    5"))
    with pytest.warns(orbits.DuplicateTLEWarning, match="NORAD 5"):
        assert orbits.load_tle(_text(*padded, *blank)).num_sats == 1


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(eol: str, tmp_path) -> None:
    text = eol.join([*ISS, *_decaying_set().splitlines()]) + eol
    shell = orbits.load_tle(text)
    assert shell.sat_names == ["ISS (ZARYA)", "DOOMED"]
    path = tmp_path / "sats.tle"
    path.write_bytes(text.encode())
    assert orbits.load_tle(path).sat_names == shell.sat_names
    assert orbits.load_tle(str(path)).sat_names == shell.sat_names
    # Error line numbers count the same way whatever the line ending.
    bad = eol.join([*ISS, ISS[0], ISS[1], ISS[2][:68] + "0"]) + eol
    with pytest.raises(orbits.TLEError, match=r"<text> line 6 "):
        orbits.load_tle(bad)


def test_text_or_path_and_empty_input(tmp_path) -> None:
    for empty in ("", "   ", "\n\n", "\r\n\r\n"):
        with pytest.raises(orbits.TLEError, match="empty TLE text"):
            orbits.load_tle(empty)
    # A single line starting with '1 ' is text (with no line 2), not a file name.
    with pytest.raises(orbits.TLEError, match="line 1 has no line 2"):
        orbits.load_tle(ISS[1])
    with pytest.raises(orbits.TLEError, match="not followed by lines 1 and 2"):
        orbits.load_tle("0 ISS (ZARYA)")
    with pytest.raises(orbits.TLEError, match="no line 1 precedes it"):
        orbits.load_tle(ISS[2])
    missing = tmp_path / "nope.tle"
    with pytest.raises(FileNotFoundError, match=f"TLE file '{missing}' not found"):
        orbits.load_tle(str(missing))
    with pytest.raises(FileNotFoundError, match="'nope.tle' not found"):
        orbits.load_tle("nope.tle")
    # Names the OS cannot even look up are "not found" too, not an OSError from deep inside.
    with pytest.raises(FileNotFoundError, match=r"'xxxxxxxx.*\.\.\.' not found \(OSError"):
        orbits.load_tle("x" * 5000)
    with pytest.raises(FileNotFoundError, match=r"'sats\\x00.tle' not found"):
        orbits.load_tle("sats\x00.tle")
    (tmp_path / "empty.tle").write_text("\n")
    with pytest.raises(orbits.TLEError, match="is empty"):
        orbits.load_tle(tmp_path / "empty.tle")
    with pytest.raises(IsADirectoryError, match="not a file"):
        orbits.load_tle(tmp_path)
    with pytest.raises(TypeError, match="path or TLE text, got bytes"):
        orbits.load_tle(b"1 25544U")


def test_control_characters_stay_in_their_line() -> None:
    # Only \n, \r\n and \r end a line: a form feed or U+2028 inside a line is an error at
    # that line, not a silent split.
    bad = ISS[2][:33] + "\x0c" + ISS[2][34:]
    with pytest.raises(orbits.TLEError, match=r"line 3 .*column 34.*U\+000C"):
        orbits.load_tle(_text(ISS[0], ISS[1], bad))
    with pytest.raises(orbits.TLEError, match="line 2"):
        orbits.load_tle(_text(ISS[0], ISS[1][:40] + "\u2028" + ISS[1][41:], ISS[2]))


def test_failure_effects_tell_the_truth_per_code() -> None:
    """Code 6 leaves finite states inside the Earth, codes 1-4 NaN, as the warning says."""
    from spikesat.orbits.tle_constellation import FAILURE_EFFECTS

    shell = orbits.load_tle(_decaying_set(), max_epoch_age_days=400)
    times = orbits.time_grid("2019-12-09T16:00:00Z", 60 * 86400, 86400)
    r, _, codes = shell.propagate_teme(times)
    assert set(np.unique(codes)) == {0, 1, 6}
    radius = np.linalg.norm(r[0], axis=-1)
    decayed = codes[0] == 6
    assert np.isfinite(r[0, decayed]).all() and (radius[decayed] < 6378.135).all()
    assert np.isnan(r[0, codes[0] == 1]).all()
    assert "finite but inside the Earth" in FAILURE_EFFECTS[6]
    assert all("NaN" in FAILURE_EFFECTS[c] for c in (1, 2, 3, 4))
    with pytest.warns(orbits.SGP4ErrorWarning) as rec:
        shell.positions_teme_km(times)
    message = str(rec[0].message)
    assert "positions are NaN" not in message.splitlines()[0]
    assert "with code 6, the satellite has decayed: positions there are finite" in message
    assert "with code 1, positions and velocities there are NaN" in message
    (failure,) = shell.failures(codes, times)
    assert failure.code == 6 and "finite but inside the Earth" in failure.effect


class _NaNArray:
    """Stands in for a SatrecArray that returns NaN states with error code 0."""

    def sgp4(self, jd, fr):
        shape = (1, np.size(jd))
        return np.zeros(shape, np.uint8), np.full((*shape, 3), np.nan), np.full((*shape, 3), np.nan)


def test_nan_with_error_code_zero_counts_as_a_failure() -> None:
    shell = orbits.load_tle(_text(*ISS))
    shell._array = _NaNArray()
    times = orbits.time_grid("2019-12-09T17:00:00Z", 600, 60)
    with pytest.warns(orbits.SGP4ErrorWarning, match=r"ISS \(ZARYA\) \(index 0\): sgp4 error 255"):
        shell.positions_ecef_km(times)
    (failure,) = shell.failures(shell.propagate_teme(times)[2], times)
    assert failure.num_steps == len(times) and "states without an error code" in failure.message
    station = orbits.GroundStation("here", 0.0, 0.0, 0.0)
    with pytest.warns(orbits.SGP4ErrorWarning):
        plan = orbits.contact_plan(shell, times, [station], isl=None)
    assert [f["code"] for f in plan.sgp4_failures] == [255]


def test_whole_catalogue_reads_as_sgp4_does(catalogue_path, catalogue) -> None:
    """Same satellites as the file's own pairs; positions equal sgp4's own reading exactly."""
    lines = catalogue_path.read_text().splitlines()
    pairs = [(lines[i - 1], lines[i], lines[i + 1]) for i, s in enumerate(lines) if s[:2] == "1 "]
    assert [r.name for r in catalogue.records] == [p[0].strip() for p in pairs]
    assert [(r.line1, r.line2) for r in catalogue.records] == [p[1:] for p in pairs]
    assert len({r.elements.satnum for r in catalogue.records}) == catalogue.num_sats == 12801
    sample = np.arange(0, catalogue.num_sats, 40)  # 321 satellites
    times = orbits.time_grid("2025-10-03T00:00:00Z", 5400, 900)
    jd = times.julian_dates()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", orbits.StaleTLEWarning)
        r, v = catalogue.subset(sample).states_teme(times)
    for k, i in enumerate(sample):
        sat = Satrec.twoline2rv(pairs[i][1], pairs[i][2])
        err, ref_r, ref_v = sat.sgp4_array(jd.whole, jd.utc_fraction)
        assert not err.any()
        np.testing.assert_array_equal(r[k], ref_r)
        np.testing.assert_array_equal(v[k], ref_v)
