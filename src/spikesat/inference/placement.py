"""``place``: which node of a request's route runs each service of a :class:`ServiceGraph`.

The data of a request flows along the route of its :class:`~spikesat.inference.network.Network`
(capturing satellite, ISL relays, ground station), so a placement gives each service a position
on the route, never before the services it reads from. The cost of a placement, per request:

- **latency** [s] = wait for a route + every placed service's compute time on its node
  (``MACs / macs_per_s``) + every link's serialisation time for the bytes that cross it + the
  route's propagation delay. Services run one after another (a single request in flight), so
  this is the end of the last answer's journey when nothing overlaps, and an upper bound
  otherwise.
- **energy** [J] = compute energy (``power_w x compute time``, ground included) + the radio
  energy of each sender (``tx_power_w x serialisation time``);
- ``downlink_bytes``: bytes on the route's last link.

A service's output crosses the link after position ``l`` when the service sits at or before
``l`` and one of its readers (or, for a head, the ground that receives the answer) sits after
it; it crosses once however many readers wait behind the link. Sensor data starts on the
capturing satellite.

Methods (:data:`METHODS`):

- ``"milp"``: the exact optimum of the mixed-integer program below, solved by HiGHS through
  :func:`scipy.optimize.milp`; binaries ``x[s, p]`` (service ``s`` at position ``p``), with
  ``C_s(l) = sum_{p <= l} x[s, p]``: precedence ``C_v(l) <= C_u(l)`` for each edge ``u -> v``;
  crossing ``z[u, l] >= C_u(l) - C_v(l)`` for each reader ``v`` (the crossing is linear because
  precedence holds); memory ``sum_s x[s, p] param_bytes_s + m_p <= memory_p`` with
  ``m_p >= x[s, p] peak_activation_bytes_s`` (weights stay resident, one service's activations
  at a time); per-satellite energy ``compute + transmit <= energy_budget_j``; and, when given,
  per-node compute time ``<= compute_budget_s``;
- ``"greedy"``: services in topological order, each at the position that minimises the cost of
  what is placed so far, within the budgets;
- baselines: ``"bent-pipe"`` (the raw request downlinked, every service on the ground),
  ``"on-board"`` (every service on the capturing satellite, answers downlinked) and
  ``"single-split"`` (Neurosurgeon: the best prefix of the services in topological order on the
  capturing satellite, the rest on the ground).

Objectives: ``"latency"``, ``"energy"``, or a weighted sum ``{"latency": w_per_s, "energy":
w_per_j}``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikesat.inference.graph import ServiceGraph
from spikesat.inference.network import SATELLITE, Network

METHODS = ("milp", "greedy", "bent-pipe", "on-board", "single-split")
OBJECTIVES = ("latency", "energy")
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Problem:
    """A placement problem: the services of one request kind on one route.

    Attributes
    ----------
    services : list of str
        Services the request runs, in topological order.
    readers : dict of str to list of str
        Per producer (a service or a sensor ``input:<modality>``), the services that read its
        output; ``"output"`` for a head's answer, which goes to the ground.
    out_bytes : dict of str to float
        Bytes per request a producer sends.
    macs, param_bytes, peak_bytes : dict of str to float
        Per service.
    network : Network
        The route's nodes and links.
    compute_budget_s : float
        Compute seconds one request may take on one node.
    """

    services: list[str]
    readers: dict[str, list[str]]
    out_bytes: dict[str, float]
    macs: dict[str, float]
    param_bytes: dict[str, float]
    peak_bytes: dict[str, float]
    network: Network = field(repr=False)
    compute_budget_s: float = math.inf

    @property
    def num_positions(self) -> int:
        """Nodes on the route."""
        return len(self.network.route)

    def parents(self, service: str) -> list[str]:
        """Services (not sensors) whose output ``service`` reads."""
        return [u for u, vs in self.readers.items() if service in vs and u in self.macs]


def placement_problem(
    graph: ServiceGraph,
    network: Network,
    modalities: Sequence[str] | None = None,
    compute_budget_s: float = math.inf,
) -> Problem:
    """The :class:`Problem` of requests carrying ``modalities`` (default: all of the graph's).

    Raises
    ------
    ValueError
        An unknown modality (the graph's are listed).
    """
    present = list(graph.modalities) if modalities is None else list(modalities)
    unknown = [m for m in present if m not in graph.modalities]
    if unknown or not present:
        raise ValueError(
            f"requests must carry some of the graph's modalities {list(graph.modalities)}, got "
            f"{present}"
        )
    if not compute_budget_s > 0:
        raise ValueError(f"compute_budget_s must be > 0, got {compute_budget_s!r}")
    sensors = {f"input:{m}" for m in present}
    services = [
        s.name
        for s in graph.services.values()
        if not (s.kind == "tokenizer" and s.inputs[0] not in sensors)
    ]
    used = set(services)
    readers: dict[str, list[str]] = {name: [] for name in [*sorted(sensors), *services]}
    for name in services:
        for source in graph.services[name].inputs:
            if source in readers:
                readers[source].append(name)
    for task in graph.tasks:
        readers[f"head:{task}"].append("output")
    out_bytes = {e.src: float(e.num_bytes) for e in graph.edges if e.src in sensors}
    out_bytes.update({name: float(graph.services[name].out_bytes) for name in used})
    return Problem(
        services=services,
        readers=readers,
        out_bytes=out_bytes,
        macs={n: graph.services[n].macs for n in services},
        param_bytes={n: float(graph.services[n].param_bytes) for n in services},
        peak_bytes={n: float(graph.services[n].peak_activation_bytes) for n in services},
        network=network,
        compute_budget_s=float(compute_budget_s),
    )


@dataclass(frozen=True)
class Placement:
    """Where each service runs, and what a request costs there.

    Attributes
    ----------
    method : str
    objective : str or dict
    assignment : dict of str to str
        Service -> node name.
    positions : dict of str to int
        Service -> position on the route.
    cost : dict
        ``latency_s``, ``energy_j``, ``downlink_bytes`` and their breakdown (see
        :func:`evaluate`).
    solve_s : float
        Wall time of the method [s].
    network : Network
    """

    method: str
    objective: str | dict[str, float]
    assignment: dict[str, str]
    positions: dict[str, int]
    cost: dict[str, Any]
    solve_s: float
    network: Network = field(repr=False)

    def node_of(self, service_name: str) -> str:
        """The node that runs ``service_name``; an unknown name lists the services."""
        if service_name not in self.assignment:
            raise ValueError(
                f"unknown service {service_name!r}; placed: {', '.join(self.assignment)}"
            )
        return self.assignment[service_name]

    def summary(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "method": self.method,
            "objective": self.objective,
            "assignment": dict(self.assignment),
            "cost": dict(self.cost),
            "solve_s": self.solve_s,
            "route": list(self.network.route),
        }


def evaluate(problem: Problem, positions: Mapping[str, int]) -> dict[str, Any]:
    """The cost of a (possibly partial) placement, computed directly from its definition.

    Services missing from ``positions`` are left out, with their edges (the answer of a placed
    head always travels to the ground).

    Returns
    -------
    dict
        ``latency_s``, ``energy_j``, ``downlink_bytes``, ``isl_bytes``, ``wait_s``,
        ``compute_s``, ``transfer_s``, ``propagation_s``, ``compute_j``, ``transmit_j``,
        ``onboard_energy_j`` (satellites only), per-node ``node_energy_j``,
        ``node_memory_bytes`` and ``node_compute_s``, per route link ``link_bytes``, and
        ``violations`` (budgets exceeded,
        with the node and the budget named).
    """
    net = problem.network
    nodes, links = net.route_nodes, net.route_links
    last = len(nodes) - 1
    node_compute_s = [0.0] * len(nodes)
    node_energy_j = [0.0] * len(nodes)
    node_params = [0.0] * len(nodes)
    node_peak = [0.0] * len(nodes)
    for s, p in positions.items():
        seconds = nodes[p].computer.seconds(problem.macs[s])
        node_compute_s[p] += seconds
        node_energy_j[p] += nodes[p].computer.power_w * seconds
        node_params[p] += problem.param_bytes[s]
        node_peak[p] = max(node_peak[p], problem.peak_bytes[s])
    compute_j = sum(node_energy_j)
    link_bytes = [0.0] * len(links)
    for producer, readers in problem.readers.items():
        start = 0 if producer not in problem.macs else positions.get(producer)
        if start is None:
            continue
        ends = [last if r == "output" else positions.get(r) for r in readers]
        ends = [e for e in ends if e is not None]
        for k in range(start, max(ends, default=start)):
            link_bytes[k] += problem.out_bytes[producer]
    transfer_s = sum(link.transfer_s(b) for link, b in zip(links, link_bytes, strict=True))
    transmit = [link.transmit_j(b) for link, b in zip(links, link_bytes, strict=True)]
    for k, joules in enumerate(transmit):
        node_energy_j[k] += joules
    propagation_s = sum(link.delay_s for link in links)
    compute_s = sum(node_compute_s)
    violations = []
    for p, node in enumerate(nodes):
        memory = node_params[p] + node_peak[p]
        if memory > node.memory_bytes * (1 + _TOLERANCE):
            violations.append(
                f"{node.name} ({node.label}) needs {memory / 1e6:.3f} MB of memory for its "
                f"services, over its {node.memory_bytes / 1e6:.3f} MB"
            )
        if node.kind == SATELLITE and node_energy_j[p] > node.energy_budget_j * (1 + _TOLERANCE):
            violations.append(
                f"{node.name} ({node.label}) spends {node_energy_j[p]:.4g} J per request, over "
                f"its budget of {node.energy_budget_j:.4g} J"
                + (" (in eclipse, on battery)" if node.sunlit is False else "")
            )
        if node_compute_s[p] > problem.compute_budget_s * (1 + _TOLERANCE):
            violations.append(
                f"{node.name} ({node.label}) computes {node_compute_s[p]:.4g} s per request, over "
                f"the compute budget of {problem.compute_budget_s:.4g} s"
            )
    return {
        "latency_s": net.wait_s + compute_s + transfer_s + propagation_s,
        "energy_j": compute_j + sum(transmit),
        "downlink_bytes": link_bytes[-1] if links else 0.0,
        "isl_bytes": sum(link_bytes[:-1]),
        "link_bytes": link_bytes,
        "wait_s": net.wait_s,
        "compute_s": compute_s,
        "transfer_s": transfer_s,
        "propagation_s": propagation_s,
        "compute_j": compute_j,
        "transmit_j": sum(transmit),
        "onboard_energy_j": sum(
            e for e, node in zip(node_energy_j, nodes, strict=True) if node.kind == SATELLITE
        ),
        "node_energy_j": dict(zip(net.route, node_energy_j, strict=True)),
        "node_memory_bytes": {
            name: node_params[p] + node_peak[p] for p, name in enumerate(net.route)
        },
        "node_compute_s": dict(zip(net.route, node_compute_s, strict=True)),
        "violations": violations,
    }


def objective_value(cost: Mapping[str, Any], objective: str | Mapping[str, float]) -> float:
    """The scalar a method minimises: latency [s], energy [J] or their weighted sum."""
    weights = objective_weights(objective)
    return weights["latency"] * cost["latency_s"] + weights["energy"] * cost["energy_j"]


def objective_weights(objective: str | Mapping[str, float]) -> dict[str, float]:
    """``{"latency": w, "energy": w}`` of an objective (checked)."""
    if isinstance(objective, str):
        if objective not in OBJECTIVES:
            raise ValueError(
                f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)} or a "
                "weighted sum {'latency': w_per_s, 'energy': w_per_j}"
            )
        return {"latency": float(objective == "latency"), "energy": float(objective == "energy")}
    extra = set(objective) - set(OBJECTIVES)
    weights = {k: float(objective.get(k, 0.0)) for k in OBJECTIVES}
    if (
        extra
        or any(not (w >= 0 and math.isfinite(w)) for w in weights.values())
        or not any(weights.values())
    ):
        raise ValueError(
            f"a weighted objective maps {' and/or '.join(OBJECTIVES)} to finite weights >= 0, "
            f"not all zero; got {dict(objective)}"
        )
    return weights


def place(
    graph: ServiceGraph,
    network: Network,
    method: str = "milp",
    objective: str | Mapping[str, float] = "latency",
    modalities: Sequence[str] | None = None,
    compute_budget_s: float = math.inf,
) -> Placement:
    """Place ``graph``'s services on ``network``'s route (see the module docstring).

    Parameters
    ----------
    graph : ServiceGraph
    network : Network
        From :func:`~spikesat.inference.network`.
    method : str
        One of :data:`METHODS`.
    objective : str or mapping
        ``"latency"``, ``"energy"`` or ``{"latency": w_per_s, "energy": w_per_j}``.
    modalities : sequence of str, optional
        The modalities of the requests (default: all of the graph's).
    compute_budget_s : float
        Compute seconds a request may take on one node.

    Raises
    ------
    ValueError
        An unknown method or objective (the choices are listed), a baseline that breaks a
        node's memory, energy or compute budget (the node and the budget are named), or no
        placement that fits the budgets.
    """
    if method not in METHODS:
        raise ValueError(f"unknown placement method {method!r}; choose one of {', '.join(METHODS)}")
    objective_weights(objective)
    problem = placement_problem(graph, network, modalities, compute_budget_s)
    began = time.perf_counter()
    positions = _SOLVERS[method](problem, objective)
    solve_s = time.perf_counter() - began
    cost = evaluate(problem, positions)
    if cost["violations"]:
        raise ValueError(f"the {method} placement does not fit: " + "; ".join(cost["violations"]))
    return Placement(
        method=method,
        objective=objective if isinstance(objective, str) else dict(objective),
        assignment={s: network.route[p] for s, p in positions.items()},
        positions=dict(positions),
        cost=cost,
        solve_s=solve_s,
        network=network,
    )


def brute_force(problem: Problem, objective: str | Mapping[str, float]) -> dict[str, int] | None:
    """The optimum by enumerating every placement that respects precedence (small problems:
    ``positions ** services`` candidates); None when none fits."""
    best, best_value = None, math.inf
    for choice in itertools.product(range(problem.num_positions), repeat=len(problem.services)):
        positions = dict(zip(problem.services, choice, strict=True))
        if any(positions[u] > positions[s] for s in problem.services for u in problem.parents(s)):
            continue
        cost = evaluate(problem, positions)
        value = objective_value(cost, objective)
        if not cost["violations"] and value < best_value:
            best, best_value = positions, value
    return best


def _bent_pipe(problem: Problem, objective: Any) -> dict[str, int]:
    return {s: problem.num_positions - 1 for s in problem.services}


def _on_board(problem: Problem, objective: Any) -> dict[str, int]:
    return {s: 0 for s in problem.services}


def _single_split(problem: Problem, objective: Any) -> dict[str, int]:
    """The best prefix on the capturing satellite (the bent pipe if none fits)."""
    last = problem.num_positions - 1
    best, best_value = None, math.inf
    for k in range(len(problem.services) + 1):
        positions = {s: 0 if i < k else last for i, s in enumerate(problem.services)}
        cost = evaluate(problem, positions)
        value = objective_value(cost, objective)
        if not cost["violations"] and value < best_value:
            best, best_value = positions, value
    return best if best is not None else _bent_pipe(problem, objective)


def _greedy(problem: Problem, objective: Any) -> dict[str, int]:
    """Each service in turn at its cheapest feasible position given those before it."""
    positions: dict[str, int] = {}
    for s in problem.services:
        lo = max((positions[u] for u in problem.parents(s)), default=0)
        options = []
        for p in range(lo, problem.num_positions):
            cost = evaluate(problem, {**positions, s: p})
            options.append((bool(cost["violations"]), objective_value(cost, objective), p))
        positions[s] = min(options)[2]
    return positions


def _milp(problem: Problem, objective: Any) -> dict[str, int]:
    """The exact optimum (see the module docstring)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    weights = objective_weights(objective)
    services, net = problem.services, problem.network
    nodes, links = net.route_nodes, net.route_links
    num_s, num_p, num_l = len(services), len(nodes), len(links)
    producers = list(problem.readers)
    num_u = len(producers)
    x0, z0, m0 = 0, num_s * num_p, num_s * num_p + num_u * num_l
    num_vars = m0 + num_p

    def xi(s: int, p: int) -> int:
        return x0 + s * num_p + p

    def zi(u: int, k: int) -> int:
        return z0 + u * num_l + k

    index = {name: i for i, name in enumerate(services)}
    seconds = np.array([[n.computer.seconds(problem.macs[s]) for n in nodes] for s in services])
    compute_j = seconds * np.array([n.computer.power_w for n in nodes])
    c = np.zeros(num_vars)
    c[x0:z0] = (weights["latency"] * seconds + weights["energy"] * compute_j).ravel()
    for u, name in enumerate(producers):
        size = problem.out_bytes[name]
        for k, link in enumerate(links):
            latency, energy = link.transfer_s(size), link.transmit_j(size)
            c[zi(u, k)] = weights["latency"] * latency + weights["energy"] * energy
    rows: list[tuple[dict[int, float], float, float]] = []

    def cumulative(s: str, k: int, sign: float, row: dict[int, float]) -> None:
        for p in range(k + 1):
            row[xi(index[s], p)] = row.get(xi(index[s], p), 0.0) + sign

    for s in services:  # exactly one position each
        rows.append(({xi(index[s], p): 1.0 for p in range(num_p)}, 1.0, 1.0))
    for u, name in enumerate(producers):
        for reader in problem.readers[name]:
            for k in range(num_l):
                if name in index and reader != "output":  # precedence: C_v(k) - C_u(k) <= 0
                    row: dict[int, float] = {}
                    cumulative(reader, k, 1.0, row)
                    cumulative(name, k, -1.0, row)
                    rows.append((row, -np.inf, 0.0))
                row = {zi(u, k): 1.0}  # crossing: z - C_u(k) + C_v(k) >= 0 (C_sensor = 1)
                if name in index:
                    cumulative(name, k, -1.0, row)
                if reader != "output":
                    cumulative(reader, k, 1.0, row)
                rows.append((row, 0.0 if name in index else 1.0, np.inf))
    for p, node in enumerate(nodes):
        if math.isfinite(node.memory_bytes):  # sum params x + m_p <= memory, m_p >= peak x
            row = {xi(index[s], p): problem.param_bytes[s] for s in services}
            row[m0 + p] = 1.0
            rows.append((row, -np.inf, node.memory_bytes))
            for s in services:
                rows.append(({m0 + p: 1.0, xi(index[s], p): -problem.peak_bytes[s]}, 0.0, np.inf))
        if node.kind == SATELLITE and math.isfinite(node.energy_budget_j):
            row = {xi(index[s], p): compute_j[index[s], p] for s in services}
            if p < num_l:
                for u, name in enumerate(producers):
                    row[zi(u, p)] = links[p].transmit_j(problem.out_bytes[name])
            rows.append((row, -np.inf, node.energy_budget_j))
        if math.isfinite(problem.compute_budget_s):
            row = {xi(index[s], p): seconds[index[s], p] for s in services}
            rows.append((row, -np.inf, problem.compute_budget_s))
    a = np.zeros((len(rows), num_vars))
    for r, (row, _, _) in enumerate(rows):
        for col, value in row.items():
            a[r, col] = value
    lower = np.array([lo for _, lo, _ in rows])
    upper = np.array([hi for _, _, hi in rows])
    integrality = np.zeros(num_vars)
    integrality[x0:z0] = 1
    ub = np.concatenate([np.ones(z0), np.ones(num_u * num_l), np.full(num_p, np.inf)])
    result = milp(
        c,
        integrality=integrality,
        bounds=Bounds(np.zeros(num_vars), ub),
        constraints=LinearConstraint(a, lower, upper),
    )
    if result.x is None:
        budgets = "; ".join(
            f"{n.name}: {n.memory_bytes / 1e6:.3f} MB, {n.energy_budget_j:.4g} J" for n in nodes
        )
        raise ValueError(
            f"no placement of the {num_s} services fits the route's budgets ({result.message}); "
            f"route {' -> '.join(net.route)}; memory and energy per request: {budgets}; raise "
            "the budgets or serve fewer tasks"
        )
    chosen = result.x[x0:z0].reshape(num_s, num_p)
    return {s: int(np.argmax(chosen[index[s]])) for s in services}


_SOLVERS = {
    "milp": _milp,
    "greedy": _greedy,
    "bent-pipe": _bent_pipe,
    "on-board": _on_board,
    "single-split": _single_split,
}
