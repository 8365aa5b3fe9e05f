"""``fedasync``: staleness-weighted asynchronous aggregation (Xie et al., arXiv:1903.03934).

Every satellite cycles on its own: download the server's current model at a ground contact,
train, upload at the next contact. Each verified upload is merged at once,
``w <- (1 - a_t) w + a_t w_i`` with ``a_t = alpha x s(staleness)``, where the staleness is
the number of server versions since the satellite downloaded its model and ``s`` is
:func:`~spikesat.federated.aggregate.staleness_weight`. The satellite then downloads the new
model and starts again: in its next pass by default (one update per visit, as in FedSat), or
at once (``one_update_per_pass=False``: a satellite in view may cycle many times per pass).
A "round" is ``merges_per_round`` merges (default: the number of satellites alive at the
round's start). An update already sent when its satellite fails is still merged; the failed
satellite starts no new cycle. The model a satellite downloads is the server's model when the
download is scheduled (the end of its previous pass). A satellite that drops out of a round
skips one pass before its next download.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from spikesat.federated.aggregate import STALENESS_KINDS, staleness_weight, weighted_average
from spikesat.federated.clock import window_end_s
from spikesat.federated.strategies.base import STRATEGIES, Strategy

if TYPE_CHECKING:
    from spikesat.federated.simulation import Federation


@STRATEGIES.register("fedasync")
class FedAsync(Strategy):
    """Asynchronous, staleness-weighted merging.

    Parameters
    ----------
    alpha : float
        Mixing weight of a fresh update, in (0, 1).
    staleness : {"constant", "polynomial", "hinge"}
        Staleness function.
    a : float
        Its parameter (polynomial exponent, or hinge slope).
    merges_per_round : int, optional
        Merges per reported round (default: satellites alive at the round's start).
    one_update_per_pass : bool
        A satellite starts its next cycle only after the pass of its upload has ended (one
        update per visit, as in FedSat, Razmi et al., ICC 2022); False lets a satellite in
        view cycle again at once.
    """

    name = "fedasync"

    def __init__(
        self,
        alpha: float = 0.6,
        staleness: str = "polynomial",
        a: float = 0.5,
        merges_per_round: int | None = None,
        one_update_per_pass: bool = True,
    ) -> None:
        if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if staleness not in STALENESS_KINDS:
            raise ValueError(
                f"unknown staleness {staleness!r}; choose one of {', '.join(STALENESS_KINDS)}"
            )
        if merges_per_round is not None and (
            not isinstance(merges_per_round, int) or merges_per_round < 1
        ):
            raise ValueError(f"merges_per_round must be a positive int, got {merges_per_round!r}")
        self.alpha = float(alpha)
        self.staleness = staleness
        self.a = float(a)
        self.merges_per_round = merges_per_round
        self.one_update_per_pass = bool(one_update_per_pass)
        self.version = 0
        self.started = False
        self.in_flight: list[tuple[float, int, int, int, dict, int, float]] = []
        self.num_cycles = 0

    def config(self) -> dict[str, Any]:
        """The hyper-parameters."""
        return {
            "alpha": self.alpha,
            "staleness": self.staleness,
            "a": self.a,
            "merges_per_round": self.merges_per_round,
            "one_update_per_pass": self.one_update_per_pass,
        }

    def state_dict(self) -> dict[str, Any]:
        """Server version and the updates in flight."""
        return {
            "version": self.version,
            "started": self.started,
            "in_flight": list(self.in_flight),
            "num_cycles": self.num_cycles,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.version = int(state["version"])
        self.started = bool(state["started"])
        self.in_flight = [tuple(item) for item in state["in_flight"]]
        heapq.heapify(self.in_flight)
        self.num_cycles = int(state["num_cycles"])

    def _start_cycles(self, sim: Federation, starts: dict[int, float], round: int) -> None:
        """Download, train and upload for each ``sat`` from ``starts[sat]`` (batched training)."""
        ready = {}
        for sat, start_s in starts.items():
            if sim.faults.dropped(sat, round):
                window = sim.network.best_ground_window(sat, start_s)
                if window is not None:
                    segments = sim.network.ground(sat, window[0])
                    start_s = window_end_s(segments, window[1])
            arrival = sim.clock.download(sat, sim.model_bytes, start_s, round).arrival_s
            ready[sat] = sim.clock.compute(sat, sim.local_macs(sat), arrival, round)
        sats = sorted(ready)
        results = sim.train(sats, round, sim.global_state(), salt=self.num_cycles)
        for sat in sats:
            cycle = self.num_cycles
            self.num_cycles += 1
            if sim.faults.fails_mid_round(sat, round):  # trained, died: the cycle is lost
                continue
            result = results[sat]
            delivery = sim.send(
                sat, result.state, ready[sat], round, key=cycle, num_samples=result.num_samples
            )
            restart_s = delivery.arrival_s
            if self.one_update_per_pass:
                last = delivery.transfers[-1]
                station = int(last.receiver.split("-")[1])
                pass_end = window_end_s(sim.network.ground(sat, station), last.tx_end_s)
                restart_s = max(restart_s, pass_end)
            heapq.heappush(
                self.in_flight,
                (
                    delivery.arrival_s,
                    sat,
                    cycle,
                    self.version,
                    delivery.state,
                    result.num_samples,
                    restart_s,
                ),
            )

    def run_round(self, sim: Federation, round: int) -> dict[str, Any]:
        """Merge ``merges_per_round`` uploads in arrival order."""
        alive = [sat for sat in range(sim.network.num_sats) if not sim.faults.failed(sat, round)]
        if not self.started:
            self._start_cycles(sim, dict.fromkeys(alive, sim.time_s), round)
            self.started = True
        target = self.merges_per_round or len(alive)
        merged, staleness_sum = 0, 0
        while merged < target and self.in_flight:
            arrival_s, sat, cycle, base_version, state, _num, restart_s = heapq.heappop(
                self.in_flight
            )
            staleness = self.version - base_version
            weight = self.alpha * staleness_weight(staleness, self.staleness, self.a)
            sim.set_global_state(
                weighted_average([sim.global_state(), state], [1.0 - weight, weight])
            )
            sim.count_contribution(round, sat, key=cycle)
            self.version += 1
            merged += 1
            staleness_sum += staleness
            sim.time_s = max(sim.time_s, arrival_s)
            if not sim.faults.failed(sat, round):
                self._start_cycles(sim, {sat: restart_s}, round)
        return {
            "num_participants": len(alive),
            "num_contributions": merged,
            "mean_staleness": staleness_sum / merged if merged else 0.0,
            "server_version": self.version,
        }
