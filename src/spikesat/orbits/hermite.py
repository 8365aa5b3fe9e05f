"""Cubic Hermite interpolation of Earth-fixed states between exactly propagated anchors.

SGP4 dominates the cost of a contact plan on a fine grid. Propagating exactly every
``anchor_step_s`` and filling the steps in between from the cubic Hermite interpolant of the
anchors' positions and velocities costs a few array passes instead. The position error is
about ``h**4 * max|d4r/dt4| / 384`` for anchors ``h`` apart (``|d4r/dt4| ~ n**4 r``): with
60 s anchors ~0.3 m at 550 km and a few metres for a satellite re-entering at 200 km, far below
SGP4's own kilometre-level error; velocities (the interpolant's derivative) are good to a few
cm/s (about 1 m/s for the re-entering case).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class HermiteSegments:
    """Piecewise cubic Hermite interpolant of ``S`` trajectories through ``A`` anchors.

    Parameters
    ----------
    anchor_s : np.ndarray
        float64 ``[A]`` strictly increasing anchor times [s], ``A >= 2``.
    r_km, v_km_s : np.ndarray
        float64 ``[S, A, 3]`` positions [km] and velocities [km/s] at the anchors. Views of
        anchor-major ``[A, S, 3]`` buffers (``buffer.transpose(1, 0, 2)``) are read without
        copies, which is how :func:`~spikesat.orbits.contact_plan` passes them.
    """

    def __init__(self, anchor_s: np.ndarray, r_km: np.ndarray, v_km_s: np.ndarray) -> None:
        self.anchor_s = np.asarray(anchor_s, dtype=np.float64)
        if self.anchor_s.size < 2 or np.any(np.diff(self.anchor_s) <= 0):
            raise ValueError("anchor_s needs at least two strictly increasing times")
        self.r_km = r_km
        self.v_km_s = v_km_s
        self._r_by_anchor = r_km.transpose(1, 0, 2)  # [A, S, 3]
        self._v_by_anchor = v_km_s.transpose(1, 0, 2)

    def at(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """States of every trajectory at times ``t_s`` ``[T]``: each ``[S, T, 3]``.

        Times are grouped by anchor segment, and each group is one small matrix product of
        the basis weights with the segment's end states. The results are views of a
        step-major ``[T, S, 3]`` buffer (a transposing copy would cost more than it saves).
        """
        t_s = np.asarray(t_s, dtype=np.float64)
        j, values, slopes = self._segment_basis(t_s)
        num_times, num_sats = t_s.size, self.r_km.shape[0]
        out = np.empty((2, num_times, num_sats, 3))
        order = np.argsort(j, kind="stable")
        segments, first = np.unique(j[order], return_index=True)
        bounds = np.append(first, num_times)
        for k, seg in enumerate(segments):
            picks = order[bounds[k] : bounds[k + 1]]
            ends = np.stack(
                [
                    self._r_by_anchor[seg],
                    self._v_by_anchor[seg],
                    self._r_by_anchor[seg + 1],
                    self._v_by_anchor[seg + 1],
                ]
            ).reshape(4, -1)  # [4, S * 3]
            lo, hi = int(picks[0]), int(picks[-1]) + 1
            if hi - lo == picks.size:  # sorted times: write straight into the buffer
                for part, weights in enumerate((values, slopes)):
                    np.dot(weights[lo:hi], ends, out=out[part, lo:hi].reshape(hi - lo, -1))
            else:
                for part, weights in enumerate((values, slopes)):
                    out[part, picks] = (weights[picks] @ ends).reshape(-1, num_sats, 3)
        r, v = out.transpose(0, 2, 1, 3)
        return r, v

    def pair_states(self, index: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State of trajectory ``index[k]`` at time ``t_s[k]``: position and velocity ``[E, 3]``."""
        index = np.asarray(index, dtype=np.int64)
        j, values, slopes = self._segment_basis(np.asarray(t_s, dtype=np.float64))
        flat = j * self.r_km.shape[0] + index  # rows of the [A * S, 3] anchor-major arrays
        r_rows, v_rows = self._r_by_anchor.reshape(-1, 3), self._v_by_anchor.reshape(-1, 3)
        ends = (r_rows.take(flat, 0), v_rows.take(flat, 0))
        after = flat + self.r_km.shape[0]  # the same trajectory at the next anchor
        ends += (r_rows.take(after, 0), v_rows.take(after, 0))
        r = sum(values[:, i : i + 1] * end for i, end in enumerate(ends))
        v = sum(slopes[:, i : i + 1] * end for i, end in enumerate(ends))
        return r, v

    def pair_cubics(
        self, index: np.ndarray, lo_s: np.ndarray, hi_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Trajectory ``index[k]`` on ``[lo_s[k], hi_s[k]]`` as a cubic in ``s`` in ``[0, 1]``.

        Inside one anchor segment the interpolant is one cubic, and this is exactly its
        restriction (the segment's cubic at ``u = u_lo + s (u_hi - u_lo)``). An interval that
        crosses an anchor gets the cubic Hermite of the interpolant's states at its ends.

        Returns
        -------
        tuple of np.ndarray
            float64 ``[E, 3]`` coefficients of ``s**0 .. s**3`` [km].
        """
        index = np.asarray(index, dtype=np.int64)
        lo_s, hi_s = np.asarray(lo_s, dtype=np.float64), np.asarray(hi_s, dtype=np.float64)
        j = self._segment(lo_s)
        start_s, width_s = self.anchor_s[j], self.anchor_s[j + 1] - self.anchor_s[j]
        num_sats = self.r_km.shape[0]
        r_rows, v_rows = self._r_by_anchor.reshape(-1, 3), self._v_by_anchor.reshape(-1, 3)
        flat = j * num_sats + index
        h = width_s[:, None]
        c0, c1, c2, c3 = hermite_cubic(
            r_rows.take(flat, 0),
            v_rows.take(flat, 0) * h,
            r_rows.take(flat + num_sats, 0),
            v_rows.take(flat + num_sats, 0) * h,
        )
        a = ((lo_s - start_s) / width_s)[:, None]  # u = a + b s
        b = ((hi_s - lo_s) / width_s)[:, None]
        cubic = (
            ((c3 * a + c2) * a + c1) * a + c0,
            ((3 * c3 * a + 2 * c2) * a + c1) * b,
            (3 * c3 * a + c2) * b * b,
            c3 * b * b * b,
        )
        crossing = np.flatnonzero(hi_s > start_s + width_s)
        if crossing.size:
            ends = end_state_cubic(
                self.pair_states, index[crossing], lo_s[crossing], hi_s[crossing]
            )
            for coefficient, value in zip(cubic, ends, strict=True):
                coefficient[crossing] = value
        return cubic

    def _segment(self, t_s: np.ndarray) -> np.ndarray:
        """Index ``[T]`` of the anchor segment holding each time (the end ones extrapolate)."""
        return np.clip(
            np.searchsorted(self.anchor_s, t_s, side="right") - 1, 0, self.anchor_s.size - 2
        )

    def _segment_basis(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anchor segment ``[T]`` of every time and its basis values and slopes ``[T, 4]``."""
        j = self._segment(t_s)
        values, slopes = _basis(t_s - self.anchor_s[j], self.anchor_s[j + 1] - self.anchor_s[j])
        return j, values, slopes


def hermite_cubic(
    r0: np.ndarray, w0: np.ndarray, r1: np.ndarray, w1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients of ``s**0 .. s**3`` of the cubic from ``r0`` to ``r1`` on ``s`` in ``[0, 1]``.

    ``w0`` and ``w1`` are the end tangents d/ds (velocity times the interval's width); all
    arrays ``[..., 3]``.
    """
    return r0, w0, 3 * (r1 - r0) - 2 * w0 - w1, 2 * (r0 - r1) + w0 + w1


def end_state_cubic(
    pair_states: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    index: np.ndarray,
    lo_s: np.ndarray,
    hi_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hermite_cubic` of trajectory ``index[k]`` on ``[lo_s[k], hi_s[k]]`` ``[E]``.

    ``pair_states(index, t_s)`` gives the states ``[n, 3]`` at the interval's two ends
    (both ends in one call).
    """
    num = np.size(index)
    r, v = pair_states(np.tile(index, 2), np.concatenate([lo_s, hi_s]))
    w = (hi_s - lo_s)[:, None]
    return hermite_cubic(r[:num], v[:num] * w, r[num:], v[num:] * w)


def _basis(offset_s: np.ndarray, width_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite basis for ``(r0, v0, r1, v1)`` at ``offset_s`` into segments ``width_s``.

    Returns
    -------
    values, slopes : np.ndarray
        float64 ``[T, 4]``: the position weights and their time derivatives [1/s].
    """
    h = width_s
    s = offset_s / h
    s2, s3 = s * s, s * s * s
    values = np.stack(
        [2 * s3 - 3 * s2 + 1, (s3 - 2 * s2 + s) * h, 3 * s2 - 2 * s3, (s3 - s2) * h], -1
    )
    slopes = np.stack(
        [(6 * s2 - 6 * s) / h, 3 * s2 - 4 * s + 1, (6 * s - 6 * s2) / h, 3 * s2 - 2 * s], -1
    )
    return values, slopes
