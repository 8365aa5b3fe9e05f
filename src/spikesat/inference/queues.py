"""Shared links: transmitters whose capacity follows the link trace, shared by requests.

Requests that cross the same link share it. Each transmitter is a fluid server whose rate is
the link trace's **goodput** at each step: the information rate times ``1 - PER`` of a
``packet_bytes`` packet (selective-repeat ARQ resends what the channel loses, so the expected
goodput is what is left), and zero while the link is out of view. Its cumulative capacity
``G(t)`` is piecewise linear over the plan's steps; capacity is reserved in that "byte clock".
A transfer of ``b`` bytes ready at ``t`` takes the first ``b`` bytes of capacity after ``G(t)``
that no earlier-booked transfer holds (transfers are booked in the order the simulator sends
them, so a request that waits on board for a later window books the future without blocking
requests that are ready before it): it waits for the bytes booked ahead of it and for the
next window when the link is out of view, and its radio is on for ``b / goodput`` seconds
(retransmissions included).

Queues (:meth:`LinkQueues.send`):

- ``("down", sat)``: the satellite's downlink transmitter, at each step the best rate to any
  station in view (the answer is on the ground once any station has it);
- ``("isl", a, b)``: the ISL terminal of satellite ``a`` towards ``b`` (each direction is its own
  transmitter).

With at most ``arq_retries`` resends a packet is lost with probability ``PER ** (arq_retries +
1)``; :meth:`LinkQueues.send` returns the probability that every packet of a transfer arrives,
at the PER of the step where the transfer starts.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_PACKET_BYTES = 1024
"""Packet size [bytes] whose loss probability sets the goodput and the residual loss."""


@dataclass(frozen=True)
class Transfer:
    """One transfer through a queue.

    Attributes
    ----------
    start_s, end_s : float
        When its first byte goes out and its last byte is delivered (before propagation) [s];
        ``inf`` when the plan ends first.
    airtime_s : float
        Seconds the transmitter is on for it within the plan, retransmissions included.
    delivered_probability : float
        Probability that every packet arrives within the ARQ's resends.
    """

    start_s: float
    end_s: float
    airtime_s: float
    delivered_probability: float


class _Queue:
    """One transmitter: cumulative goodput over the steps and the capacity booked so far
    (disjoint ``[start, end)`` intervals of the byte clock, sorted)."""

    def __init__(self, offsets_s: np.ndarray, goodput_bps: np.ndarray, per: np.ndarray) -> None:
        self.offsets_s = offsets_s
        self.rate_bytes_s = goodput_bps[:-1] / 8.0  # step k spans [offsets_s[k], offsets_s[k+1])
        self.per = per
        dt = np.diff(offsets_s)
        self.level = np.concatenate([[0.0], np.cumsum(self.rate_bytes_s * dt)])
        self.on_s = np.concatenate([[0.0], np.cumsum((self.rate_bytes_s > 0) * dt)])
        self.starts: list[float] = []
        self.ends: list[float] = []

    def _step(self, t_s: float) -> int:
        k = int(np.searchsorted(self.offsets_s, t_s, side="right") - 1)
        return min(max(k, 0), len(self.rate_bytes_s) - 1)

    def _level_at(self, t_s: float) -> float:
        if t_s >= self.offsets_s[-1]:
            return float(self.level[-1])
        k = self._step(t_s)
        return float(self.level[k] + self.rate_bytes_s[k] * (t_s - self.offsets_s[k]))

    def _time_at(self, level: float, first: bool) -> tuple[float, float]:
        """When the cumulative goodput reaches ``level``, and the transmitter's on-time then;
        ``first``: the instant just after ``level`` starts (a piece's first byte)."""
        side = "right" if first else "left"
        i = int(np.searchsorted(self.level, level, side=side))
        if i >= len(self.level):
            return math.inf, math.inf
        k = max(i - 1, 0)  # level[k] <= level <= level[k + 1] with a positive rate in step k
        into_s = (level - self.level[k]) / self.rate_bytes_s[k] if self.rate_bytes_s[k] else 0.0
        return float(self.offsets_s[k] + into_s), float(self.on_s[k] + into_s)

    def _find(self, begin: float, num_bytes: float) -> list[tuple[float, float]]:
        """The first ``num_bytes`` of unbooked capacity from ``begin`` on, as pieces."""
        starts, ends = self.starts, self.ends
        pieces, pos, left = [], begin, num_bytes
        i = bisect.bisect_right(ends, pos)
        while left > 0:
            if i < len(starts) and starts[i] <= pos:
                pos, i = max(pos, ends[i]), i + 1
                continue
            take = min(left, (starts[i] if i < len(starts) else math.inf) - pos)
            pieces.append((pos, pos + take))
            pos, left = pos + take, left - take
        return pieces

    def _book(self, pieces: list[tuple[float, float]]) -> None:
        """Mark the pieces found by :meth:`_find` as booked."""
        starts, ends = self.starts, self.ends
        lo = bisect.bisect_left(ends, pieces[0][0])
        hi = bisect.bisect_right(starts, pieces[-1][1])
        merged = (
            min([pieces[0][0], *starts[lo:hi]]),
            max([pieces[-1][1], *ends[lo:hi]]),
        )  # every gap between the first and the last piece is now filled
        starts[lo:hi], ends[lo:hi] = [merged[0]], [merged[1]]

    def send(
        self, ready_s: float, num_bytes: float, arq_retries: int, packet_bytes: int, book: bool
    ) -> Transfer:
        if num_bytes <= 0:
            return Transfer(ready_s, ready_s, 0.0, 1.0)
        pieces = self._find(self._level_at(ready_s), num_bytes)
        if book:
            self._book(pieces)
        horizon = float(self.level[-1])
        airtime_s, start_s = 0.0, math.inf
        for a, b in pieces:  # the radio's on-time within the plan
            if a < horizon:
                t_a, on_a = self._time_at(a, True)
                airtime_s += self._time_at(min(b, horizon), False)[1] - on_a
                start_s = min(start_s, t_a)
        if pieces[-1][1] > horizon:  # the plan ends first: not delivered
            return Transfer(max(start_s, ready_s), math.inf, airtime_s, 0.0)
        end_s = self._time_at(pieces[-1][1], False)[0]
        start_s = max(start_s, ready_s)
        per = float(self.per[self._step(start_s)])
        packets = math.ceil(num_bytes / packet_bytes)
        delivered = (1.0 - per ** (arq_retries + 1)) ** packets
        return Transfer(start_s, max(end_s, start_s), max(airtime_s, 0.0), delivered)


class LinkQueues:
    """The shared transmitters of one plan and link trace (see the module docstring).

    Parameters
    ----------
    plan : ContactPlan
    trace : LinkTrace
    packet_bytes : int
        Packet size of the ARQ [bytes].
    arq_retries : int
        Resends of a lost packet before the transfer gives up on it.
    """

    def __init__(
        self,
        plan: Any,
        trace: Any,
        packet_bytes: int = DEFAULT_PACKET_BYTES,
        arq_retries: int = 3,
    ) -> None:
        if isinstance(packet_bytes, bool) or not isinstance(packet_bytes, int) or packet_bytes < 1:
            raise ValueError(f"packet_bytes must be a positive integer, got {packet_bytes!r}")
        if isinstance(arq_retries, bool) or not isinstance(arq_retries, int) or arq_retries < 0:
            raise ValueError(f"arq_retries must be an integer >= 0, got {arq_retries!r}")
        self.packet_bytes, self.arq_retries = packet_bytes, arq_retries
        self.offsets_s = np.asarray(plan.times.offsets_s, dtype=np.float64)
        self.num_sats, self.trace = plan.num_sats, trace
        self._queues: dict[tuple, _Queue] = {}
        self._down = self._per_satellite_downlink()
        self._isl_per = trace.isl.packet_error_rate(packet_bytes) if trace.isl is not None else None

    def _per_satellite_downlink(self) -> tuple[np.ndarray, np.ndarray]:
        """Per satellite and step, the best downlink goodput [bit/s] and its PER."""
        trace, steps = self.trace, len(self.offsets_s)
        per = trace.packet_error_rate(self.packet_bytes)
        goodput = np.where(trace.rate_bps > 0, trace.rate_bps * (1.0 - per), 0.0)
        best = np.zeros((self.num_sats, steps))
        flat = trace.sat.astype(np.int64) * steps + trace.time_index.astype(np.int64)
        np.maximum.at(best.reshape(-1), flat, goodput)
        best_per = np.ones((self.num_sats, steps))
        chosen = goodput >= best.reshape(-1)[flat]  # the samples that gave each maximum
        best_per.reshape(-1)[flat[chosen & (goodput > 0)]] = per[chosen & (goodput > 0)]
        return best, best_per

    def _queue(self, key: tuple) -> _Queue:
        if key not in self._queues:
            if key[0] == "down":
                goodput, per = self._down[0][key[1]], self._down[1][key[1]]
            else:
                goodput, per = self._isl_series(key[1], key[2])
            self._queues[key] = _Queue(self.offsets_s, goodput, per)
        return self._queues[key]

    def _isl_series(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        isl, steps = self.trace.isl, len(self.offsets_s)
        goodput, per = np.zeros(steps), np.ones(steps)
        if isl is not None and len(isl):
            rows = ((isl.sat_a == a) & (isl.sat_b == b)) | ((isl.sat_a == b) & (isl.sat_b == a))
            rows &= isl.rate_bps > 0
            t = isl.time_index[rows]
            goodput[t] = isl.rate_bps[rows] * (1.0 - self._isl_per[rows])
            per[t] = self._isl_per[rows]
        return goodput, per

    def downlink_capacity_bytes(self, start_s: float, end_s: float) -> float:
        """Bytes every satellite's downlink could deliver from ``start_s`` to ``end_s`` [s]
        (goodput to the best station in view, summed over the satellites)."""
        total = 0.0
        for sat in range(self.num_sats):
            queue = self._queue(("down", sat))
            total += queue._level_at(end_s) - queue._level_at(start_s)
        return total

    def send(self, src: str, dst: str, ready_s: float, num_bytes: float) -> Transfer:
        """Queue ``num_bytes`` from node ``src`` to node ``dst`` (``"sat:<i>"``, ``"gs:<j>"``)
        at ``ready_s`` [s], booking the capacity; returns the :class:`Transfer`."""
        return self._transfer(src, dst, ready_s, num_bytes, book=True)

    def peek(self, src: str, dst: str, ready_s: float, num_bytes: float) -> Transfer:
        """The :class:`Transfer` that :meth:`send` would make now, without booking it."""
        return self._transfer(src, dst, ready_s, num_bytes, book=False)

    def _transfer(self, src: str, dst: str, ready_s: float, num_bytes: float, book: bool):
        a = int(src.split(":")[1])
        key = ("down", a) if dst.startswith("gs:") else ("isl", a, int(dst.split(":")[1]))
        queue = self._queue(key)
        return queue.send(ready_s, num_bytes, self.arq_retries, self.packet_bytes, book)
