"""TLE constellations: validated element sets propagated with sgp4's vectorised SatrecArray."""

from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sgp4.api import SGP4_ERRORS, Satrec, SatrecArray

from spikesat.orbits.constellation import Constellation
from spikesat.orbits.timegrid import TimeGrid
from spikesat.orbits.tle import (
    TLE_LINE_LENGTH,
    TLEError,
    TLERecord,
    drop_duplicates,
    parse_tle,
)

ON_ERROR_CHOICES = ("warn", "raise")

DEFAULT_ANCHOR_STEP_S = 60.0
"""SGP4 sets are propagated exactly every 60 s in contact plans and Hermite-interpolated in
between (~0.3 m at 550 km, see :mod:`spikesat.orbits.hermite`)."""


class StaleTLEWarning(UserWarning):
    """The requested times are far from some element sets' epochs (SGP4 accuracy degrades)."""


class SGP4ErrorWarning(UserWarning):
    """SGP4 failed for some satellites; the message says per satellite what the states hold."""


class SGP4PropagationError(ValueError):
    """SGP4 failed for some satellites and the constellation was built with on_error="raise"."""


NAN_WITHOUT_CODE = 255
"""spikesat's code for a step where sgp4 returned NaN (non-finite) states with error code 0."""

FAILURE_MESSAGES = {
    **SGP4_ERRORS,
    NAN_WITHOUT_CODE: "sgp4 returned NaN (non-finite) states without an error code",
}
"""The meaning of each code in ``SGP4Failure.code`` (sgp4's 1-6 and spikesat's 255)."""

FAILURE_EFFECTS = {
    1: "positions and velocities there are NaN",
    2: "positions and velocities there are NaN",
    3: "positions and velocities there are NaN",
    4: "positions and velocities there are NaN",
    5: "positions and velocities there are NaN",
    6: (
        "the satellite has decayed: positions there are finite but inside the Earth "
        "(radius below one Earth radius) and are not physical"
    ),
    NAN_WITHOUT_CODE: "positions and velocities there are NaN",
}
"""What sgp4 (2.x, accelerated) returns at a failing step, per code: NaN for codes 1-4, the
computed (sub-surface) state for code 6 (checked in the tests)."""


@dataclass(frozen=True)
class SGP4Failure:
    """One satellite's SGP4 failure over a propagation.

    Attributes
    ----------
    sat : int
        Satellite index.
    name : str
        Satellite name.
    code : int
        The first error code: sgp4's 1-6 (see ``sgp4.api.SGP4_ERRORS``), or 255 where sgp4
        returned NaN states with code 0 (:data:`NAN_WITHOUT_CODE`).
    message : str
        sgp4's explanation of ``code``.
    num_steps : int
        Number of time steps that failed (with any code).
    first_offset_s : float
        Offset of the first failing step [s].
    effect : str
        What the states hold at the steps with ``code`` (NaN, or finite but below the surface
        for code 6).
    """

    sat: int
    name: str
    code: int
    message: str
    num_steps: int
    first_offset_s: float
    effect: str = ""


class TLEConstellation(Constellation):
    """Satellites from validated TLEs, propagated with SGP4 (WGS-72, as Skyfield does).

    Parameters
    ----------
    records : list[TLERecord]
        Validated element sets (see :func:`load_tle`).
    source : str
        Where the sets came from (a path or "<text>").
    max_epoch_age_days : float
        Warn (``StaleTLEWarning``) when a requested time is further than this from a set's
        epoch [days].
    on_error : {"warn", "raise"}
        What to do when SGP4 reports an error code for a satellite: warn with a per-satellite
        list (saying, per code, whether the states are NaN or finite but below the surface)
        or raise ``SGP4PropagationError``.

    Raises
    ------
    TLEError
        If sgp4 reads any element of a set differently from its columns, or sgp4's
        initialisation reports an error for a set.
    """

    def __init__(
        self,
        records: list[TLERecord],
        source: str = "<text>",
        max_epoch_age_days: float = 14.0,
        on_error: str = "warn",
    ) -> None:
        if not records:
            raise ValueError(f"no element sets in {source}; pass TLE text or a .tle file")
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error={on_error!r} is not one of {ON_ERROR_CHOICES}")
        if not max_epoch_age_days > 0:
            raise ValueError(f"max_epoch_age_days={max_epoch_age_days!r} must be > 0 days")
        self.records = [r if r.elements is not None else _with_elements(r) for r in records]
        self.source = source
        self.max_epoch_age_days = float(max_epoch_age_days)
        self.on_error = on_error
        self.sat_names = [r.name for r in self.records]
        self.planes = None
        self.num_planes = None
        self.default_anchor_step_s = DEFAULT_ANCHOR_STEP_S
        self._build()
        check_sgp4_reading(self.records, self._satrecs, source)

    def _build(self) -> None:
        self._satrecs = [Satrec.twoline2rv(r.line1, r.line2) for r in self.records]
        self._array = SatrecArray(self._satrecs)
        self._epoch_jd = np.array([s.jdsatepoch + s.jdsatepochF for s in self._satrecs])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_satrecs", "_array", "_epoch_jd"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build()

    def __repr__(self) -> str:
        return f"TLEConstellation({self.num_sats} satellites from {self.source!r})"

    @property
    def epochs(self) -> list:
        """Element-set epochs (UTC datetimes), one per satellite."""
        return [r.epoch for r in self.records]

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: source, count and epoch range."""
        epochs = self.epochs
        return {
            "kind": "tle",
            "source": self.source,
            "num_sats": self.num_sats,
            "first_epoch": min(epochs).isoformat(),
            "last_epoch": max(epochs).isoformat(),
        }

    def select(self, pattern: str) -> TLEConstellation:
        """The satellites whose names match ``pattern``.

        Parameters
        ----------
        pattern : str
            Case-insensitive: a shell-style wildcard (``"STARLINK-1*"``) when it holds ``*``,
            ``?`` or ``[``, else a substring (``"SENTINEL-2"``).

        Raises
        ------
        ValueError
            If nothing matches (the message shows some names in the set).
        """
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"pattern must be a non-empty string, got {pattern!r}")
        wanted = pattern.upper()
        if any(c in pattern for c in "*?["):
            keep = [r for r in self.records if fnmatch.fnmatchcase(r.name.upper(), wanted)]
        else:
            keep = [r for r in self.records if wanted in r.name.upper()]
        if not keep:
            sample = ", ".join(self.sat_names[:5])
            raise ValueError(
                f"no satellite name matches {pattern!r} in {self.source} "
                f"({self.num_sats} sets, e.g. {sample}); use a substring such as 'STARLINK' or "
                "a wildcard such as 'SENTINEL-2*'"
            )
        return TLEConstellation(keep, self.source, self.max_epoch_age_days, self.on_error)

    def subset(self, sat_index: np.ndarray | list[int]) -> TLEConstellation:
        """The satellites at ``sat_index`` (in that order)."""
        idx = np.asarray(sat_index, dtype=np.int64)
        return TLEConstellation(
            [self.records[i] for i in idx], self.source, self.max_epoch_age_days, self.on_error
        )

    def epoch_age_days(self, times: TimeGrid) -> np.ndarray:
        """Largest distance of each set's epoch from the requested times, float64 ``[S]`` [days]."""
        jd = times.julian_dates()
        first = jd.whole[0] + jd.utc_fraction[0]
        last = jd.whole[-1] + jd.utc_fraction[-1]
        return np.maximum(np.abs(first - self._epoch_jd), np.abs(last - self._epoch_jd))

    def check_epochs(self, times: TimeGrid) -> None:
        """Warn (``StaleTLEWarning``) when epochs are more than ``max_epoch_age_days`` away."""
        age = self.epoch_age_days(times)
        stale = np.flatnonzero(age > self.max_epoch_age_days)
        if stale.size:
            worst = int(stale[np.argmax(age[stale])])
            warnings.warn(
                f"{stale.size} of {self.num_sats} element sets have epochs more than "
                f"{self.max_epoch_age_days:g} days from the requested times; the oldest, "
                f"{self.sat_names[worst]!r}, is {age[worst]:.1f} days away. SGP4 errors grow "
                "by roughly 1-3 km per day; use element sets from near the requested times",
                StaleTLEWarning,
                stacklevel=3,
            )

    def propagate_teme(
        self, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SGP4 TEME states and error codes: ``[S', T, 3]``, ``[S', T, 3]``, uint8 ``[S', T]``."""
        jd = times.julian_dates()
        array = self._array if sat_index is None else self._subarray(sat_index)
        codes, r, v = array.sgp4(jd.whole, jd.utc_fraction)
        return r, v, _flag_nan_states(codes, r, v)

    def _subarray(self, sat_index: np.ndarray) -> SatrecArray:
        return SatrecArray([self._satrecs[i] for i in np.asarray(sat_index, dtype=np.int64)])

    def pair_states_teme(
        self, times: TimeGrid, sat_index: np.ndarray, offsets_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """SGP4 TEME states of ``sat_index[k]`` at ``offsets_s[k]``, each ``[E, 3]``."""
        idx = np.asarray(sat_index, dtype=np.int64)
        offsets = np.asarray(offsets_s, dtype=np.float64)
        jd = times.julian_dates(offsets)
        r = np.empty((idx.size, 3))
        v = np.empty((idx.size, 3))
        order = np.argsort(idx, kind="stable")
        sats, starts = np.unique(idx[order], return_index=True)
        bounds = np.append(starts, idx.size)
        for k, sat in enumerate(sats):
            sel = order[bounds[k] : bounds[k + 1]]
            _, r[sel], v[sel] = self._satrecs[sat].sgp4_array(jd.whole[sel], jd.utc_fraction[sel])
        return r, v

    def failures(
        self, codes: np.ndarray, times: TimeGrid, sat_index: np.ndarray | None = None
    ) -> list[SGP4Failure]:
        """Summarise SGP4 error codes ``[S', T]`` into one :class:`SGP4Failure` per satellite."""
        idx = np.arange(self.num_sats) if sat_index is None else np.asarray(sat_index)
        out = []
        for row in np.flatnonzero(np.any(codes != 0, axis=1)):
            bad = np.flatnonzero(codes[row])
            code = int(codes[row, bad[0]])
            sat = int(idx[row])
            out.append(
                SGP4Failure(
                    sat=sat,
                    name=self.sat_names[sat],
                    code=code,
                    message=FAILURE_MESSAGES.get(code, "unknown sgp4 error"),
                    num_steps=int(bad.size),
                    first_offset_s=float(times.offsets_s[bad[0]]),
                    effect=_effects(codes[row, bad]),
                )
            )
        return out

    def report_failures(self, failures: list[SGP4Failure]) -> None:
        """Warn about (or raise for) SGP4 failures, one line per satellite."""
        if not failures:
            return
        lines = [
            f"  {f.name} (index {f.sat}): sgp4 error {f.code}, {f.message}; {f.num_steps} steps "
            f"from offset {f.first_offset_s:g} s; {f.effect or FAILURE_EFFECTS.get(f.code, '')}"
            for f in failures
        ]
        message = (
            f"SGP4 failed for {len(failures)} satellites:\n"
            + "\n".join(lines)
            + "\nDrop them with .subset(...) or use fresher element sets."
        )
        if self.on_error == "raise":
            raise SGP4PropagationError(message)
        warnings.warn(message, SGP4ErrorWarning, stacklevel=3)


_XPDOTP = 1440.0 / (2.0 * np.pi)
_DEG2RAD = np.pi / 180.0

# Each element sgp4 reads: (Satrec attribute, our value in sgp4's units, line, field, columns).
_SGP4_READINGS: tuple[tuple[str, Any, int, str, tuple[int, int]], ...] = (
    ("satnum", lambda e: e.satnum, 1, "satellite number", (3, 7)),
    ("epochyr", lambda e: e.epoch_year, 1, "epoch year", (19, 20)),
    ("epochdays", lambda e: e.epoch_day, 1, "epoch day", (21, 32)),
    ("ndot", lambda e: e.ndot / (_XPDOTP * 1440.0), 1, "mean motion first derivative", (34, 43)),
    (
        "nddot",
        lambda e: e.nddot / (_XPDOTP * 1440.0 * 1440.0),
        1,
        "mean motion second derivative",
        (45, 52),
    ),
    ("bstar", lambda e: e.bstar, 1, "bstar drag term", (54, 61)),
    ("ephtype", lambda e: e.ephemeris_type, 1, "ephemeris type", (63, 63)),
    ("elnum", lambda e: e.element_set_number, 1, "element set number", (65, 68)),
    ("inclo", lambda e: e.inclination_deg * _DEG2RAD, 2, "inclination", (9, 16)),
    (
        "nodeo",
        lambda e: e.raan_deg * _DEG2RAD,
        2,
        "right ascension of the ascending node",
        (18, 25),
    ),
    ("ecco", lambda e: e.eccentricity, 2, "eccentricity", (27, 33)),
    ("argpo", lambda e: e.argp_deg * _DEG2RAD, 2, "argument of perigee", (35, 42)),
    ("mo", lambda e: e.mean_anomaly_deg * _DEG2RAD, 2, "mean anomaly", (44, 51)),
    ("no_kozai", lambda e: e.mean_motion_rev_day / _XPDOTP, 2, "mean motion", (53, 63)),
    ("revnum", lambda e: e.revolution_number, 2, "revolution number", (64, 68)),
)


def check_sgp4_reading(records: list[TLERecord], satrecs: list[Satrec], source: str) -> None:
    """Raise :class:`TLEError` where sgp4 read a set differently from its columns.

    The column checks of :func:`spikesat.orbits.parse_tle` are meant to make this impossible;
    this is the proof, for every element sgp4 propagates with (relative tolerance 1e-12: any
    different reading of the text differs in a written digit, far above it). Also raises
    when sgp4's initialisation reports an error code for a set.

    Parameters
    ----------
    records : list of TLERecord
        The sets, each with ``elements``.
    satrecs : list of sgp4.api.Satrec
        ``Satrec.twoline2rv`` of the same sets, in the same order.
    source : str
        Where the sets came from, for the messages.
    """
    if not records:
        return
    errors = np.array([s.error for s in satrecs])
    for k in np.flatnonzero(errors):
        rec = records[int(k)]
        code = int(errors[k])
        raise TLEError(
            f"{source} line {rec.line_number} ({rec.name!r}): sgp4 cannot initialise this set: "
            f"error {code}, {SGP4_ERRORS.get(code, 'unknown sgp4 error')}; the elements "
            "describe no valid orbit: correct the lines or re-download the element set",
            rec.line_number,
            "sgp4 initialisation",
            rec.name,
        )
    elements = [r.elements for r in records]
    for attr, ours_of, which, field, cols in _SGP4_READINGS:
        theirs = np.array([getattr(s, attr) for s in satrecs], dtype=np.float64)
        ours = np.array([ours_of(e) for e in elements], dtype=np.float64)
        bad = ~np.isclose(theirs, ours, rtol=1e-12, atol=0.0)
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            rec = records[k]
            line = rec.line1 if which == 1 else rec.line2
            n = rec.line_number + (which - 1)
            raise TLEError(
                f"{source} line {n} ({rec.name!r}): sgp4 reads field {field!r} (columns "
                f"{cols[0]}-{cols[1]}) of line {which} as {theirs[k]!r} where the columns "
                f"{line[cols[0] - 1 : cols[1]]!r} say {ours[k]!r} (in sgp4's units); spikesat "
                "refuses a set the two readers disagree on: rewrite the line in the standard "
                "layout or re-download the element set",
                n,
                field,
                rec.name,
                cols,
            )


def _flag_nan_states(codes: np.ndarray, r: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``codes`` with :data:`NAN_WITHOUT_CODE` where a state is not finite but sgp4 said 0."""
    # One sum per state: NaN or inf in any component makes it non-finite (2.5x faster than
    # isfinite(...).all over both arrays).
    finite = np.isfinite(np.einsum("ijk->ij", r) + np.einsum("ijk->ij", v))
    silent = ~finite & (codes == 0)
    if np.any(silent):
        codes = codes.copy()
        codes[silent] = NAN_WITHOUT_CODE
    return codes


def _effects(codes: np.ndarray) -> str:
    """What the states hold at failing steps with these codes, per code."""
    found, counts = np.unique(codes, return_counts=True)
    if found.size == 1:
        return FAILURE_EFFECTS.get(int(found[0]), "states there are not reliable")
    return "; ".join(
        f"at the {int(c)} steps with code {int(code)}, "
        + FAILURE_EFFECTS.get(int(code), "states are not reliable")
        for code, c in zip(found, counts, strict=True)
    )


def load_tle(
    path_or_text: str | Path,
    select: str | None = None,
    max_epoch_age_days: float = 14.0,
    on_error: str = "warn",
) -> TLEConstellation:
    """Read and validate two- or three-line element sets.

    Every column of both lines is checked (see :mod:`spikesat.orbits.tle`), and every
    element sgp4 reads is compared with the columns' reading, so spikesat and sgp4 never
    read a line differently.

    Parameters
    ----------
    path_or_text : str or Path
        A file path, or the TLE text itself: a string holding a line break (``\\n``,
        ``\\r\\n`` or ``\\r``), starting with ``"1 "`` or ``"0 "``, or a lone line 2 (69
        characters starting ``"2 "``) is text; any other string is a path.
    select : str, optional
        Keep only names matching this pattern (see :meth:`TLEConstellation.select`).
    max_epoch_age_days : float
        Stale-epoch warning threshold [days].
    on_error : {"warn", "raise"}
        Policy for SGP4 error codes at propagation time.

    Returns
    -------
    TLEConstellation
        One satellite per catalogue number. Where a number appears in several sets, the set
        with the newest epoch is kept (on equal epochs, the later one in the file), in the
        place of the number's first appearance, and a :class:`DuplicateTLEWarning` names
        the numbers and lines.

    Raises
    ------
    TLEError
        (a ValueError) for empty text or an invalid line, naming the satellite, the line
        number, the field, its columns, what they must hold and the fix; also for a perigee
        below the Earth's surface.
    FileNotFoundError
        For a path that does not exist (the message names it).
    """
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and not _looks_like_text(path_or_text)
    ):
        if isinstance(path_or_text, str) and not path_or_text.strip():
            raise TLEError(
                "empty TLE text: got an empty string; pass the text of two- or three-line "
                "element sets or the path of a .tle file",
                0,
                "text",
            )
        path = Path(path_or_text)
        try:
            exists = path.exists()
            why = ""
        except (OSError, ValueError) as err:  # a name too long, or holding a NUL
            exists, why = False, f" ({type(err).__name__}: {err})"
        if not exists:
            shown = str(path) if len(str(path)) <= 200 else str(path)[:200] + "..."
            raise FileNotFoundError(
                f"TLE file {shown!r} not found{why}; pass an existing path or the TLE text "
                "itself (text holds a line break or starts with '1 ' or '0 ')"
            )
        if not path.is_file():
            raise IsADirectoryError(f"TLE path {str(path)!r} is not a file; pass a .tle file")
        text = path.read_text(encoding="utf-8", errors="replace")
        source = str(path)
        if not text.strip():
            raise TLEError(
                f"TLE file {source!r} is empty; pass a file of two- or three-line element sets",
                0,
                "text",
            )
    elif isinstance(path_or_text, str):
        text, source = path_or_text, "<text>"
    else:
        raise TypeError(
            f"path_or_text must be a path or TLE text, got {type(path_or_text).__name__}"
        )
    records = drop_duplicates(parse_tle(text, source), source)
    constellation = TLEConstellation(records, source, max_epoch_age_days, on_error)
    return constellation if select is None else constellation.select(select)


def _looks_like_text(value: str) -> bool:
    if "\n" in value or "\r" in value or value.startswith(("1 ", "0 ")):
        return True
    return value.startswith("2 ") and len(value) >= TLE_LINE_LENGTH  # a lone line 2


def _with_elements(record: TLERecord) -> TLERecord:
    """A hand-built record with its elements read (and every column checked)."""
    parsed = parse_tle(f"{record.line1}\n{record.line2}\n", f"record {record.name!r}")[0]
    return replace(record, elements=parsed.elements)
