"""Two- and three-line element sets: read column by column, every column checked.

Column layout from the NORAD two-line element set format (CelesTrak, "NORAD Two-Line Element
Set Format", https://celestrak.org/columns/v04n03/, and Space-Track's "Basic Description of the
Two Line Element Set Format"). Each of the 69 columns of both lines belongs to one field of
:data:`LINE1_FIELDS` / :data:`LINE2_FIELDS`: the blank separator columns must be blank, signs
stand where signs go, digits are ASCII ``0-9`` only (``str.isdigit`` would let U+0660 through),
the exponent fields are well formed and numbers are right-aligned in their columns. sgp4 reads
the lines with C ``sscanf`` over whitespace-separated tokens, so anything looser could be read
differently by spikesat and by sgp4; :class:`spikesat.orbits.TLEConstellation` also compares
every element sgp4 read with the columns' reading and refuses a set where they differ.

Every problem raises :class:`TLEError` (a ``ValueError``) naming the satellite, the line number
in the input, the field and its columns, what was expected and the fix.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

TLE_LINE_LENGTH = 69
"""Characters in a TLE data line, checksum included."""

NAME_MAX_LENGTH = 24
"""Longest name line of the three-line (3LE) format."""

EARTH_RADIUS_KM = 6378.135
"""Equatorial radius of WGS-72, the constants SGP4 uses [km]."""

EARTH_MU_KM3_S2 = 398600.8
"""Gravitational parameter of WGS-72 [km^3/s^2]."""

_FIX = "correct the line or re-download the element set (e.g. from CelesTrak)"


class TLEError(ValueError):
    """An invalid TLE line.

    Attributes
    ----------
    line_number : int
        1-based line number in the input text or file.
    field : str
        The offending field ("checksum", "inclination", "separator", ...).
    satellite : str or None
        The set's name line, ``"NORAD <satnum>"``, or None when not yet known.
    columns : tuple of int or None
        1-based first and last column of the field, when the problem is in one field.
    """

    def __init__(
        self,
        message: str,
        line_number: int,
        field: str,
        satellite: str | None = None,
        columns: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.line_number = line_number
        self.field = field
        self.satellite = satellite
        self.columns = columns


class DuplicateTLEWarning(UserWarning):
    """Some catalogue numbers appear in more than one set; only the newest epoch was kept."""


@dataclass(frozen=True)
class TLEField:
    """One fixed-column field of a TLE line.

    Attributes
    ----------
    key : str or None
        Attribute the value is read into (None for separators and fixed characters).
    name : str
        Human name used in error messages.
    first, last : int
        1-based inclusive columns.
    pattern : str
        Regular expression matching exactly ``last - first + 1`` ASCII characters.
    expected : str
        What the columns must hold, in words.
    """

    key: str | None
    name: str
    first: int
    last: int
    pattern: str
    expected: str

    @property
    def columns(self) -> str:
        return (
            f"column {self.first}"
            if self.first == self.last
            else (f"columns {self.first}-{self.last}")
        )


def _right_aligned(width: int) -> str:
    """``width`` columns of ASCII digits, blank-padded on the left, at least one digit."""
    return "(?:" + "|".join(" " * k + f"[0-9]{{{width - k}}}" for k in range(width)) + ")"


_SEP = " "
_SATNUM = "(?:[A-HJ-NP-Z][0-9]{4}|" + _right_aligned(5) + ")"
_ANGLE = _right_aligned(3) + r"\.[0-9]{4}"
_EXPONENTIAL = "[ +-][0-9]{5}[+-][0-9]"
_DESIGNATOR = "(?:[0-9]{5}[A-Z]{3}|[0-9]{5}[A-Z]{2} |[0-9]{5}[A-Z]  |        )"


def _sep(column: int, between: str) -> TLEField:
    return TLEField(None, "separator", column, column, _SEP, f"blank (it separates {between})")


LINE1_FIELDS: tuple[TLEField, ...] = (
    TLEField(None, "line number", 1, 1, "1", "'1'"),
    _sep(2, "the line number from the catalogue number"),
    TLEField(
        "satnum",
        "satellite number",
        3,
        7,
        _SATNUM,
        "5 ASCII digits (blank-padded on the left) or an Alpha-5 number such as 'A0001'",
    ),
    TLEField("classification", "classification", 8, 8, "[UCS ]", "'U', 'C', 'S' or blank"),
    _sep(9, "the classification from the international designator"),
    TLEField(
        None,
        "international designator",
        10,
        17,
        _DESIGNATOR,
        "a launch year and number (5 digits) and a piece of 1-3 capital letters, "
        "padded with blanks (e.g. '98067A  '), or 8 blanks",
    ),
    _sep(18, "the international designator from the epoch year"),
    TLEField("epoch_year", "epoch year", 19, 20, "[0-9]{2}", "2 ASCII digits"),
    TLEField(
        "epoch_day",
        "epoch day",
        21,
        32,
        _right_aligned(3) + r"\.[0-9]{8}",
        "a day of the year like 'NNN.NNNNNNNN' (ASCII digits, blank-padded on the left)",
    ),
    _sep(33, "the epoch from the first derivative of the mean motion"),
    TLEField(
        "ndot",
        "mean motion first derivative",
        34,
        43,
        r"[ +-]\.[0-9]{8}",
        "a sign (blank, '+' or '-') then '.NNNNNNNN' (ASCII digits)",
    ),
    _sep(44, "the first from the second derivative of the mean motion"),
    TLEField(
        "nddot",
        "mean motion second derivative",
        45,
        52,
        _EXPONENTIAL,
        "a sign (blank, '+' or '-'), 5 ASCII digits with an assumed leading decimal point "
        "and an exponent of '+' or '-' and one digit, e.g. ' 12345-5'",
    ),
    _sep(53, "the second derivative of the mean motion from B*"),
    TLEField(
        "bstar",
        "bstar drag term",
        54,
        61,
        _EXPONENTIAL,
        "a sign (blank, '+' or '-'), 5 ASCII digits with an assumed leading decimal point "
        "and an exponent of '+' or '-' and one digit, e.g. ' 38792-4'",
    ),
    _sep(62, "B* from the ephemeris type"),
    TLEField(
        "ephemeris_type",
        "ephemeris type",
        63,
        63,
        "[0 ]",
        "'0' or blank (distributed SGP4 element sets carry ephemeris type 0)",
    ),
    _sep(64, "the ephemeris type from the element set number"),
    TLEField(
        "element_set_number",
        "element set number",
        65,
        68,
        _right_aligned(4),
        "up to 4 ASCII digits, blank-padded on the left",
    ),
    TLEField(None, "checksum", 69, 69, "[0-9]", "an ASCII digit"),
)
"""Every column of line 1, in order (separators included)."""

LINE2_FIELDS: tuple[TLEField, ...] = (
    TLEField(None, "line number", 1, 1, "2", "'2'"),
    _sep(2, "the line number from the catalogue number"),
    TLEField(
        "satnum",
        "satellite number",
        3,
        7,
        _SATNUM,
        "5 ASCII digits (blank-padded on the left) or an Alpha-5 number such as 'A0001'",
    ),
    _sep(8, "the catalogue number from the inclination"),
    TLEField(
        "inclination",
        "inclination",
        9,
        16,
        _ANGLE,
        "degrees like 'NNN.NNNN' (ASCII digits, blank-padded on the left)",
    ),
    _sep(17, "the inclination from the right ascension of the ascending node"),
    TLEField(
        "raan",
        "right ascension of the ascending node",
        18,
        25,
        _ANGLE,
        "degrees like 'NNN.NNNN' (ASCII digits, blank-padded on the left)",
    ),
    _sep(26, "the right ascension of the ascending node from the eccentricity"),
    TLEField(
        "eccentricity",
        "eccentricity",
        27,
        33,
        "[0-9]{7}",
        "7 ASCII digits with an assumed leading decimal point (e.g. '0007417')",
    ),
    _sep(34, "the eccentricity from the argument of perigee"),
    TLEField(
        "argp",
        "argument of perigee",
        35,
        42,
        _ANGLE,
        "degrees like 'NNN.NNNN' (ASCII digits, blank-padded on the left)",
    ),
    _sep(43, "the argument of perigee from the mean anomaly"),
    TLEField(
        "mean_anomaly",
        "mean anomaly",
        44,
        51,
        _ANGLE,
        "degrees like 'NNN.NNNN' (ASCII digits, blank-padded on the left)",
    ),
    _sep(52, "the mean anomaly from the mean motion"),
    TLEField(
        "mean_motion",
        "mean motion",
        53,
        63,
        _right_aligned(2) + r"\.[0-9]{8}",
        "revolutions per day like 'NN.NNNNNNNN' (ASCII digits, blank-padded on the left)",
    ),
    TLEField(
        "revolution_number",
        "revolution number",
        64,
        68,
        _right_aligned(5),
        "up to 5 ASCII digits, blank-padded on the left",
    ),
    TLEField(None, "checksum", 69, 69, "[0-9]", "an ASCII digit"),
)
"""Every column of line 2, in order."""


def _line_regex(fields: tuple[TLEField, ...]) -> re.Pattern[str]:
    parts = [f"(?P<{f.key}>{f.pattern})" if f.key else f"(?:{f.pattern})" for f in fields]
    return re.compile("".join(parts))


_LINE1_RE = _line_regex(LINE1_FIELDS)
_LINE2_RE = _line_regex(LINE2_FIELDS)
_FIELD_RE = {id(f): re.compile(f.pattern) for f in LINE1_FIELDS + LINE2_FIELDS}
_SATNUM_RE = re.compile(_SATNUM)
_LINE1_BY_KEY = {f.key: f for f in LINE1_FIELDS if f.key}
_LINE2_BY_KEY = {f.key: f for f in LINE2_FIELDS if f.key}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NOT_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)


@dataclass(frozen=True)
class TLEElements:
    """The values of one element set, as its columns read.

    Attributes
    ----------
    satnum : int
        Catalogue number (Alpha-5 decoded: 'A0001' is 100001).
    classification : str
        'U', 'C', 'S' (a blank reads as 'U', as in sgp4).
    epoch_year : int
        Two-digit epoch year as written (57-99 are 1957-1999, 00-56 are 2000-2056).
    epoch_day : float
        Day of the year with fraction (1.0 is January 1, 0h UTC).
    ndot : float
        First derivative of the mean motion divided by two [rev/day^2].
    nddot : float
        Second derivative of the mean motion divided by six [rev/day^3].
    bstar : float
        B* drag term [1/Earth radii].
    ephemeris_type : int
        0 for SGP4 sets.
    element_set_number : int
    inclination_deg, raan_deg, argp_deg, mean_anomaly_deg : float
        Angles [deg].
    eccentricity : float
    mean_motion_rev_day : float
        Kozai mean motion [rev/day].
    revolution_number : int
        Revolutions at epoch.
    """

    satnum: int
    classification: str
    epoch_year: int
    epoch_day: float
    ndot: float
    nddot: float
    bstar: float
    ephemeris_type: int
    element_set_number: int
    inclination_deg: float
    raan_deg: float
    eccentricity: float
    argp_deg: float
    mean_anomaly_deg: float
    mean_motion_rev_day: float
    revolution_number: int

    @property
    def semi_major_axis_km(self) -> float:
        """Two-body semi-major axis from the mean motion (WGS-72 ``mu``) [km]."""
        n_rad_s = self.mean_motion_rev_day * 2.0 * math.pi / 86400.0
        return (EARTH_MU_KM3_S2 / (n_rad_s * n_rad_s)) ** (1.0 / 3.0)

    @property
    def perigee_altitude_km(self) -> float:
        """``a (1 - e)`` minus the WGS-72 equatorial radius [km]."""
        return self.semi_major_axis_km * (1.0 - self.eccentricity) - EARTH_RADIUS_KM


@dataclass(frozen=True)
class TLERecord:
    """One validated element set.

    Attributes
    ----------
    name : str
        Satellite name (from the name line, or ``"NORAD <satnum>"`` for two-line sets).
    line1, line2 : str
        The 69-character data lines.
    line_number : int
        1-based line number of ``line1`` in the source.
    satnum : str
        Catalogue number as written (5 characters, Alpha-5 allowed).
    epoch : datetime
        Element-set epoch (UTC).
    elements : TLEElements or None
        The values the columns hold (None only for records built by hand; the constellation
        then reads the lines again).
    """

    name: str
    line1: str
    line2: str
    line_number: int
    satnum: str
    epoch: datetime
    elements: TLEElements | None = None


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 characters: digits count their value, '-' counts 1.

    Every other character (letters, blanks, '+', '.') counts 0, so a letter in a separator
    column keeps the checksum: the column checks of :func:`parse_tle` catch it.
    """
    digits = line[:68].replace("-", "1").encode("ascii", "replace").translate(None, _NOT_DIGITS)
    return (sum(digits) - 48 * len(digits)) % 10


def split_lines(text: str) -> list[str]:
    """Split on ``\\r\\n``, ``\\r`` or ``\\n`` only (other control characters stay in the line)."""
    return _LINE_BREAK.split(text)


def parse_tle(text: str, source: str = "<text>") -> list[TLERecord]:
    """Parse and validate every element set in ``text``.

    Accepts two-line sets, three-line sets (a name line, optionally prefixed ``"0 "``), and a
    mix, with blank lines ignored and ``\\n``, ``\\r\\n`` or ``\\r`` line endings. Every column
    of both lines is checked (see :data:`LINE1_FIELDS`, :data:`LINE2_FIELDS`), then the
    checksums, the value ranges and the perigee (``a (1 - e)`` from the mean motion must be
    above the Earth's surface).

    Parameters
    ----------
    text : str
        TLE text.
    source : str
        Where the text came from (a path), used in error messages.

    Returns
    -------
    list of TLERecord
        In file order; duplicates are kept (see :func:`drop_duplicates`).

    Raises
    ------
    TLEError
        For empty text, a truncated or over-long line, a bad checksum, a wrong line number,
        lines out of order, a missing line, mismatched catalogue numbers, a malformed column,
        a value out of range or a perigee below the surface. The message names the satellite,
        the line, the columns, what they must hold and the fix.
    """
    if not isinstance(text, str):
        raise TypeError(f"TLE text must be a str, got {type(text).__name__}")
    lines = [(n + 1, raw.rstrip(" \t")) for n, raw in enumerate(split_lines(text))]
    lines = [(n, line) for n, line in lines if line.strip()]
    if not lines:
        raise TLEError(
            f"empty TLE text: no element sets in {source}; pass the text of two- or three-line "
            "element sets or the path of a .tle file",
            0,
            "text",
        )
    records: list[TLERecord] = []
    pending_name: tuple[int, str] | None = None
    i = 0
    while i < len(lines):
        n, line = lines[i]
        kind = _line_kind(line)
        if kind == "2":
            label = _label(pending_name, line)
            raise TLEError(
                f"{source} line {n} ({label!r}): field 'line number' (column 1) is '2' but no "
                "line 1 precedes it (lines out of order or line 1 missing); each set must be "
                "[name], line 1, line 2",
                n,
                "line number",
                label,
                (1, 1),
            )
        if kind == "name":
            if pending_name is not None:
                pn, pname = pending_name
                raise TLEError(
                    f"{source} line {n}: expected line 1 of the set named {pname!r} (line {pn}),"
                    f" got {line[:30]!r}; a name line must be followed by lines 1 and 2 (line 1 "
                    "starts with '1 ' and has 69 characters)",
                    n,
                    "line number",
                    pname,
                )
            name = line[2:] if line.startswith("0 ") else line
            pending_name = (n, name.strip())
            i += 1
            continue
        if i + 1 >= len(lines):
            label = _label(pending_name, line)
            raise TLEError(
                f"{source} line {n} ({label!r}): line 1 has no line 2 after it (the input is "
                "truncated); append the set's line 2",
                n,
                "line number",
                label,
            )
        n2, line2 = lines[i + 1]
        records.append(_parse_pair(line, n, line2, n2, pending_name, source))
        pending_name = None
        i += 2
    if pending_name is not None:
        pn, pname = pending_name
        raise TLEError(
            f"{source} line {pn}: the name line {pname!r} is not followed by lines 1 and 2 "
            "(the input is truncated, or this line is not a TLE line)",
            pn,
            "line number",
            pname,
        )
    return records


def drop_duplicates(records: list[TLERecord], source: str = "<text>") -> list[TLERecord]:
    """Keep one set per catalogue number: the newest epoch (on a tie, the later in the file).

    The kept set takes the place of the number's first appearance. Warns
    (:class:`DuplicateTLEWarning`) naming the duplicated numbers and their lines.
    """
    first: dict[object, int] = {}
    kept: list[TLERecord] = []
    dropped: list[tuple[TLERecord, TLERecord]] = []
    for rec in records:
        key = _satnum_key(rec.satnum)
        slot = first.get(key)
        if slot is None:
            first[key] = len(kept)
            kept.append(rec)
            continue
        old = kept[slot]
        if rec.epoch >= old.epoch:
            kept[slot] = rec
            dropped.append((old, rec))
        else:
            dropped.append((rec, old))
    if dropped:
        shown = "; ".join(
            f"NORAD {new.satnum.strip()} {new.name!r}: kept the set at line "
            f"{new.line_number} (epoch {new.epoch:%Y-%m-%d %H:%M:%S}), dropped the set at line "
            f"{old.line_number} (epoch "
            f"{old.epoch:%Y-%m-%d %H:%M:%S})"
            for old, new in dropped[:5]
        )
        more = f"; and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        warnings.warn(
            f"{len(dropped)} element sets in {source} repeat a catalogue number; the newest "
            f"epoch of each was kept: {shown}{more}. Remove the older sets to silence this",
            DuplicateTLEWarning,
            stacklevel=3,
        )
    return kept


def _satnum_key(satnum: str) -> object:
    text = satnum.strip()
    return int(text) if text.isascii() and text.isdigit() else text


def _alpha5(satnum: str) -> int:
    text = satnum.strip()
    if text[0] in "0123456789":
        return int(text)
    value = ord(text[0]) - ord("A") + 10 - (text[0] > "I") - (text[0] > "O")
    return value * 10000 + int(text[1:])


def _label(name: tuple[int, str] | None, line: str) -> str:
    if name is not None and name[1]:
        return name[1]
    satnum = line[2:7]
    if _SATNUM_RE.fullmatch(satnum):
        return f"NORAD {satnum.strip()}"
    return "unnamed set"


def _line_kind(line: str) -> str:
    """'1' or '2' for a data line (a long line starting '1 '/'2 ', or any 69-character line
    starting '1'/'2'), else 'name'."""
    first = line[:1]
    if first in ("1", "2") and (
        len(line) == TLE_LINE_LENGTH or (line[1:2] == " " and len(line) > NAME_MAX_LENGTH)
    ):
        return first
    return "name"


def _exponential(text: str) -> float:
    mantissa = float(text[0].replace(" ", "+") + "0." + text[1:6])
    return mantissa * 10.0 ** int(text[6:8])


def _parse_pair(
    line1: str,
    n1: int,
    line2: str,
    n2: int,
    name: tuple[int, str] | None,
    source: str,
) -> TLERecord:
    label = _label(name, line1)
    m1 = _LINE1_RE.fullmatch(line1)
    if m1 is None:
        _diagnose(line1, n1, "1", LINE1_FIELDS, label, source)
    _check_checksum(line1, n1, "1", label, source)
    if not line2.startswith("2"):
        raise TLEError(
            f"{source} line {n2} ({label!r}): field 'line number' (column 1) should be '2' after "
            f"line 1 at line {n1}, got {line2[:1]!r} (lines out of order or line 2 missing)",
            n2,
            "line number",
            label,
            (1, 1),
        )
    m2 = _LINE2_RE.fullmatch(line2)
    if m2 is None:
        _diagnose(line2, n2, "2", LINE2_FIELDS, label, source)
    _check_checksum(line2, n2, "2", label, source)
    g1, g2 = m1.groupdict(), m2.groupdict()
    satnum, satnum2 = g1["satnum"], g2["satnum"]
    if _alpha5(satnum2) != _alpha5(satnum):
        raise TLEError(
            f"{source} line {n2} ({label!r}): field 'satellite number' (columns 3-7) is "
            f"{satnum2!r} but line 1 at line {n1} says {satnum!r}; the two lines belong to "
            "different sets: pair each line 1 with the line 2 of the same satellite",
            n2,
            "satellite number",
            label,
            (3, 7),
        )
    year = int(g1["epoch_year"])
    full_year = 1900 + year if year >= 57 else 2000 + year
    leap = (full_year % 4 == 0 and full_year % 100 != 0) or full_year % 400 == 0
    day = float(g1["epoch_day"])
    day_field = _LINE1_BY_KEY["epoch_day"]
    _check_range(day, 1.0, 367.0 if leap else 366.0, line1, n1, day_field, label, source, False)
    elements = TLEElements(
        satnum=_alpha5(satnum),
        classification=g1["classification"].replace(" ", "U"),
        epoch_year=year,
        epoch_day=day,
        ndot=float(g1["ndot"].replace(" ", "+", 1)),
        nddot=_exponential(g1["nddot"]),
        bstar=_exponential(g1["bstar"]),
        ephemeris_type=int(g1["ephemeris_type"].replace(" ", "0")),
        element_set_number=int(g1["element_set_number"]),
        inclination_deg=float(g2["inclination"]),
        raan_deg=float(g2["raan"]),
        eccentricity=float("0." + g2["eccentricity"]),
        argp_deg=float(g2["argp"]),
        mean_anomaly_deg=float(g2["mean_anomaly"]),
        mean_motion_rev_day=float(g2["mean_motion"]),
        revolution_number=int(g2["revolution_number"]),
    )
    for key, value, high in (
        ("inclination", elements.inclination_deg, 180.0),
        ("raan", elements.raan_deg, 360.0),
        ("argp", elements.argp_deg, 360.0),
        ("mean_anomaly", elements.mean_anomaly_deg, 360.0),
    ):
        _check_range(value, 0.0, high, line2, n2, _LINE2_BY_KEY[key], label, source, True)
    if not elements.mean_motion_rev_day > 0.0:
        raise TLEError(
            f"{source} line {n2} ({label!r}): field 'mean motion' (columns 53-63) is "
            f"{line2[52:63]!r} but must be > 0 revolutions per day; {_FIX}",
            n2,
            "mean motion",
            label,
            (53, 63),
        )
    perigee_km = elements.perigee_altitude_km
    if perigee_km < 0.0:
        raise TLEError(
            f"{source} line {n2} ({label!r}): the perigee is {-perigee_km:.0f} km below the "
            f"Earth's surface: a (1 - e) = {elements.semi_major_axis_km:.1f} km x (1 - "
            f"{elements.eccentricity:g}) is less than the Earth radius {EARTH_RADIUS_KM} km "
            f"(a from the mean motion {elements.mean_motion_rev_day:g} rev/day in columns "
            f"53-63, e from columns 27-33); no orbit passes below the ground: {_FIX}",
            n2,
            "perigee",
            label,
            (27, 63),
        )
    epoch = datetime(full_year, 1, 1, tzinfo=UTC) + timedelta(days=day - 1.0)
    record_name = name[1] if name is not None and name[1] else f"NORAD {satnum.strip()}"
    return TLERecord(record_name, line1, line2, n1, satnum, epoch, elements)


def _check_range(
    value: float,
    low: float,
    high: float,
    line: str,
    n: int,
    field: TLEField,
    label: str,
    source: str,
    closed: bool,
) -> None:
    bad = value < low or (value > high if closed else value >= high)
    if bad:
        interval = f"[{low:g}, {high:g}]" if closed else f"[{low:g}, {high:g})"
        raise TLEError(
            f"{source} line {n} ({label!r}): field {field.name!r} ({field.columns}) is "
            f"{line[field.first - 1 : field.last]!r}, outside {interval}; {_FIX}",
            n,
            field.name,
            label,
            (field.first, field.last),
        )


def _check_checksum(line: str, n: int, which: str, label: str, source: str) -> None:
    computed = tle_checksum(line)
    if computed != ord(line[68]) - 48:
        raise TLEError(
            f"{source} line {n} ({label!r}): field 'checksum' (column 69) of line {which} is "
            f"{line[68]} but the line sums to {computed}: the line is corrupted; {_FIX}",
            n,
            "checksum",
            label,
            (69, 69),
        )


def _diagnose(
    line: str,
    n: int,
    which: str,
    fields: tuple[TLEField, ...],
    label: str,
    source: str,
) -> None:
    """Raise the TLEError for the first column of ``line`` that breaks the layout."""
    if line[:1] != which:
        raise TLEError(
            f"{source} line {n} ({label!r}): field 'line number' (column 1) should be {which!r}, "
            f"got {line[:1]!r}",
            n,
            "line number",
            label,
            (1, 1),
        )
    if len(line) != TLE_LINE_LENGTH:
        problem = "truncated" if len(line) < TLE_LINE_LENGTH else "too long"
        raise TLEError(
            f"{source} line {n} ({label!r}): line {which} is {problem}: {len(line)} characters, a "
            f"TLE line has {TLE_LINE_LENGTH} (field 'line length'); {_FIX}",
            n,
            "line length",
            label,
        )
    for field in fields:
        value = line[field.first - 1 : field.last]
        if _FIELD_RE[id(field)].fullmatch(value):
            continue
        odd = [c for c in value if not c.isascii() or (not c.isprintable())]
        if odd:
            why = (
                "holds "
                + ", ".join(f"U+{ord(c):04X} ({c!r})" for c in odd[:3])
                + (", not ASCII" if any(not c.isascii() for c in odd) else ", a control character")
            )
        elif field.name == "separator":
            why = "is not blank (a stray character, or the field beside it is shifted by a column)"
        else:
            why = "is malformed"
        raise TLEError(
            f"{source} line {n} ({label!r}): field {field.name!r} ({field.columns}) of line "
            f"{which} is {value!r}: it {why}; it must be {field.expected}; {_FIX}",
            n,
            field.name,
            label,
            (field.first, field.last),
        )
    raise TLEError(  # unreachable: the line pattern is the concatenation of the fields'
        f"{source} line {n} ({label!r}): line {which} does not follow the TLE layout; {_FIX}",
        n,
        "layout",
        label,
    )
