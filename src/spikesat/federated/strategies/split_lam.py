"""``split-lam``: the seeds' split LAM, patch embedding and task head on the satellites, the
backbone with LoRA on the ground (U-shaped split learning, with federated averaging of the
satellite-side parameters).

Per round, for every plane (its participating members ``M``):

1. the member that sees a station first downloads the satellite-side parameters (patch
   embedding and head) and forwards them round the plane ring;
2. each member draws a mini-batch and computes its patch embeddings (tokens ``[b, N, D]``),
   optionally through a spikesat codec (``codec=``: the bytes are the real ``Bitstream``
   sizes and the ground sees the decoded tokens);
3. the embeddings (and labels) are gathered over ISLs to the relay (the member that sees a
   station first) and downlinked; the ground runs the backbone forward to pooled features
   ``[b, D]``, sends them back up and the relay scatters them;
4. every member runs its head, its loss and the backward pass to the features, whose
   gradients are gathered and downlinked; the ground back-propagates through the backbone
   and returns the gradients at the split, which are scattered for the members' backward
   pass through the patch embedding;
5. the members ring-all-reduce their sample-weighted satellite-side parameters and the relay
   uploads the plane's average, which the server averages over the planes.

The maths is exact SGD on the LAM's own split modules (:func:`spikesat.models.split` at
``"patch_embed"``): with one step per round, the members' SGD steps followed by the
sample-weighted average equal one centralised SGD step on the concatenated batches (the
backbone sees every example independently), which the tests check. The ground backbone is
frozen except for peft LoRA adapters of rank ``lora_rank``
(:func:`~spikesat.federated.lora.add_lora`), shared by all planes and stepped once per round
with the gradient of the whole round's mean loss. With ``lora_ranks`` (one rank per plane,
heterogeneous) each plane's embeddings go through the ground backbone with that plane's own
adapter; after the round the adapters are aggregated by FLoRA stacking (exact: the weighted
sum of the planes' updates) or HetLoRA zero-padding
(:func:`~spikesat.federated.lora.aggregate_lora`), merged into the frozen backbone and
restarted, so every plane starts the next round from the same merged backbone.

``schedule="window"`` trains the way the seeds designed it: the planes are served in the order
in which their relays first see a station (topology-aware), and each plane takes as many
U-shaped steps (up to ``max_steps``) as its relay's ground window allows, each followed by a
plane all-reduce (exact SGD on the plane's combined batch), continuing while the last step's
duration still fits before the window ends. Every plane starts from the round's sat-side
parameters; the server averages the planes' final sat-side parameters, weighted by the
examples each processed. The ground backbone's adapters step with every plane's steps in turn.
``micro_batches=K`` pipelines each U-shaped step GPipe-style: every member's batch is cut in
``K`` micro-batches and every transfer, ISL hop and job of the step in ``K`` parts; part ``k``
moves on as soon as it is done, so the hops of a plane's half rings, the relay's ground link,
the ground server and the on-board computers work on different parts at once (the gradients
are accumulated over the parts: the same SGD step). The ground link and each ISL carry one
direction at a time (half duplex), so a step's gradients wait for its last activations.
Limits, stated: successive steps are not overlapped (a step's forward needs the previous
step's update: exact SGD), and the ground's compute is a queue only within a plane's step
(planes whose windows overlap share it for free); mid-round failures remove a member before
its plane's last step.

In a run priced as another LAM (``federate(price_as=...)``), the parts' MACs, the token shape
``[N, D]`` and feature width at the cut and the sat-side update size are that LAM's.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spikesat.federated.aggregate import weighted_average
from spikesat.federated.backends.trainer import job_seed
from spikesat.federated.clock import window_end_s
from spikesat.federated.lora import (
    AGGREGATION_METHODS,
    add_lora,
    aggregate_lora,
    lora_state,
    merge_lora_delta,
)
from spikesat.federated.pricing import FLOAT32_BYTES, LABEL_BYTES, priced_bytes
from spikesat.federated.strategies.base import (
    STRATEGIES,
    Strategy,
    chunk_sizes,
    download_to_plane,
    first_to_see_ground,
    plane_all_reduce,
    ring_gather_chunks,
    ring_scatter_chunks,
    send_plane,
)
from spikesat.models import count_macs, split
from spikesat.train.rng import seeded_global_rng

if TYPE_CHECKING:
    from spikesat.federated.simulation import Federation

SCHEDULES = ("round", "window")


@STRATEGIES.register("split-lam")
class SplitLam(Strategy):
    """The split LAM (see the module docstring).

    Parameters
    ----------
    batch_size : int
        Examples per satellite per round.
    lr : float
        SGD learning rate of both sides.
    lora_rank : int
        Rank of the ground backbone's LoRA adapters.
    codec : str, optional
        A spikesat codec name (:func:`spikesat.codecs.list_codecs`) for the embeddings.
    lora_ranks : list of int, optional
        One LoRA rank per plane (heterogeneous ranks), aggregated by ``lora_aggregation``.
    lora_aggregation : str
        ``"stack"`` (FLoRA) or ``"zero-pad"`` (HetLoRA).
    schedule : str
        ``"round"``: one step over every plane per round; ``"window"``: up to ``max_steps``
        steps per plane within its relay's ground window.
    max_steps : int
        The most steps a plane takes in one window (``schedule="window"`` only).
    micro_batches : int
        Micro-batches each U-shaped step is pipelined in (GPipe-style: the same SGD step,
        its gradients accumulated over the micro-batches). Every transfer, hop and job of a
        step is split into this many parts, and part ``k`` moves on as soon as it is done,
        so a plane's ISL hops, its relay's ground link and the computers overlap. 1: each
        stage waits for the whole batch (store and forward).
    """

    name = "split-lam"
    needs_isl = True

    def __init__(
        self,
        batch_size: int = 16,
        lr: float = 0.05,
        lora_rank: int = 4,
        codec: str | None = None,
        lora_ranks: list[int] | None = None,
        lora_aggregation: str = "stack",
        schedule: str = "round",
        max_steps: int = 1,
        micro_batches: int = 1,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if lora_ranks is not None and (
            not isinstance(lora_ranks, list | tuple)
            or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in lora_ranks)
        ):
            raise ValueError(f"lora_ranks must be a list of positive ints, got {lora_ranks!r}")
        if lora_aggregation not in AGGREGATION_METHODS:
            raise ValueError(
                f"unknown lora_aggregation {lora_aggregation!r}; choose one of "
                f"{', '.join(AGGREGATION_METHODS)}"
            )
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if (
            isinstance(micro_batches, bool)
            or not isinstance(micro_batches, int)
            or micro_batches < 1
        ):
            raise ValueError(f"micro_batches must be a positive integer, got {micro_batches!r}")
        if schedule == "round" and max_steps != 1:
            raise ValueError(
                f"max_steps={max_steps} needs schedule='window' (a 'round' takes one step)"
            )
        self.schedule = schedule
        self.max_steps = max_steps
        self.micro_batches = micro_batches
        self.batch_size = batch_size
        self.lr = float(lr)
        self.lora_rank = lora_rank
        self.lora_ranks = None if lora_ranks is None else [int(r) for r in lora_ranks]
        self.lora_aggregation = lora_aggregation
        self.codec_name = codec
        self.codec: nn.Module | None = None
        self.plane_models: list[nn.Module] = []

    def config(self) -> dict[str, Any]:
        """The hyper-parameters."""
        return {
            "batch_size": self.batch_size,
            "lr": self.lr,
            "lora_rank": self.lora_rank,
            "lora_ranks": self.lora_ranks,
            "lora_aggregation": self.lora_aggregation,
            "codec": self.codec_name,
            "schedule": self.schedule,
            "max_steps": self.max_steps,
            "micro_batches": self.micro_batches,
        }

    def state_dict(self) -> dict[str, Any]:
        """The per-plane ground models (heterogeneous ranks only)."""
        return {"plane_models": [m.state_dict() for m in self.plane_models]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        for model, saved in zip(self.plane_models, state["plane_models"], strict=True):
            model.load_state_dict(saved)

    def setup(self, sim: Federation) -> None:
        """Inject LoRA into the ground backbone and cut the model after the patch embedding."""
        super().setup(sim)
        model = sim.model
        if "patch_embed" not in getattr(model, "stage_names", []):
            raise ValueError(
                "split-lam puts the patch embedding on the satellites: use a ViT LAM "
                "(vit-micro-p8, vit-tiny-p8, vit-small-p8)"
            )
        self.parts = split(model, at="patch_embed")
        if self.lora_ranks is None:
            if not _has_lora(model):
                add_lora(model, self.lora_rank, seed=sim.seed)
        else:
            num_planes = len(sim.network.plane_members())
            if len(self.lora_ranks) != num_planes:
                raise ValueError(
                    f"lora_ranks has {len(self.lora_ranks)} ranks but the constellation has "
                    f"{num_planes} planes: give one rank per plane"
                )
            for param in model.parameters():
                param.requires_grad_(False)
            self.plane_models = []
            for plane, rank in enumerate(self.lora_ranks):
                copy_ = copy.deepcopy(model)
                add_lora(copy_, rank, seed=job_seed(sim.seed, 0, plane, salt=9))
                self.plane_models.append(copy_)
        for param in [*self.parts.onboard.parameters(), *self.parts.head.parameters()]:
            param.requires_grad_(True)
        self.ground = nn.Sequential(*list(self.parts.remote)[:-1])
        self.plane_grounds = [
            nn.Sequential(*list(split(m, at="patch_embed").remote)[:-1]) for m in self.plane_models
        ]
        self.head = self.parts.head
        self.sat_names = [f"patch_embed.{n}" for n, _ in self.parts.onboard[0].named_parameters()]
        self.sat_names += [f"head.{n}" for n, _ in self.head.named_parameters()]
        if self.codec_name is not None:
            if sim.pricing is not None:
                raise ValueError(
                    "a codec's bytes are measured on the trained model's own tokens: price_as "
                    "and codec cannot be combined (drop one of them)"
                )
            from spikesat.codecs import create

            self.codec = create(self.codec_name, in_channels=_embed_dim(model))
        self._price(sim)

    def _price(self, sim: Federation) -> None:
        """MACs of the three parts, the token shape and feature width at the cut, and the
        sat-side parameter count of the priced model (the trained one when unpriced)."""
        if sim.pricing is None:
            parts, sample = self.parts, sim.data.train_images[:1]
        else:
            if "patch_embed" not in getattr(sim.pricing.model, "stage_names", []):
                raise ValueError(
                    f"split-lam is priced as {sim.pricing.name}, which has no patch embedding "
                    "to split at: price it as a ViT LAM"
                )
            parts, sample = split(sim.pricing.model, at="patch_embed"), sim.pricing.sample
        ground = nn.Sequential(*list(parts.remote)[:-1])
        with torch.no_grad():
            tokens = parts.onboard(sample)
            pooled = ground(tokens)
        self.onboard_macs = count_macs(parts.onboard, sample)
        self.ground_macs = count_macs(ground, tokens)
        self.head_macs = count_macs(parts.head, pooled)
        self.token_shape = tuple(tokens.shape[1:])
        self.feature_dim = int(pooled.shape[1])
        self.priced_sat_numel = sum(
            p.numel() for p in [*parts.onboard[0].parameters(), *parts.head.parameters()]
        )

    # ------------------------------------------------------------------ maths
    def batches(
        self, sim: Federation, sats: list[int], round: int, step: int = 0
    ) -> dict[int, tuple]:
        """Each member's seeded mini-batch ``(images, labels)`` for ``step`` of ``round``."""
        out = {}
        for sat in sats:
            part = sim.data.parts[sat]
            rng = np.random.default_rng(job_seed(sim.seed, round, sat, salt=_salt(7, step)))
            take = rng.choice(len(part), size=min(self.batch_size, len(part)), replace=False)
            index = torch.as_tensor(np.sort(part[take]))
            out[sat] = (sim.data.train_images[index], sim.data.train_labels[index])
        return out

    def step(
        self, sim: Federation, batches: dict[int, tuple], round: int, step: int = 0
    ) -> dict[str, Any]:
        """One U-shaped SGD step over all members' batches; returns sizes and the loss.

        The ground runs one backbone for every plane (shared LoRA) or each plane's own
        backbone copy (``lora_ranks``); either way it steps with the gradient of the round's
        mean loss, and with ``lora_ranks`` the planes' adapters are then aggregated
        (``lora_aggregation``) and merged into every copy's frozen weights. Dropout and
        drop-path draw from torch's global generator, seeded per round and step for the step
        only (the caller's state is restored afterwards).
        """
        seed = job_seed(sim.seed, round, 0, salt=_salt(8, step))
        with seeded_global_rng(seed, torch.device("cpu")):
            return self._step(sim, batches, round)

    def _step(self, sim: Federation, batches: dict[int, tuple], round: int) -> dict[str, Any]:
        model = sim.model
        model.train()
        params = dict(model.named_parameters())
        sat_params = [params[n] for n in self.sat_names]
        onboard_params = list(self.parts.onboard.parameters())
        head_params = list(self.head.parameters())
        sats = list(batches)
        counts = {sat: len(batches[sat][1]) for sat in sats}
        total = sum(counts.values())
        tokens = {sat: self.parts.onboard(batches[sat][0]) for sat in sats}
        sent, token_bytes = {}, {}
        for sat in sats:
            sent[sat], token_bytes[sat] = self._through_codec(tokens[sat].detach())
        head_grads, g_tokens, loss_sum = {}, {}, 0.0
        for ground, members in self._groups(sim, sats):
            ground.train()
            z = torch.cat([sent[sat] for sat in members]).requires_grad_(True)
            features = ground(z)
            bounds = np.cumsum([0] + [counts[sat] for sat in members])
            feature_grads = []
            for k, sat in enumerate(members):
                f = features[bounds[k] : bounds[k + 1]].detach().requires_grad_(True)
                loss = F.cross_entropy(self.head(f), batches[sat][1])
                grads = torch.autograd.grad(loss, [*head_params, f])
                head_grads[sat] = grads[:-1]
                feature_grads.append(grads[-1])
                loss_sum += float(loss.detach()) * counts[sat]
            weights = torch.cat(
                [torch.full((counts[sat], 1), counts[sat] / total) for sat in members]
            ).to(features.dtype)
            g_features = torch.cat(feature_grads)
            ground_params = [p for p in ground.parameters() if p.requires_grad]
            ground_grads = torch.autograd.grad(
                features, ground_params, g_features * weights, retain_graph=True
            )
            (g_z,) = torch.autograd.grad(features, z, g_features)
            for k, sat in enumerate(members):
                g_tokens[sat] = g_z[bounds[k] : bounds[k + 1]]
            with torch.no_grad():
                for param, grad in zip(ground_params, ground_grads, strict=True):
                    param -= self.lr * grad
        states = {}
        for sat in sats:
            g_on = torch.autograd.grad(tokens[sat], onboard_params, g_tokens[sat])
            grads = dict(zip(self.sat_names, [*g_on, *head_grads[sat]], strict=True))
            states[sat] = {
                n: (p - self.lr * grads[n]).detach()
                for n, p in zip(self.sat_names, sat_params, strict=True)
            }
        if self.plane_models:
            self._merge_plane_adapters(sim, sats, counts, round)
        return {
            "states": states,
            "counts": counts,
            "token_bytes": token_bytes,
            "loss": loss_sum / total,
        }

    def _groups(self, sim: Federation, sats: list[int]) -> list[tuple[nn.Module, list[int]]]:
        """(ground backbone, members) pairs: one for all, or one per plane."""
        if not self.plane_models:
            return [(self.ground, sats)]
        planes = sim.network.planes
        groups = []
        for plane, ground in enumerate(self.plane_grounds):
            members = [sat for sat in sats if planes[sat] == plane]
            if members:
                groups.append((ground, members))
        return groups

    def _merge_plane_adapters(
        self, sim: Federation, sats: list[int], counts: dict[int, int], round: int
    ) -> None:
        """Aggregate the planes' LoRA (heterogeneous ranks) and merge it everywhere."""
        planes = sim.network.planes
        active = sorted({int(planes[sat]) for sat in sats})
        weights = [sum(counts[s] for s in sats if planes[s] == p) for p in active]
        update = aggregate_lora(
            [lora_state(self.plane_models[p]) for p in active],
            weights,
            [self.lora_ranks[p] for p in active],
            method=self.lora_aggregation,
        )
        merge_lora_delta(sim.model, update, seed=None)
        for plane, plane_model in enumerate(self.plane_models):
            merge_lora_delta(plane_model, update, seed=job_seed(sim.seed, round + 1, plane, salt=9))

    def _through_codec(self, tokens: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Tokens ``[b, N, D]`` as the ground receives them, and their size on the link [B]
        (float32 tokens of the priced shape without a codec)."""
        if self.codec is None:
            return tokens, len(tokens) * int(np.prod(self.token_shape)) * FLOAT32_BYTES
        with torch.no_grad():
            bitstreams = self.codec.compress(tokens)
            decoded = self.codec.decompress(bitstreams)
        return decoded.to(tokens.dtype), sum(len(b.to_bytes()) for b in bitstreams)

    # ------------------------------------------------------------------ the round
    def run_round(self, sim: Federation, round: int) -> dict[str, Any]:
        """One split-learning round over every plane (``schedule``)."""
        participants = set(sim.participants(round))
        if not participants:
            return {"num_participants": 0, "num_contributions": 0}
        if self.schedule == "window":
            return self._window_round(sim, round, participants)
        start_s = sim.time_s
        batches = self.batches(sim, sorted(participants), round)
        out = self.step(sim, batches, round)
        counts = out["counts"]
        sat_bytes = self._sat_bytes(sim, out["states"][min(participants)])
        deliveries = []
        for plane, ring in enumerate(sim.network.plane_members()):
            members = [sat for sat in ring if sat in participants]
            if not members:
                continue
            have = download_to_plane(sim, ring, members, sat_bytes, start_s, round)
            ready = self._time_step(sim, ring, members, out, have, round)
            alive = sim.survivors(members, round)
            if not alive:  # the whole plane failed mid-round: its adapters never leave it
                continue
            plane_state, time_s = plane_all_reduce(
                sim, ring, alive, out["states"], counts, max(ready.values()), sat_bytes, round
            )
            num_alive = sum(counts[sat] for sat in alive)
            deliveries.append(
                send_plane(
                    sim, plane, alive, plane_state, num_alive, time_s, round, wire_bytes=sat_bytes
                )
            )
        entry = self._finish(sim, round, deliveries, len(participants))
        if entry["num_contributions"]:
            entry["train_loss"] = out["loss"]
            entry["bytes_embeddings"] = int(sum(out["token_bytes"].values()))
        return entry

    def _window_round(self, sim: Federation, round: int, participants: set[int]) -> dict[str, Any]:
        """Up to ``max_steps`` steps per plane within its relay's ground window."""
        start_s = sim.time_s
        params = dict(sim.model.named_parameters())
        start_state = {n: params[n].detach().clone() for n in self.sat_names}
        sat_bytes = self._sat_bytes(sim, start_state)
        queue = []
        for plane, ring in enumerate(sim.network.plane_members()):
            members = [sat for sat in ring if sat in participants]
            if members:
                relay = first_to_see_ground(sim, members, start_s)
                queue.append((sim.network.best_ground_window(relay, start_s)[1], plane, ring))
        queue.sort()  # topology-aware: the plane whose relay sees a station first goes first
        deliveries, steps, loss_sum, num_seen, token_bytes = [], [], 0.0, 0, 0
        order = [plane for _, plane, _ in queue]
        for _first_contact_s, plane, ring in queue:
            members = [sat for sat in ring if sat in participants]
            with torch.no_grad():
                for name, value in start_state.items():
                    params[name].copy_(value)
            have = download_to_plane(sim, ring, members, sat_bytes, start_s, round)
            step, begin_s, alive, plane_state, seen = 0, min(have.values()), members, None, 0
            while True:
                out = self.step(sim, self.batches(sim, members, round, step), round, step)
                ready = self._time_step(sim, ring, members, out, have, round)
                if step == 0:  # the window the plane's first step lands in
                    relay = first_to_see_ground(sim, members, begin_s)
                    station, contact_s = sim.network.best_ground_window(relay, begin_s)
                    window_s = window_end_s(sim.network.ground(relay, station), contact_s)
                step_s = max(ready.values()) - max(begin_s, contact_s)  # this step's duration
                last = step + 1 >= self.max_steps or max(ready.values()) + step_s > window_s
                if last:
                    alive = sim.survivors(members, round)
                    if not alive:
                        break
                plane_state, end_s = plane_all_reduce(
                    sim, ring, alive, out["states"], out["counts"], max(ready.values()),
                    sat_bytes, round,
                )  # fmt: skip
                seen += sum(out["counts"][sat] for sat in alive)
                loss_sum += out["loss"] * sum(out["counts"].values())
                num_seen += sum(out["counts"].values())
                token_bytes += sum(out["token_bytes"].values())
                step += 1
                if last:
                    break
                with torch.no_grad():
                    for name, value in plane_state.items():
                        params[name].copy_(value)
                have, begin_s = dict.fromkeys(members, end_s), end_s
            steps.append(step)
            if alive:
                deliveries.append(
                    send_plane(
                        sim, plane, alive, plane_state, seen, end_s, round, wire_bytes=sat_bytes
                    )
                )
        entry = self._finish(sim, round, deliveries, len(participants))
        if entry["num_contributions"]:
            entry.update(
                train_loss=loss_sum / num_seen,
                bytes_embeddings=int(token_bytes),
                plane_order=order,
                steps_per_plane=steps,
            )
        return entry

    def _sat_bytes(self, sim: Federation, state: dict[str, torch.Tensor]) -> int:
        """Size of an update of the sat-side parameters [B], as priced."""
        encoded = len(sim.encode(state))
        if sim.pricing is None:
            return encoded
        numel = sum(v.numel() for v in state.values())
        return priced_bytes(encoded, numel, self.priced_sat_numel)

    def _time_step(self, sim, ring, members, out, have, round) -> dict[int, float]:
        """Clock one U-shaped step of ``members`` starting when each ``have`` its parameters,
        in ``micro_batches`` pipelined parts; when each member has finished its backward
        pass [s]."""
        parts = self.micro_batches
        counts = out["counts"]
        num = sum(counts[sat] for sat in members)

        def on_board(macs_per_example, have):
            return {
                sat: [
                    sim.clock.compute(sat, macs_per_example * counts[sat] / parts, t, round)
                    for t in have[sat]
                ]
                for sat in members
            }

        ready = on_board(self.onboard_macs, {sat: [have[sat]] * parts for sat in members})
        relay = first_to_see_ground(sim, members, max(t[-1] for t in ready.values()))
        up_bytes = {sat: out["token_bytes"][sat] + LABEL_BYTES * counts[sat] for sat in members}
        arrived = self._up(sim, ring, relay, up_bytes, ready, round)
        done = self._ground(sim, self.ground_macs * num, arrived, round)
        feature_bytes = {sat: counts[sat] * self.feature_dim * FLOAT32_BYTES for sat in members}
        ready = on_board(
            3 * self.head_macs, self._down(sim, ring, relay, feature_bytes, done, round)
        )
        arrived = self._up(sim, ring, relay, feature_bytes, ready, round)
        done = self._ground(sim, 2 * self.ground_macs * num, arrived, round)
        grad_bytes = {
            sat: counts[sat] * int(np.prod(self.token_shape)) * FLOAT32_BYTES for sat in members
        }
        ready = on_board(
            2 * self.onboard_macs, self._down(sim, ring, relay, grad_bytes, done, round)
        )
        return {sat: times[-1] for sat, times in ready.items()}

    def _ground(self, sim, macs, arrived, round) -> list[float]:
        """The ground's share of ``macs`` per micro-batch, one after another as each arrives."""
        done, free_s = [], -math.inf
        for arrival_s in arrived:
            free_s = sim.clock.ground_compute(macs / len(arrived), max(arrival_s, free_s), round)
            done.append(free_s)
        return done

    def _finish(self, sim, round, deliveries, num_participants) -> dict[str, Any]:
        """Average the planes' deliveries into the model and advance the clock."""
        if not deliveries:  # every participant failed mid-round: the model stays as it was
            return {"num_participants": num_participants, "num_contributions": 0}
        for delivery in deliveries:
            for sat in delivery.meta["sats"]:
                sim.count_contribution(round, sat)
        averaged = weighted_average(
            [d.state for d in deliveries], [d.meta["num_samples"] for d in deliveries]
        )
        with torch.no_grad():
            params = dict(sim.model.named_parameters())
            for name, value in averaged.items():
                params[name].copy_(value)
        sim.time_s = max(d.arrival_s for d in deliveries)
        return {
            "num_participants": num_participants,
            "num_contributions": sum(len(d.meta["sats"]) for d in deliveries),
            "num_retransmissions": sum(d.attempts - 1 for d in deliveries),
        }

    def _up(self, sim, ring, relay, payloads, ready, round) -> list[float]:
        """Gather ``payloads`` (``ready[sat]``: one time per micro-batch) to the relay over
        ISLs and downlink them; when each micro-batch is on the ground [s]."""
        parts = chunk_sizes(int(sum(payloads.values())), self.micro_batches)
        gathered = ring_gather_chunks(
            sim, ring, relay, {s: (payloads[s], ready[s]) for s in payloads}, round
        )
        return [
            sim.clock.upload(relay, part, at_s, round).arrival_s
            for part, at_s in zip(parts, gathered, strict=True)
        ]

    def _down(self, sim, ring, relay, payloads, ready_s, round) -> dict[int, list[float]]:
        """Uplink ``payloads`` to the relay per micro-batch (``ready_s``: one time each) and
        scatter them over ISLs; when each satellite has each micro-batch [s]."""
        parts = chunk_sizes(int(sum(payloads.values())), self.micro_batches)
        arrival = [
            sim.clock.download(relay, part, at_s, round).arrival_s
            for part, at_s in zip(parts, ready_s, strict=True)
        ]
        return ring_scatter_chunks(sim, ring, relay, payloads, arrival, round)


def _salt(base: int, step: int) -> int:
    """The seed salt of ``step`` (step 0 keeps the one-step-per-round draws)."""
    return base if step == 0 else 1000 * base + step


def _has_lora(model: nn.Module) -> bool:
    return any("lora_" in name for name, _ in model.named_parameters())


def _embed_dim(model: nn.Module) -> int:
    return int(model.stage("patch_embed").pos_embed.shape[-1])
