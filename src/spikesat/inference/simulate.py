"""``simulate``: requests from capture to answer over the time-varying constellation.

A request is born when a satellite captures a scene (:func:`captures`: Poisson arrivals at a
rate, on satellites drawn uniformly, seeded). At its capture step the simulator takes the
:class:`~spikesat.inference.network.Network` of that satellite (waiting on board for a route
when none exists), places the services with the policy (a :data:`~spikesat.inference.METHODS`
name), and prices the request hop by hop through the shared links (below):
``answer_s = capture_s + latency_s``.

**Re-placement.** Each satellite keeps its last placement while its route is unchanged (the same
nodes: a window change or an ISL change makes a new route), and re-places when the route changes
or, with ``replace_every_s``, when its placement is older than that. **Moving weights.** A
satellite runs a service only once it holds the service's weights. Every satellite starts
with the services of its first placement on board (deployed before the simulated day); a later
placement that puts a service on a satellite that does not hold it moves the weights there
first, from the nearest node upstream on the route that holds them, or up from the ground
(uplink assumed as fast as the route's downlink): the time is added to the request's latency,
the sender's radio energy to its joules, and the bytes to ``move_bytes``. Ground nodes hold
every service.

**Shared links** (``contention=True``, the default). Requests share the transmitters they cross:
each ISL terminal and each satellite's downlink is a server whose rate is the link trace's
goodput at each step, booked in the order the requests are simulated
(:class:`~spikesat.inference.queues.LinkQueues`: ARQ retransmissions priced in time and radio
energy, zero rate out of view). A request's data
go hop by hop along its route (store and forward): each node computes its services, then the
bytes for the next hop wait for the bytes queued ahead of them and for the link's window.
With ``arq_retries`` resends a packet can still be lost: a request whose answer loses a
packet is not delivered (``delivered=False``, ``answer_s = latency_s = inf``, no outputs), drawn
with ``seed``. With ``contention=False`` each request is priced alone on an idle, lossless
network at its step's rates, as :func:`~spikesat.inference.placement.evaluate` does.

**Queue-aware placement** (``queue_aware=True``, with shared links). A placement that prices
each request alone cannot see that a busy downlink makes the raw scene wait for hours. With
``queue_aware``, every (re-)placement prices each route link at its **effective rate** for the
request's raw scene: the bytes of the scene over the time the link's queue would take to
deliver them, hop by hop from the capture (:meth:`LinkQueues.peek`: the bytes booked ahead,
the windows, the goodput), so the method weighs the queues as they are when it places. It
keeps the placement until the route changes or ``replace_every_s`` passes, like any placement. The
effective rate stands for waiting as well as sending, so it is offered for the latency
objective only.

**Scenes of many tiles.** A capture of ``tiles`` tiles (:data:`GRANULE_TILES`: a 100 km x
100 km granule) runs the placed services on each tile (the placement and the budgets are per
tile): compute, bytes and joules scale with ``tiles``.
With ``inputs``, each record carries the graph's answers to the capture's scene
(:meth:`ServiceGraph.run` on one tile), so task accuracy after a codec at a cut is the graph's
own, and a request that is not delivered has no answer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikesat.inference.graph import ServiceGraph
from spikesat.inference.network import SATELLITE, Network, Snapshots
from spikesat.inference.placement import Placement, evaluate, place, placement_problem
from spikesat.inference.queues import DEFAULT_PACKET_BYTES, LinkQueues

GRANULE_TILES = 156 * 156
"""Tiles of 64 px in a 100 km x 100 km scene at 10 m (a Sentinel-2-class granule)."""


@dataclass(frozen=True)
class Capture:
    """One captured scene.

    Attributes
    ----------
    capture_s : float
        Capture time from the plan start [s].
    sat : int
        The capturing satellite.
    scene : int
        Index of the scene in the simulation's ``inputs`` (cycled).
    tiles : int
        Tiles of the scene, each one request to the services.
    """

    capture_s: float
    sat: int
    scene: int
    tiles: int = 1


def captures(
    plan: Any,
    rate_per_h: float,
    seed: int = 0,
    num_scenes: int = 1,
    hours: float | None = None,
    tiles: int = 1,
) -> list[Capture]:
    """Poisson captures over the plan's span, each on a satellite drawn uniformly.

    Parameters
    ----------
    plan : ContactPlan or spikesat.federated.Network
    rate_per_h : float
        Captures per hour over the whole constellation.
    seed : int
        Seed of the arrivals, satellites and scenes.
    num_scenes : int
        Scenes to draw from (uniformly).
    hours : float, optional
        Span of the captures [h] from the plan start (default: the whole plan).
    tiles : int
        Tiles per captured scene.
    """
    plan = getattr(plan, "plan", plan)
    if not rate_per_h > 0:
        raise ValueError(f"rate_per_h must be > 0, got {rate_per_h!r}")
    if not isinstance(num_scenes, int) or num_scenes < 1:
        raise ValueError(f"num_scenes must be a positive integer, got {num_scenes!r}")
    if isinstance(tiles, bool) or not isinstance(tiles, int) or tiles < 1:
        raise ValueError(f"tiles must be a positive integer, got {tiles!r}")
    span_s = float(plan.times.offsets_s[-1])
    if hours is not None:
        if not 0 < hours * 3600.0 <= span_s:
            raise ValueError(
                f"hours={hours!r} must be in (0, {span_s / 3600:.2f}], the plan's span"
            )
        span_s = hours * 3600.0
    rng = np.random.default_rng(seed)
    times, t = [], 0.0
    while True:
        t += rng.exponential(3600.0 / rate_per_h)
        if t >= span_s:
            break
        times.append(t)
    sats = rng.integers(plan.num_sats, size=len(times))
    scenes = rng.integers(num_scenes, size=len(times))
    return [
        Capture(float(c), int(s), int(k), tiles)
        for c, s, k in zip(times, sats, scenes, strict=True)
    ]


@dataclass
class RequestRecord:
    """What happened to one request.

    Attributes
    ----------
    capture_s, answer_s, latency_s : float
        Capture time, time the last answer reaches the ground, and their difference [s]
        (``inf`` when the request is not delivered within the plan).
    energy_j, onboard_energy_j : float
        Joules of the request (compute + transmit + moving weights), and the satellites' part.
    downlink_bytes, isl_bytes, move_bytes : float
        Bytes on the route's downlink, on its ISLs, and weights moved for it.
    sat : int
    route : list of str
    assignment : dict of str to str
        Service -> node.
    replaced : bool
        Whether this request triggered a new placement.
    delivered : bool
        Whether every answer reached the ground (within the plan and the ARQ's resends).
    tiles : int
    cost : dict
        The breakdown of :func:`~spikesat.inference.placement.evaluate` for one tile.
    outputs : dict of str to Tensor
        The answers to the scene (when the simulation has inputs).
    """

    capture_s: float
    answer_s: float
    latency_s: float
    energy_j: float
    onboard_energy_j: float
    downlink_bytes: float
    isl_bytes: float
    move_bytes: float
    sat: int
    route: list[str]
    assignment: dict[str, str]
    replaced: bool
    delivered: bool
    tiles: int
    cost: dict[str, Any] = field(repr=False)
    outputs: dict[str, Tensor] = field(default_factory=dict, repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record (no tensors)."""
        keep = ("capture_s", "answer_s", "latency_s", "energy_j", "onboard_energy_j")
        return {
            **{k: getattr(self, k) for k in keep},
            "downlink_bytes": self.downlink_bytes,
            "isl_bytes": self.isl_bytes,
            "move_bytes": self.move_bytes,
            "sat": self.sat,
            "route": list(self.route),
            "replaced": self.replaced,
            "delivered": self.delivered,
            "tiles": self.tiles,
        }


def simulate(
    graph: ServiceGraph,
    plan: Any,
    requests: Sequence[Capture],
    policy: str = "milp",
    objective: str | Mapping[str, float] = "latency",
    inputs: Mapping[str, Tensor] | None = None,
    modalities: Sequence[str] | None = None,
    replace_every_s: float | None = None,
    trace: Any = None,
    progress: Callable[[int, int], None] | None = None,
    contention: bool = True,
    queue_aware: bool = False,
    packet_bytes: int = DEFAULT_PACKET_BYTES,
    arq_retries: int = 3,
    seed: int = 0,
    **network_options: Any,
) -> list[RequestRecord]:
    """Run captured requests through placed services (see the module docstring).

    Parameters
    ----------
    graph : ServiceGraph
    plan : ContactPlan or spikesat.federated.Network
        With its link trace (``trace``, or the federated network's).
    requests : sequence of Capture
        From :func:`captures`, in any order (simulated in capture order); each must reach a
        station before the plan ends.
    policy : str
        Placement method (:data:`~spikesat.inference.METHODS`).
    objective : str or mapping
        The placement objective.
    inputs : mapping of str to Tensor, optional
        Scenes ``{modality: [N, bands, H, W]}``; request ``k`` answers scene
        ``capture.scene % N``.
    modalities : sequence of str, optional
        Modalities of the requests (default: those of ``inputs``, else all of the graph's).
    replace_every_s : float, optional
        Also re-place a satellite's services when its placement is older than this [s].
    trace : LinkTrace, optional
    progress : callable, optional
        ``progress(done, total)`` after each request.
    contention : bool
        Whether requests share links (queues, goodput, packet losses) or each runs alone on
        an idle, lossless network.
    queue_aware : bool
        Place on the links' effective rates through their queues (see the module docstring;
        needs ``contention`` and the latency objective).
    packet_bytes, arq_retries : int
        ARQ packet size [bytes] and resends per lost packet (with ``contention``).
    seed : int
        Seed of the packet-loss draws.
    **network_options
        Node and link options of :class:`~spikesat.inference.network.Snapshots` (compute
        profiles, memory, budgets).

    Returns
    -------
    list of RequestRecord
        In capture order.

    Raises
    ------
    ValueError
        A capture outside the plan's time span or on a satellite it does not have, an empty
        request list, or the errors of :func:`~spikesat.inference.network` and
        :func:`~spikesat.inference.place`.
    """
    if hasattr(plan, "trace") and hasattr(plan, "plan"):
        plan, trace = plan.plan, plan.trace if trace is None else trace
    snapshots = Snapshots(plan, trace, **network_options)
    requests = sorted(requests, key=lambda r: r.capture_s)
    if not requests:
        raise ValueError("no requests to simulate: make some with captures(plan, rate_per_h)")
    offsets_s = np.asarray(plan.times.offsets_s, dtype=np.float64)
    for r in requests:
        if not offsets_s[0] <= r.capture_s <= offsets_s[-1]:
            raise ValueError(
                f"a request captured at {r.capture_s:.1f} s is outside the plan's span [0, "
                f"{offsets_s[-1]:.1f}] s: build a longer plan or drop it"
            )
        if not 0 <= r.sat < plan.num_sats:
            raise ValueError(f"a request names satellite {r.sat}; the plan has {plan.num_sats}")
    if replace_every_s is not None and not replace_every_s > 0:
        raise ValueError(f"replace_every_s must be > 0, got {replace_every_s!r}")
    if queue_aware and (not contention or objective != "latency"):
        raise ValueError(
            "queue_aware placement prices waiting in the queues as link time: it needs "
            f"contention=True and objective='latency' (got contention={contention!r}, "
            f"objective={objective!r})"
        )
    if inputs is not None:
        modalities = list(inputs) if modalities is None else modalities
        sizes = {int(x.shape[0]) for x in inputs.values()}
        if len(sizes) != 1:
            raise ValueError(f"the modalities of inputs hold different scene counts {sizes}")
    queues = LinkQueues(plan, snapshots.trace, packet_bytes, arq_retries) if contention else None
    rng = np.random.default_rng(seed)
    last: dict[int, tuple[Placement, float]] = {}
    resident: dict[str, set[str]] = {}
    records = []
    for done, request in enumerate(requests, start=1):
        step = int(np.searchsorted(offsets_s, request.capture_s, side="right") - 1)
        try:
            net = snapshots.at(step, request.sat)
        except ValueError as error:
            raise ValueError(
                f"the request captured at {request.capture_s:.1f} s cannot be answered: {error} "
                "(captures(..., hours=...) can end the captures earlier)"
            ) from error
        previous = last.get(request.sat)
        stale = previous is not None and (
            previous[0].network.route != net.route
            or (replace_every_s is not None and request.capture_s - previous[1] >= replace_every_s)
        )
        placement = None if previous is None or stale else previous[0]
        if placement is not None:  # the kept placement, priced on this step's network
            cost = evaluate(placement_problem(graph, net, modalities), placement.positions)
            if cost["violations"]:  # it no longer fits this step's budgets
                placement = None
        if placement is None:
            if queue_aware:
                seen = _through_the_queues(graph, net, request, queues, modalities)
                placement = place(graph, seen, policy, objective, modalities)
                cost = evaluate(placement_problem(graph, net, modalities), placement.positions)
            else:
                placement = place(graph, net, policy, objective, modalities)
                cost = placement.cost
            last[request.sat] = (placement, request.capture_s)
        if previous is None:  # deployed before the day: the first placement's services
            for service, node in placement.assignment.items():
                resident.setdefault(node, set()).add(service)
        move_s, move_j, move_onboard_j, move_bytes = _move_weights(graph, net, placement, resident)
        if queues is None:
            timing = _alone(cost, request.tiles)
        else:
            timing = _through_queues(cost, net, request, queues)
        delivered = timing["delivered_probability"] >= 1.0 or (
            rng.random() < timing["delivered_probability"]
        )
        latency_s = timing["latency_s"] + move_s if delivered else math.inf
        outputs = {}
        if inputs is not None and delivered:
            n = next(iter(inputs.values())).shape[0]
            scene = {m: x[request.scene % n : request.scene % n + 1] for m, x in inputs.items()}
            with torch.no_grad():
                outputs = {t: v[0] for t, v in graph.run(scene).items()}
        records.append(
            RequestRecord(
                capture_s=request.capture_s,
                answer_s=request.capture_s + latency_s,
                latency_s=latency_s,
                energy_j=timing["energy_j"] + move_j,
                onboard_energy_j=timing["onboard_energy_j"] + move_onboard_j,
                downlink_bytes=cost["downlink_bytes"] * request.tiles,
                isl_bytes=cost["isl_bytes"] * request.tiles,
                move_bytes=move_bytes,
                sat=request.sat,
                route=list(net.route),
                assignment=dict(placement.assignment),
                replaced=previous is None or placement is not previous[0],
                delivered=delivered,
                tiles=request.tiles,
                cost=cost,
                outputs=outputs,
            )
        )
        if progress is not None:
            progress(done, len(requests))
    return records


def _alone(cost: Mapping[str, Any], tiles: int) -> dict[str, float]:
    """A request of ``tiles`` tiles alone on an idle, lossless network (``evaluate``'s model)."""
    per_tile_s = cost["compute_s"] + cost["transfer_s"]
    return {
        "latency_s": cost["latency_s"] + (tiles - 1) * per_tile_s,
        "energy_j": tiles * cost["energy_j"],
        "onboard_energy_j": tiles * cost["onboard_energy_j"],
        "delivered_probability": 1.0,
    }


def _through_queues(
    cost: Mapping[str, Any], net: Network, request: Capture, queues: LinkQueues
) -> dict[str, float]:
    """A request hop by hop through the shared links (see the module docstring)."""
    tiles, links = request.tiles, net.route_links
    t = request.capture_s + cost["wait_s"]
    transmit_j, delivered = 0.0, 1.0
    for p, name in enumerate(net.route):
        t += tiles * cost["node_compute_s"][name]
        if p < len(links):
            link = links[p]
            transfer = queues.send(link.src, link.dst, t, tiles * cost["link_bytes"][p])
            t = transfer.end_s + link.delay_s
            transmit_j += link.tx_power_w * transfer.airtime_s
            delivered *= transfer.delivered_probability
    satellites_compute_j = cost["onboard_energy_j"] - cost["transmit_j"]
    return {
        "latency_s": t - request.capture_s,
        "energy_j": tiles * cost["compute_j"] + transmit_j,
        "onboard_energy_j": tiles * satellites_compute_j + transmit_j,
        "delivered_probability": delivered if math.isfinite(t) else 0.0,
    }


def _through_the_queues(
    graph: ServiceGraph,
    net: Network,
    request: Capture,
    queues: LinkQueues,
    modalities: Sequence[str] | None,
) -> Network:
    """``net`` with each route link at its effective rate for the request's raw scene now."""
    raw_bytes = request.tiles * graph.sensor_bytes(modalities)
    ready_s = request.capture_s + net.wait_s
    links = dict(net.links)
    for link in net.route_links:  # hop by hop, as the raw scene would go
        end_s = queues.peek(link.src, link.dst, ready_s, raw_bytes).end_s
        took_s = end_s - ready_s
        rate_bps = 8.0 * raw_bytes / took_s if math.isfinite(took_s) and took_s > 0 else 1.0
        effective = dataclasses.replace(link, rate_bps=min(rate_bps, link.rate_bps))
        links[(link.src, link.dst)] = effective
        ready_s = end_s + link.delay_s
    return dataclasses.replace(net, links=links)


def _move_weights(
    graph: ServiceGraph, net: Network, placement: Placement, resident: dict[str, set[str]]
) -> tuple[float, float, float, float]:
    """Move the weights of placed services their satellites lack (see the module docstring).

    Returns ``(seconds, joules, satellites' joules, bytes)`` and records the services as
    resident.
    """
    links = net.route_links
    seconds = joules = onboard_j = moved = 0.0
    for service, p in placement.positions.items():
        node = net.nodes[net.route[p]]
        if node.kind != SATELLITE or service in resident.get(node.name, set()):
            continue
        size = float(graph.services[service].param_bytes)
        holders = [q for q in range(p) if service in resident.get(net.route[q], set())]
        if holders:  # down the route from the nearest upstream holder
            hops = [(link, True) for link in links[holders[-1] : p]]
        else:  # up from the ground, over the route's links in reverse
            hops = [(link, link.kind != "downlink") for link in reversed(links[p:])]
        for link, from_satellite in hops:
            seconds += link.transfer_s(size) + link.delay_s
            joules += link.transmit_j(size)
            onboard_j += link.transmit_j(size) if from_satellite else 0.0
        moved += size
        resident.setdefault(node.name, set()).add(service)
    return seconds, joules, onboard_j, moved


def summarise(records: Sequence[RequestRecord]) -> dict[str, float]:
    """Delivered fraction, median and p95 latency (empirical quantiles; a request not delivered
    counts as ``inf``), mean bytes and joules per request, re-placements.

    Returns
    -------
    dict of str to float
    """
    if not records:
        raise ValueError("no records to summarise")
    latency = np.array([r.latency_s for r in records])  # inf: not delivered
    return {
        "num_requests": len(records),
        "delivered_fraction": float(np.mean([r.delivered for r in records])),
        "latency_median_s": float(np.quantile(latency, 0.5, method="inverted_cdf")),
        "latency_p95_s": float(np.quantile(latency, 0.95, method="inverted_cdf")),
        "downlink_bytes_per_request": float(np.mean([r.downlink_bytes for r in records])),
        "isl_bytes_per_request": float(np.mean([r.isl_bytes for r in records])),
        "energy_j_per_request": float(np.mean([r.energy_j for r in records])),
        "onboard_energy_j_per_request": float(np.mean([r.onboard_energy_j for r in records])),
        "compute_j_per_request": float(np.mean([r.cost["compute_j"] for r in records])),
        "transmit_j_per_request": float(np.mean([r.cost["transmit_j"] for r in records])),
        "move_bytes_total": float(sum(r.move_bytes for r in records)),
        "replacements": int(sum(r.replaced for r in records)),
        "wait_median_s": float(np.median([r.cost["wait_s"] for r in records])),
    }
