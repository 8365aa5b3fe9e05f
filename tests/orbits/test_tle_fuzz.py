"""Property-based tests of the TLE reader: a mutated line is refused or read as sgp4 reads it.

Each property runs a bounded, derandomised hypothesis search (100 examples, fixed seed), so
the suite stays deterministic and takes a few seconds.
"""

from __future__ import annotations

import re
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sgp4.api import Satrec

from spikesat import orbits
from spikesat.orbits.tle import LINE1_FIELDS, LINE2_FIELDS, TLE_LINE_LENGTH, tle_checksum

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _put(line: str, column: int, text: str) -> str:
    line = line[: column - 1] + text + line[column - 1 + len(text) :]
    return line[:68] + str(tle_checksum(line))


ISS = (
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)
# Valid sets that exercise every kind of column: negative signs, a non-zero second
# derivative, '+' exponents, blank-padded numbers, a GEO mean motion, Alpha-5, a Molniya orbit.
SETS = (
    ISS,
    (
        _put(_put(_put(ISS[0], 34, "-.00000123"), 45, "-12345-6"), 54, "-11606+1"),
        _put(_put(ISS[1], 9, "  0.0123"), 53, " 1.00271234"),
    ),
    (
        _put(_put(_put(ISS[0], 3, "   12"), 10, "        "), 21, " 43.69339541"),
        _put(_put(ISS[1], 3, "   12"), 64, "    1"),
    ),
    (
        _put(_put(ISS[0], 3, "A0001"), 54, "+38792+0"),
        _put(_put(_put(ISS[1], 3, "A0001"), 27, "7000000"), 53, " 2.00600000"),
    ),
)

ALPHABET = "0123456789 .+-AUXZex_\t\x00\u0660\u00a0\u2007"


def _oracle(line1: str, line2: str) -> dict[str, float]:
    """sgp4's elements as the columns read them: a plain reading, independent of spikesat."""
    xpdotp = 1440.0 / (2.0 * 3.141592653589793)
    deg = 3.141592653589793 / 180.0
    assert line1.isascii() and line2.isascii()

    def exp(text: str) -> float:
        return float(text[0].strip() + "." + text[1:6]) * 10.0 ** int(text[6:8])

    return {
        "epochyr": int(line1[18:20]),
        "epochdays": float(line1[20:32]),
        "ndot": float(line1[33:43]) / (xpdotp * 1440.0),
        "nddot": exp(line1[44:52]) / (xpdotp * 1440.0 * 1440.0),
        "bstar": exp(line1[53:61]),
        "inclo": float(line2[8:16]) * deg,
        "nodeo": float(line2[17:25]) * deg,
        "ecco": float("0." + line2[26:33]),
        "argpo": float(line2[34:42]) * deg,
        "mo": float(line2[43:51]) * deg,
        "no_kozai": float(line2[52:63]) / xpdotp,
    }


def _load_or_refuse(line1: str, line2: str) -> orbits.TLEConstellation | None:
    """The constellation, or None when spikesat refuses the set with a ValueError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # one set: no duplicate or stale-epoch warnings
            return orbits.load_tle(f"SAT\n{line1}\n{line2}\n")
    except ValueError as err:
        assert str(err)  # a message, never an empty error
        return None


def _assert_read_as_sgp4_does(line1: str, line2: str) -> None:
    shell = _load_or_refuse(line1, line2)
    if shell is None:
        return
    rec = shell.records[0]
    assert (rec.line1, rec.line2) == (line1, line2)
    sat = Satrec.twoline2rv(line1, line2)  # sgp4's own parser of the mutated lines
    assert sat.error == 0
    oracle = _oracle(line1, line2)
    for attr, value in oracle.items():
        assert getattr(sat, attr) == pytest.approx(value, rel=1e-12, abs=0.0), attr
        assert getattr(shell._satrecs[0], attr) == getattr(sat, attr), attr
    e = rec.elements
    assert (e.inclination_deg, e.raan_deg, e.argp_deg) == (
        float(line2[8:16]),
        float(line2[17:25]),
        float(line2[34:42]),
    )
    assert (e.mean_motion_rev_day, e.eccentricity, e.epoch_day) == (
        float(line2[52:63]),
        oracle["ecco"],
        oracle["epochdays"],
    )
    assert e.perigee_altitude_km > 0.0


def test_layout_covers_every_column_with_fixed_width_patterns() -> None:
    for fields in (LINE1_FIELDS, LINE2_FIELDS):
        assert [f.first for f in fields] == [1] + [f.last + 1 for f in fields[:-1]]
        assert fields[-1].last == TLE_LINE_LENGTH
        for f in fields:
            width = f.last - f.first + 1
            assert re._parser.parse(f.pattern).getwidth() == (width, width), f.name
            assert not re.search(r"\\d|\\w|\\s", f.pattern), f"{f.name}: use explicit ASCII classes"


def test_valid_sets_load() -> None:
    for line1, line2 in SETS:
        assert _load_or_refuse(line1, line2) is not None
        _assert_read_as_sgp4_does(line1, line2)


@FUZZ
@given(
    which=st.sampled_from(SETS),
    line=st.sampled_from([0, 1]),
    column=st.integers(0, TLE_LINE_LENGTH - 1),
    char=st.sampled_from(ALPHABET),
    fix_checksum=st.booleans(),
)
def test_one_substituted_character(which, line, column, char, fix_checksum) -> None:
    """A substituted character is refused or read exactly as sgp4 and the columns read it."""
    lines = list(which)
    mutated = lines[line][:column] + char + lines[line][column + 1 :]
    if fix_checksum and column < 68:
        mutated = mutated[:68] + str(tle_checksum(mutated))
    lines[line] = mutated
    _assert_read_as_sgp4_does(*lines)


@FUZZ
@given(
    which=st.sampled_from(SETS),
    line=st.sampled_from([0, 1]),
    column=st.integers(1, 67),
    char=st.sampled_from(ALPHABET),
    insert=st.booleans(),
)
def test_one_shifted_column(which, line, column, char, insert) -> None:
    """A character inserted or deleted mid-line (the rest shifts by one), checksum fixed."""
    lines = list(which)
    text = lines[line][:68]
    if insert:
        text = text[:column] + char + text[column:67]
    else:
        text = text[:column] + text[column + 1 :] + char
    lines[line] = text + str(tle_checksum(text))
    _assert_read_as_sgp4_does(*lines)


@FUZZ
@given(
    which=st.sampled_from(SETS),
    line=st.sampled_from([0, 1]),
    column=st.integers(2, 62),
    digits=st.text("0123456789", min_size=1, max_size=11),
)
def test_extreme_values(which, line, column, digits) -> None:
    """Digits written over any columns (extreme numbers, broken layouts) with a valid checksum."""
    lines = list(which)
    lines[line] = _put(lines[line], column + 1, digits)[:69]
    _assert_read_as_sgp4_does(*lines)


_LINES = st.one_of(
    st.sampled_from([*ISS, *SETS[1], "ISS (ZARYA)", "0 STARLINK-1007", "", "   "]),
    st.text(alphabet=st.sampled_from("12 0.+-A\u0660x\t"), max_size=80),
)


@FUZZ
@given(
    lines=st.lists(_LINES, max_size=12),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_arbitrary_text_is_read_or_refused(lines: list[str], eol: str) -> None:
    """Any mix of valid lines, names and junk, with any line ending: sets or a ValueError."""
    text = eol.join(lines)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", orbits.DuplicateTLEWarning)
            shell = orbits.load_tle(text if text.strip() else "\n")
    except (ValueError, FileNotFoundError) as err:  # one line of junk reads as a path
        assert str(err)
        return
    for rec in shell.records:
        assert rec.line1 in lines and rec.line2 in lines
        _assert_read_as_sgp4_does(rec.line1, rec.line2)
