"""Two- and three-line element sets: parsing and full validation.

Column layout from the NORAD two-line element set format (CelesTrak, "NORAD Two-Line Element
Set Format", https://celestrak.org/columns/v04n03/). Every problem raises :class:`TLEError`
naming the line number in the input, the field and its columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

TLE_LINE_LENGTH = 69
"""Characters in a TLE data line, checksum included."""

NAME_MAX_LENGTH = 24
"""Longest name line of the three-line (3LE) format."""


class TLEError(ValueError):
    """An invalid TLE line.

    Attributes
    ----------
    line_number : int
        1-based line number in the input text or file.
    field : str
        The offending field ("checksum", "inclination", ...).
    """

    def __init__(self, message: str, line_number: int, field: str) -> None:
        super().__init__(message)
        self.line_number = line_number
        self.field = field


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
    """

    name: str
    line1: str
    line2: str
    line_number: int
    satnum: str
    epoch: datetime


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 characters: digits count their value, '-' counts 1."""
    codes = np.frombuffer(line[:68].encode("ascii", errors="replace"), dtype=np.uint8)
    digits = codes - np.uint8(48)
    return int(digits[digits <= 9].sum(dtype=np.int64) + np.count_nonzero(codes == 45)) % 10


_FLOAT = re.compile(r"^[ +-]?(\d+\.?\d*|\.\d+)$")
_IMPLIED = re.compile(r"^[ +-]?\d{5}[+-]\d$")
_DIGITS_OR_BLANK = re.compile(r"^[ \d]*$")
_SATNUM = re.compile(r"^(\d{5}|[A-HJ-NP-Z]\d{4}| {0,4}\d{1,5})$")


def parse_tle(text: str, source: str = "<text>") -> list[TLERecord]:
    """Parse and validate every element set in ``text``.

    Accepts two-line sets, three-line sets (a name line of up to 24 characters, optionally
    prefixed ``"0 "``), and a mix, with blank lines ignored.

    Parameters
    ----------
    text : str
        TLE text.
    source : str
        Where the text came from (a path), used in error messages.

    Raises
    ------
    TLEError
        For a truncated or over-long line, a bad checksum, a wrong line number, lines out of
        order, a missing line, mismatched catalogue numbers or a malformed field.
    """
    lines = [(n + 1, raw.rstrip("\r\n").rstrip()) for n, raw in enumerate(text.splitlines())]
    lines = [(n, line) for n, line in lines if line.strip()]
    records: list[TLERecord] = []
    pending_name: tuple[int, str] | None = None
    i = 0
    while i < len(lines):
        n, line = lines[i]
        kind = _line_kind(line)
        if kind == "2":
            raise TLEError(
                f"{source} line {n}: field 'line number' (column 1) is '2' but no line 1 "
                "precedes it (lines out of order or line 1 missing); each set must be "
                "[name], line 1, line 2",
                n,
                "line number",
            )
        if kind == "name":
            if pending_name is not None:
                pn, pname = pending_name
                raise TLEError(
                    f"{source} line {n}: expected line 1 of the set named {pname!r} (line {pn}),"
                    f" got {line[:30]!r}; a name line must be followed by lines 1 and 2",
                    n,
                    "line number",
                )
            name = line[2:] if line.startswith("0 ") else line
            pending_name = (n, name.strip())
            i += 1
            continue
        if i + 1 >= len(lines):
            raise TLEError(
                f"{source} line {n}: line 1 has no line 2 after it (the input is truncated); "
                "append the set's line 2",
                n,
                "line number",
            )
        n2, line2 = lines[i + 1]
        record = _parse_pair(line, n, line2, n2, pending_name, source)
        records.append(record)
        pending_name = None
        i += 2
    if pending_name is not None:
        pn, pname = pending_name
        raise TLEError(
            f"{source} line {pn}: the name line {pname!r} is not followed by lines 1 and 2 "
            "(the input is truncated)",
            pn,
            "line number",
        )
    return records


def _line_kind(line: str) -> str:
    if line.startswith("1 ") and len(line) > NAME_MAX_LENGTH:
        return "1"
    if line.startswith("2 ") and len(line) > NAME_MAX_LENGTH:
        return "2"
    return "name"


def _parse_pair(
    line1: str,
    n1: int,
    line2: str,
    n2: int,
    name: tuple[int, str] | None,
    source: str,
) -> TLERecord:
    _check_line(line1, n1, "1", source)
    if not line2.startswith("2"):
        raise TLEError(
            f"{source} line {n2}: field 'line number' (column 1) should be '2' after line 1 at "
            f"line {n1}, got {line2[:1]!r} (lines out of order or line 2 missing)",
            n2,
            "line number",
        )
    _check_line(line2, n2, "2", source)
    fields1 = _FieldReader(line1, n1, source)
    satnum = fields1.text("satellite number", 3, 7, _SATNUM.match)
    fields1.text("classification", 8, 8, lambda s: s in ("U", "C", "S", " "))
    fields1.text("international designator", 10, 17, lambda s: re.match(r"^[ \w]*$", s))
    year = int(fields1.text("epoch year", 19, 20, lambda s: s.isdigit()))
    day = fields1.number("epoch day", 21, 32, 1.0, 367.0)
    fields1.number("mean motion first derivative", 34, 43, None, None)
    fields1.text("mean motion second derivative", 45, 52, _IMPLIED.match)
    fields1.text("bstar drag term", 54, 61, _IMPLIED.match)
    fields1.text("ephemeris type", 63, 63, lambda s: s in " 0123456789")
    fields1.text("element set number", 65, 68, _DIGITS_OR_BLANK.match)
    fields2 = _FieldReader(line2, n2, source)
    satnum2 = fields2.text("satellite number", 3, 7, _SATNUM.match)
    if satnum2.strip() != satnum.strip():
        raise TLEError(
            f"{source} line {n2}: field 'satellite number' (columns 3-7) is {satnum2!r} but "
            f"line 1 at line {n1} says {satnum!r}; the two lines belong to different sets",
            n2,
            "satellite number",
        )
    fields2.number("inclination", 9, 16, 0.0, 180.0)
    fields2.number("right ascension of the ascending node", 18, 25, 0.0, 360.0)
    fields2.text("eccentricity", 27, 33, lambda s: s.isdigit())
    fields2.number("argument of perigee", 35, 42, 0.0, 360.0)
    fields2.number("mean anomaly", 44, 51, 0.0, 360.0)
    mean_motion = fields2.number("mean motion", 53, 63, 0.0, 20.0)
    if mean_motion <= 0.0:
        raise TLEError(
            f"{source} line {n2}: field 'mean motion' (columns 53-63) must be > 0 rev/day, "
            f"got {mean_motion}",
            n2,
            "mean motion",
        )
    fields2.text("revolution number", 64, 68, _DIGITS_OR_BLANK.match)
    full_year = 1900 + year if year >= 57 else 2000 + year
    epoch = datetime(full_year, 1, 1, tzinfo=UTC) + timedelta(days=day - 1.0)
    label = name[1] if name is not None else f"NORAD {satnum.strip()}"
    return TLERecord(label, line1, line2, n1, satnum, epoch)


def _check_line(line: str, n: int, expected: str, source: str) -> None:
    if line[:1] != expected:
        raise TLEError(
            f"{source} line {n}: field 'line number' (column 1) should be {expected!r}, got "
            f"{line[:1]!r}",
            n,
            "line number",
        )
    if len(line) != TLE_LINE_LENGTH:
        problem = "truncated" if len(line) < TLE_LINE_LENGTH else "too long"
        raise TLEError(
            f"{source} line {n}: line {expected} is {problem}: {len(line)} characters, a TLE line "
            f"has {TLE_LINE_LENGTH} (field 'line length'); re-download the element set",
            n,
            "line length",
        )
    check = line[68]
    if not check.isdigit():
        raise TLEError(
            f"{source} line {n}: field 'checksum' (column 69) must be a digit, got {check!r}",
            n,
            "checksum",
        )
    computed = tle_checksum(line)
    if computed != int(check):
        raise TLEError(
            f"{source} line {n}: field 'checksum' (column 69) is {check} but the line sums to "
            f"{computed}: the line is corrupted; re-download the element set",
            n,
            "checksum",
        )


class _FieldReader:
    """Reads 1-based inclusive column ranges of one line and raises TLEError on bad fields."""

    def __init__(self, line: str, line_number: int, source: str) -> None:
        self.line = line
        self.line_number = line_number
        self.source = source

    def _fail(self, field: str, first: int, last: int, value: str, why: str) -> TLEError:
        cols = f"column {first}" if first == last else f"columns {first}-{last}"
        return TLEError(
            f"{self.source} line {self.line_number}: field {field!r} ({cols}) {why}: "
            f"{value!r}; fix or re-download the element set",
            self.line_number,
            field,
        )

    def text(self, field: str, first: int, last: int, valid: Callable[[str], object]) -> str:
        value = self.line[first - 1 : last]
        if not valid(value):
            raise self._fail(field, first, last, value, "is malformed")
        return value

    def number(
        self, field: str, first: int, last: int, low: float | None, high: float | None
    ) -> float:
        value = self.line[first - 1 : last]
        if not _FLOAT.match(value.strip() or "x"):
            raise self._fail(field, first, last, value, "is not a number")
        number = float(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise self._fail(field, first, last, value, f"is outside [{low}, {high}]")
        return number
