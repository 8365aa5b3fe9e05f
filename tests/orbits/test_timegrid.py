"""Time grids: lengths, parsing, Julian dates against Skyfield, pickling and bad input."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import numpy as np
import pytest

from spikesat.orbits import TimeGrid, time_grid
from spikesat.orbits.timegrid import MAX_TIME_STEPS


def test_length_and_offsets() -> None:
    times = time_grid("2025-10-03T00:00:00Z", duration_s=600, step_s=60)
    assert len(times) == 11
    np.testing.assert_array_equal(times.offsets_s, np.arange(11) * 60.0)
    assert times.start == datetime(2025, 10, 3, tzinfo=UTC)
    assert times.step_s == 60.0 and times.duration_s == 600.0
    assert times.end == datetime(2025, 10, 3, 0, 10, tzinfo=UTC)
    assert len(time_grid("2025-10-03T00:00:00", 59.0, 60.0)) == 1


def test_naive_datetime_is_utc_and_offsets_are_read_only() -> None:
    times = time_grid(datetime(2025, 1, 1, 12), 10, 1)
    assert times.start.tzinfo is not None and times.start.hour == 12
    with pytest.raises(ValueError):
        times.offsets_s[0] = 5.0


def test_julian_dates_match_skyfield(skyfield_ts) -> None:
    times = time_grid("2025-10-03T06:30:00Z", 3600, 600)
    jd = times.julian_dates()
    ref = skyfield_ts.utc(2025, 10, 3, 6, 30, times.offsets_s)
    np.testing.assert_allclose(jd.whole + jd.ut1_fraction, ref.ut1, rtol=0, atol=1e-10)
    np.testing.assert_allclose(jd.whole + jd.tt_fraction, ref.tt, rtol=0, atol=1e-10)
    # UTC Julian date of 06:30 UTC on 2025-10-03 is 2460951.770833...
    np.testing.assert_allclose(
        jd.whole[0] + jd.utc_fraction[0], 2460951.0 + 0.5 + 6.5 / 24, atol=1e-9
    )


def test_pickle_round_trip() -> None:
    times = time_grid("2025-10-03T00:00:00Z", 100, 10)
    times.julian_dates()
    back = pickle.loads(pickle.dumps(times))
    assert back == times
    np.testing.assert_array_equal(
        back.julian_dates().ut1_fraction, times.julian_dates().ut1_fraction
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"step_s": 0}, ValueError, "step_s=0"),
        ({"step_s": -5}, ValueError, "step_s=-5"),
        ({"duration_s": -1}, ValueError, "duration_s=-1"),
        ({"duration_s": float("nan")}, ValueError, "not finite"),
        ({"duration_s": float("inf")}, ValueError, "duration_s=inf is not finite"),
        ({"step_s": float("nan")}, ValueError, "step_s=nan is not finite"),
        ({"step_s": float("-inf")}, ValueError, "not finite"),
        ({"duration_s": True}, TypeError, "duration_s"),
        # 1e12 instants (7 TiB of offsets) are refused before anything is allocated.
        ({"duration_s": 1e9, "step_s": 1e-3}, ValueError, "1,000,000,000,001 instants, more than"),
        ({"duration_s": 1e9, "step_s": 1e-3}, ValueError, "step_s of at least 100.00001 s"),
        ({"duration_s": 1e300, "step_s": 1e-300}, ValueError, "infinitely many instants"),
        ({"duration_s": 1e7, "step_s": 1.0}, ValueError, "10,000,001 instants"),
        ({"duration_s": 1e12, "step_s": 1e6}, ValueError, "past the year 9999"),
        ({"step_s": "10"}, TypeError, "step_s"),
        ({"start": "yesterday"}, ValueError, "ISO-8601"),
        ({"start": 1234}, TypeError, "UTC datetime"),
    ],
)
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"start": "2025-10-03T00:00:00Z", "duration_s": 60, "step_s": 10, **kwargs}
    with pytest.raises(error, match=match):
        time_grid(**args)


def test_unsorted_offsets_rejected() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        TimeGrid("2025-10-03T00:00:00Z", np.array([0.0, 10.0, 5.0]))


def test_largest_grid_is_built() -> None:
    times = time_grid("2025-10-03T00:00:00Z", MAX_TIME_STEPS - 1, 1.0)
    assert len(times) == MAX_TIME_STEPS
