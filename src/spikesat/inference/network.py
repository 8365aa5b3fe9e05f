"""``network``: the constellation at one time step, as the nodes and links a request can use.

A :class:`Network` holds every satellite (a compute profile, memory, a per-request energy budget
and its eclipse state), every ground station (a ground computer), the ISLs and downlinks in view
at that step with the information rates of the link trace (ACM on the trace's SNR), and the
**route** of a request: from the capturing satellite over ISL hops to a satellite that sees a
station, then down to that station. Placement (:func:`~spikesat.inference.place`) puts services
on the nodes of the route, since the data of a request flows along it.

The route minimises ``propagation delay + route_bytes x 8 / rate`` summed over its links (the
time to move ``route_bytes`` hop by hop; Dijkstra on :meth:`ContactPlan.graph`). When the
capturing satellite has no route at the step, the request waits on board for the first later
step that has one (store and carry): :attr:`Network.wait_s` is that wait, and the links are
those of the later step.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikesat.federated.compute import ComputeProfile, get_computer
from spikesat.federated.network import transmit_power_w
from spikesat.units import propagation_delay_s

SATELLITE, GROUND = "satellite", "ground"
ISL, DOWNLINK = "isl", "downlink"
JETSON_TX2NX_MEMORY_BYTES = 4 * 2**30
"""Memory of the Jetson TX2 NX module (4 GB LPDDR4; NVIDIA data sheet DS-10171-001), the
default on-board computer."""
DEFAULT_ROUTE_BYTES = 64 * 64 * 3
"""The payload a route is chosen for: one 64 x 64 RGB scene at 8 bits per sample."""


@dataclass(frozen=True)
class Node:
    """A satellite or a ground station at one step.

    Attributes
    ----------
    name : str
        ``"sat:<i>"`` or ``"gs:<j>"``.
    kind : {"satellite", "ground"}
    index : int
        Satellite or station index in the plan.
    computer : ComputeProfile
        Throughput [MAC/s] and board power [W] while computing.
    memory_bytes : float
        Memory for the weights and activations of the services placed there (``inf``: none).
    energy_budget_j : float
        Joules one request may spend there (compute + transmit; ``inf``: no limit).
    sunlit : bool or None
        Eclipse state at the step (None: the plan has no eclipse data, or a ground node).
    label : str
        Satellite or station name.
    """

    name: str
    kind: str
    index: int
    computer: ComputeProfile
    memory_bytes: float
    energy_budget_j: float
    sunlit: bool | None
    label: str


@dataclass(frozen=True)
class Link:
    """A link in view at the step, in the direction of the route.

    Attributes
    ----------
    src, dst : str
        Node names.
    kind : {"isl", "downlink"}
    rate_bps : float
        Information rate [bit/s] (> 0: links where no MODCOD closes are left out).
    range_km : float
        Slant range [km].
    delay_s : float
        Propagation delay [s].
    tx_power_w : float
        Transmit power of the sender [W].
    """

    src: str
    dst: str
    kind: str
    rate_bps: float
    range_km: float
    delay_s: float
    tx_power_w: float

    def transfer_s(self, num_bytes: float) -> float:
        """Serialisation time of ``num_bytes`` [s] (without the propagation delay)."""
        return 8.0 * float(num_bytes) / self.rate_bps

    def transmit_j(self, num_bytes: float) -> float:
        """Radio energy of the sender to send ``num_bytes`` [J]."""
        return self.tx_power_w * self.transfer_s(num_bytes)


@dataclass(frozen=True)
class Network:
    """The constellation at one step (see the module docstring).

    Attributes
    ----------
    time_index : int
        The step asked for.
    time_s : float
        Its time from the plan start [s].
    wait_s : float
        Wait on the capturing satellite for a route (0 when one exists at the step).
    nodes : dict of str to Node
        Every satellite and station.
    links : dict of (str, str) to Link
        Every ISL and downlink in view at the (route's) step, both directions for ISLs.
    capture : str
        The capturing satellite's node name.
    route : list of str
        Node names from ``capture`` to a ground node.
    """

    time_index: int
    time_s: float
    wait_s: float
    nodes: dict[str, Node]
    links: dict[tuple[str, str], Link] = field(repr=False)
    capture: str
    route: list[str]

    @property
    def route_nodes(self) -> list[Node]:
        """The nodes of the route, in order."""
        return [self.nodes[name] for name in self.route]

    @property
    def route_links(self) -> list[Link]:
        """The links of the route, in order (``len(route) - 1``)."""
        return [self.links[pair] for pair in itertools.pairwise(self.route)]

    def summary(self) -> dict[str, Any]:
        """The route and its links (JSON-ready)."""
        return {
            "time_index": self.time_index,
            "time_s": self.time_s,
            "wait_s": self.wait_s,
            "capture": self.capture,
            "route": list(self.route),
            "route_links": [vars(link) for link in self.route_links],
            "num_satellites": sum(n.kind == SATELLITE for n in self.nodes.values()),
            "num_ground": sum(n.kind == GROUND for n in self.nodes.values()),
            "num_links": len(self.links),
        }


def network(
    plan: Any,
    t_index: int,
    trace: Any = None,
    capture_sat: int = 0,
    **options: Any,
) -> Network:
    """The constellation of ``plan`` at step ``t_index`` (see the module docstring).

    Parameters
    ----------
    plan : ContactPlan or spikesat.federated.Network
        The contact plan (a federated network brings its plan and link trace).
    t_index : int
        The time step.
    trace : LinkTrace, optional
        :func:`spikesat.channels.link_trace` of the plan.
    capture_sat : int
        The satellite that captured the request.
    **options
        Node and link options of :class:`Snapshots` (compute profiles, memory, budgets).

    Raises
    ------
    ValueError
        An index outside the plan, budgets that are not positive, or a capturing satellite
        with no route to any station from ``t_index`` to the plan's horizon (named, with the
        horizon).
    """
    return Snapshots(plan, trace, **options).at(t_index, capture_sat)


class Snapshots:
    """Networks of one plan, step by step: each step's links, nodes and routes are built once.

    Parameters
    ----------
    plan : ContactPlan or spikesat.federated.Network
        The contact plan (a federated network brings its plan and link trace).
    trace : LinkTrace, optional
        :func:`spikesat.channels.link_trace` of the plan; built with ``ground_budget`` and
        ``isl_budget`` when not given.
    onboard, ground : str or ComputeProfile
        Compute profiles of the satellites and the stations
        (:func:`spikesat.federated.compute.list_computers`).
    memory_bytes : float
        Memory of each satellite for services [bytes]; stations have no limit.
    energy_budget_j : float
        Joules a request may spend on one sunlit satellite (compute + transmit).
    eclipse_energy_budget_j : float, optional
        The same for a satellite in eclipse, on battery (default: ``energy_budget_j``).
    ground_budget, isl_budget : str
        Link-budget presets for a trace built here.
    route_bytes : float
        The payload routes are chosen for [bytes].
    """

    def __init__(
        self,
        plan: Any,
        trace: Any = None,
        onboard: str | ComputeProfile = "jetson-tx2nx",
        ground: str | ComputeProfile = "a100-ground",
        memory_bytes: float = JETSON_TX2NX_MEMORY_BYTES,
        energy_budget_j: float = math.inf,
        eclipse_energy_budget_j: float | None = None,
        ground_budget: str = "x-band-eo-sentinel2",
        isl_budget: str = "ka-band-isl",
        route_bytes: float = DEFAULT_ROUTE_BYTES,
    ) -> None:
        if hasattr(plan, "trace") and hasattr(plan, "plan"):
            plan, trace = plan.plan, plan.trace if trace is None else trace
        for name, value in (("memory_bytes", memory_bytes), ("energy_budget_j", energy_budget_j)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        eclipse = energy_budget_j if eclipse_energy_budget_j is None else eclipse_energy_budget_j
        if not eclipse > 0:
            raise ValueError(
                f"eclipse_energy_budget_j must be > 0, got {eclipse_energy_budget_j!r}"
            )
        if not route_bytes > 0:
            raise ValueError(f"route_bytes must be > 0, got {route_bytes!r}")
        if trace is None:
            from spikesat.channels import link_trace

            trace = link_trace(plan, ground_budget, isl_budget=isl_budget)
        self.plan, self.trace = plan, trace
        self.onboard, self.ground = get_computer(onboard), get_computer(ground)
        self.memory_bytes = float(memory_bytes)
        self.energy_budget_j, self.eclipse_energy_budget_j = float(energy_budget_j), float(eclipse)
        self.route_bytes = float(route_bytes)
        self.offsets_s = np.asarray(plan.times.offsets_s, dtype=np.float64)
        self._steps: dict[int, tuple[dict, dict, dict]] = {}

    def at(self, t_index: int, capture_sat: int = 0) -> Network:
        """The :class:`Network` of a request captured by ``capture_sat`` at step ``t_index``."""
        plan = self.plan
        t = plan.check_time_index(t_index)
        sat = plan.check_sat_index(capture_sat, "capture_sat")
        for step in range(t, len(self.offsets_s)):
            nodes, links, routes = self._step(step)
            if f"sat:{sat}" in routes:
                break
        else:
            horizon_s = float(self.offsets_s[-1] - self.offsets_s[t])
            raise ValueError(
                f"satellite {sat} ({plan.sat_names[sat]}) has no route to any ground station "
                f"from step {t} to the end of the plan ({horizon_s / 3600:.2f} h later): extend "
                "the plan, add stations or ISLs, or capture on another satellite"
            )
        return Network(
            time_index=t,
            time_s=float(self.offsets_s[t]),
            wait_s=float(self.offsets_s[step] - self.offsets_s[t]),
            nodes=nodes,
            links=links,
            capture=f"sat:{sat}",
            route=list(routes[f"sat:{sat}"]),
        )

    def _step(self, step: int) -> tuple[dict, dict, dict]:
        """Nodes, links and every satellite's route at one step (cached)."""
        if step not in self._steps:
            links = _links(self.plan, self.trace, step)
            self._steps[step] = (self._nodes(step), links, _routes(links, self.route_bytes))
        return self._steps[step]

    def _nodes(self, step: int) -> dict[str, Node]:
        plan = self.plan
        sunlit = plan.sunlit()[:, step] if plan.sunlit_fraction is not None else None
        nodes: dict[str, Node] = {}
        for i, label in enumerate(plan.sat_names):
            lit = None if sunlit is None else bool(sunlit[i])
            budget = self.eclipse_energy_budget_j if lit is False else self.energy_budget_j
            nodes[f"sat:{i}"] = Node(
                f"sat:{i}", SATELLITE, i, self.onboard, self.memory_bytes, budget, lit, str(label)
            )
        for j, station in enumerate(plan.stations):
            nodes[f"gs:{j}"] = Node(
                f"gs:{j}", GROUND, j, self.ground, math.inf, math.inf, None, station.name
            )
        return nodes


def _links(plan: Any, trace: Any, step: int) -> dict[tuple[str, str], Link]:
    """ISLs (both directions) and downlinks with a positive rate at one step."""
    ground_w = transmit_power_w(trace.budget, None, "ground_tx_power_w")
    links: dict[tuple[str, str], Link] = {}
    for k in _rows_at(trace, step):
        src, dst = f"sat:{int(trace.sat[k])}", f"gs:{int(trace.station[k])}"
        r = float(trace.range_km[k])
        links[(src, dst)] = Link(
            src, dst, DOWNLINK, float(trace.rate_bps[k]), r, float(propagation_delay_s(r)), ground_w
        )
    isl = trace.isl
    if isl is not None and len(isl):
        isl_w = transmit_power_w(trace.isl_budget, None, "isl_tx_power_w")
        for k in _rows_at(isl, step):
            a, b = f"sat:{int(isl.sat_a[k])}", f"sat:{int(isl.sat_b[k])}"
            r, rate = float(isl.range_km[k]), float(isl.rate_bps[k])
            delay = float(propagation_delay_s(r))
            links[(a, b)] = Link(a, b, ISL, rate, r, delay, isl_w)
            links[(b, a)] = Link(b, a, ISL, rate, r, delay, isl_w)
    return links


def _rows_at(samples: Any, step: int) -> np.ndarray:
    """Indices of the samples at ``step`` with a positive rate (samples are sorted by step)."""
    lo, hi = np.searchsorted(samples.time_index, [step, step + 1])
    return lo + np.flatnonzero(samples.rate_bps[lo:hi] > 0)


def _routes(links: dict[tuple[str, str], Link], route_bytes: float) -> dict[str, list[str]]:
    """Every satellite's cheapest path to any ground node (satellites without one are absent)."""
    import networkx as nx

    g = nx.DiGraph()
    for (a, b), link in links.items():  # reversed, so one search from the ground finds all
        g.add_edge(b, a, cost=link.delay_s + link.transfer_s(route_bytes))
    stations = [name for name in g if name.startswith("gs:")]
    g.add_edges_from((("ground*", name) for name in stations), cost=0.0)
    if "ground*" not in g:
        return {}
    paths = nx.single_source_dijkstra_path(g, "ground*", weight="cost")
    return {
        node: list(reversed(path[1:])) for node, path in paths.items() if node.startswith("sat:")
    }
