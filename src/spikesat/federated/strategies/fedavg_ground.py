"""``fedavg-ground``: ground-only FedAvg, the baseline (McMahan et al., AISTATS 2017).

Per round, starting when the server's model ``w_r`` exists (``sim.time_s``): every
participating satellite downloads ``w_r`` from the first ground station it sees, trains
locally, and uploads its update to the first station it sees after training (with faults:
missed passes and corrupted uploads are resent). The server aggregates the sample-weighted
average of the updates that arrived by the ``ceil(quorum x n)``-th arrival or by the deadline,
whichever is first; later (straggler) updates are discarded, as synchronous FedAvg does. A
satellite that fails mid-round (after training, before its upload) is known to the server from
its housekeeping telemetry, so the quorum counts only the satellites whose updates can arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spikesat.federated.aggregate import weighted_average
from spikesat.federated.strategies.base import (
    STRATEGIES,
    Strategy,
    aggregation_time,
    check_deadline,
    check_fraction,
)

if TYPE_CHECKING:
    from spikesat.federated.simulation import Federation


@STRATEGIES.register("fedavg-ground")
class FedAvgGround(Strategy):
    """Ground-station FedAvg.

    Parameters
    ----------
    quorum : float
        Fraction of the round's participants whose updates the server waits for.
    deadline_s : float, optional
        Longest wait after the round starts [s] (never aggregating before the first update).
    """

    name = "fedavg-ground"

    def __init__(self, quorum: float = 1.0, deadline_s: float | None = None) -> None:
        self.quorum = check_fraction(quorum, "quorum")
        self.deadline_s = check_deadline(deadline_s)

    def config(self) -> dict[str, Any]:
        """The hyper-parameters."""
        return {"quorum": self.quorum, "deadline_s": self.deadline_s}

    def run_round(self, sim: Federation, round: int) -> dict[str, Any]:
        """One synchronous round over the ground stations."""
        start_s = sim.time_s
        sats = sim.participants(round)
        if not sats:
            return {"num_participants": 0, "num_contributions": 0}
        state = sim.global_state()
        ready = {}
        for sat in sats:
            arrival = sim.clock.download(sat, sim.model_bytes, start_s, round).arrival_s
            ready[sat] = sim.clock.compute(sat, sim.local_macs(sat), arrival, round)
        results = sim.train(sats, round, state)
        deliveries = [
            sim.send(
                sat, results[sat].state, ready[sat], round, num_samples=results[sat].num_samples
            )
            for sat in sim.survivors(sats, round)
        ]
        if not deliveries:  # every participant failed mid-round: the model stays as it was
            sim.time_s = max(ready.values())
            return {"num_participants": len(sats), "num_contributions": 0}
        when = aggregation_time(
            [d.arrival_s for d in deliveries], start_s, self.quorum, self.deadline_s
        )
        used = [d for d in deliveries if d.arrival_s <= when]
        for delivery in used:
            sim.count_contribution(round, delivery.sat)
        sim.set_global_state(
            weighted_average([d.state for d in used], [d.meta["num_samples"] for d in used])
        )
        sim.time_s = when
        return {
            "num_participants": len(sats),
            "num_contributions": len(used),
            "num_late": len(deliveries) - len(used),
            "num_retransmissions": sum(d.attempts - 1 for d in deliveries),
            "num_missed_windows": sum(d.missed_windows for d in deliveries),
        }
