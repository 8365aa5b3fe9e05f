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

    def _segment_basis(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anchor segment ``[T]`` of every time and its basis values and slopes ``[T, 4]``."""
        j = np.clip(
            np.searchsorted(self.anchor_s, t_s, side="right") - 1, 0, self.anchor_s.size - 2
        )
        values, slopes = _basis(t_s - self.anchor_s[j], self.anchor_s[j + 1] - self.anchor_s[j])
        return j, values, slopes


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
