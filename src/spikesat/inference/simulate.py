"""``simulate``: requests from capture to answer over the time-varying constellation.

A request is born when a satellite captures a scene (:func:`captures`: Poisson arrivals at a
rate, on satellites drawn uniformly, seeded). At its capture step the simulator takes the
:class:`~spikesat.inference.network.Network` of that satellite (waiting on board for a route
when none exists), places the services with the policy (a :data:`~spikesat.inference.METHODS`
name), and prices the request with :func:`~spikesat.inference.placement.evaluate`:
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

Links are taken as error-free (retransmissions are not priced yet); with ``inputs``, each
record carries the graph's answers to its scene (:meth:`ServiceGraph.run`), so task accuracy
after a codec at a cut is the graph's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikesat.inference.graph import ServiceGraph
from spikesat.inference.network import SATELLITE, Network, Snapshots
from spikesat.inference.placement import Placement, evaluate, place, placement_problem


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
    """

    capture_s: float
    sat: int
    scene: int


def captures(
    plan: Any,
    rate_per_h: float,
    seed: int = 0,
    num_scenes: int = 1,
    hours: float | None = None,
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
    """
    plan = getattr(plan, "plan", plan)
    if not rate_per_h > 0:
        raise ValueError(f"rate_per_h must be > 0, got {rate_per_h!r}")
    if not isinstance(num_scenes, int) or num_scenes < 1:
        raise ValueError(f"num_scenes must be a positive integer, got {num_scenes!r}")
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
    return [Capture(float(c), int(s), int(k)) for c, s, k in zip(times, sats, scenes, strict=True)]


@dataclass
class RequestRecord:
    """What happened to one request.

    Attributes
    ----------
    capture_s, answer_s, latency_s : float
        Capture time, time the last answer reaches the ground, and their difference [s].
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
    cost : dict
        The full breakdown of :func:`~spikesat.inference.placement.evaluate`.
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
    if inputs is not None:
        modalities = list(inputs) if modalities is None else modalities
        sizes = {int(x.shape[0]) for x in inputs.values()}
        if len(sizes) != 1:
            raise ValueError(f"the modalities of inputs hold different scene counts {sizes}")
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
            placement = place(graph, net, policy, objective, modalities)
            last[request.sat] = (placement, request.capture_s)
            cost = placement.cost
        if previous is None:  # deployed before the day: the first placement's services
            for service, node in placement.assignment.items():
                resident.setdefault(node, set()).add(service)
        move_s, move_j, move_onboard_j, move_bytes = _move_weights(graph, net, placement, resident)
        latency_s = cost["latency_s"] + move_s
        outputs = {}
        if inputs is not None:
            n = next(iter(inputs.values())).shape[0]
            scene = {m: x[request.scene % n : request.scene % n + 1] for m, x in inputs.items()}
            with torch.no_grad():
                outputs = {t: v[0] for t, v in graph.run(scene).items()}
        records.append(
            RequestRecord(
                capture_s=request.capture_s,
                answer_s=request.capture_s + latency_s,
                latency_s=latency_s,
                energy_j=cost["energy_j"] + move_j,
                onboard_energy_j=cost["onboard_energy_j"] + move_onboard_j,
                downlink_bytes=cost["downlink_bytes"],
                isl_bytes=cost["isl_bytes"],
                move_bytes=move_bytes,
                sat=request.sat,
                route=list(net.route),
                assignment=dict(placement.assignment),
                replaced=previous is None or placement is not previous[0],
                cost=cost,
                outputs=outputs,
            )
        )
        if progress is not None:
            progress(done, len(requests))
    return records


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
    """Median and p95 latency, mean bytes and joules per request, re-placements.

    Returns
    -------
    dict of str to float
    """
    if not records:
        raise ValueError("no records to summarise")
    latency = np.array([r.latency_s for r in records])
    return {
        "num_requests": len(records),
        "latency_median_s": float(np.median(latency)),
        "latency_p95_s": float(np.percentile(latency, 95)),
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
