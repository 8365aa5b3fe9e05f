"""The strategy interface, its registry, and ISL helpers shared by the strategies.

A strategy runs one round at a time against a :class:`~spikesat.federated.simulation.Federation`
(the clock, network, data, global model, backend and faults of one run): it schedules every
download, compute job, ISL hop and upload on the simulated clock, aggregates the verified
updates, sets the new global model and moves the server time ``sim.time_s`` to the moment the
new model exists. Its own persistent state goes in :meth:`Strategy.state_dict` so runs resume
exactly from checkpoints.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from spikesat._registry import Registry
from spikesat.federated.aggregate import ring_allreduce, ring_chunk_bytes
from spikesat.federated.clock import SimulationHorizonError

if TYPE_CHECKING:
    from spikesat.federated.faults import Delivery
    from spikesat.federated.simulation import Federation

STRATEGIES: Registry[Strategy] = Registry("strategy")


class Strategy:
    """Base class of the federated strategies (see the module docstring)."""

    name = "base"
    needs_isl = False

    def setup(self, sim: Federation) -> None:
        """Check the strategy can run on ``sim`` (called once before the first round)."""
        if self.needs_isl:
            check_plane_rings(sim)

    def run_round(self, sim: Federation, round: int) -> dict[str, Any]:
        """Run round ``round``; return the round's own figures (contributions, ...)."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The hyper-parameters (JSON-ready)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Persistent state between rounds."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


def create_strategy(name: str, **kwargs: Any) -> Strategy:
    """The strategy registered as ``name``; unknown names list the choices and closest match."""
    return STRATEGIES.create(name, **kwargs)


def list_strategies() -> list[str]:
    """Registered strategy names."""
    return STRATEGIES.names()


def check_fraction(value: float, what: str) -> float:
    """Validate a fraction in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value <= 1.0:
        raise ValueError(f"{what} must be a fraction in (0, 1], got {value!r}")
    return float(value)


def check_deadline(value: float | None) -> float | None:
    """Validate an optional deadline [s]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"deadline_s must be a positive number of seconds or None, got {value!r}")
    return float(value)


def aggregation_time(
    arrivals: list[float], start_s: float, quorum: float, deadline_s: float | None
) -> float:
    """When a synchronous server aggregates: the ``ceil(quorum n)``-th arrival, or the deadline
    ``start_s + deadline_s`` if that is earlier (but never before the first arrival)."""
    ordered = sorted(arrivals)
    needed = max(1, math.ceil(quorum * len(ordered) - 1e-9))
    when = ordered[needed - 1]
    if deadline_s is not None:
        when = max(ordered[0], min(when, start_s + deadline_s))
    return when


def check_plane_rings(sim: Federation) -> None:
    """Raise unless every plane is a ring of in-plane ISLs (a Walker shell with plus-grid)."""
    if sim.network.planes is None:
        raise ValueError(
            "this strategy exchanges data over intra-plane ISLs, but the constellation has no "
            "planes (a TLE set): use a Walker preset, or strategy 'fedavg-ground'/'fedasync'"
        )
    for ring in sim.network.plane_members():
        for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
            if len(ring) > 1 and not sim.network.has_isl(a, b):
                raise ValueError(
                    f"sat-{a} and sat-{b} are neighbours in their plane but have no ISL in the "
                    "contact plan: build it with isl='plus-grid'"
                )


def ring_path(ring: list[int], source: int, target: int, forward: bool | None = None) -> list[int]:
    """Satellites from ``source`` to ``target`` along a plane ring (shortest way by default,
    or the ``forward`` / backward direction)."""
    n = len(ring)
    i, j = ring.index(source), ring.index(target)
    ahead = (j - i) % n
    if forward is None:
        forward = ahead <= n - ahead
    if forward:
        return [ring[(i + k) % n] for k in range(ahead + 1)]
    return [ring[(i - k) % n] for k in range((i - j) % n + 1)]


def ring_broadcast(
    sim: Federation, ring: list[int], source: int, num_bytes: int, ready_s: float, round: int
) -> dict[int, float]:
    """Forward ``num_bytes`` from ``source`` hop by hop both ways round the plane ring; the
    arrival time at every satellite of the ring (each hop is sent once)."""
    n = len(ring)
    start = ring.index(source)
    arrival = {source: ready_s}
    for forward, count in ((True, n // 2), (False, (n - 1) // 2)):
        previous, time_s = source, ready_s
        for k in range(1, count + 1):
            sat = ring[(start + k) % n] if forward else ring[(start - k) % n]
            time_s = sim.clock.isl_send(previous, sat, num_bytes, time_s, round).arrival_s
            arrival[sat] = time_s
            previous = sat
    return arrival


def download_to_plane(
    sim: Federation,
    ring: list[int],
    members: list[int],
    num_bytes: int,
    after_s: float,
    round: int,
) -> dict[int, float]:
    """The member that sees a station first after ``after_s`` downloads ``num_bytes`` and
    forwards them round the plane ring; the arrival time at every satellite of the ring."""
    entry = first_to_see_ground(sim, members, after_s)
    arrival = sim.clock.download(entry, num_bytes, after_s, round).arrival_s
    return ring_broadcast(sim, ring, entry, num_bytes, arrival, round)


def chunk_sizes(num_bytes: int, chunks: int) -> list[int]:
    """``num_bytes`` split into ``chunks`` near-equal integer parts (they sum to it)."""
    base, extra = divmod(int(num_bytes), chunks)
    return [base + (1 if k < extra else 0) for k in range(chunks)]


def ring_gather(
    sim: Federation,
    ring: list[int],
    relay: int,
    payloads: dict[int, tuple[int, float]],
    round: int,
) -> float:
    """Gather payloads ``{sat: (num_bytes, ready_s)}`` to ``relay`` over the ring: each half
    of the ring forwards toward the relay, every satellite adding its own bytes to what it
    received (store and forward). Returns when the last byte reaches the relay."""
    chunked = {sat: (num, [ready]) for sat, (num, ready) in payloads.items()}
    return ring_gather_chunks(sim, ring, relay, chunked, round)[-1]


def ring_gather_chunks(
    sim: Federation,
    ring: list[int],
    relay: int,
    payloads: dict[int, tuple[int, list[float]]],
    round: int,
) -> list[float]:
    """:func:`ring_gather` pipelined in micro-batches: ``{sat: (num_bytes, [ready_s per
    chunk])}``, chunk ``k`` holding the ``k``-th near-equal part of every member's bytes.

    Each half of the ring forwards chunk by chunk (store and forward per chunk): a satellite
    sends chunk ``k`` once it has received chunk ``k`` from upstream and its own part is
    ready, after its chunk ``k - 1`` on the same link. Chunks therefore cross successive
    hops in parallel. One chunk is :func:`ring_gather` exactly.

    Returns
    -------
    list of float
        ``[K]`` when the last byte of each chunk has reached ``relay`` [s].
    """
    chunks = len(next(iter(payloads.values()))[1]) if payloads else 1
    n = len(ring)
    start = ring.index(relay)
    done = list(payloads.get(relay, (0, [-math.inf] * chunks))[1])
    for forward, count in ((True, n // 2), (False, (n - 1) // 2)):
        chain = [
            ring[(start + k) % n] if forward else ring[(start - k) % n] for k in range(count, 0, -1)
        ]
        carried, time_s = [0] * chunks, [-math.inf] * chunks
        for position, sat in enumerate(chain):
            own_bytes, own_ready = payloads.get(sat, (0, [-math.inf] * chunks))
            target = chain[position + 1] if position + 1 < len(chain) else relay
            for k, part in enumerate(chunk_sizes(own_bytes, chunks)):
                carried[k] += part
                time_s[k] = max(time_s[k], own_ready[k])
                if carried[k]:
                    time_s[k] = sim.clock.isl_send(
                        sat, target, carried[k], time_s[k], round
                    ).arrival_s
        for k in range(chunks):
            if carried[k]:
                done[k] = max(done[k], time_s[k])
    return done


def ring_scatter(
    sim: Federation,
    ring: list[int],
    relay: int,
    payloads: dict[int, int],
    ready_s: float,
    round: int,
) -> dict[int, float]:
    """Send each satellite its own ``payloads[sat]`` bytes from ``relay`` round the ring: each
    half of the ring receives the bytes of all its members, and every satellite keeps its
    part and forwards the rest. Returns the arrival time at every satellite with a payload."""
    arrivals = ring_scatter_chunks(sim, ring, relay, payloads, [ready_s], round)
    return {sat: times[-1] for sat, times in arrivals.items()}


def ring_scatter_chunks(
    sim: Federation,
    ring: list[int],
    relay: int,
    payloads: dict[int, int],
    ready_s: list[float],
    round: int,
) -> dict[int, list[float]]:
    """:func:`ring_scatter` pipelined in micro-batches: chunk ``k`` (the ``k``-th near-equal
    part of every satellite's bytes) is at the relay at ``ready_s[k]`` and is forwarded hop by
    hop as soon as it has arrived, after chunk ``k - 1`` on the same link. One chunk is
    :func:`ring_scatter` exactly.

    Returns
    -------
    dict of int to list of float
        Per satellite with a payload, ``[K]`` arrival times of its chunks [s].
    """
    chunks = len(ready_s)
    n = len(ring)
    start = ring.index(relay)
    parts = {sat: chunk_sizes(num, chunks) for sat, num in payloads.items()}
    arrival = {relay: list(ready_s)}
    for forward, count in ((True, n // 2), (False, (n - 1) // 2)):
        chain = [
            ring[(start + k) % n] if forward else ring[(start - k) % n] for k in range(1, count + 1)
        ]
        for k in range(chunks):
            remaining = sum(parts[sat][k] for sat in chain if sat in parts)
            previous, time_s = relay, ready_s[k]
            for sat in chain:
                if remaining == 0:
                    break
                time_s = sim.clock.isl_send(previous, sat, remaining, time_s, round).arrival_s
                arrival.setdefault(sat, [-math.inf] * chunks)[k] = time_s
                remaining -= parts[sat][k] if sat in parts else 0
                previous = sat
    return {sat: arrival[sat] for sat in payloads}


def plane_all_reduce(
    sim: Federation,
    ring: list[int],
    members: list[int],
    states: dict[int, dict[str, torch.Tensor]],
    counts: dict[int, int],
    ready_s: float,
    num_bytes: int,
    round: int,
) -> tuple[dict[str, torch.Tensor], float]:
    """Sample-weighted plane average by ring all-reduce, and when every member holds it.

    The maths is :func:`~spikesat.federated.aggregate.ring_allreduce` of the states scaled by
    ``m n_i / sum n``; the timing has ``2 (m - 1)`` synchronous steps in which member ``k``
    sends one chunk (:func:`~spikesat.federated.aggregate.ring_chunk_bytes` of ``num_bytes``)
    to the next member of the ring (over the buses between them); a step ends when its
    slowest chunk arrives.
    """
    total, m = sum(counts[sat] for sat in members), len(members)
    scaled = [{k: v * (m * counts[sat] / total) for k, v in states[sat].items()} for sat in members]
    plane_state = ring_allreduce(scaled, members=[0])[0]
    chunks = ring_chunk_bytes(num_bytes, m)
    time_s = ready_s
    for step in range(2 * (m - 1)):
        step_end = time_s
        for k, sat in enumerate(members):
            path = ring_path(ring, sat, members[(k + 1) % m], forward=True)
            step_end = max(
                step_end, sim.clock.isl_path(path, chunks[(k - step) % m], time_s, round)
            )
        time_s = step_end
    return plane_state, time_s


def send_plane(
    sim: Federation,
    plane: int,
    members: list[int],
    state: dict[str, torch.Tensor],
    num_samples: int,
    ready_s: float,
    round: int,
    wire_bytes: int | None = None,
) -> Delivery:
    """The member that sees a station first uploads the plane's aggregate ``state`` (of
    ``members``' ``num_samples`` examples) until the station accepts it (``wire_bytes``: the
    priced size, :meth:`~spikesat.federated.simulation.Federation.send`)."""
    sink = first_to_see_ground(sim, members, ready_s)
    return sim.send(
        sink,
        state,
        ready_s,
        round,
        wire_bytes=wire_bytes,
        plane=plane,
        num_samples=num_samples,
        sats=list(members),
    )


def first_to_see_ground(sim: Federation, members: list[int], after_s: float) -> int:
    """The member whose next ground contact after ``after_s`` starts first."""
    best: tuple[float, int] | None = None
    for sat in members:
        window = sim.network.best_ground_window(sat, after_s)
        if window is not None and (best is None or window[1] < best[0]):
            best = (window[1], sat)
    if best is None:
        raise SimulationHorizonError(
            f"no satellite of {members} sees a ground station after {after_s / 3600:.2f} h "
            "before the contact plan ends: build a longer plan (horizon_h)"
        )
    return best[1]
