"""The block screen finds exactly the samples a dense test over every station finds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesat import orbits
from spikesat.orbits.hermite import HermiteSegments
from spikesat.orbits.look_angles import StationFrames, pair_look
from spikesat.orbits.screen import SCREEN_BLOCK_STEPS, ground_samples


def _dense(r_km: np.ndarray, v_km_s: np.ndarray, frames: StationFrames, sin_min: float):
    """Every (sat, step, station) tested directly, in (step, sat, station) order."""
    num_sats, num_steps, _ = r_km.shape
    step, sat, station = np.meshgrid(
        np.arange(num_steps), np.arange(num_sats), np.arange(len(frames.up)), indexing="ij"
    )
    step, sat, station = step.ravel(), sat.ravel(), station.ravel()
    d = r_km[sat, step] - frames.ecef_km[station]
    with np.errstate(invalid="ignore"):
        keep = np.einsum("nk,nk->n", d, frames.up[station]) >= sin_min * np.linalg.norm(d, axis=-1)
    sat, step, station = sat[keep], step[keep], station[keep]
    return (sat, step, station, *pair_look(r_km[sat, step], v_km_s[sat, step], station, frames))


@pytest.fixture(scope="module")
def shell_states():
    """A research shell over 2 h at 10 s against the built-in stations."""
    shell = orbits.preset("research-5x10")
    times = orbits.time_grid(shell.epoch, 2 * 3600, 10)
    r, v = shell.states_ecef(times)
    return r, v, StationFrames.from_stations(orbits.ground_stations("default"))


@pytest.mark.parametrize("mask_deg", [10.0, 0.0, -5.0, 60.0])
@pytest.mark.parametrize("block_steps", [1, 7, 8])
def test_screen_equals_the_dense_test(shell_states, mask_deg, block_steps) -> None:
    r, v, frames = shell_states
    sin_min = math.sin(math.radians(mask_deg))
    ours = ground_samples(r, v, frames, sin_min, block_steps=block_steps)
    ref = _dense(r, v, frames, sin_min)
    assert ours[0].size > 0
    for a, b in zip(ours[:3], ref[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ours[3:], ref[3:], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_screen_reads_step_major_views_and_skips_nan_states(shell_states) -> None:
    """Hermite sweeps hand over [S, T, 3] views of [T, S, 3] buffers; NaN rows never qualify."""
    r, v, frames = shell_states
    anchors = np.arange(0, r.shape[1], 6)
    t = np.arange(anchors[-1] + 1) * 10.0
    r_i, v_i = HermiteSegments(t[anchors], r[:, anchors], v[:, anchors]).at(t)
    assert not r_i.flags.c_contiguous
    sin_min = math.sin(math.radians(5.0))
    seen = _dense(r_i, v_i, frames, sin_min)
    # A satellite in view early in a block whose centre step (the screened one) is NaN.
    k = np.flatnonzero((seen[1] >= 100) & (seen[1] % SCREEN_BLOCK_STEPS == 0))[0]
    failing, seen_step = int(seen[0][k]), int(seen[1][k])
    fail_step = seen_step + SCREEN_BLOCK_STEPS // 2
    never = (failing + 1) % r.shape[0]
    r_i, v_i = r_i.copy(), v_i.copy()  # writable, same values
    r_i[failing, fail_step:] = np.nan
    r_i[never] = np.nan
    ours = ground_samples(r_i, v_i, frames, sin_min)
    ref = _dense(r_i, v_i, frames, sin_min)
    for a, b in zip(ours[:3], ref[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.any(ours[0] == never)
    assert not np.any((ours[0] == failing) & (ours[1] >= fail_step))
    assert np.any((ours[0] == failing) & (ours[1] == seen_step)), "seen until it fails"


def test_screen_rejects_a_bad_block_size(shell_states) -> None:
    r, v, frames = shell_states
    with pytest.raises(ValueError, match="block_steps=0"):
        ground_samples(r, v, frames, 0.1, block_steps=0)


def test_hermite_pair_states_match_the_grid_interpolant(shell_states) -> None:
    r, v, _ = shell_states
    anchors = np.arange(0, r.shape[1], 6)
    t = np.arange(anchors[-1] + 1) * 10.0
    interp = HermiteSegments(t[anchors], r[:, anchors], v[:, anchors])
    r_grid, v_grid = interp.at(t)
    rng = np.random.default_rng(0)
    sat, step = rng.integers(0, r.shape[0], 500), rng.integers(0, t.size, 500)
    r_pair, v_pair = interp.pair_states(sat, t[step])
    np.testing.assert_allclose(r_pair, r_grid[sat, step], rtol=0, atol=1e-9)
    np.testing.assert_allclose(v_pair, v_grid[sat, step], rtol=0, atol=1e-12)
