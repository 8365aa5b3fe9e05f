"""The Hermite interpolant's pair evaluations agree with its grid evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from spikesat import orbits
from spikesat.orbits.hermite import HermiteSegments


@pytest.fixture(scope="module")
def interpolant():
    """A research shell over 2 h, exact every 60 s, and the grid times at 10 s."""
    shell = orbits.preset("research-5x10")
    times = orbits.time_grid(shell.epoch, 2 * 3600, 10)
    r, v = shell.states_ecef(times)
    anchors = np.arange(0, r.shape[1], 6)
    t = np.arange(anchors[-1] + 1) * 10.0
    return HermiteSegments(t[anchors], r[:, anchors], v[:, anchors]), t


def test_pair_states_match_the_grid_interpolant(interpolant) -> None:
    interp, t = interpolant
    r_grid, v_grid = interp.at(t)
    rng = np.random.default_rng(0)
    sat, step = rng.integers(0, r_grid.shape[0], 500), rng.integers(0, t.size, 500)
    r_pair, v_pair = interp.pair_states(sat, t[step])
    np.testing.assert_allclose(r_pair, r_grid[sat, step], rtol=0, atol=1e-9)
    np.testing.assert_allclose(v_pair, v_grid[sat, step], rtol=0, atol=1e-12)


def test_pair_cubics_restrict_the_interpolant(interpolant) -> None:
    """Inside a segment the cubic is the interpolant; across an anchor, the end-state Hermite."""
    interp, t = interpolant
    rng = np.random.default_rng(1)
    sat = rng.integers(0, interp.r_km.shape[0], 400)
    lo_s = t[rng.integers(0, t.size - 2, 400)] + rng.uniform(0, 5, 400)
    hi_s = lo_s + rng.uniform(0.5, 10, 400)
    crossing = np.floor(lo_s / 60) != np.floor(hi_s / 60)
    assert crossing.any() and not crossing.all()
    c0, c1, c2, c3 = interp.pair_cubics(sat, lo_s, hi_s)
    for s in (0.0, 0.37, 1.0):
        r, _ = interp.pair_states(sat, lo_s + s * (hi_s - lo_s))
        cubic = ((c3 * s + c2) * s + c1) * s + c0
        error_km = np.linalg.norm(cubic - r, axis=-1)
        assert error_km[~crossing].max() < 1e-9
        # Ends of a crossing interval are exact; inside, two cubics differ by millimetres.
        assert error_km[crossing].max() < (1e-9 if s in (0.0, 1.0) else 1e-5)
    slope = c1 + 2 * c2 + 3 * c3  # d/ds at s = 1: velocity times the interval width
    _, v = interp.pair_states(sat, hi_s)
    np.testing.assert_allclose(slope, v * (hi_s - lo_s)[:, None], rtol=0, atol=1e-9)
