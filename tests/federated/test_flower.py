"""Tests of spikesat.federated.flower: the Flower strategy, client and a Ray-backed simulation."""

from __future__ import annotations

import importlib.util

import pytest
import torch

import spikesat.models as models
from spikesat.data import synthetic_scenes
from spikesat.federated.aggregate import weighted_average
from spikesat.train import TrainConfig

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("flwr") is None,
    reason="flwr not installed: pip install spikesat[flower]",
)

IMAGE_SIZE = 32
NUM_CLIENTS = 3
NUM_SCENES = 64
TRAIN = TrainConfig(epochs=1, batch_size=32, lr=2e-3, augment=False, seed=0, device="cpu")


def _model() -> models.LAM:
    torch.manual_seed(0)
    return models.create("vit-micro-p8", img_size=IMAGE_SIZE)


def _partitions() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [
        synthetic_scenes(NUM_SCENES + 16 * i, image_size=IMAGE_SIZE, seed=10 + i).tensors()
        for i in range(NUM_CLIENTS)
    ]


def _fit_res(parameters, num_examples: int, metrics: dict):
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters

    return FitRes(Status(Code.OK, ""), ndarrays_to_parameters(parameters), num_examples, metrics)


def _manual_rounds(mode: str, num_rounds: int, ranks=None, alphas=None):
    """The federation of run_flower_simulation, driven by hand in this process (no Ray)."""
    from flwr.common import parameters_to_ndarrays

    from spikesat.federated.flower import LamClient, SpikesatFedAvg

    model = _model()
    strategy = SpikesatFedAvg(model, mode=mode)
    clients = [
        LamClient(
            model,
            part,
            train_config=TRAIN,
            mode=mode,
            rank=None if ranks is None else ranks[i],
            alpha=None if alphas is None else alphas[i],
            client_id=i,
        )
        for i, part in enumerate(_partitions())
    ]
    parameters = strategy.initial_parameters
    client_states = []
    for server_round in range(1, num_rounds + 1):
        arrays = parameters_to_ndarrays(parameters)
        results = []
        client_states = []
        for client in clients:
            payload, num_examples, metrics = client.fit(arrays, {"server_round": server_round})
            client_states.append({k: v.clone() for k, v in client.model.state_dict().items()})
            results.append((None, _fit_res(payload, num_examples, metrics)))
        # Arrival order must not matter: the strategy sorts by client id.
        parameters, _ = strategy.aggregate_fit(server_round, results[::-1], [])
    return strategy, clients, client_states


def test_full_mode_aggregate_fit_is_weighted_average() -> None:
    strategy, clients, client_states = _manual_rounds("full", num_rounds=1)
    weights = [len(c.train_data[1]) for c in clients]
    expected = weighted_average(client_states, weights)
    got = strategy.global_state()
    assert list(got) == list(expected)
    for key in expected:
        assert torch.equal(got[key], expected[key]), key
    (record,) = strategy.history
    assert record["num_clients"] == NUM_CLIENTS
    assert record["num_examples"] == sum(weights)
    payload_bytes = sum(v.numel() * v.element_size() for v in client_states[0].values())
    assert record["bytes_up"] == NUM_CLIENTS * payload_bytes


def test_lora_stack_merges_exact_weighted_sum_and_sends_less() -> None:
    from spikesat.federated.lora import base_state

    ranks, alphas = [2, 4, 8], [2.0, 8.0, 8.0]
    strategy, clients, _ = _manual_rounds("lora-stack", num_rounds=1, ranks=ranks, alphas=alphas)
    initial = _model().state_dict()
    weights = torch.tensor([len(c.train_data[1]) for c in clients], dtype=torch.float64)
    weights = weights / weights.sum()
    got = strategy.global_state()
    qkv = "blocks.1.attn.qkv"
    update = sum(
        w
        * (a / r)
        * (c.model.get_submodule(qkv).lora_B["default"].weight.double())
        @ c.model.get_submodule(qkv).lora_A["default"].weight.double()
        for w, r, a, c in zip(weights, ranks, alphas, clients, strict=True)
    )
    expected = (initial[f"{qkv}.weight"].double() + update).float()
    torch.testing.assert_close(got[f"{qkv}.weight"], expected, rtol=0, atol=1e-7)
    # frozen parts (patch embedding, norms) are untouched; the head is averaged.
    assert torch.equal(got["blocks.0.norm1.weight"], initial["blocks.0.norm1.weight"])
    heads = [
        {k: v for k, v in base_state(c.model).items() if k.startswith("head.")} for c in clients
    ]
    head = weighted_average(heads, weights.tolist())
    assert all(torch.equal(got[k], v) for k, v in head.items())
    assert strategy.history[0]["ranks"] == ranks
    full_bytes = sum(v.numel() * 4 for v in initial.values())
    assert strategy.history[0]["bytes_up"] < NUM_CLIENTS * full_bytes / 2


def test_flower_simulation_matches_in_process_federation() -> None:
    """A real Flower simulation (Ray) of 3 clients x 2 rounds equals the hand-driven rounds."""
    from spikesat.federated.flower import run_flower_simulation

    ranks = [2, 4, 8]
    test_data = synthetic_scenes(64, image_size=IMAGE_SIZE, seed=99).tensors()
    result = run_flower_simulation(
        _model(),
        _partitions(),
        num_rounds=2,
        mode="lora-stack",
        ranks=ranks,
        train_config=TRAIN,
        test_data=test_data,
        num_cpus=1,
    )
    assert [h["round"] for h in result.history] == [1, 2]
    assert [e["round"] for e in result.evaluations] == [0, 1, 2]
    assert all(0.0 <= e["accuracy"] <= 1.0 for e in result.evaluations)
    strategy, _, _ = _manual_rounds("lora-stack", num_rounds=2, ranks=ranks)
    expected = strategy.global_state()
    for key, value in expected.items():
        torch.testing.assert_close(result.final_state[key], value, rtol=0, atol=1e-6)
    assert any(not torch.equal(result.final_state[k], v) for k, v in _model().state_dict().items())


def test_flower_bad_input() -> None:
    from spikesat.federated.flower import LamClient, SpikesatFedAvg, run_flower_simulation

    with pytest.raises(ValueError, match="choose one of"):
        SpikesatFedAvg(_model(), mode="fedprox")
    with pytest.raises(ValueError, match="rank"):
        LamClient(_model(), _partitions()[0], mode="lora-stack")
    with pytest.raises(ValueError, match="one LoRA rank per client"):
        run_flower_simulation(_model(), _partitions(), 1, mode="lora-zero-pad", ranks=[2])
    with pytest.raises(ValueError, match="initial_parameters"):
        SpikesatFedAvg(_model(), initial_parameters=None)
