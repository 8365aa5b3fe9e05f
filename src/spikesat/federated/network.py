"""Per-link rate and range timelines of a constellation, from a contact plan and its link trace.

A link (one satellite-station pair, or one ISL pair) is available as a list of **segments**:
time intervals ``[start_s, end_s)`` in seconds from the plan's first time step, each with a
constant information rate [bit/s] and slant range [km] taken from the link-trace sample of
that grid step. A ground-link sample at step ``k`` covers ``[t_k, t_k + step_s)``, clipped to
the refined contact window that holds ``t_k`` (so no segment leaves a window of
``plan.windows``); an ISL sample covers ``[t_k, t_k + step_s)``. Steps where no MODCOD closes
the link (rate 0) are not available. Segments are built lazily per link and cached; the
grouping of the samples by link is one vectorised sort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikesat.units import dbw_to_w

GROUND = "ground"
ISL = "isl"


@dataclass(frozen=True)
class LinkSegments:
    """The availability timeline of one link.

    Attributes
    ----------
    start_s, end_s : np.ndarray
        float64 ``[K]`` segment bounds [s] from the plan start, sorted and non-overlapping.
    rate_bps : np.ndarray
        float64 ``[K]`` information rate of each segment [bit/s], all > 0.
    range_km : np.ndarray
        float64 ``[K]`` slant range during each segment [km].
    cum_bits : np.ndarray
        float64 ``[K + 1]`` bits the link can carry before each segment (``cum_bits[0] = 0``).
    cum_time_s : np.ndarray
        float64 ``[K + 1]`` available seconds before each segment.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    rate_bps: np.ndarray
    range_km: np.ndarray
    cum_bits: np.ndarray = field(repr=False)
    cum_time_s: np.ndarray = field(repr=False)

    @classmethod
    def build(
        cls, start_s: np.ndarray, end_s: np.ndarray, rate_bps: np.ndarray, range_km: np.ndarray
    ) -> LinkSegments:
        """Keep the non-empty segments with a positive rate and precompute the running sums."""
        keep = (end_s > start_s) & (rate_bps > 0)
        start_s, end_s = start_s[keep], end_s[keep]
        rate_bps, range_km = rate_bps[keep], range_km[keep]
        order = np.argsort(start_s, kind="stable")
        start_s, end_s = start_s[order], end_s[order]
        rate_bps, range_km = rate_bps[order], range_km[order]
        duration = end_s - start_s
        cum_time = np.concatenate([[0.0], np.cumsum(duration)])
        cum_bits = np.concatenate([[0.0], np.cumsum(duration * rate_bps)])
        return cls(
            start_s.astype(np.float64),
            end_s.astype(np.float64),
            rate_bps.astype(np.float64),
            range_km.astype(np.float64),
            cum_bits,
            cum_time,
        )

    def __len__(self) -> int:
        return int(self.start_s.size)

    def windows(self) -> np.ndarray:
        """Maximal runs of touching segments, float64 ``[W, 2]`` of ``(start_s, end_s)``."""
        if len(self) == 0:
            return np.zeros((0, 2))
        breaks = np.flatnonzero(self.start_s[1:] > self.end_s[:-1]) + 1
        first = np.concatenate([[0], breaks])
        last = np.concatenate([breaks - 1, [len(self) - 1]])
        return np.stack([self.start_s[first], self.end_s[last]], axis=1)

    def next_available_s(self, after_s: float) -> float | None:
        """Earliest time ``>= after_s`` at which the link can carry bits (None: never)."""
        k = int(np.searchsorted(self.end_s, after_s, side="right"))
        if k >= len(self):
            return None
        return max(float(after_s), float(self.start_s[k]))


class Network:
    """Link timelines of one contact plan: ground links per (sat, station) and ISL pairs.

    Parameters
    ----------
    plan : ContactPlan
        From :func:`spikesat.orbits.contact_plan`.
    trace : LinkTrace
        From :func:`spikesat.channels.link_trace` on the same plan (its ``isl`` part aligned
        with ``plan.isl_links()``).
    ground_tx_power_w, isl_tx_power_w : float, optional
        Radio transmit power [W] for the energy ledger; default: the budgets'
        ``tx_power_dbw``. Budgets given as EIRP only need these set explicitly.
    """

    def __init__(
        self,
        plan: Any,
        trace: Any,
        ground_tx_power_w: float | None = None,
        isl_tx_power_w: float | None = None,
    ) -> None:
        if len(trace) != len(plan.ground_links()):
            raise ValueError(
                f"the link trace has {len(trace)} ground samples but the plan has "
                f"{len(plan.ground_links())}: build the trace with link_trace(plan, ...) on this "
                "plan"
            )
        self.plan = plan
        self.trace = trace
        self.num_sats = int(plan.num_sats)
        self.num_stations = int(plan.num_stations)
        self.step_s = float(plan.times.step_s)
        self.offsets_s = np.asarray(plan.times.offsets_s, dtype=np.float64)
        self.horizon_s = float(self.offsets_s[-1] + self.step_s)
        self.ground_tx_power_w = transmit_power_w(
            trace.budget, ground_tx_power_w, "ground_tx_power_w"
        )
        self.isl_tx_power_w = transmit_power_w(trace.isl_budget, isl_tx_power_w, "isl_tx_power_w")
        self.planes = None if plan.planes is None else np.asarray(plan.planes, dtype=np.int64)
        self._ground_groups = _group(
            trace.sat.astype(np.int64) * self.num_stations + trace.station, trace.time_index
        )
        isl = trace.isl
        if isl is None or len(isl) == 0:
            self._isl_groups: dict[int, np.ndarray] = {}
        else:
            self._isl_groups = _group(
                isl.sat_a.astype(np.int64) * self.num_sats + isl.sat_b, isl.time_index
            )
        self._cache: dict[tuple[str, int, int], LinkSegments] = {}
        windows = plan.all_windows()
        self._windows = windows
        self._window_keys = windows.sat.astype(np.int64) * self.num_stations + windows.station

    # ------------------------------------------------------------------ links
    def ground(self, sat: int, station: int) -> LinkSegments:
        """Segments of the ground link between ``sat`` and ``station``."""
        key = (GROUND, int(sat), int(station))
        if key not in self._cache:
            self._cache[key] = self._build_ground(int(sat), int(station))
        return self._cache[key]

    def isl(self, sat_a: int, sat_b: int) -> LinkSegments:
        """Segments of the ISL between two satellites (order does not matter)."""
        a, b = sorted((int(sat_a), int(sat_b)))
        key = (ISL, a, b)
        if key not in self._cache:
            index = self._isl_groups.get(a * self.num_sats + b, np.zeros(0, np.int64))
            isl = self.trace.isl
            start = self.offsets_s[isl.time_index[index]]
            self._cache[key] = LinkSegments.build(
                start, start + self.step_s, isl.rate_bps[index], isl.range_km[index]
            )
        return self._cache[key]

    def has_isl(self, sat_a: int, sat_b: int) -> bool:
        """Whether the pair has any ISL sample in the plan."""
        a, b = sorted((int(sat_a), int(sat_b)))
        return a * self.num_sats + b in self._isl_groups

    def _build_ground(self, sat: int, station: int) -> LinkSegments:
        key = sat * self.num_stations + station
        index = self._ground_groups.get(key, np.zeros(0, np.int64))
        start = self.offsets_s[self.trace.time_index[index]]
        end = start + self.step_s
        mask = self._window_keys == key
        w_start, w_end = self._windows.start_s[mask], self._windows.end_s[mask]
        if w_start.size:
            holder = np.searchsorted(w_start, start, side="right") - 1
            inside = (holder >= 0) & (start < w_end[np.clip(holder, 0, None)])
            end = np.where(inside, np.minimum(end, w_end[np.clip(holder, 0, None)]), start)
        else:
            end = start
        return LinkSegments.build(
            start, end, self.trace.rate_bps[index], self.trace.range_km[index]
        )

    # ------------------------------------------------------------------ queries
    def plane_members(self) -> list[list[int]]:
        """Satellites of each orbital plane, in plane order (one plane of all for TLE sets)."""
        if self.planes is None:
            return [list(range(self.num_sats))]
        return [
            np.flatnonzero(self.planes == p).tolist() for p in range(int(self.planes.max()) + 1)
        ]

    def best_ground_window(self, sat: int, after_s: float) -> tuple[int, float] | None:
        """The station whose link with ``sat`` is available first at or after ``after_s``.

        Returns
        -------
        tuple of (int, float) or None
            ``(station, start_s)``, or None when no station is reachable before the horizon.
        """
        best: tuple[int, float] | None = None
        for station in range(self.num_stations):
            start = self.ground(sat, station).next_available_s(after_s)
            if start is not None and (best is None or start < best[1]):
                best = (station, start)
        return best

    def unreachable_sats(self) -> list[int]:
        """Satellites that never have a usable ground link in the plan."""
        reach = np.zeros(self.num_sats, dtype=bool)
        trace = self.trace
        reach[np.unique(trace.sat[trace.rate_bps > 0])] = True
        return np.flatnonzero(~reach).tolist()

    def sunlit(self) -> np.ndarray | None:
        """Sunlit flags ``[S, T]`` (None when the plan was built with ``eclipse=False``)."""
        if self.plan.sunlit_fraction is None:
            return None
        return self.plan.sunlit()


def _group(keys: np.ndarray, time_index: np.ndarray) -> dict[int, np.ndarray]:
    """Sample indices per key, each sorted by time step."""
    if keys.size == 0:
        return {}
    order = np.lexsort((time_index, keys))
    sorted_keys = keys[order]
    cuts = np.flatnonzero(np.diff(sorted_keys)) + 1
    return {
        int(sorted_keys[chunk[0]]): order_chunk
        for chunk, order_chunk in zip(
            np.split(np.arange(keys.size), cuts), np.split(order, cuts), strict=True
        )
    }


def transmit_power_w(budget: Any, override: float | None, what: str) -> float:
    """Radio transmit power [W]: ``override`` when given (checked), else the budget's
    ``tx_power_dbw``; a budget given as EIRP only raises and names the ``what`` to pass."""
    if override is not None:
        if not (isinstance(override, int | float) and override > 0):
            raise ValueError(f"{what} must be a power > 0 W, got {override!r}")
        return float(override)
    if budget is not None and budget.tx_power_dbw is not None:
        return float(dbw_to_w(budget.tx_power_dbw))
    name = getattr(budget, "name", None)
    raise ValueError(
        f"the link budget {name!r} gives only an EIRP, not a transmit power, so the energy of a "
        f"transmission is unknown: pass {what}=<watts>"
    )
