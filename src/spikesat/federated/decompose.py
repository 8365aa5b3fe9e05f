"""Resource-adaptive decomposition of a LAM per satellite (Wang et al.'s edge LAMs, seed 003).

Each satellite fine-tunes the LAM's on-board prefix (up to a split point) with LoRA adapters
of its own rank, and the ground runs the rest, as in split learning. What a satellite can
afford differs: its compute, memory, energy per round (battery plus what its panels collect in
sunlight), its ground-link rate and how long it sees a station per round. :func:`decompose`
picks, per satellite, the split point and the LoRA rank with a solver:

- every candidate ``c = (split, rank)`` of satellite ``i`` has a round time
  ``t[i, c] = compute + transmission`` [s], an energy ``e[i, c]`` [J], a memory footprint and
  the bytes it moves per round, as ``split-decomposed`` executes it: the prefix's forward and
  (with adapters) backward, the activations and labels up and their gradients down, the
  adapters up and the merged update of the adapted weights down (its dense size); a prefix
  without adapters runs only the forward and receives nothing;
- candidates over the satellite's memory or energy budget, or whose bytes do not fit its
  contact time, are infeasible;
- ``objective="time"`` minimises the makespan ``T >= t[i, c]`` (the round waits for the
  slowest satellite) plus ``energy_weight`` times the energy (normalised by the budgets), and
  among equal times prefers more adapters; ``objective="rank"`` maximises the data-weighted
  adapter capacity ``sum_i n_i log2(1 + P_i)`` (``P_i``: the on-board LoRA parameters, which
  grow with the rank and the depth of the split) within ``deadline_s``;
- a plane's members share their relay's downlink: the bytes a plane sends per round must fit
  ``plane_capacity_bits`` (the best member's rate times its contact seconds), which couples
  the satellites and makes the choice a real assignment problem.

It is a binary program (``x[i, c]`` one candidate per satellite) solved by
:func:`scipy.optimize.milp` (HiGHS), or by exact enumeration of every assignment where that
is small (``solver="enumerate"``, which the tests check the MILP against). Heterogeneous ranks
are then aggregated with FLoRA stacking (:func:`~spikesat.federated.lora.aggregate_lora`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from torch import nn

from spikesat.federated.compute import TRAINING_MACS_PER_FORWARD, get_computer
from spikesat.federated.lora import DEFAULT_TARGET_MODULES
from spikesat.federated.pricing import FLOAT32_BYTES, LABEL_BYTES

ADAM_COPIES = 4
"""A trainable fp32 parameter holds its value, gradient and Adam's two moments."""
OBJECTIVES = ("time", "rank")
SOLVERS = ("milp", "enumerate")
MAX_ENUMERATION = 200_000


@dataclass(frozen=True)
class SatelliteResources:
    """What one satellite can spend on a training round.

    Attributes
    ----------
    sat : int
        Satellite index.
    plane : int
        Its orbital plane (members of a plane share the relay's downlink).
    macs_per_s : float
        Sustained training throughput [MAC/s].
    power_w : float
        Compute power while training [W].
    tx_power_w : float
        Radio transmit power [W].
    memory_bytes : float
        Memory available to training [bytes].
    energy_budget_j : float
        Energy available per round [J].
    link_rate_bps : float
        Mean ground-link information rate while in contact [bit/s].
    contact_s : float
        Ground-contact seconds per round [s].
    num_examples : int
        Training examples it holds.
    """

    sat: int
    plane: int
    macs_per_s: float
    power_w: float
    tx_power_w: float
    memory_bytes: float
    energy_budget_j: float
    link_rate_bps: float
    contact_s: float
    num_examples: int

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Decomposition:
    """One satellite's chosen split point and LoRA rank, and what its round costs.

    Attributes
    ----------
    sat : int
        Satellite index.
    split_at : str
        Stage after which the LAM is cut (on board up to and including it).
    lora_rank : int
        Rank of its on-board LoRA adapters (0: the prefix has no block linears to adapt).
    round_s : float
        Compute plus transmission time of its round [s].
    energy_j : float
        Compute plus transmission energy of its round [J].
    memory_bytes : float
        Training memory on board [bytes].
    bytes_per_round : int
        Activations and labels up, then the adapters; the activations' gradients and the
        merged update of the adapted weights down (nothing down for a prefix without
        adapters) [bytes].
    """

    sat: int
    split_at: str
    lora_rank: int
    round_s: float
    energy_j: float
    memory_bytes: float
    bytes_per_round: int

    @property
    def cost(self) -> dict[str, float]:
        """What the round costs: ``round_s``, ``energy_j``, ``memory_bytes``,
        ``bytes_per_round``."""
        return {
            "round_s": self.round_s,
            "energy_j": self.energy_j,
            "memory_bytes": self.memory_bytes,
            "bytes_per_round": self.bytes_per_round,
        }

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return asdict(self)


def satellite_resources(
    network: Any,
    num_examples: Sequence[int],
    round_s: float,
    onboard: str | Sequence[str] = "jetson-tx2nx",
    memory_bytes: float | Sequence[float] = 8e9,
    battery_j: float = 20_000.0,
    solar_w: float = 20.0,
) -> list[SatelliteResources]:
    """Each satellite's resources per round of ``round_s`` seconds, from its contact plan.

    Parameters
    ----------
    network : Network
        From :func:`~spikesat.federated.build_network`; ground contact seconds and the mean
        rate come from its link segments, sunlight from its eclipse state (always sunlit where
        the plan was built without eclipses).
    num_examples : sequence of int
        ``[S]`` training examples per satellite.
    round_s : float
        Length of a round [s]; contact and sunlit seconds are the plan's per-round means.
    onboard : str or sequence of str
        A compute profile (:func:`~spikesat.federated.compute.list_computers`) for all, or one per
        satellite (heterogeneous devices).
    memory_bytes : float or sequence of float
        Training memory per satellite [bytes].
    battery_j, solar_w : float
        Usable battery energy per round [J] and the panels' power spare for training [W].

    Returns
    -------
    list of SatelliteResources
        One per satellite.
    """
    num_sats = network.num_sats
    if len(num_examples) != num_sats:
        raise ValueError(f"num_examples has {len(num_examples)} entries for {num_sats} satellites")
    if not round_s > 0:
        raise ValueError(f"round_s must be > 0, got {round_s!r}")
    profiles = [onboard] * num_sats if isinstance(onboard, str) else list(onboard)
    memories = [memory_bytes] * num_sats if np.isscalar(memory_bytes) else list(memory_bytes)
    if len(profiles) != num_sats or len(memories) != num_sats:
        raise ValueError(f"give one onboard profile and memory per satellite ({num_sats})")
    rounds = network.horizon_s / round_s
    sunlit = network.sunlit()
    planes = np.zeros(num_sats, int) if network.planes is None else network.planes
    out = []
    for sat in range(num_sats):
        bits, seconds = 0.0, 0.0
        for station in range(network.num_stations):
            seg = network.ground(sat, station)
            duration = seg.end_s - seg.start_s
            bits += float(np.sum(duration * seg.rate_bps))
            seconds += float(np.sum(duration))
        profile = get_computer(profiles[sat])
        lit = 1.0 if sunlit is None else float(np.mean(sunlit[sat]))
        out.append(
            SatelliteResources(
                sat=sat,
                plane=int(planes[sat]),
                macs_per_s=profile.macs_per_s,
                power_w=profile.power_w,
                tx_power_w=network.ground_tx_power_w,
                memory_bytes=float(memories[sat]),
                energy_budget_j=battery_j + solar_w * lit * round_s,
                link_rate_bps=bits / seconds if seconds else 0.0,
                contact_s=seconds / rounds,
                num_examples=int(num_examples[sat]),
            )
        )
    return out


def candidate_costs(
    lam: nn.Module,
    input_shape: tuple[int, int, int],
    splits: Sequence[str],
    ranks: Sequence[int],
) -> list[dict[str, Any]]:
    """Per-example costs of every ``(split, rank)``: MACs, bytes, parameters.

    Returns
    -------
    list of dict
        ``split``, ``rank``, ``macs`` (forward, per example, LoRA included),
        ``feature_bytes`` (fp32 activations at the cut, per example), ``frozen_params``,
        ``lora_params``, ``dense_params`` (the weights of the adapted linears: the size of
        their merged update) and ``activation_bytes`` (every on-board stage's output, per
        example, kept for the backward pass).
    """
    from spikesat.models import split_points

    points = {p.at: p for p in split_points(lam, input_shape)}
    unknown = [s for s in splits if s not in points]
    if unknown:
        raise ValueError(f"unknown split points {unknown}; choose from {', '.join(points)}")
    order = list(points)
    out = []
    for at in splits:
        point = points[at]
        stages = order[: order.index(at) + 1]
        adapted = [
            m
            for stage in stages
            for name, m in lam.stage(stage).named_modules()
            if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in DEFAULT_TARGET_MODULES
        ]
        width = sum(m.in_features + m.out_features for m in adapted)
        dense = sum(m.in_features * m.out_features for m in adapted)
        tokens = math.prod(point.feature_shape[:-1]) if len(point.feature_shape) > 1 else 1
        activation_bytes = sum(points[s].bytes_fp32 for s in stages)
        for rank in ranks if width else [0]:  # a prefix with no block linears has no adapters
            lora_params = rank * width
            out.append(
                {
                    "split": at,
                    "rank": int(rank),
                    "macs": point.onboard_macs + lora_params * tokens,
                    "feature_bytes": point.bytes_fp32,
                    "frozen_params": point.onboard_params,
                    "lora_params": lora_params,
                    "dense_params": dense,
                    "activation_bytes": activation_bytes,
                }
            )
    return out


def decompose(
    lam: nn.Module,
    plan: Any,
    num_examples: Sequence[int] | None = None,
    splits: Sequence[str] | None = None,
    ranks: Sequence[int] = (1, 2, 4, 8, 16),
    *,
    round_s: float = 3600.0,
    onboard: str | Sequence[str] = "jetson-tx2nx",
    memory_bytes: float | Sequence[float] = 8e9,
    ground_budget: str = "x-band-eo-sentinel2",
    input_shape: tuple[int, int, int] | None = None,
    batch_size: int = 16,
    local_steps: int = 4,
    objective: str = "time",
    energy_weight: float = 0.0,
    deadline_s: float | None = None,
    solver: str = "milp",
) -> dict[int, Decomposition]:
    """Choose each satellite's split point and LoRA rank (see the module docstring).

    Parameters
    ----------
    lam : LAM
        A ViT from :func:`spikesat.models.create` (LoRA on its block linears).
    plan : ContactPlan, Network or sequence of SatelliteResources
        The constellation: a :class:`~spikesat.orbits.ContactPlan` (its ground links priced
        with ``ground_budget``), a :class:`~spikesat.federated.Network`, or resources already
        measured (:func:`satellite_resources`).
    num_examples : sequence of int, optional
        ``[S]`` training examples per satellite (weights of the capacity objective); default
        equal. Ignored when ``plan`` holds resources.
    splits : sequence of str, optional
        Candidate split points (:func:`spikesat.models.split_points`); default the patch
        embedding and every block.
    ranks : sequence of int
        Candidate LoRA ranks.
    round_s, onboard, memory_bytes
        Passed to :func:`satellite_resources` (round length [s], compute profile(s), training
        memory [bytes]).
    ground_budget : str
        Link budget of a ``ContactPlan``'s ground links.
    input_shape : tuple of int, optional
        ``(C, H, W)`` of one image; default the LAM's ``in_chans`` and ``img_size``.
    batch_size, local_steps : int
        Examples per step and split-training steps per round.
    objective : {"time", "rank"}
        Minimise the makespan (plus ``energy_weight`` x normalised energy), or maximise the
        data-weighted adapter capacity within ``deadline_s``.
    energy_weight : float
        Weight of the energy term (``objective="time"``).
    deadline_s : float, optional
        The round's deadline [s] (required by ``objective="rank"``, optional for "time").
    solver : {"milp", "enumerate"}
        scipy's HiGHS MILP, or exact enumeration (small instances only).

    Returns
    -------
    dict of int to Decomposition
        Satellite index -> its split point, rank and round cost.

    Raises
    ------
    ValueError
        For unknown names or bad numbers, or when a satellite has no feasible candidate (its
        tightest resource is named) or the planes' downlinks cannot carry any assignment.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if objective == "rank" and deadline_s is None:
        raise ValueError("objective='rank' needs deadline_s: the round time it must fit")
    for what, value in (("batch_size", batch_size), ("local_steps", local_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if not ranks or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in ranks):
        raise ValueError(f"ranks must be positive integers, got {ranks!r}")
    resources = _resources(plan, num_examples, round_s, onboard, memory_bytes, ground_budget)
    if input_shape is None:
        size = int(lam.config["img_size"])
        input_shape = (lam.in_chans, size, size)
    if splits is None:
        splits = [n for n in lam.stage_names if n == "patch_embed" or n.startswith("blocks.")]
    candidates = candidate_costs(lam, input_shape, splits, ranks)
    table = [_costs(res, candidates, batch_size, local_steps) for res in resources]
    allowed = [
        _feasible(res, costs, deadline_s) for res, costs in zip(resources, table, strict=True)
    ]
    chosen = (_milp if solver == "milp" else _enumerate)(
        resources, candidates, table, allowed, objective, energy_weight
    )
    return {
        res.sat: Decomposition(
            sat=res.sat,
            split_at=candidates[c]["split"],
            lora_rank=candidates[c]["rank"],
            **table[i][c],
        )
        for i, (res, c) in enumerate(zip(resources, chosen, strict=True))
    }


def _resources(plan, num_examples, round_s, onboard, memory_bytes, ground_budget):
    """The satellites' resources from a plan, a network or as given."""
    from spikesat.federated.network import Network

    if isinstance(plan, list | tuple) and plan and isinstance(plan[0], SatelliteResources):
        return list(plan)
    if not isinstance(plan, Network):
        from spikesat.orbits import ContactPlan

        if not isinstance(plan, ContactPlan):
            raise TypeError(
                "plan must be a ContactPlan, a Network or a list of SatelliteResources, got "
                f"{type(plan).__name__}"
            )
        from spikesat.channels import link_trace

        plan = Network(plan, link_trace(plan, ground_budget, isl_budget="ka-band-isl"))
    counts = [1] * plan.num_sats if num_examples is None else num_examples
    return satellite_resources(plan, counts, round_s, onboard=onboard, memory_bytes=memory_bytes)


def _costs(
    res: SatelliteResources, candidates: list[dict], batch_size: int, local_steps: int
) -> list[dict[str, float]]:
    """Round time, energy, memory and bytes of every candidate on satellite ``res``."""
    examples = batch_size * local_steps
    out = []
    for cand in candidates:
        trains = cand["rank"] > 0  # a prefix without adapters gets no gradients back
        passes = TRAINING_MACS_PER_FORWARD if trains else 1
        compute_s = passes * cand["macs"] * examples / res.macs_per_s
        activations = examples * cand["feature_bytes"]
        up = activations + examples * LABEL_BYTES + cand["lora_params"] * FLOAT32_BYTES
        down = activations + cand["dense_params"] * FLOAT32_BYTES if trains else 0
        sent = up + down
        rate = res.link_rate_bps
        tx_s = 8 * sent / rate if rate > 0 else math.inf
        up_s = 8 * up / rate if rate > 0 else math.inf
        memory = FLOAT32_BYTES * (
            cand["frozen_params"] + ADAM_COPIES * cand["lora_params"]
        ) + batch_size * (cand["activation_bytes"] if trains else cand["feature_bytes"])
        out.append(
            {
                "round_s": compute_s + tx_s,
                "energy_j": res.power_w * compute_s + res.tx_power_w * up_s,
                "memory_bytes": memory,
                "bytes_per_round": int(sent),
            }
        )
    return out


def _feasible(res: SatelliteResources, costs: list[dict], deadline_s: float | None) -> list[int]:
    """Candidates within the satellite's memory, energy, contact time and the deadline."""
    checks = {
        "memory": lambda c: c["memory_bytes"] <= res.memory_bytes,
        "energy budget": lambda c: c["energy_j"] <= res.energy_budget_j,
        "contact time": lambda c: 8 * c["bytes_per_round"] <= res.link_rate_bps * res.contact_s,
        "deadline": lambda c: deadline_s is None or c["round_s"] <= deadline_s,
    }
    ok = [k for k, c in enumerate(costs) if all(check(c) for check in checks.values())]
    if not ok:
        failing = [name for name, check in checks.items() if not any(check(c) for c in costs)]
        raise ValueError(
            f"satellite {res.sat} has no feasible split and rank: "
            + (
                f"no candidate fits its {', '.join(failing)}"
                if failing
                else "no candidate meets all of memory, energy, contact time and deadline"
            )
            + "; allow smaller ranks, earlier splits, fewer local steps or a later deadline"
        )
    return ok


def _plane_capacity_bits(resources: Sequence[SatelliteResources]) -> dict[int, float]:
    """Bits a plane's relay can downlink per round: the best member's rate x contact time."""
    cap: dict[int, float] = {}
    for res in resources:
        cap[res.plane] = max(cap.get(res.plane, 0.0), res.link_rate_bps * res.contact_s)
    return cap


def _scores(resources, candidates, table, energy_weight) -> tuple[np.ndarray, ...]:
    """Per (satellite, candidate): round time, energy term and rank utility."""
    budget = sum(r.energy_budget_j for r in resources)
    time = np.array([[c["round_s"] for c in costs] for costs in table])
    energy = np.array([[c["energy_j"] for c in costs] for costs in table]) / budget
    utility = np.array(
        [
            [r.num_examples * math.log2(1 + cand["lora_params"]) for cand in candidates]
            for r in resources
        ]
    )
    return time, energy_weight * energy, utility


LEXICOGRAPHIC_TOL = 1e-9
"""Relative slack on the first objective while the second (adapter capacity) is maximised."""


def _enumerate(resources, candidates, table, allowed, objective, energy_weight) -> list[int]:
    """Exact search over every assignment (small instances), lexicographic like the MILP."""
    count = math.prod(len(a) for a in allowed)
    if count > MAX_ENUMERATION:
        raise ValueError(
            f"{count} assignments are too many to enumerate (> {MAX_ENUMERATION}): use "
            "solver='milp'"
        )
    time, energy, utility = _scores(resources, candidates, table, energy_weight)
    capacity = _plane_capacity_bits(resources)
    rows = np.arange(len(resources))
    scored = []
    for chosen in itertools.product(*allowed):
        load: dict[int, float] = {}
        for res, c, costs in zip(resources, chosen, table, strict=True):
            load[res.plane] = load.get(res.plane, 0.0) + 8 * costs[c]["bytes_per_round"]
        if any(load[p] > capacity[p] for p in load):
            continue
        pick = np.array(chosen)
        first = (
            float(time[rows, pick].max() + energy[rows, pick].sum()) if objective == "time" else 0.0
        )
        scored.append((first, float(utility[rows, pick].sum()), list(chosen)))
    if not scored:
        raise ValueError(_NO_PLANE_FIT)
    best_first = min(first for first, _, _ in scored)
    slack = best_first + LEXICOGRAPHIC_TOL * abs(best_first)
    return max((s for s in scored if s[0] <= slack), key=lambda s: s[1])[2]


_NO_PLANE_FIT = (
    "no assignment fits the planes' downlinks (a plane's bytes per round exceed its relay's "
    "rate x contact time): allow smaller ranks, earlier splits or fewer local steps"
)


def _milp(resources, candidates, table, allowed, objective, energy_weight) -> list[int]:
    """The binary program on scipy's HiGHS: one candidate per satellite, the planes'
    downlinks; for "time" the makespan ``T`` (plus energy) first, then, within
    :data:`LEXICOGRAPHIC_TOL` of it, the adapter capacity."""
    from scipy.optimize import LinearConstraint
    from scipy.sparse import coo_array

    time, energy, utility = _scores(resources, candidates, table, energy_weight)
    pairs = [(i, c) for i, ok in enumerate(allowed) for c in ok]
    n, num_sats = len(pairs), len(resources)
    planes = sorted(_plane_capacity_bits(resources).items())
    plane_row = {plane: num_sats + k for k, (plane, _) in enumerate(planes)}
    r, col, val = [], [], []
    for j, (i, c) in enumerate(pairs):
        r += [i, plane_row[resources[i].plane]]  # one candidate each; the plane's downlink
        col += [j, j]
        val += [1.0, 8.0 * table[i][c]["bytes_per_round"]]
    lower = [1.0] * num_sats + [-np.inf] * len(planes)
    upper = [1.0] * num_sats + [cap for _, cap in planes]
    num_rows = num_sats + len(planes)
    for j, (i, c) in enumerate(pairs):  # time[i, c] x[i, c] - T <= 0 for every satellite
        r.append(num_rows + i)
        col.append(j)
        val.append(time[i, c])
    r += [num_rows + i for i in range(num_sats)]
    col += [n] * num_sats
    val += [-1.0] * num_sats
    lower += [-np.inf] * num_sats
    upper += [0.0] * num_sats
    num_rows += num_sats
    first = np.concatenate([[energy[i, c] for i, c in pairs], [1.0]])  # T + energy
    second = np.concatenate([-np.array([utility[i, c] for i, c in pairs]), [0.0]])
    matrix = coo_array((val, (r, col)), shape=(num_rows, n + 1)).tocsr()
    constraints = [LinearConstraint(matrix, lower, upper)]
    if objective == "time":
        x = _solve(first, constraints, n)
        best = float(first @ x)
        constraints.append(LinearConstraint(first, -np.inf, best + LEXICOGRAPHIC_TOL * abs(best)))
    x = _solve(second, constraints, n)
    chosen = [0] * num_sats
    for (i, c), value in zip(pairs, x[:n], strict=True):
        if value > 0.5:
            chosen[i] = c
    return chosen


def _solve(cost: np.ndarray, constraints: list, n: int) -> np.ndarray:
    """HiGHS on ``n`` binaries and one continuous makespan; exact gap."""
    from scipy.optimize import Bounds, milp

    result = milp(
        cost,
        constraints=constraints,
        integrality=np.concatenate([np.ones(n), [0.0]]),
        bounds=Bounds(np.zeros(n + 1), np.concatenate([np.ones(n), [np.inf]])),
        options={"mip_rel_gap": 0.0},
    )
    if result.status == 2:
        raise ValueError(_NO_PLANE_FIT)
    if not result.success:
        raise RuntimeError(f"the MILP solver failed: {result.message}")
    return result.x
