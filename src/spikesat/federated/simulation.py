"""``federate``: run a federated strategy over a constellation on the simulated clock.

The run builds a contact plan (:func:`spikesat.orbits.contact_plan`) and its link trace
(:func:`spikesat.channels.link_trace`), the :class:`~spikesat.federated.network.Network` and
:class:`~spikesat.federated.clock.Clock` on top, the per-satellite data and the global model,
then calls the strategy once per round and evaluates the global model on the server's test
set. Every ``checkpoint_every`` rounds the whole state (model, strategy state, clock queues and
ledger, history, RNG) is written atomically; ``resume=True`` continues from it and reaches the
same result as an uninterrupted run.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spikesat.data.cache import save_atomic
from spikesat.federated.backends import (
    Backend,
    LocalConfig,
    LocalJob,
    LocalResult,
    LocalTrainer,
    create_backend,
    job_seed,
)
from spikesat.federated.clock import BYTE_KINDS, Clock
from spikesat.federated.compute import TRAINING_MACS_PER_FORWARD
from spikesat.federated.data import FederatedData, federated_data
from spikesat.federated.faults import Delivery, FaultModel, deliver_update
from spikesat.federated.network import Network
from spikesat.federated.payload import UpdateId, encode_update
from spikesat.federated.pricing import Pricing, build_pricing, priced_bytes
from spikesat.federated.strategies import Strategy, create_strategy
from spikesat.federated.targets import check_target
from spikesat.models import count_macs
from spikesat.train import evaluate
from spikesat.train.rng import seeded_global_rng

TRAINABLE = ("full", "lora")
CHECKPOINT_NAME = "federation.pt"


class Federation:
    """The state of one federated run, as the strategies see it.

    Attributes
    ----------
    network : Network
        Link timelines.
    clock : Clock
        Transfers, compute, energy ledger.
    data : FederatedData
        Partitions and test set.
    model : nn.Module
        The global model (the server's copy).
    trainable : list of str
        Names of the parameters the satellites train and exchange.
    faults : FaultModel
        Injected faults.
    local : LocalConfig
        Local training hyper-parameters.
    seed : int
        Seed of every job.
    run_id : int
        The run's identity in every update header (from ``seed``), so the station refuses
        updates of another run.
    time_s : float
        Server time [s from the plan start] at which the current global model exists.
    model_bytes : int
        Size of a serialised update of the trainable parameters [B] (of the priced model's,
        when ``pricing`` is given).
    pricing : Pricing or None
        The LAM whose MACs and bytes the clock charges (:mod:`~spikesat.federated.pricing`);
        None: the trained model's own.
    forward_macs_per_sample : int
        MACs of one forward pass of one sample, as priced.
    """

    def __init__(
        self,
        network: Network,
        clock: Clock,
        data: FederatedData,
        model: nn.Module,
        trainable: list[str],
        backend: Backend,
        faults: FaultModel,
        local: LocalConfig,
        seed: int,
        pricing: Pricing | None = None,
    ) -> None:
        self.network = network
        self.clock = clock
        self.data = data
        self.model = model
        self.trainable = list(trainable)
        self.backend = backend
        self.faults = faults
        self.local = local
        self.seed = seed
        self.run_id = int(np.random.SeedSequence([seed, 0x5EED]).generate_state(1, np.uint64)[0])
        self.time_s = 0.0
        self.contributions: dict[int, list[list[int]]] = {}
        self._backend_started = False
        self.pricing = pricing
        self.model_bytes = len(self.encode(self.global_state(), sat=0, round=0, num_samples=0))
        if pricing is None:
            was_training = model.training
            self.forward_macs_per_sample = count_macs(model.eval(), data.train_images[:1])
            model.train(was_training)
        else:
            numel = sum(v.numel() for v in self.global_state().values())
            self.model_bytes = priced_bytes(self.model_bytes, numel, pricing.trainable_numel())
            self.forward_macs_per_sample = pricing.forward_macs

    # ------------------------------------------------------------------ model state
    def global_state(self) -> dict[str, torch.Tensor]:
        """A copy of the global trainable parameters."""
        params = dict(self.model.named_parameters())
        return {n: params[n].detach().clone() for n in self.trainable}

    def set_global_state(self, state: dict[str, torch.Tensor]) -> None:
        """Overwrite the global trainable parameters."""
        params = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)

    def encode(
        self, state: dict[str, torch.Tensor], update_id: UpdateId | None = None, **meta: Any
    ) -> bytes:
        """Serialise an update with its identity and digest (what goes on the link)."""
        return encode_update(state, meta, update_id)

    def send(
        self,
        sender: int,
        state: dict[str, torch.Tensor],
        ready_s: float,
        round: int,
        key: int = 0,
        wire_bytes: int | None = None,
        **meta: Any,
    ) -> Delivery:
        """Upload ``state`` from ``sender`` to the ground until the station accepts it.

        The update carries ``UpdateId(run_id, sender, round, key)``; the station refuses any
        other identity and tensors unlike ``state``'s names, shapes and dtypes, so a corrupted,
        replayed or misrouted upload is resent, never averaged in. In a priced run the clock
        moves ``wire_bytes`` (default :attr:`model_bytes`, the priced update) instead of the
        payload's own size; unpriced runs ignore it.
        """
        update_id = UpdateId(self.run_id, sender, round, key)
        payload = self.encode(state, update_id, **meta)
        num_bytes = None
        if self.pricing is not None:
            num_bytes = self.model_bytes if wire_bytes is None else int(wire_bytes)
        return deliver_update(
            self.clock,
            self.faults,
            sender,
            payload,
            ready_s,
            round,
            key,
            expect=update_id,
            like=state,
            num_bytes=num_bytes,
        )

    # ------------------------------------------------------------------ satellites
    def participants(self, round: int) -> list[int]:
        """Satellites neither failed nor dropped out at the start of ``round``."""
        return [s for s in range(self.network.num_sats) if self.faults.participates(s, round)]

    def survivors(self, sats: list[int], round: int) -> list[int]:
        """Those of ``sats`` whose update leaves them in ``round`` (no mid-round failure)."""
        return [s for s in sats if not self.faults.fails_mid_round(s, round)]

    def local_macs(self, sat: int) -> float:
        """MACs of one round of local training on ``sat``."""
        return (
            TRAINING_MACS_PER_FORWARD
            * self.forward_macs_per_sample
            * self.data.num_samples(sat)
            * self.local.epochs
        )

    def train(
        self, sats: list[int], round: int, state: dict[str, torch.Tensor], salt: int = 0
    ) -> dict[int, LocalResult]:
        """Local training of ``sats`` from ``state`` on the backend."""
        if not self._backend_started:
            trainer = LocalTrainer(copy.deepcopy(self.model), self.data, self.trainable, self.local)
            self.backend.start(trainer)
            self._backend_started = True
        jobs = [LocalJob(s, round, job_seed(self.seed, round, s, salt), state) for s in sats]
        return {result.sat: result for result in self.backend.run(jobs)}

    def count_contribution(self, round: int, sat: int, key: int = 0) -> None:
        """Record that ``sat``'s update ``key`` entered the model in ``round``.

        Raises
        ------
        RuntimeError
            If that update was already counted (an update must never count twice).
        """
        entries = self.contributions.setdefault(round, [])
        if [sat, key] in entries:
            raise RuntimeError(f"sat-{sat}'s update {key} was counted twice in round {round}")
        entries.append([sat, key])

    def evaluate(self) -> dict[str, float]:
        """Accuracy and loss of the global model on the test set (on ``local.device``; the
        model is back on the CPU afterwards)."""
        scores = evaluate(
            self.model, (self.data.test_images, self.data.test_labels), device=self.local.device
        )
        self.model.to("cpu")
        return scores


@dataclass
class FederationResult:
    """The outcome of :func:`federate`.

    Attributes
    ----------
    history : list of dict
        One entry per round: ``round``, ``sim_time_s``, ``sim_time_h``, ``accuracy``,
        ``loss``, ``bytes_isl``, ``bytes_ground_up``, ``bytes_ground_down`` (this round's),
        ``energy_j`` (this round's, all devices), ``num_contributions``, ``wall_s`` and the
        strategy's own figures.
    model : nn.Module
        The final global model.
    config : dict
        The run's configuration.
    energy : dict
        The ledger's totals and groupings (``EnergyLedger.to_dict`` without the entries).
    contributions : dict
        ``round -> [[sat, update key], ...]``.
    wall_s : float
        Wall-clock seconds of the whole call.
    stop_reason : str
        "rounds" (all rounds ran), "target" (``target_accuracy`` reached) or
        "stop_after_rounds".
    """

    history: list[dict[str, Any]]
    model: nn.Module
    config: dict[str, Any]
    energy: dict[str, Any] = field(default_factory=dict)
    contributions: dict[int, list[list[int]]] = field(default_factory=dict)
    wall_s: float = 0.0
    stop_reason: str = "rounds"

    @property
    def final_accuracy(self) -> float:
        """Accuracy after the last round."""
        return float(self.history[-1]["accuracy"]) if self.history else float("nan")

    def time_to_accuracy_s(self, target: float) -> float | None:
        """First simulated time [s] at which the accuracy reached ``target`` (None: never)."""
        for entry in self.history:
            if entry["accuracy"] >= target:
                return float(entry["sim_time_s"])
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no model)."""
        return {
            "config": self.config,
            "history": self.history,
            "energy": self.energy,
            "final_accuracy": self.final_accuracy,
            "wall_s": self.wall_s,
            "stop_reason": self.stop_reason,
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise :meth:`to_dict`; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, default=_json_default)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text


def build_network(
    constellation: Any = "research-5x10",
    stations: Any = "default",
    num_stations: int | None = None,
    horizon_h: float = 24.0,
    step_s: float = 30.0,
    min_elevation_deg: float = 10.0,
    ground_budget: str = "x-band-eo-sentinel2",
    isl_budget: str = "ka-band-isl",
    fading: str | None = None,
    start: datetime | str | None = None,
    seed: int = 0,
    num_sats: int | None = None,
) -> Network:
    """Contact plan + link trace -> :class:`Network`.

    Parameters
    ----------
    constellation : str or Constellation
        A preset name (:func:`spikesat.orbits.list_presets`) or a constellation.
    stations : str or list of GroundStation
        A network name (:data:`spikesat.orbits.NETWORKS`) or stations.
    num_stations : int, optional
        Keep only the first stations of the network.
    horizon_h, step_s : float
        Length [h] and step [s] of the time grid.
    min_elevation_deg : float
        Elevation mask [deg].
    ground_budget, isl_budget : str
        Link-budget presets (:meth:`spikesat.channels.LinkBudget.presets`).
    fading : str, optional
        Ground-link fading model name.
    start : datetime or str, optional
        Start of the grid (default: the constellation's epoch).
    seed : int
        Seed of the fading draws.
    num_sats : int, optional
        Keep only the first satellites of each plane so that about ``num_sats`` remain (a
        subset of a large shell, whole planes first). TLE sets keep the first ``num_sats``.
    """
    from spikesat.channels import link_trace
    from spikesat.orbits import contact_plan, ground_stations, preset, time_grid

    if isinstance(constellation, str):
        constellation = preset(constellation)
    if num_sats is not None:
        constellation = _subset(constellation, num_sats)
    if isinstance(stations, str):
        stations = ground_stations(stations)
    stations = list(stations)
    if num_stations is not None:
        if not isinstance(num_stations, int) or not 1 <= num_stations <= len(stations):
            raise ValueError(
                f"num_stations must be in [1, {len(stations)}] for this network, got "
                f"{num_stations!r}"
            )
        stations = stations[:num_stations]
    if not horizon_h > 0 or not step_s > 0:
        raise ValueError(f"horizon_h and step_s must be > 0, got {horizon_h!r} and {step_s!r}")
    times = time_grid(start or constellation.epoch, horizon_h * 3600.0, step_s)
    isl = None if getattr(constellation, "planes", None) is None else "plus-grid"
    plan = contact_plan(constellation, times, stations, min_elevation_deg, isl=isl)
    trace = link_trace(plan, ground_budget, fading=fading, seed=seed, isl_budget=isl_budget)
    return Network(plan, trace)


def _subset(constellation: Any, num_sats: int) -> Any:
    """The first ``num_planes_kept`` whole planes of a Walker shell (TLE: first satellites)."""
    from spikesat.orbits import walker_delta

    planes = getattr(constellation, "planes", None)
    if planes is None or not hasattr(constellation, "altitude_km"):
        raise ValueError(
            "num_sats subsets need a Walker constellation (a preset); TLE sets: filter the TLE "
            "file instead"
        )
    per_plane = constellation.num_sats // constellation.num_planes
    num_planes = max(1, min(constellation.num_planes, round(num_sats / per_plane)))
    # One plane has no inter-plane phasing (Walker requires F in [0, P - 1]); it is then
    # exactly plane 0 of the shell.
    return walker_delta(
        per_plane * num_planes,
        num_planes,
        constellation.phasing if num_planes > 1 else 0,
        altitude_km=constellation.altitude_km,
        inclination_deg=constellation.inclination_deg,
        epoch=constellation.epoch,
        name=f"{constellation.name}-{num_planes}planes",
        source=f"subset ({num_planes} of {constellation.num_planes} planes) of "
        f"{constellation.name}: {constellation.source}",
    )


def federate(
    strategy: str | Strategy = "fedavg-ground",
    constellation: Any = "research-5x10",
    stations: Any = "default",
    rounds: int = 5,
    data: FederatedData | None = None,
    model: str | nn.Module = "vit-micro-p8",
    *,
    network: Network | None = None,
    num_stations: int | None = None,
    num_sats: int | None = None,
    horizon_h: float = 24.0,
    step_s: float = 30.0,
    min_elevation_deg: float = 10.0,
    ground_budget: str = "x-band-eo-sentinel2",
    isl_budget: str = "ka-band-isl",
    fading: str | None = None,
    onboard: str | list[str] = "jetson-tx2nx",
    ground_computer: str = "a100-ground",
    eclipse: str | None = None,
    local: LocalConfig | None = None,
    trainable: str = "full",
    lora_rank: int = 4,
    backend: str | Backend = "local",
    faults: FaultModel | None = None,
    seed: int = 0,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    stop_after_rounds: int | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    strategy_kwargs: dict[str, Any] | None = None,
    target_accuracy: float | None = None,
    centralised_accuracy: float | None = None,
    price_as: str | nn.Module | None = None,
    price_image_size: int | None = None,
) -> FederationResult:
    """Fine-tune a LAM across a constellation with a federated strategy, in simulated time.

    Parameters
    ----------
    strategy : str or Strategy
        "fedavg-ground", "fedisl", "fedasync", "split-lam" (:func:`list_strategies`) or an
        instance; ``strategy_kwargs`` go to its constructor.
    constellation, stations, num_stations, num_sats, horizon_h, step_s, min_elevation_deg,
    ground_budget, isl_budget, fading
        The network (see :func:`build_network`); ignored when ``network`` is given.
    rounds : int
        Rounds to run in total (a resumed run continues up to this number).
    data : FederatedData, optional
        Default: :func:`~spikesat.federated.data.federated_data` of synthetic 32 x 32 scenes,
        Dirichlet(0.5) over the satellites.
    model : str or nn.Module
        A LAM name (:func:`spikesat.models.list_models`, built for the data's image size and
        classes) or a model, which is trained in place (``result.model`` is that object): pass
        ``copy.deepcopy(model)`` to keep the original, e.g. to start several runs from it.
    onboard, ground_computer : str
        Compute profiles (:func:`~spikesat.federated.compute.list_computers`); ``onboard``
        may list one per satellite (a heterogeneous constellation).
    eclipse : {None, "sunlit", "battery"}
        On-board compute constraint (:class:`~spikesat.federated.clock.Clock`).
    local : LocalConfig, optional
        Local training hyper-parameters.
    trainable : {"full", "lora"}
        What the satellites fine-tune and exchange: every parameter, or peft LoRA adapters of
        rank ``lora_rank`` on the backbone plus the task head. ("split-lam" ignores it.)
    backend : str or Backend
        "local" (default, sequential) or "ray".
    faults : FaultModel, optional
        Injected faults (default: none).
    seed : int
        Seed of the model, the data, the jobs and the fading.
    checkpoint_dir : path, optional
        Where ``federation.pt`` is written every ``checkpoint_every`` rounds.
    resume : bool
        Continue from the checkpoint in ``checkpoint_dir`` when it exists.
    stop_after_rounds : int, optional
        Return after this many rounds of this call (to be resumed later).
    progress : callable, optional
        Called as ``progress(round_done, rounds, history_entry)`` after each round.
    target_accuracy : float, optional
        Stop after the first round whose test accuracy reaches it (``rounds`` stays the cap;
        the contact plan's horizon ends a run with ``SimulationHorizonError``). A real target
        is a fraction of the centralised accuracy (:func:`~spikesat.federated.real_target`).
    centralised_accuracy : float, optional
        The same model's accuracy when trained on the pooled images
        (:func:`~spikesat.federated.centralised_accuracy`); a ``target_accuracy`` above it is
        refused.
    price_as : str or nn.Module, optional
        Charge the clock another LAM's MACs and update bytes (:mod:`~spikesat.federated.
        pricing`) while ``model`` trains: e.g. ``"vit-base-p8"`` to see how the schedule of a
        ViT-Base-sized LAM would run. The learning is ``model``'s, the time and joules the
        priced LAM's.
    price_image_size : int, optional
        The priced model's input side [px] (default: the data's).

    Returns
    -------
    FederationResult
        ``stop_reason`` says why it returned: "rounds", "target" or "stop_after_rounds".
    """
    began = time.time()
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    if trainable not in TRAINABLE:
        raise ValueError(f"unknown trainable {trainable!r}; choose one of {', '.join(TRAINABLE)}")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir (where the checkpoint was written)")
    if target_accuracy is not None:
        check_target(target_accuracy, centralised_accuracy)
    strategy_obj = (
        create_strategy(strategy, **(strategy_kwargs or {}))
        if isinstance(strategy, str)
        else strategy
    )
    if not isinstance(strategy_obj, Strategy):
        raise TypeError(f"strategy must be a name or a Strategy, got {type(strategy).__name__}")
    if network is None:
        network = build_network(
            constellation,
            stations,
            num_stations,
            horizon_h,
            step_s,
            min_elevation_deg,
            ground_budget,
            isl_budget,
            fading,
            seed=seed,
            num_sats=num_sats,
        )
    if data is None:
        data = federated_data(network.num_sats, planes=network.planes, seed=seed)
    if data.num_sats != network.num_sats:
        raise ValueError(
            f"the data has partitions for {data.num_sats} satellites but the constellation has "
            f"{network.num_sats}: build it with federated_data({network.num_sats}, ...)"
        )
    unreachable = network.unreachable_sats()
    if unreachable:
        names = [network.plan.sat_names[s] for s in unreachable]
        raise ValueError(
            f"satellites {names[:10]} (indices {unreachable[:10]}) never reach a ground station "
            "in the contact plan, so their updates could never arrive: add stations, lower "
            "min_elevation_deg or lengthen horizon_h"
        )
    net = _build_model(model, data, seed)
    trainable_names = _prepare_trainable(net, trainable, lora_rank, seed)
    pricing = None
    if price_as is not None:
        pricing = build_pricing(
            price_as,
            int(data.train_images.shape[1]),
            data.num_classes,
            price_image_size or int(data.train_images.shape[-1]),
            trainable,
            lora_rank,
            seed,
        )
    elif price_image_size is not None:
        raise ValueError("price_image_size needs price_as (the model priced at that size)")
    clock = Clock(network, onboard=onboard, ground=ground_computer, eclipse=eclipse)
    backend_obj = create_backend(backend) if isinstance(backend, str) else backend
    sim = Federation(
        network,
        clock,
        data,
        net,
        trainable_names,
        backend_obj,
        faults or FaultModel(),
        local or LocalConfig(),
        seed,
        pricing,
    )
    # A strategy's set-up may build modules (split-lam's codec) whose initialisers draw from
    # torch's global generator: seeded here for the set-up only, the caller's state restored.
    with seeded_global_rng(seed, torch.device("cpu")):
        strategy_obj.setup(sim)
    config = {
        "strategy": strategy_obj.name,
        "strategy_config": strategy_obj.config(),
        "constellation": network.plan.constellation_info.get("name", str(constellation)),
        "num_sats": network.num_sats,
        "stations": [s.name for s in network.plan.stations],
        "horizon_h": network.horizon_s / 3600.0,
        "step_s": network.step_s,
        "model": getattr(net, "name", type(net).__name__),
        "trainable": trainable,
        "num_trainable_params": int(
            sum(p.numel() for n, p in net.named_parameters() if n in trainable_names)
        ),
        "update_bytes": sim.model_bytes,
        "price_as": None if pricing is None else pricing.info(),
        "data": {
            "source": data.source,
            "num_train": len(data.train_labels),
            "num_test": len(data.test_labels),
        },
        "local": asdict(sim.local),
        "onboard": clock.onboard_names(),
        "ground_computer": clock.ground_computer.name,
        "eclipse": eclipse,
        "faults": sim.faults.to_dict(),
        "backend": backend_obj.name,
        "seed": seed,
    }
    history: list[dict[str, Any]] = []
    first_round = 0
    path = None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME
    if resume and path is not None and path.is_file():
        first_round, history = _load_checkpoint(path, sim, strategy_obj, config)
    last_round = (
        rounds if stop_after_rounds is None else min(rounds, first_round + stop_after_rounds)
    )
    stop_reason = "rounds" if last_round == rounds else "stop_after_rounds"

    def reached() -> bool:
        return (
            target_accuracy is not None
            and bool(history)
            and history[-1]["accuracy"] >= target_accuracy
        )

    try:
        round_index = first_round
        while round_index < last_round and not reached():
            entry = _run_round(sim, strategy_obj, round_index)
            history.append(entry)
            round_index += 1
            if path is not None and (
                round_index % checkpoint_every == 0 or round_index == last_round or reached()
            ):
                _save_checkpoint(path, sim, strategy_obj, config, history, round_index)
            if progress is not None:
                progress(round_index, rounds, entry)
    finally:
        backend_obj.close()
    if reached():
        stop_reason = "target"
    energy = clock.ledger.to_dict(entries=False)
    return FederationResult(
        history,
        net,
        config,
        energy,
        sim.contributions,
        wall_s=time.time() - began,
        stop_reason=stop_reason,
    )


def _run_round(sim: Federation, strategy: Strategy, round_index: int) -> dict[str, Any]:
    """Run one round and measure it."""
    began = time.time()
    bytes_before = dict(sim.clock.bytes)
    energy_before = sim.clock.ledger.total_j
    extra = strategy.run_round(sim, round_index)
    scores = sim.evaluate()
    entry: dict[str, Any] = {
        "round": round_index + 1,
        "sim_time_s": sim.time_s,
        "sim_time_h": sim.time_s / 3600.0,
        "accuracy": scores["accuracy"],
        "loss": scores["loss"],
    }
    for kind in BYTE_KINDS:
        entry[f"bytes_{kind}"] = sim.clock.bytes[kind] - bytes_before[kind]
    entry["energy_j"] = sim.clock.ledger.total_j - energy_before
    entry.update(extra)
    entry["wall_s"] = time.time() - began
    return entry


def _build_model(model: str | nn.Module, data: FederatedData, seed: int) -> nn.Module:
    if isinstance(model, nn.Module):
        return model
    from spikesat.models import create, takes_image_size

    sized = {"img_size": int(data.train_images.shape[-1])} if takes_image_size(model) else {}
    return create(
        model,
        in_chans=int(data.train_images.shape[1]),
        num_classes=data.num_classes,
        seed=seed,
        **sized,
    )


def _prepare_trainable(net: nn.Module, trainable: str, lora_rank: int, seed: int) -> list[str]:
    if trainable == "lora":
        from spikesat.federated.lora import add_lora

        add_lora(net, lora_rank, seed=seed)
        return [n for n, p in net.named_parameters() if p.requires_grad]
    return [n for n, _ in net.named_parameters()]


def _save_checkpoint(
    path: Path,
    sim: Federation,
    strategy: Strategy,
    config: dict[str, Any],
    history: list[dict[str, Any]],
    rounds_done: int,
) -> None:
    save_atomic(
        {
            "config": config,
            "rounds_done": rounds_done,
            "model": sim.model.state_dict(),
            "strategy": strategy.state_dict(),
            "clock": sim.clock.state_dict(),
            "time_s": sim.time_s,
            "contributions": sim.contributions,
            "history": history,
        },
        path,
    )


def _load_checkpoint(
    path: Path, sim: Federation, strategy: Strategy, config: dict[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    try:  # the clock's state holds numpy arrays: a full unpickle (resume only your own runs)
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or not {"rounds_done", "config"} <= set(state):
            raise TypeError("not a federation checkpoint")
    except Exception as error:  # truncated, overwritten or not a checkpoint: any reason
        raise ValueError(
            f"the checkpoint {path} does not load ({type(error).__name__}); delete it to start "
            "the run over"
        ) from error
    saved = {k: v for k, v in state["config"].items() if k != "backend"}
    current = {k: v for k, v in config.items() if k != "backend"}
    if json.dumps(saved, sort_keys=True, default=_json_default) != json.dumps(
        current, sort_keys=True, default=_json_default
    ):
        changed = sorted(k for k in current if saved.get(k) != current.get(k))
        raise ValueError(
            f"the checkpoint {path} was written by a run with a different configuration "
            f"(differs in {changed}); resume with the same arguments or use a new checkpoint_dir"
        )
    sim.model.load_state_dict(state["model"])
    strategy.load_state_dict(state["strategy"])
    sim.clock.load_state_dict(state["clock"])
    sim.time_s = float(state["time_s"])
    sim.contributions = state["contributions"]
    return int(state["rounds_done"]), list(state["history"])


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
