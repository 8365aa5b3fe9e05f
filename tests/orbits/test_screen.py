"""The block screen finds exactly the samples and runs a dense test over every station finds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikesat import orbits
from spikesat.orbits.hermite import HermiteSegments
from spikesat.orbits.look_angles import StationFrames, pair_look
from spikesat.orbits.screen import SCREEN_BLOCK_STEPS, screen_chunk
from spikesat.orbits.windows import merge_runs


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


def _runs(sat, step, station, elevation, num_stations):
    """Maximal runs of consecutive steps per pair, by a plain loop, sorted by (pair, first)."""
    runs = []
    for p in np.unique(sat * num_stations + station):
        sel = sat * num_stations + station == p
        steps, elev = step[sel], elevation[sel]
        cut = np.flatnonzero(np.diff(steps) != 1) + 1
        for idx in np.split(np.arange(steps.size), cut):
            runs.append((p, steps[idx[0]], steps[idx[-1]], elev[idx].max()))
    return tuple(np.array(column) for column in zip(*runs, strict=True))


def _split(ref, mask_deg):
    """The dense samples split at the mask: visible (all columns) and near (sat..elevation)."""
    seen = ref[3] >= mask_deg
    return tuple(c[seen] for c in ref), tuple(c[~seen] for c in ref[:4])


@pytest.mark.parametrize("mask_deg", [10.0, 0.0, -5.0, 60.0])
@pytest.mark.parametrize("block_steps", [1, 7, 8])
def test_screen_equals_the_dense_test(shell_states, mask_deg, block_steps) -> None:
    r, v, frames = shell_states
    near_deg = mask_deg - 2.0
    ours = screen_chunk(r, v, frames, mask_deg, near_deg, block_steps=block_steps)
    visible, near = _split(_dense(r, v, frames, math.sin(math.radians(near_deg))), mask_deg)
    assert ours.visible[0].size > 0 and ours.near[0].size > 0
    for got, want in ((ours.visible, visible), (ours.near, near)):
        for a, b in zip(got[:3], want[:3], strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(got[3:], want[3:], strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    runs = _runs(*visible[:4], len(frames.up))
    assert runs[0].size < visible[0].size, "runs span several steps"
    for a, b in zip(ours.runs[:3], runs[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(ours.runs[3], runs[3], rtol=0, atol=1e-9)


def test_runs_of_consecutive_chunks_merge_into_whole_runs(shell_states) -> None:
    """Chunk boundaries cut runs; merging the pieces gives the runs of the whole grid."""
    r, v, frames = shell_states
    whole = screen_chunk(r, v, frames, 10.0, 8.0).runs
    pieces = []
    for c0 in range(0, r.shape[1], 50):
        pair, first, last, max_el = screen_chunk(
            r[:, c0 : c0 + 50], v[:, c0 : c0 + 50], frames, 10.0, 8.0
        ).runs
        pieces.append((pair, first + c0, last + c0, max_el))
    joined = [np.concatenate(column) for column in zip(*pieces, strict=True)]
    assert joined[0].size > whole[0].size, "some runs cross a chunk boundary"
    merged = merge_runs(*joined, r.shape[0] * len(frames.up))
    for a, b in zip(merged, whole, strict=True):
        np.testing.assert_array_equal(a, b)


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
    ours = screen_chunk(r_i, v_i, frames, 5.0, 5.0)
    ref = _dense(r_i, v_i, frames, sin_min)
    for a, b in zip(ours.visible[:3], ref[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    sat, step = ours.visible[:2]
    assert not np.any(sat == never)
    assert not np.any((sat == failing) & (step >= fail_step))
    assert np.any((sat == failing) & (step == seen_step)), "seen until it fails"


def test_screen_rejects_bad_settings(shell_states) -> None:
    r, v, frames = shell_states
    with pytest.raises(ValueError, match="block_steps=0"):
        screen_chunk(r, v, frames, 10.0, 8.0, block_steps=0)
    with pytest.raises(ValueError, match="must not exceed the mask"):
        screen_chunk(r, v, frames, 10.0, 12.0)


def test_merge_runs_joins_only_the_same_pair() -> None:
    """Pair 0's run ending at step 9 goes on at 10; pair 1's run starting at 13 stays apart."""
    pair = np.array([0, 0, 1])  # the first chunk ends at step 9
    first, last = np.array([5, 10, 13]), np.array([9, 12, 14])
    max_el = np.array([20.0, 30.0, 12.0])
    merged = merge_runs(pair, first, last, max_el, num_pairs=2)
    expected = ([0, 1], [5, 13], [12, 14], [30.0, 12.0])
    for a, b in zip(merged, expected, strict=True):
        np.testing.assert_array_equal(a, b)
