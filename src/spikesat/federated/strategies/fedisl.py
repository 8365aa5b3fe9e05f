"""``fedisl``: intra-plane ring all-reduce over ISLs, one sink per plane to the ground.

After Razmi et al., "On-Board Federated Learning for Dense LEO Constellations" (ICC 2022) and
"FedISL" (Razmi et al., 2022): per round, for every plane,

1. the plane member that sees a station first downloads the global model and forwards it
   hop by hop both ways round the plane ring;
2. every participating member trains locally;
3. the members run a ring all-reduce (:func:`~spikesat.federated.aggregate.ring_allreduce`:
   ``n - 1`` reduce-scatter and ``n - 1`` all-gather steps, each member sending one chunk
   of ``size / n`` to the next member per step; a step ends when its slowest chunk arrives)
   of their sample-weighted states, so every member holds the plane's weighted average;
4. with ``intra_plane_rounds = K > 1``, steps 2-3 repeat ``K`` times from the plane model
   (hierarchical FL: the plane keeps learning over its ISLs between ground contacts);
5. the member that sees a station first afterwards (the sink) uploads the plane model.

The server averages the plane models weighted by their samples once a ``quorum`` of planes
has arrived (or at the deadline). Failed members' buses still relay ISL traffic.
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
    download_to_plane,
    plane_all_reduce,
    send_plane,
)

if TYPE_CHECKING:
    from spikesat.federated.simulation import Federation


@STRATEGIES.register("fedisl")
class FedIsl(Strategy):
    """Ring all-reduce within each plane, then one upload per plane.

    Parameters
    ----------
    quorum : float
        Fraction of the active planes the server waits for.
    deadline_s : float, optional
        Longest wait after the round starts [s].
    """

    name = "fedisl"
    needs_isl = True

    def __init__(
        self, quorum: float = 1.0, deadline_s: float | None = None, intra_plane_rounds: int = 1
    ) -> None:
        self.quorum = check_fraction(quorum, "quorum")
        self.deadline_s = check_deadline(deadline_s)
        if not isinstance(intra_plane_rounds, int) or intra_plane_rounds < 1:
            raise ValueError(
                f"intra_plane_rounds must be a positive integer, got {intra_plane_rounds!r}"
            )
        self.intra_plane_rounds = intra_plane_rounds

    def config(self) -> dict[str, Any]:
        """The hyper-parameters."""
        return {
            "quorum": self.quorum,
            "deadline_s": self.deadline_s,
            "intra_plane_rounds": self.intra_plane_rounds,
        }

    def run_round(self, sim: Federation, round: int) -> dict[str, Any]:
        """One round: per-plane ring all-reduce, sinks upload, the server averages planes."""
        start_s = sim.time_s
        participants = set(sim.participants(round))
        if not participants:
            return {"num_participants": 0, "num_contributions": 0}
        state = sim.global_state()
        results = sim.train(sorted(participants), round, state)
        deliveries = []
        for plane, ring in enumerate(sim.network.plane_members()):
            trained = [sat for sat in ring if sat in participants]
            if not trained:
                continue
            arrivals = download_to_plane(sim, ring, trained, sim.model_bytes, start_s, round)
            done = {
                sat: sim.clock.compute(sat, sim.local_macs(sat), arrivals[sat], round)
                for sat in trained
            }
            members = sim.survivors(trained, round)
            if not members:  # the whole plane failed mid-round: nothing leaves it
                continue
            counts = {sat: results[sat].num_samples for sat in members}
            num_samples = sum(counts.values())
            plane_state, ready_s = state, max(done[sat] for sat in members)
            for step in range(self.intra_plane_rounds):
                if step > 0:
                    local = sim.train(members, round, plane_state, salt=step)
                    results = {**results, **local}
                    ready_s = max(
                        sim.clock.compute(sat, sim.local_macs(sat), ready_s, round)
                        for sat in members
                    )
                states = {sat: results[sat].state for sat in members}
                plane_state, ready_s = plane_all_reduce(
                    sim, ring, members, states, counts, ready_s, sim.model_bytes, round
                )
            deliveries.append(
                send_plane(sim, plane, members, plane_state, num_samples, ready_s, round)
            )
        if not deliveries:  # every participant failed mid-round: the model stays as it was
            return {"num_participants": len(participants), "num_contributions": 0}
        when = aggregation_time(
            [d.arrival_s for d in deliveries], start_s, self.quorum, self.deadline_s
        )
        used = [d for d in deliveries if d.arrival_s <= when]
        for delivery in used:
            for sat in delivery.meta["sats"]:
                sim.count_contribution(round, sat)
        sim.set_global_state(
            weighted_average([d.state for d in used], [d.meta["num_samples"] for d in used])
        )
        sim.time_s = when
        return {
            "num_participants": len(participants),
            "num_contributions": sum(len(d.meta["sats"]) for d in used),
            "num_planes": len(deliveries),
            "num_late_planes": len(deliveries) - len(used),
            "num_retransmissions": sum(d.attempts - 1 for d in deliveries),
            "num_missed_windows": sum(d.missed_windows for d in deliveries),
        }
