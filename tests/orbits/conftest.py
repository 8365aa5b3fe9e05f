"""Fixtures for the orbits tests: the shared TLE catalogue and small shells."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from spikesat import orbits


@pytest.fixture(scope="session")
def catalogue_path(data_dir: Path) -> Path:
    """The shared CelesTrak catalogue of 2025-10-03."""
    path = data_dir / "tle" / "celestrak_active_2025-10-03.tle"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the shared data")
    return path


@pytest.fixture(scope="session")
def catalogue(catalogue_path: Path) -> orbits.TLEConstellation:
    """All 12,801 element sets, validated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", orbits.StaleTLEWarning)
        return orbits.load_tle(catalogue_path)


@pytest.fixture(scope="session")
def skyfield_ts():
    """Skyfield's built-in timescale (the one spikesat's time grids use)."""
    from skyfield.api import load

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return load.timescale(builtin=True)
