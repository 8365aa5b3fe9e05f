"""Time grids: a UTC start and offsets in seconds, with the Julian dates SGP4 and frames need."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from spikesat.units import SECONDS_PER_DAY


def parse_utc(value: datetime | str, what: str = "start") -> datetime:
    """Return ``value`` as a timezone-aware UTC datetime.

    Parameters
    ----------
    value : datetime or str
        A datetime (naive datetimes are taken as UTC) or an ISO-8601 string such as
        ``"2025-10-03T00:00:00Z"``.
    what : str
        The argument's name, used in error messages.

    Raises
    ------
    TypeError
        If ``value`` is neither a datetime nor a string.
    ValueError
        If the string is not ISO-8601.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{what}={value!r} is not an ISO-8601 date-time; write it like "
                "'2025-10-03T00:00:00Z' or pass a datetime"
            ) from None
    if not isinstance(value, datetime):
        raise TypeError(
            f"{what} must be a UTC datetime or an ISO-8601 string, got {type(value).__name__}"
        )
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class JulianDates:
    """Julian dates of a set of instants, split into a whole part and fractions of a day.

    All arrays share one shape. ``whole + utc_fraction`` is the UTC Julian date (the time
    scale of TLE epochs and of sgp4's ``jd, fr`` arguments), ``whole + ut1_fraction`` the UT1
    Julian date (Earth rotation) and ``whole + tt_fraction`` the TT Julian date.
    """

    whole: np.ndarray
    utc_fraction: np.ndarray
    ut1_fraction: np.ndarray
    tt_fraction: np.ndarray


@dataclass(frozen=True, eq=False)
class TimeGrid:
    """Instants ``start + offsets_s``: the time axis of every propagation and contact plan.

    Parameters
    ----------
    start : datetime
        The UTC instant of offset zero (timezone aware).
    offsets_s : np.ndarray
        float64 ``[T]``, non-decreasing offsets from ``start`` [s] (UTC seconds).

    Notes
    -----
    UT1 and TT for Earth rotation and ephemerides come from Skyfield's built-in IERS tables
    (``load.timescale(builtin=True)``), the same ones Skyfield uses, so Earth-fixed positions
    agree with Skyfield's ITRS to well under a metre of rotation error.
    """

    start: datetime
    offsets_s: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        start = parse_utc(self.start)
        offsets = np.ascontiguousarray(np.asarray(self.offsets_s, dtype=np.float64))
        if offsets.ndim != 1 or offsets.size == 0:
            raise ValueError(
                f"offsets_s must be a non-empty 1-D array, got shape {offsets.shape}; "
                "build grids with time_grid(start, duration_s, step_s)"
            )
        if not np.all(np.isfinite(offsets)):
            raise ValueError("offsets_s holds NaN or infinite values; pass finite seconds")
        if offsets.size > 1 and np.any(np.diff(offsets) < 0):
            raise ValueError("offsets_s must be non-decreasing (sorted in time)")
        offsets.setflags(write=False)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "offsets_s", offsets)

    def __len__(self) -> int:
        return int(self.offsets_s.size)

    def __getstate__(self) -> dict[str, Any]:
        return {"start": self.start, "offsets_s": np.array(self.offsets_s)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "start", state["start"])
        offsets = np.array(state["offsets_s"], dtype=np.float64)
        offsets.setflags(write=False)
        object.__setattr__(self, "offsets_s", offsets)
        object.__setattr__(self, "_cache", {})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TimeGrid):
            return NotImplemented
        return self.start == other.start and np.array_equal(self.offsets_s, other.offsets_s)

    __hash__ = None  # type: ignore[assignment]

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last instant."""
        return float(self.offsets_s[-1] - self.offsets_s[0])

    @property
    def step_s(self) -> float:
        """The largest spacing between consecutive instants [s] (0 for a single instant)."""
        return float(np.max(np.diff(self.offsets_s))) if len(self) > 1 else 0.0

    @property
    def end(self) -> datetime:
        """The UTC datetime of the last instant."""
        return self.datetime_at(float(self.offsets_s[-1]))

    def datetime_at(self, offset_s: float) -> datetime:
        """The UTC datetime at ``offset_s`` seconds from ``start``."""
        return self.start + timedelta(seconds=float(offset_s))

    def datetimes(self) -> list[datetime]:
        """All instants as UTC datetimes (a list of length ``T``)."""
        return [self.datetime_at(s) for s in self.offsets_s]

    def subset(self, index: slice | np.ndarray) -> TimeGrid:
        """A grid of the selected instants, with the same ``start`` (offsets unchanged).

        The subset shares this grid's timescale and slices its Julian dates, so chunked
        sweeps do not reload Skyfield's tables.
        """
        sub = TimeGrid(self.start, self.offsets_s[index])
        jd = self.julian_dates()
        sub._cache["ts"] = self.timescale()
        sub._cache["jd"] = JulianDates(
            whole=jd.whole[index],
            utc_fraction=jd.utc_fraction[index],
            ut1_fraction=jd.ut1_fraction[index],
            tt_fraction=jd.tt_fraction[index],
        )
        return sub

    def julian_dates(self, offsets_s: np.ndarray | None = None) -> JulianDates:
        """UTC, UT1 and TT Julian dates at ``offsets_s`` (default: the grid's own offsets).

        Parameters
        ----------
        offsets_s : np.ndarray, optional
            float64 ``[...]`` offsets from ``start`` [s], any shape.
        """
        own = offsets_s is None
        if own and "jd" in self._cache:
            return self._cache["jd"]
        offsets = self.offsets_s if own else np.asarray(offsets_s, dtype=np.float64)
        t = self.skyfield_time(offsets)
        utc_fraction = t.tai_fraction - t._leap_seconds() / SECONDS_PER_DAY
        jd = JulianDates(
            whole=np.broadcast_to(t.whole, offsets.shape).astype(np.float64),
            utc_fraction=np.asarray(utc_fraction, dtype=np.float64).reshape(offsets.shape),
            ut1_fraction=np.asarray(t.ut1_fraction, dtype=np.float64).reshape(offsets.shape),
            tt_fraction=np.asarray(t.tt_fraction, dtype=np.float64).reshape(offsets.shape),
        )
        if own:
            self._cache["jd"] = jd
        return jd

    def skyfield_time(self, offsets_s: np.ndarray | None = None) -> Any:
        """Skyfield ``Time`` for ``offsets_s`` (default: the grid), from the built-in timescale."""
        offsets = self.offsets_s if offsets_s is None else np.asarray(offsets_s, dtype=np.float64)
        ts = self.timescale()
        s = self.start
        seconds = s.second + s.microsecond * 1e-6 + offsets
        return ts.utc(s.year, s.month, s.day, s.hour, s.minute, seconds)

    def timescale(self) -> Any:
        """Skyfield's built-in ``Timescale`` (loaded once per grid, offline)."""
        if "ts" not in self._cache:
            from skyfield.api import load

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self._cache["ts"] = load.timescale(builtin=True)
        return self._cache["ts"]


MAX_TIME_STEPS = 10_000_000
"""Most instants :func:`time_grid` builds (80 MB of offsets; each propagated satellite needs
48 bytes per step more)."""


def time_grid(start: datetime | str, duration_s: float, step_s: float) -> TimeGrid:
    """Build an evenly spaced time grid.

    Parameters
    ----------
    start : datetime or str
        The first instant: a UTC datetime (naive means UTC) or an ISO-8601 string.
    duration_s : float
        Length of the grid [s]; the last instant is the largest multiple of ``step_s`` that
        does not exceed it. Zero gives a single instant.
    step_s : float
        Spacing [s], > 0.

    Returns
    -------
    TimeGrid
        ``floor(duration_s / step_s) + 1`` instants.

    Raises
    ------
    ValueError
        For NaN or infinite values, ``step_s <= 0``, ``duration_s < 0``, a grid of more than
        :data:`MAX_TIME_STEPS` instants (checked before anything is allocated) or one that ends
        past year 9999.
    TypeError
        For values that are not numbers.

    Examples
    --------
    >>> times = time_grid("2025-10-03T00:00:00Z", duration_s=600, step_s=60)
    >>> len(times)
    11
    """
    for name, value in (("duration_s", duration_s), ("step_s", step_s)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
        if not math.isfinite(float(value)):
            raise ValueError(f"{name}={value!r} is not finite; pass seconds as a finite number")
    if step_s <= 0:
        raise ValueError(f"step_s={step_s!r} must be > 0 seconds (e.g. step_s=10)")
    if duration_s < 0:
        raise ValueError(f"duration_s={duration_s!r} must be >= 0 seconds (e.g. 86400 for a day)")
    ratio = float(duration_s) / float(step_s)
    if not ratio < MAX_TIME_STEPS:  # also catches an overflow to inf
        raise ValueError(
            f"time_grid(duration_s={duration_s!r}, step_s={step_s!r}) would hold "
            f"{_count(ratio)} instants, more than the limit of {MAX_TIME_STEPS:,}; use a "
            f"step_s of at least {float(duration_s) / (MAX_TIME_STEPS - 1):.8g} s for this "
            "duration, or split the span into several grids"
        )
    num_steps = math.floor(ratio + 1e-9) + 1
    first = parse_utc(start)
    try:
        first + timedelta(seconds=float(duration_s))
    except OverflowError:
        raise ValueError(
            f"duration_s={duration_s!r} from {first.isoformat()} ends past the year 9999; "
            "pass a shorter duration"
        ) from None
    return TimeGrid(first, np.arange(num_steps, dtype=np.float64) * float(step_s))


def _count(ratio: float) -> str:
    return f"{math.floor(ratio) + 1:,}" if math.isfinite(ratio) else "infinitely many"
