"""``split-decomposed``: split learning with each satellite's own split point and LoRA rank,
the decomposition :func:`~spikesat.federated.decompose` chooses, executed on the simulated clock.

Per round, for every participating satellite ``i`` with split ``s_i`` and rank ``r_i``
(``decomposition``, or one fixed ``split_at`` / ``lora_rank`` for all):

1. On board: the frozen global LAM up to and including ``s_i`` (its prefix) with fresh LoRA
   adapters of rank ``r_i`` on the prefix blocks' linears (``A`` seeded per round and
   satellite, ``B`` zero, as :func:`~spikesat.federated.lora.add_lora` does). A split at
   ``"patch_embed"`` has no block on board: rank 0, nothing trains there. On the ground: the
   rest (the blocks after ``s_i``, ``norm``, ``pool`` and the task head) with ONE set of shared
   adapters of rank ``ground_rank`` on every block, and the head; both train.
2. ``local_steps`` split-training steps: the satellite draws a seeded mini-batch of
   ``batch_size`` of its examples, runs its prefix and sends the activations at the cut (and
   the labels) to the ground; the ground runs its suffix and the head, the cross-entropy and
   the backward pass, SGD-steps its adapters and the head and returns the gradient at the
   cut; the satellite back-propagates it into its prefix adapters and SGD-steps them. A step
   is exactly the SGD step of the whole LoRA-injected LAM on that batch (the tests check it).
   The ground serves the steps in the order their activations arrive (ties: satellite, then
   step), its adapters and head carrying over from one step to the next.
3. After the round every block ``k`` gets the example-weighted average of the updates it
   received. Its on-board update is the FLoRA stack (exact: ``sum_i w_i B_i A_i``) of the
   delivered adapters of the satellites whose prefix holds ``k``, of ``n_board`` examples; the
   ground's is its shared adapter's ``B_g A_g``, trained on the ``n_ground`` examples of the
   satellites whose suffix holds ``k``; ``delta_k = (n_board onboard_k + n_ground ground_k) /
   (n_board + n_ground)``, a side without examples contributing nothing. It is one FLoRA stack
   with the ground adapter as one more client of weight ``n_ground``
   (:func:`aggregate_blocks`), so the update stays low rank (``sum r_i + ground_rank``) and is
   exact. Why: a block that only satellites hold gets plain FLoRA (FedAvg of its adapters),
   a block only the ground holds gets the ground's update, and a block held on both sides
   gets both, weighted by the examples behind each, as FedAvg weights clients. Every
   ``delta_k`` is merged into the global model's frozen weights
   (:func:`~spikesat.federated.lora.merge_lora_delta`); the ground adapters restart the next
   round (fresh ``A``, ``B = 0``) and the trained head is kept. The global model therefore
   holds everything; what persists is only the bookkeeping of the downloads below.
4. Time, direct to ground (no ISLs, as ``fedavg-ground``), with decompose's MAC conventions
   (:data:`~spikesat.federated.compute.TRAINING_MACS_PER_FORWARD`: forward 1x, backward 2x;
   LoRA's own MACs included): at the round start a satellite downloads what changed on its
   prefix (below); every step runs the prefix forward on board (prefix MACs x batch), sends
   the fp32 activations plus one byte per label up, the ground computes (3 x suffix MACs x
   batch), sends the activations' gradients down (the same size) and the satellite runs the
   backward (2 x prefix MACs x batch). After its last step it uploads its adapters with
   :meth:`~spikesat.federated.simulation.Federation.send` (verified delivery: missed passes
   and corrupted uploads are resent). The server time becomes the last adapter arrival or
   the end of the ground's last step, whichever is later.

Choices, stated:

- Download: the merged deltas of the prefix blocks since the satellite's copy was last updated
  (nothing in round 0: it holds the LAM it launched with). Per adapted linear ``[out, in]``
  the smaller of the stacked factors (``R (in + out)`` values, ``R`` the stacked ranks of the
  merges it missed) and the dense delta (``in x out``), as fp32 without framing. The ground
  keeps the head and its suffix, so nothing else comes down.
- A satellite with nothing to train on board (``"patch_embed"``) gets no gradients down, runs
  no backward pass and uploads no adapters: its activations are its contribution (counted
  with :meth:`~spikesat.federated.simulation.Federation.count_contribution`), and its next
  step starts once the previous activations are sent; decompose prices it the same way.
  decompose prices the download as the dense delta (every merge of many satellites' stacked
  ranks is that size) and leaves out the ground's compute and the waits for contacts.
- A satellite that fails mid-round loses its adapters (not counted, not averaged); the ground
  already learnt from its activations, which stay in ``n_ground``.
- The ground's compute is not a queue (satellites whose steps overlap share it for free), as
  in ``split-lam``. The clock's links and computers are per satellite, so every satellite's
  timeline is scheduled first and the maths then runs in ground-arrival order.
- In a run priced as another LAM (``federate(price_as=...)``), MACs, activation sizes and
  adapter sizes are that LAM's (the split names must exist in both models).
- Memory: one copy of the global model per distinct (split, rank) on board, and one for the
  ground; each satellite's adapters are swapped into its copy for its steps.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikesat.federated.backends import job_seed
from spikesat.federated.compute import TRAINING_MACS_PER_FORWARD
from spikesat.federated.lora import (
    DEFAULT_TARGET_MODULES,
    LoraUpdate,
    add_lora,
    aggregate_lora,
    base_state,
    load_base_state,
    lora_parameters,
    lora_state,
    merge_lora_delta,
    reset_lora,
)
from spikesat.federated.pricing import FLOAT32_BYTES, LABEL_BYTES, priced_bytes
from spikesat.federated.strategies.base import STRATEGIES, Strategy
from spikesat.models import LAM, count_macs, split, split_points
from spikesat.train.rng import seeded_global_rng

if TYPE_CHECKING:
    from spikesat.federated.faults import Delivery
    from spikesat.federated.simulation import Federation

NO_BLOCK_SPLIT = "patch_embed"
"""The split with no block on board (rank 0: nothing to adapt there)."""
_SALT_BATCH, _SALT_DROPOUT, _SALT_ADAPTER, _SALT_GROUND = 41, 42, 43, 44


def adapter_seed(seed: int, round: int, sat: int) -> int:
    """Seed of satellite ``sat``'s fresh on-board LoRA ``A`` in ``round``."""
    return job_seed(seed, round, sat, salt=_SALT_ADAPTER)


def ground_seed(seed: int, round: int) -> int:
    """Seed of the ground's fresh shared LoRA ``A`` in ``round``."""
    return job_seed(seed, round, 0, salt=_SALT_GROUND)


def _step_salt(base: int, step: int) -> int:
    return 1000 * base + step


# ---------------------------------------------------------------------- costs
@dataclass(frozen=True)
class SplitCosts:
    """What a satellite cut after ``split_at`` with on-board rank ``lora_rank`` costs.

    Attributes
    ----------
    split_at : str
        The stage after which the LAM is cut.
    lora_rank : int
        Rank of the on-board adapters (0 at ``"patch_embed"``).
    prefix_macs : int
        Forward MACs of the on-board prefix with its LoRA, per example [MAC].
    suffix_macs : int
        Forward MACs of the ground's part (suffix with the ground's LoRA, and the head), per
        example [MAC].
    feature_numel : int
        Values of one example's activations at the cut.
    lora_numel : int
        Values of the on-board adapters (``lora_rank x`` the prefix linears' ``in + out``).
    prefix_linears : tuple of (str, int, int)
        ``(block, out, in)`` of every adapted linear on board.
    """

    split_at: str
    lora_rank: int
    prefix_macs: int
    suffix_macs: int
    feature_numel: int
    lora_numel: int
    prefix_linears: tuple[tuple[str, int, int], ...]

    @property
    def feature_bytes(self) -> int:
        """fp32 bytes of one example's activations at the cut [B]."""
        return FLOAT32_BYTES * self.feature_numel


def block_stages(lam: nn.Module) -> list[str]:
    """The LAM's block stages (``blocks.0``, ``blocks.1``, ...), in order."""
    return [n for n in getattr(lam, "stage_names", []) if n.startswith("blocks.")]


def prefix_blocks(lam: nn.Module, split_at: str) -> list[str]:
    """The block stages on board when ``lam`` is cut after ``split_at``."""
    names = list(lam.stage_names)
    on_board = set(names[: names.index(split_at) + 1])
    return [b for b in block_stages(lam) if b in on_board]


def split_costs(
    lam: nn.Module,
    input_shape: tuple[int, int, int],
    pairs: Iterable[tuple[str, int]],
    ground_rank: int,
) -> dict[tuple[str, int], SplitCosts]:
    """The :class:`SplitCosts` of every ``(split_at, lora_rank)`` of ``pairs``.

    Dense MACs come from :func:`~spikesat.models.split_points` and
    :func:`~spikesat.models.count_macs`; LoRA of rank ``r`` on a linear ``[out, in]`` adds
    ``r (in + out)`` MACs per token, as :func:`~spikesat.federated.decompose.candidate_costs`
    counts them.

    Parameters
    ----------
    lam : LAM
        A ViT without LoRA.
    input_shape : tuple of int
        ``(C, H, W)`` of one image.
    pairs : iterable of (str, int)
        Split points and on-board ranks.
    ground_rank : int
        Rank of the ground's adapters.
    """
    points = {p.at: p for p in split_points(lam, input_shape)}
    was_training = lam.training
    lam.eval()
    try:
        device = next(lam.parameters()).device
        total_macs = count_macs(lam, torch.zeros((1, *input_shape), device=device))
    finally:
        lam.train(was_training)
    linears = {
        block: [
            (m.out_features, m.in_features)
            for name, m in lam.stage(block).named_modules()
            if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in DEFAULT_TARGET_MODULES
        ]
        for block in block_stages(lam)
    }
    tokens = {b: math.prod(points[b].feature_shape[:-1]) for b in linears}

    def lora_macs(blocks: Iterable[str], rank: int) -> int:
        return sum(rank * (o + i) * tokens[b] for b in blocks for o, i in linears[b])

    out = {}
    for split_at, rank in pairs:
        point = points[split_at]
        on_board = prefix_blocks(lam, split_at)
        ground = [b for b in linears if b not in on_board]
        out[(split_at, rank)] = SplitCosts(
            split_at=split_at,
            lora_rank=rank,
            prefix_macs=int(point.onboard_macs + lora_macs(on_board, rank)),
            suffix_macs=int(total_macs - point.onboard_macs + lora_macs(ground, ground_rank)),
            feature_numel=int(math.prod(point.feature_shape)),
            lora_numel=sum(rank * (o + i) for b in on_board for o, i in linears[b]),
            prefix_linears=tuple((b, o, i) for b in on_board for o, i in linears[b]),
        )
    return out


# ---------------------------------------------------------------------- aggregation
def aggregate_blocks(
    blocks: Sequence[str],
    onboard_states: Sequence[Mapping[str, Tensor]],
    onboard_counts: Sequence[int],
    onboard_ranks: Sequence[int],
    ground_state: Mapping[str, Tensor],
    ground_counts: Mapping[str, int],
    ground_rank: int,
) -> dict[str, LoraUpdate]:
    """Every block's example-weighted update: FLoRA over its on-board and ground adapters.

    Block ``k``'s clients are the on-board states holding it (their prefix contains ``k``),
    weighted by their examples, and the ground's adapter of ``k`` weighted by
    ``ground_counts[k]`` (left out when zero), so ``delta_k = (n_board onboard_k + n_ground
    B_g A_g) / (n_board + n_ground)`` with ``onboard_k = sum_i (n_i / n_board) B_i A_i``.

    Parameters
    ----------
    blocks : sequence of str
        Block stage names (``"blocks.0"``, ...).
    onboard_states : sequence of mapping
        :func:`~spikesat.federated.lora.lora_state` of each satellite's prefix: ``A`` ``[r_i,
        in]`` / ``B`` ``[out, r_i]`` per adapted linear of its prefix blocks.
    onboard_counts, onboard_ranks : sequence of int
        Each satellite's examples and rank.
    ground_state : mapping
        The ground's adapters (rank ``ground_rank``) on every block.
    ground_counts : mapping of str to int
        Examples the ground's adapter of each block was trained on.
    ground_rank : int
        Rank of the ground's adapters.

    Returns
    -------
    dict of str to LoraUpdate
        Block -> its update in delta form (``B @ A``, float64); blocks that received nothing
        are left out.
    """
    updates = {}
    for block in blocks:
        prefix = f"{block}."
        states, weights, ranks = [], [], []
        for state, count, rank in zip(onboard_states, onboard_counts, onboard_ranks, strict=True):
            part = {k: v for k, v in state.items() if k.startswith(prefix)}
            if part and count > 0:
                states.append(part)
                weights.append(count)
                ranks.append(rank)
        if ground_counts.get(block, 0) > 0:
            states.append({k: v for k, v in ground_state.items() if k.startswith(prefix)})
            weights.append(ground_counts[block])
            ranks.append(ground_rank)
        if states:
            updates[block] = aggregate_lora(states, weights, ranks, method="stack")
    return updates


# ---------------------------------------------------------------------- the strategy
@dataclass
class _Timeline:
    """One satellite's round on the clock: when each step's activations reach the ground,
    when the ground finishes each step, and when its adapters are ready to go up [s]."""

    num_examples: int
    arrivals_s: list[float] = field(default_factory=list)
    ground_done_s: list[float] = field(default_factory=list)
    ready_s: float = 0.0
    download_bytes: int = 0


@dataclass
class _Parts:
    """The modules one (split, rank) trains with: the on-board prefix (its LoRA parameters),
    the ground's suffix and head (its trainable parameters)."""

    onboard: nn.Module
    remote: nn.Module
    sat_params: dict[str, nn.Parameter]
    ground_params: list[nn.Parameter]


@STRATEGIES.register("split-decomposed")
class SplitDecomposed(Strategy):
    """Split learning with a split point and LoRA rank per satellite (see the module docstring).

    Parameters
    ----------
    decomposition : mapping of int to Decomposition, optional
        Satellite -> its ``split_at`` and ``lora_rank`` (:func:`~spikesat.federated.decompose`'s
        output; a mapping ``{"split_at": ..., "lora_rank": ...}`` or a pair ``(split_at,
        lora_rank)`` per satellite also works). It must name every satellite. At
        ``"patch_embed"`` the rank is 0 (any rank given there is ignored).
    split_at : str
        The split of every satellite when ``decomposition`` is None.
    lora_rank : int
        The on-board rank of every satellite when ``decomposition`` is None.
    ground_rank : int
        Rank of the ground's shared adapters.
    batch_size : int
        Examples per split-training step.
    local_steps : int
        Split-training steps per satellite per round (decompose's ``local_steps``).
    lr : float
        SGD learning rate of both sides.
    """

    name = "split-decomposed"

    def __init__(
        self,
        decomposition: Mapping[int, Any] | None = None,
        split_at: str = "blocks.0",
        lora_rank: int = 4,
        ground_rank: int = 4,
        batch_size: int = 16,
        local_steps: int = 4,
        lr: float = 0.05,
    ) -> None:
        for what, value in (
            ("ground_rank", ground_rank),
            ("batch_size", batch_size),
            ("local_steps", local_steps),
        ):
            _check_positive_int(value, what)
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < math.inf:
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        self.split_at, self.lora_rank = _check_entry(split_at, lora_rank, "split_at/lora_rank")
        self.decomposition = None if decomposition is None else _parse(decomposition)
        self.ground_rank = ground_rank
        self.batch_size = batch_size
        self.local_steps = local_steps
        self.lr = float(lr)
        self.assignment: dict[int, tuple[str, int]] = {}
        self.merged_ranks: dict[int, dict[str, int]] = {}
        self.received: dict[int, int] = {}

    def config(self) -> dict[str, Any]:
        """The hyper-parameters and the decomposition (satellite -> ``[split_at, rank]``)."""
        return {
            "decomposition": None
            if self.decomposition is None
            else {str(sat): list(entry) for sat, entry in sorted(self.decomposition.items())},
            "split_at": self.split_at,
            "lora_rank": self.lora_rank,
            "ground_rank": self.ground_rank,
            "batch_size": self.batch_size,
            "local_steps": self.local_steps,
            "lr": self.lr,
        }

    def state_dict(self) -> dict[str, Any]:
        """The stacked ranks merged per round and each satellite's last update (downloads)."""
        return {
            "merged_ranks": {r: dict(m) for r, m in self.merged_ranks.items()},
            "received": dict(self.received),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.merged_ranks = {int(r): dict(m) for r, m in state["merged_ranks"].items()}
        self.received = {int(s): int(r) for s, r in state["received"].items()}

    # ------------------------------------------------------------------ set-up
    def setup(self, sim: Federation) -> None:
        """Check the model and decomposition, price every (split, rank) and build the working
        copies (one per on-board (split, rank), one for the ground)."""
        super().setup(sim)
        model = sim.model
        _check_vit(model, "the model")
        if any("lora_" in name for name, _ in model.named_parameters()):
            raise ValueError(
                "split-decomposed brings its own adapters (on board and on the ground): run it "
                "with trainable='full' (the global model must have no LoRA)"
            )
        self.assignment = self._resolve(model, sim.network.num_sats)
        self.merged_ranks, self.received = {}, {}  # a fresh run (a resume loads them next)
        pairs = sorted(set(self.assignment.values()))
        shape = tuple(int(v) for v in sim.data.train_images.shape[1:])
        self.costs = split_costs(model, shape, pairs, self.ground_rank)  # what the clock charges
        if sim.pricing is not None:
            priced = sim.pricing.model
            _check_vit(priced, f"the priced model (price_as={sim.pricing.name})")
            missing = sorted({s for s, _ in pairs} - set(priced.stage_names[:-1]))
            if missing:
                raise ValueError(
                    f"split-decomposed is priced as {sim.pricing.name}, which has no split point "
                    f"{missing}; its split points are {', '.join(priced.stage_names[:-1])}"
                )
            self.costs = split_costs(
                priced, tuple(int(v) for v in sim.pricing.sample.shape[1:]), pairs, self.ground_rank
            )
        self.blocks = block_stages(model)
        self.ground = add_lora(
            copy.deepcopy(model), self.ground_rank, seed=ground_seed(sim.seed, 0)
        )
        self.prefix_models: dict[tuple[str, int], nn.Module] = {}
        self.parts: dict[tuple[str, int], _Parts] = {}
        for split_at, rank in pairs:
            remote = split(self.ground, at=split_at).remote
            ground_params = [p for p in remote.parameters() if p.requires_grad]
            if rank == 0:
                onboard, sat_params = split(self.ground, at=split_at).onboard, {}
            else:
                prefix = add_lora(
                    copy.deepcopy(model), rank, blocks=prefix_blocks(model, split_at), seed=0
                )
                self.prefix_models[(split_at, rank)] = prefix
                onboard, sat_params = split(prefix, at=split_at).onboard, lora_parameters(prefix)
            self.parts[(split_at, rank)] = _Parts(onboard, remote, sat_params, ground_params)

    def _resolve(self, model: nn.Module, num_sats: int) -> dict[int, tuple[str, int]]:
        """Each satellite's (split, rank), checked against the model and the constellation."""
        if self.decomposition is None:
            assignment = dict.fromkeys(range(num_sats), (self.split_at, self.lora_rank))
        else:
            sats = set(range(num_sats))
            missing = sorted(sats - set(self.decomposition))
            extra = sorted(set(self.decomposition) - sats)
            if missing:
                raise ValueError(
                    f"the decomposition has no entry for satellites {missing[:10]}"
                    f"{' ...' if len(missing) > 10 else ''} of the {num_sats}: give one per "
                    "satellite (decompose(lam, network) returns one for each)"
                )
            if extra:
                raise ValueError(
                    f"the decomposition names satellites {extra[:10]} but the constellation has "
                    f"{num_sats} (indices 0-{num_sats - 1})"
                )
            assignment = dict(sorted(self.decomposition.items()))
        choices = model.stage_names[:-1]
        unknown = sorted({s for s, _ in assignment.values()} - set(choices))
        if unknown:
            raise ValueError(
                f"unknown split point(s) {unknown} for {model.name}; choose from "
                f"{', '.join(choices)}"
            )
        return assignment

    # ------------------------------------------------------------------ maths
    def batches(self, sim: Any, sat: int, round: int, step: int = 0) -> tuple[Tensor, Tensor]:
        """Satellite ``sat``'s seeded mini-batch for ``step`` of ``round``: images ``[b, C, H,
        W]`` and labels ``[b]`` (``b = min(batch_size, its examples)``; reads ``sim.data`` and
        ``sim.seed``)."""
        part = sim.data.parts[sat]
        seed = job_seed(sim.seed, round, sat, salt=_step_salt(_SALT_BATCH, step))
        rng = np.random.default_rng(seed)
        take = rng.choice(len(part), size=min(self.batch_size, len(part)), replace=False)
        index = torch.as_tensor(np.sort(part[take]))
        return sim.data.train_images[index], sim.data.train_labels[index]

    def _sync(self, sim: Federation, round: int) -> None:
        """Working copies <- the global model's weights; fresh ground adapters."""
        weights = base_state(sim.model)
        for model in [self.ground, *self.prefix_models.values()]:
            load_base_state(model, weights)
            model.train()
        reset_lora(self.ground, seed=ground_seed(sim.seed, round))

    def _fresh_adapters(self, sim: Federation, sat: int, round: int) -> dict[str, Tensor]:
        """Satellite ``sat``'s adapters at the round start: ``A`` from its seed, ``B`` zero."""
        prefix = self.prefix_models[self.assignment[sat]]
        reset_lora(prefix, seed=adapter_seed(sim.seed, round, sat))
        return lora_state(prefix)

    def step(
        self, sat: int, images: Tensor, labels: Tensor, adapters: dict[str, Tensor] | None
    ) -> tuple[float, dict[str, Tensor] | None]:
        """One split-training step of satellite ``sat``; the ground's adapters and head step.

        Parameters
        ----------
        sat : int
            The satellite (its split and rank from the assignment).
        images, labels : Tensor
            ``[b, C, H, W]`` and ``[b]``.
        adapters : dict of str to Tensor or None
            Its on-board adapters before the step (None at ``"patch_embed"``).

        Returns
        -------
        tuple of (float, dict or None)
            The batch's mean cross-entropy and the adapters after the step.
        """
        parts = self.parts[self.assignment[sat]]
        trains_on_board = bool(parts.sat_params)
        if trains_on_board:
            with torch.no_grad():
                for name, param in parts.sat_params.items():
                    param.copy_(adapters[name])
        z = parts.onboard(images)  # activations at the cut [b, *feature_shape]
        z_ground = z.detach().requires_grad_(trains_on_board)
        loss = F.cross_entropy(parts.remote(z_ground), labels)
        wrt = [*parts.ground_params, z_ground] if trains_on_board else parts.ground_params
        grads = torch.autograd.grad(loss, wrt)
        _sgd(parts.ground_params, grads[: len(parts.ground_params)], self.lr)
        if not trains_on_board:
            return float(loss.detach()), None
        sat_params = list(parts.sat_params.values())
        _sgd(sat_params, torch.autograd.grad(z, sat_params, grads[-1]), self.lr)
        return float(loss.detach()), {n: p.detach().clone() for n, p in parts.sat_params.items()}

    # ------------------------------------------------------------------ the round
    def run_round(self, sim: Federation, round: int) -> dict[str, Any]:
        """One round: schedule every satellite, train in ground-arrival order, aggregate.

        Returns
        -------
        dict
            ``num_participants``, ``num_contributions`` (delivered adapters, and satellites
            with nothing on board), ``num_retransmissions``, ``num_missed_windows``,
            ``train_loss`` (mean over the round's examples), ``bytes_activations`` (fp32
            activations up, labels not included), ``bytes_gradients`` (down),
            ``bytes_adapters_up`` (every upload attempt), ``bytes_adapters_down`` (the round
            start's merges) [B], and ``splits`` (split point -> satellites that trained).
        """
        start_s = sim.time_s
        participants = sim.participants(round)
        active = [s for s in participants if sim.data.num_samples(s) > 0]
        if not active:
            return {"num_participants": len(participants), "num_contributions": 0}
        self._sync(sim, round)
        timelines = {sat: self._schedule(sim, sat, start_s, round) for sat in active}
        adapters = {
            sat: self._fresh_adapters(sim, sat, round)
            for sat in active
            if self.assignment[sat][1] > 0
        }
        events = sorted(
            (arrival_s, sat, step)
            for sat, timeline in timelines.items()
            for step, arrival_s in enumerate(timeline.arrivals_s)
        )
        loss_sum, seen = 0.0, 0
        for _arrival_s, sat, step in events:
            images, labels = self.batches(sim, sat, round, step)
            seed = job_seed(sim.seed, round, sat, salt=_step_salt(_SALT_DROPOUT, step))
            with seeded_global_rng(seed, torch.device("cpu")):
                loss, adapters_after = self.step(sat, images, labels, adapters.get(sat))
            if adapters_after is not None:
                adapters[sat] = adapters_after
            loss_sum += loss * len(labels)
            seen += len(labels)
        on_board = [sat for sat in active if sat in adapters]
        deliveries = {
            sat: self._send(sim, sat, adapters[sat], timelines[sat], round)
            for sat in sim.survivors(on_board, round)
        }
        self._aggregate(sim, round, timelines, deliveries)
        contributors = [*deliveries, *(s for s in active if s not in adapters)]
        for sat in sorted(contributors):
            sim.count_contribution(round, sat)
        ends = [d.arrival_s for d in deliveries.values()]
        ends += [t for timeline in timelines.values() for t in timeline.ground_done_s]
        sim.time_s = max(start_s, *ends)
        return self._figures(
            participants, timelines, deliveries, len(contributors), loss_sum / seen
        )

    def _schedule(self, sim: Federation, sat: int, start_s: float, round: int) -> _Timeline:
        """Put satellite ``sat``'s round on the clock: the download, then every step's
        forward, activations up, ground compute, gradients down and backward."""
        costs = self.costs[self.assignment[sat]]
        num = min(self.batch_size, sim.data.num_samples(sat))
        timeline = _Timeline(num_examples=num * self.local_steps)
        time_s = start_s
        if costs.prefix_linears:
            timeline.download_bytes = self._download_bytes(sat, costs, round)
            self.received[sat] = round
            if timeline.download_bytes:
                time_s = sim.clock.download(sat, timeline.download_bytes, time_s, round).arrival_s
        up_bytes = num * (costs.feature_bytes + LABEL_BYTES)
        backward = TRAINING_MACS_PER_FORWARD - 1
        for _ in range(self.local_steps):
            time_s = sim.clock.compute(sat, costs.prefix_macs * num, time_s, round)
            time_s = sim.clock.upload(sat, up_bytes, time_s, round).arrival_s
            timeline.arrivals_s.append(time_s)
            ground_s = sim.clock.ground_compute(
                TRAINING_MACS_PER_FORWARD * costs.suffix_macs * num, time_s, round
            )
            timeline.ground_done_s.append(ground_s)
            if costs.lora_rank:  # the gradients come back for the prefix's backward pass
                grad_bytes = num * costs.feature_bytes
                time_s = sim.clock.download(sat, grad_bytes, ground_s, round).arrival_s
                time_s = sim.clock.compute(sat, backward * costs.prefix_macs * num, time_s, round)
        timeline.ready_s = time_s
        return timeline

    def _download_bytes(self, sat: int, costs: SplitCosts, round: int) -> int:
        """fp32 bytes of the merges of the prefix blocks that ``sat`` has not received: per
        linear the stacked factors or the dense delta, whichever is smaller [B]."""
        stacked: Counter[str] = Counter()
        for merged_round, ranks in self.merged_ranks.items():
            if self.received.get(sat, 0) <= merged_round < round:
                stacked.update(ranks)
        values = sum(min(stacked[block] * (o + i), o * i) for block, o, i in costs.prefix_linears)
        return FLOAT32_BYTES * values

    def _send(
        self,
        sim: Federation,
        sat: int,
        adapters: dict[str, Tensor],
        timeline: _Timeline,
        round: int,
    ) -> Delivery:
        """Upload ``sat``'s adapters until the station accepts them (priced size if priced)."""
        wire_bytes = None
        if sim.pricing is not None:
            encoded = len(sim.encode(adapters, num_samples=timeline.num_examples))
            numel = sum(v.numel() for v in adapters.values())
            wire_bytes = priced_bytes(encoded, numel, self.costs[self.assignment[sat]].lora_numel)
        return sim.send(
            sat,
            adapters,
            timeline.ready_s,
            round,
            wire_bytes=wire_bytes,
            num_samples=timeline.num_examples,
        )

    def _aggregate(
        self,
        sim: Federation,
        round: int,
        timelines: dict[int, _Timeline],
        deliveries: dict[int, Delivery],
    ) -> None:
        """Merge every block's weighted update into the global model; keep the ground's head."""
        ground_counts: Counter[str] = Counter()
        for sat, timeline in timelines.items():
            on_board = set(prefix_blocks(sim.model, self.assignment[sat][0]))
            for block in self.blocks:
                if block not in on_board:
                    ground_counts[block] += timeline.num_examples
        sats = sorted(deliveries)
        updates = aggregate_blocks(
            self.blocks,
            [deliveries[s].state for s in sats],
            [int(deliveries[s].meta["num_samples"]) for s in sats],
            [self.assignment[s][1] for s in sats],
            lora_state(self.ground),
            ground_counts,
            self.ground_rank,
        )
        for update in updates.values():
            merge_lora_delta(sim.model, update, seed=None)
        self.merged_ranks[round] = {block: u.rank for block, u in updates.items()}
        with torch.no_grad():
            for target, source in zip(
                sim.model.head.parameters(), self.ground.head.parameters(), strict=True
            ):
                target.copy_(source)

    def _figures(
        self,
        participants: list[int],
        timelines: dict[int, _Timeline],
        deliveries: dict[int, Delivery],
        num_contributions: int,
        train_loss: float,
    ) -> dict[str, Any]:
        """The round's own figures."""
        activations, gradients = 0, 0
        for sat, timeline in timelines.items():
            costs = self.costs[self.assignment[sat]]
            activations += timeline.num_examples * costs.feature_bytes
            if costs.lora_rank:
                gradients += timeline.num_examples * costs.feature_bytes
        splits = Counter(self.assignment[sat][0] for sat in timelines)
        return {
            "num_participants": len(participants),
            "num_contributions": num_contributions,
            "num_retransmissions": sum(d.attempts - 1 for d in deliveries.values()),
            "num_missed_windows": sum(d.missed_windows for d in deliveries.values()),
            "train_loss": train_loss,
            "bytes_activations": int(activations),
            "bytes_gradients": int(gradients),
            "bytes_adapters_up": int(
                sum(t.num_bytes for d in deliveries.values() for t in d.transfers)
            ),
            "bytes_adapters_down": int(sum(t.download_bytes for t in timelines.values())),
            "splits": dict(sorted(splits.items())),
        }


# ---------------------------------------------------------------------- helpers
def _sgd(params: Sequence[nn.Parameter], grads: Sequence[Tensor], lr: float) -> None:
    """``p <- p - lr g`` in place."""
    with torch.no_grad():
        for param, grad in zip(params, grads, strict=True):
            param -= lr * grad


def _check_positive_int(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")


def _check_vit(model: nn.Module, what: str) -> None:
    """Raise unless ``model`` is a ViT LAM (a patch embedding and blocks to split)."""
    stages = getattr(model, "stage_names", [])
    if not isinstance(model, LAM) or NO_BLOCK_SPLIT not in stages or not block_stages(model):
        name = getattr(model, "name", type(model).__name__)
        raise ValueError(
            f"split-decomposed needs a ViT LAM (a patch embedding and transformer blocks to "
            f"split between the satellites and the ground), but {what} is {name}: use "
            "vit-micro-p8, vit-tiny-p8, vit-small-p8 or vit-base-p8"
        )


def _check_entry(split_at: Any, rank: Any, what: str) -> tuple[str, int]:
    """A checked ``(split_at, rank)``; the rank is 0 at the split with no block on board."""
    if not isinstance(split_at, str) or not split_at:
        raise ValueError(f"{what}: the split point must be a stage name, got {split_at!r}")
    if isinstance(rank, bool) or not isinstance(rank, int | np.integer) or rank < 0:
        raise ValueError(f"{what}: the LoRA rank must be a non-negative integer, got {rank!r}")
    if split_at == NO_BLOCK_SPLIT:
        return split_at, 0
    if rank < 1:
        raise ValueError(
            f"{what}: the LoRA rank must be >= 1 for a split after a block ({split_at!r}), got "
            f"{rank}; only {NO_BLOCK_SPLIT!r} (no block on board) has rank 0"
        )
    return split_at, int(rank)


def _parse(decomposition: Any) -> dict[int, tuple[str, int]]:
    """Satellite -> checked ``(split_at, rank)`` from decompose's output (or dicts, pairs)."""
    if not isinstance(decomposition, Mapping) or not decomposition:
        raise ValueError(
            "decomposition must be a non-empty mapping satellite -> Decomposition (from "
            f"spikesat.federated.decompose), got {decomposition!r}"
        )
    out = {}
    for key, entry in decomposition.items():
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int | np.integer) or key < 0:
            raise ValueError(f"decomposition keys must be satellite indices >= 0, got {key!r}")
        if hasattr(entry, "split_at") and hasattr(entry, "lora_rank"):
            split_at, rank = entry.split_at, entry.lora_rank
        elif isinstance(entry, Mapping) and {"split_at", "lora_rank"} <= set(entry):
            split_at, rank = entry["split_at"], entry["lora_rank"]
        elif isinstance(entry, Sequence) and not isinstance(entry, str) and len(entry) == 2:
            split_at, rank = entry
        else:
            raise ValueError(
                f"decomposition[{key}] must be a Decomposition, a mapping with 'split_at' and "
                f"'lora_rank', or a pair (split_at, lora_rank); got {entry!r}"
            )
        out[int(key)] = _check_entry(split_at, rank, f"decomposition[{key}]")
    return out
