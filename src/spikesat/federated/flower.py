"""Flower adapter: spikesat aggregation as a Flower strategy, a LAM fine-tuning client, a runner.

Flower (``flwr``, the ``[flower]`` extra) runs real federations over the network and simulated
ones on Ray; it has no notion of contact windows or a simulated clock, which is what
:mod:`spikesat.federated`'s own engine adds. This module lets the same aggregation maths drive
a Flower federation:

- :class:`SpikesatFedAvg`, a ``flwr.server.strategy.FedAvg`` whose ``aggregate_fit`` is
  :func:`spikesat.federated.aggregate.weighted_average` (mode ``"full"``: whole state dicts,
  weighted by examples) or heterogeneous-rank LoRA aggregation
  (:func:`spikesat.federated.lora.aggregate_lora`, modes ``"lora-stack"`` (FLoRA, exact) and
  ``"lora-zero-pad"`` (HetLoRA)) merged into the server's frozen weights, with the task head
  federated-averaged. Results are sorted by client id so a run is deterministic.
- :class:`LamClient`, a ``flwr.client.NumPyClient`` that fine-tunes a spikesat LAM on its
  partition with :func:`spikesat.train.fit` (all weights, or its own-rank LoRA + head).
- :func:`run_flower_simulation`, which runs both in ``flwr.simulation.run_simulation`` (Ray).

Importing this module without ``flwr`` raises an ImportError naming
``pip install 'spikesat[flower]'``; :mod:`spikesat.federated` itself does not import it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

try:
    from flwr.client import ClientApp, NumPyClient
    from flwr.common import (
        Context,
        FitIns,
        FitRes,
        Parameters,
        Scalar,
        ndarrays_to_parameters,
        parameters_to_ndarrays,
    )
    from flwr.server import ServerApp, ServerAppComponents, ServerConfig
    from flwr.server.client_proxy import ClientProxy
    from flwr.server.strategy import FedAvg
    from flwr.simulation import run_simulation
except ImportError as err:  # pragma: no cover - exercised only where flwr is absent
    raise ImportError(
        "spikesat.federated.flower needs Flower (flwr >= 1.10, with its simulation extra for "
        "run_flower_simulation): pip install 'spikesat[flower]'"
    ) from err

from spikesat.federated.aggregate import weighted_average
from spikesat.federated.lora import (
    add_lora,
    aggregate_lora,
    base_state,
    load_base_state,
    lora_rank_alpha,
    lora_state,
    merge_lora_delta,
    reset_lora,
)
from spikesat.train import TrainConfig, evaluate, fit
from spikesat.train.loop import as_tensors

FLOWER_MODES = ("full", "lora-stack", "lora-zero-pad")
"""What the clients train and send: every weight, or LoRA (aggregated by stacking / zero-pad)."""

CLIENT_ID_KEY = "client_id"
"""Fit-metrics key under which a :class:`LamClient` reports its id (for a stable order)."""


def _check_mode(mode: str) -> None:
    if mode not in FLOWER_MODES:
        raise ValueError(f"unknown Flower mode {mode!r}; choose one of {list(FLOWER_MODES)}")


def _to_ndarrays(state: Mapping[str, Tensor]) -> list[np.ndarray]:
    """Tensors of a state dict, in key order, as numpy arrays (CPU copies)."""
    return [value.detach().cpu().numpy().copy() for value in state.values()]


def _to_state(
    keys: Sequence[str], arrays: Sequence[np.ndarray], like: Mapping[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """Pair arrays with names; cast to ``like``'s dtypes and check its shapes when given."""
    if len(arrays) != len(keys):
        raise ValueError(
            f"received {len(arrays)} arrays but expected {len(keys)} ({keys[:3]}...); client "
            "and server must use the same model, mode and LoRA targets"
        )
    state: dict[str, Tensor] = {}
    for key, array in zip(keys, arrays, strict=True):
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if like is not None:
            ref = like[key]
            if tuple(tensor.shape) != tuple(ref.shape):
                raise ValueError(
                    f"{key}: received shape {tuple(tensor.shape)}, expected {tuple(ref.shape)}"
                )
            tensor = tensor.to(ref.dtype)
        state[key] = tensor
    return state


def _lora_keys(
    model: nn.Module, blocks: Sequence[str | int] | None, targets: Sequence[str] | None
) -> list[str]:
    """The rank-independent LoRA state names of ``model`` adapted on ``blocks`` / ``targets``."""
    template = add_lora(copy.deepcopy(model), rank=1, target_modules=targets, blocks=blocks)
    return list(lora_state(template))


class SpikesatFedAvg(FedAvg):
    """A Flower FedAvg strategy that aggregates with spikesat's aggregation functions.

    The server holds the global LAM (``self.model``, a private copy). Every round it sends
    the full state (the plain LAM's ``state_dict`` names; in LoRA modes the merged frozen
    weights and the head) and aggregates what the clients return:

    - ``"full"``: every client returns its whole state; the new global state is
      :func:`weighted_average` of them, weighted by ``num_examples``.
    - ``"lora-stack"`` / ``"lora-zero-pad"``: each client returns its LoRA matrices (its own
      rank, reported with its ``lora_alpha`` in the fit metrics) and its head; the LoRA is
      aggregated by :func:`aggregate_lora` (``"stack"`` / ``"zero-pad"``) and merged into the
      server's weights (:func:`merge_lora_delta`), the head is :func:`weighted_average`-d.

    Parameters
    ----------
    model : LAM
        The initial global model (copied; the original is left alone).
    mode : {"full", "lora-stack", "lora-zero-pad"}
        What is trained and aggregated.
    test_data : (images [N, C, H, W], labels [N]) or dataset with ``.tensors()``, optional
        Server-side evaluation after every round (``evaluate``): accuracy and loss.
    lora_blocks, lora_targets : optional
        The clients' ``blocks`` / ``target_modules`` of :func:`add_lora` (LoRA modes).
    **fedavg_kwargs
        Passed to ``flwr.server.strategy.FedAvg`` (``fraction_fit``, ``min_fit_clients``,
        ...); ``initial_parameters`` is set from ``model`` and may not be given.

    Attributes
    ----------
    history : list of dict
        One entry per aggregated round: ``round``, ``num_clients``, ``num_examples``,
        ``train_loss`` (example-weighted), ``bytes_up`` (sum of client payloads [bytes]) and
        ``ranks`` (LoRA modes).
    evaluations : list of dict
        ``round``, ``accuracy``, ``loss`` of the server-side evaluations (round 0: initial).
    """

    def __init__(
        self,
        model: nn.Module,
        mode: str = "full",
        test_data: Any | None = None,
        lora_blocks: Sequence[str | int] | None = None,
        lora_targets: Sequence[str] | None = None,
        **fedavg_kwargs: Any,
    ) -> None:
        _check_mode(mode)
        if "initial_parameters" in fedavg_kwargs:
            raise ValueError(
                "SpikesatFedAvg sets initial_parameters from `model`; do not pass them"
            )
        self.mode = mode
        self.model = copy.deepcopy(model).cpu().eval()
        self.state_keys = list(self.model.state_dict())
        self.head_keys = [f"head.{k}" for k in self.model.head.state_dict()]
        self.lora_keys = [] if mode == "full" else _lora_keys(self.model, lora_blocks, lora_targets)
        self.test_data = test_data
        self.history: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, float]] = []
        super().__init__(
            initial_parameters=ndarrays_to_parameters(_to_ndarrays(self.model.state_dict())),
            **fedavg_kwargs,
        )

    def __repr__(self) -> str:
        return f"SpikesatFedAvg(mode={self.mode!r}, accept_failures={self.accept_failures})"

    def global_state(self) -> dict[str, Tensor]:
        """The current global model's state dict (copies)."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def configure_fit(
        self, server_round: int, parameters: Parameters, client_manager: Any
    ) -> list[tuple[ClientProxy, FitIns]]:
        """FedAvg's client sampling, with ``server_round`` added to the fit config."""
        instructions = super().configure_fit(server_round, parameters, client_manager)
        for _, fit_ins in instructions:
            fit_ins.config["server_round"] = server_round
        return instructions

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        """Aggregate the clients' results with spikesat's functions (see the class doc)."""
        if not results:
            return None, {}
        if failures and not self.accept_failures:
            return None, {}
        ordered = sorted(
            (res for _, res in results),
            key=lambda res: int(res.metrics.get(CLIENT_ID_KEY, 0)),
        )
        weights = [float(res.num_examples) for res in ordered]
        payloads = [parameters_to_ndarrays(res.parameters) for res in ordered]
        like = self.model.state_dict()
        record: dict[str, Any] = {"round": server_round, "num_clients": len(ordered)}
        if self.mode == "full":
            states = [_to_state(self.state_keys, arrays, like) for arrays in payloads]
            self.model.load_state_dict(weighted_average(states, weights))
        else:
            num_lora = len(self.lora_keys)
            lora_states = [_to_state(self.lora_keys, arrays[:num_lora]) for arrays in payloads]
            head_states = [
                _to_state(self.head_keys, arrays[num_lora:], like) for arrays in payloads
            ]
            ranks = [_int_metric(res, "lora_rank") for res in ordered]
            alphas = [float(res.metrics["lora_alpha"]) for res in ordered]
            update = aggregate_lora(
                lora_states, weights, ranks, method=self.mode.removeprefix("lora-"), alphas=alphas
            )
            merge_lora_delta(self.model, update)
            head = weighted_average(head_states, weights)
            self.model.head.load_state_dict({k.removeprefix("head."): v for k, v in head.items()})
            record["ranks"] = ranks
        losses = [float(res.metrics.get("train_loss", float("nan"))) for res in ordered]
        record.update(
            num_examples=int(sum(weights)),
            train_loss=float(np.average(losses, weights=weights)),
            bytes_up=int(sum(a.nbytes for arrays in payloads for a in arrays)),
        )
        self.history.append(record)
        metrics: dict[str, Scalar] = {
            "train_loss": record["train_loss"],
            "num_clients": len(ordered),
            "bytes_up": record["bytes_up"],
        }
        return ndarrays_to_parameters(_to_ndarrays(self.model.state_dict())), metrics

    def evaluate(
        self, server_round: int, parameters: Parameters
    ) -> tuple[float, dict[str, Scalar]] | None:
        """Evaluate the global model on ``test_data`` (None when there is none)."""
        if self.test_data is None:
            return None
        arrays = parameters_to_ndarrays(parameters)
        self.model.load_state_dict(_to_state(self.state_keys, arrays, self.model.state_dict()))
        result = evaluate(self.model, self.test_data, device="cpu")
        self.evaluations.append(
            {"round": server_round, "accuracy": result["accuracy"], "loss": result["loss"]}
        )
        return float(result["loss"]), {"accuracy": float(result["accuracy"])}


def _int_metric(res: FitRes, key: str) -> int:
    if key not in res.metrics:
        raise ValueError(
            f"a client's fit result lacks the {key!r} metric; LoRA modes need LamClient (or a "
            "client reporting lora_rank / lora_alpha)"
        )
    return int(res.metrics[key])


class LamClient(NumPyClient):
    """A Flower NumPy client that fine-tunes a spikesat LAM on its own partition.

    Parameters
    ----------
    model : LAM
        The model architecture (copied); its weights are replaced by the server's each round.
    train_data : (images [N, C, H, W], labels [N]) or dataset with ``.tensors()``
        The client's partition.
    val_data : same, optional
        Used by ``evaluate``; default the training partition.
    train_config : TrainConfig, optional
        Local training per round (:func:`spikesat.train.fit`); its ``seed`` is offset by the
        server round (and the client id) so rounds shuffle differently but reproducibly. The
        same seed also seeds torch's global generator (dropout, stochastic depth) during the
        fit, so a round gives the same update in any process.
    mode : {"full", "lora-stack", "lora-zero-pad"}
        Must match the server's :class:`SpikesatFedAvg`.
    rank, alpha : optional
        This client's LoRA rank and ``lora_alpha`` (LoRA modes; ranks may differ per client).
    lora_blocks, lora_targets : optional
        :func:`add_lora`'s ``blocks`` / ``target_modules`` (same on every client and the server).
    client_id : int
        Reported in the fit metrics so the server aggregates in a fixed order.
    num_threads : int, optional
        torch threads during :meth:`fit` (the process's setting is restored afterwards);
        None leaves it as it is.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Any,
        val_data: Any | None = None,
        train_config: TrainConfig | None = None,
        mode: str = "full",
        rank: int | None = None,
        alpha: float | None = None,
        lora_blocks: Sequence[str | int] | None = None,
        lora_targets: Sequence[str] | None = None,
        client_id: int = 0,
        num_threads: int | None = None,
    ) -> None:
        _check_mode(mode)
        if num_threads is not None and (
            isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1
        ):
            raise ValueError(f"num_threads must be a positive integer or None, got {num_threads!r}")
        self.num_threads = num_threads
        self.mode = mode
        self.client_id = int(client_id)
        self.train_data = as_tensors(train_data)
        self.val_data = self.train_data if val_data is None else as_tensors(val_data)
        self.train_config = train_config or TrainConfig(epochs=1)
        self.model = copy.deepcopy(model).cpu()
        self.state_keys = list(self.model.state_dict())
        if mode == "full":
            if rank is not None:
                raise ValueError("rank is only used in the LoRA modes; drop it or pick one")
        else:
            if rank is None:
                raise ValueError(f"mode {mode!r} needs this client's LoRA rank (rank=...)")
            add_lora(
                self.model,
                rank,
                alpha=alpha,
                target_modules=lora_targets,
                blocks=lora_blocks,
                seed=self._seed(0),
            )

    def _seed(self, server_round: int) -> int:
        return self.train_config.seed + 1000 * server_round + self.client_id

    def _load_global(self, parameters: list[np.ndarray], server_round: int) -> None:
        if self.mode == "full":
            like = self.model.state_dict()
            self.model.load_state_dict(_to_state(self.state_keys, parameters, like))
            return
        like = base_state(self.model)
        load_base_state(self.model, _to_state(list(like), parameters, like))
        reset_lora(self.model, seed=self._seed(server_round))

    def _payload(self) -> list[np.ndarray]:
        if self.mode == "full":
            return _to_ndarrays(self.model.state_dict())
        head = {f"head.{k}": v for k, v in self.model.head.state_dict().items()}
        return _to_ndarrays(lora_state(self.model)) + _to_ndarrays(head)

    def get_parameters(self, config: dict[str, Scalar]) -> list[np.ndarray]:
        """What this client sends: its whole state, or its LoRA matrices and head."""
        return self._payload()

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[list[np.ndarray], int, dict[str, Scalar]]:
        """Load the global model, train locally with :func:`spikesat.train.fit`, send back."""
        server_round = int(config.get("server_round", 0))
        self._load_global(parameters, server_round)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        seed = self._seed(server_round)
        cfg = dataclasses.replace(self.train_config, seed=seed)
        # fit seeds the dropout / drop-path generator from cfg.seed (restoring the caller's
        # state afterwards), so a round is the same in any process.
        with _torch_threads(self.num_threads):
            result = fit(
                self.model, self.train_data, config=cfg, progress=False, parameters=trainable
            )
        self.model.cpu()
        metrics: dict[str, Scalar] = {
            CLIENT_ID_KEY: self.client_id,
            "train_loss": float(result.history[-1]["train_loss"]),
        }
        if self.mode != "full":
            rank, alpha = lora_rank_alpha(self.model)
            metrics.update(lora_rank=rank, lora_alpha=alpha)
        return self._payload(), len(self.train_data[1]), metrics

    def evaluate(
        self, parameters: list[np.ndarray], config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        """Accuracy and loss of the global model on this client's validation data."""
        self._load_global(parameters, int(config.get("server_round", 0)))
        result = evaluate(self.model, self.val_data, device="cpu")
        return float(result["loss"]), int(result["num_examples"]), {"accuracy": result["accuracy"]}


@contextmanager
def _torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``num_threads`` torch threads, restoring the setting on exit."""
    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class _ClientFactory:
    """Picklable ``client_fn(context)``: builds the :class:`LamClient` of a simulated node."""

    model: nn.Module
    partitions: list[tuple[Tensor, Tensor]]
    train_config: TrainConfig
    mode: str
    ranks: list[int] | None
    alphas: list[float] | None
    lora_blocks: Sequence[str | int] | None
    lora_targets: Sequence[str] | None
    num_threads: int

    def __call__(self, context: Context):
        client_id = int(context.node_config["partition-id"])
        client = LamClient(
            self.model,
            self.partitions[client_id],
            train_config=self.train_config,
            mode=self.mode,
            rank=None if self.ranks is None else self.ranks[client_id],
            alpha=None if self.alphas is None else self.alphas[client_id],
            lora_blocks=self.lora_blocks,
            lora_targets=self.lora_targets,
            client_id=client_id,
            num_threads=self.num_threads,
        )
        return client.to_client()


@dataclass
class _ServerFactory:
    """``server_fn(context)`` handing Flower the (in-process) strategy and round count."""

    strategy: SpikesatFedAvg
    num_rounds: int

    def __call__(self, context: Context) -> ServerAppComponents:
        return ServerAppComponents(
            strategy=self.strategy, config=ServerConfig(num_rounds=self.num_rounds)
        )


@dataclass
class FlowerRunResult:
    """What :func:`run_flower_simulation` returns.

    Attributes
    ----------
    history : list of dict
        :attr:`SpikesatFedAvg.history` (one entry per round).
    evaluations : list of dict
        :attr:`SpikesatFedAvg.evaluations` (server-side test accuracy per round).
    final_state : dict[str, Tensor]
        The global model's state dict after the last round.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    final_state: dict[str, Tensor] = field(default_factory=dict)


def run_flower_simulation(
    model: nn.Module,
    partitions: Sequence[Any],
    num_rounds: int,
    mode: str = "full",
    ranks: Sequence[int] | None = None,
    alphas: Sequence[float] | None = None,
    train_config: TrainConfig | None = None,
    test_data: Any | None = None,
    lora_blocks: Sequence[str | int] | None = None,
    lora_targets: Sequence[str] | None = None,
    num_cpus: int = 1,
    num_threads_per_client: int = 1,
) -> FlowerRunResult:
    """Run a Flower simulation (Ray backend) of :class:`LamClient`s and :class:`SpikesatFedAvg`.

    Every client takes part in every round (``fraction_fit = 1``); clients are evaluated only
    on the server side, on ``test_data``. Flower starts a local Ray instance with ``num_cpus``
    CPUs (or reuses a running one, whose CPU count then applies) and shuts Ray down when the
    simulation ends. The server runs in this process; the clients run in Ray actors, each
    built from a pickled copy of ``model`` and its partition.

    Parameters
    ----------
    model : LAM
        The initial global model.
    partitions : sequence
        One ``(images [N_i, C, H, W], labels [N_i])`` (or dataset) per client.
    num_rounds : int
        Federated rounds, >= 1.
    mode : {"full", "lora-stack", "lora-zero-pad"}
        See :class:`SpikesatFedAvg`.
    ranks, alphas : sequence, optional
        Per-client LoRA rank / ``lora_alpha`` (LoRA modes; ``ranks`` is required there).
    train_config : TrainConfig, optional
        Local training per round (default: one epoch, batch 128).
    test_data : optional
        Server-side evaluation data.
    lora_blocks, lora_targets : optional
        :func:`add_lora` arguments shared by all clients.
    num_cpus : int
        CPUs of the local Ray instance Flower starts (clients run one per CPU).
    num_threads_per_client : int
        torch threads of each client's local training (set around every fit and restored
        after it, in the client's Ray actor process).

    Returns
    -------
    FlowerRunResult
    """
    _check_mode(mode)
    num_clients = len(partitions)
    if num_clients < 1:
        raise ValueError("partitions is empty: pass one (images, labels) partition per client")
    if isinstance(num_rounds, bool) or not isinstance(num_rounds, int) or num_rounds < 1:
        raise ValueError(f"num_rounds must be a positive int, got {num_rounds!r}")
    if mode != "full" and (ranks is None or len(ranks) != num_clients):
        raise ValueError(
            f"mode {mode!r} needs one LoRA rank per client ({num_clients}), got {ranks}"
        )
    if alphas is not None and len(alphas) != num_clients:
        raise ValueError(f"alphas must have one entry per client ({num_clients}), got {alphas}")
    strategy = SpikesatFedAvg(
        model,
        mode=mode,
        test_data=test_data,
        lora_blocks=lora_blocks,
        lora_targets=lora_targets,
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=num_clients,
        min_evaluate_clients=0,
        min_available_clients=num_clients,
        accept_failures=False,
    )
    client_fn = _ClientFactory(
        model=copy.deepcopy(model).cpu(),
        partitions=[as_tensors(p) for p in partitions],
        train_config=train_config or TrainConfig(epochs=1),
        mode=mode,
        ranks=None if ranks is None else list(ranks),
        alphas=None if alphas is None else [float(a) for a in alphas],
        lora_blocks=lora_blocks,
        lora_targets=lora_targets,
        num_threads=num_threads_per_client,
    )
    run_simulation(
        server_app=ServerApp(server_fn=_ServerFactory(strategy, num_rounds)),
        client_app=ClientApp(client_fn=client_fn),
        num_supernodes=num_clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": num_cpus, "include_dashboard": False},
        },
    )
    if len(strategy.history) != num_rounds:
        raise RuntimeError(
            f"the Flower simulation completed {len(strategy.history)} of {num_rounds} rounds; "
            "see Flower's log above for the client error"
        )
    return FlowerRunResult(
        history=strategy.history,
        evaluations=strategy.evaluations,
        final_state=strategy.global_state(),
    )
