"""TLE constellations: validated element sets propagated with sgp4's vectorised SatrecArray."""

from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sgp4.api import SGP4_ERRORS, Satrec, SatrecArray

from spikesat.orbits.constellation import Constellation
from spikesat.orbits.timegrid import TimeGrid
from spikesat.orbits.tle import TLERecord, parse_tle

ON_ERROR_CHOICES = ("warn", "raise")

DEFAULT_ANCHOR_STEP_S = 60.0
"""SGP4 sets are propagated exactly every 60 s in contact plans and Hermite-interpolated in
between (~0.3 m at 550 km, see :mod:`spikesat.orbits.hermite`)."""


class StaleTLEWarning(UserWarning):
    """The requested times are far from some element sets' epochs (SGP4 accuracy degrades)."""


class SGP4ErrorWarning(UserWarning):
    """SGP4 failed for some satellites; their positions are NaN at the failing steps."""


class SGP4PropagationError(ValueError):
    """SGP4 failed for some satellites and the constellation was built with on_error="raise"."""


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
        The first sgp4 error code (1-6, see ``sgp4.api.SGP4_ERRORS``).
    message : str
        sgp4's explanation of ``code``.
    num_steps : int
        Number of time steps that failed.
    first_offset_s : float
        Offset of the first failing step [s].
    """

    sat: int
    name: str
    code: int
    message: str
    num_steps: int
    first_offset_s: float


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
        list (positions are NaN at those steps) or raise ``SGP4PropagationError``.
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
        self.records = list(records)
        self.source = source
        self.max_epoch_age_days = float(max_epoch_age_days)
        self.on_error = on_error
        self.sat_names = [r.name for r in self.records]
        self.planes = None
        self.num_planes = None
        self.default_anchor_step_s = DEFAULT_ANCHOR_STEP_S
        self._build()

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
        return r, v, codes

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
                    message=SGP4_ERRORS.get(code, "unknown sgp4 error"),
                    num_steps=int(bad.size),
                    first_offset_s=float(times.offsets_s[bad[0]]),
                )
            )
        return out

    def report_failures(self, failures: list[SGP4Failure]) -> None:
        """Warn about (or raise for) SGP4 failures, one line per satellite."""
        if not failures:
            return
        lines = [
            f"  {f.name} (index {f.sat}): sgp4 error {f.code}, {f.message}; {f.num_steps} steps "
            f"from offset {f.first_offset_s:g} s"
            for f in failures
        ]
        message = (
            f"SGP4 failed for {len(failures)} satellites (positions are NaN at those steps):\n"
            + "\n".join(lines)
            + "\nDrop them with .subset(...) or use fresher element sets."
        )
        if self.on_error == "raise":
            raise SGP4PropagationError(message)
        warnings.warn(message, SGP4ErrorWarning, stacklevel=3)


def load_tle(
    path_or_text: str | Path,
    select: str | None = None,
    max_epoch_age_days: float = 14.0,
    on_error: str = "warn",
) -> TLEConstellation:
    """Read and validate two- or three-line element sets.

    Parameters
    ----------
    path_or_text : str or Path
        A file path, or the TLE text itself (any string holding a newline).
    select : str, optional
        Keep only names matching this pattern (see :meth:`TLEConstellation.select`).
    max_epoch_age_days : float
        Stale-epoch warning threshold [days].
    on_error : {"warn", "raise"}
        Policy for SGP4 error codes at propagation time.

    Returns
    -------
    TLEConstellation

    Raises
    ------
    TLEError
        (a ValueError) for an invalid line, naming the line number and the field.
    FileNotFoundError
        For a path that does not exist.
    """
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text
    ):
        path = Path(path_or_text)
        if not path.is_file():
            raise FileNotFoundError(
                f"TLE file {str(path)!r} not found; pass an existing path or the TLE text itself"
            )
        text = path.read_text(encoding="ascii", errors="replace")
        source = str(path)
    elif isinstance(path_or_text, str):
        text, source = path_or_text, "<text>"
    else:
        raise TypeError(
            f"path_or_text must be a path or TLE text, got {type(path_or_text).__name__}"
        )
    constellation = TLEConstellation(parse_tle(text, source), source, max_epoch_age_days, on_error)
    return constellation if select is None else constellation.select(select)
