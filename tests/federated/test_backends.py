"""Backends: the Ray actors give the local backend's model for the same seed."""

from __future__ import annotations

import importlib.util
import itertools

import pytest
import torch

from spikesat.federated import LocalConfig, RayBackend, create_backend, federate, list_backends
from spikesat.federated.backends import (
    LocalBackend,
    LocalJob,
    LocalResult,
    LocalTrainer,
    job_seed,
)
from spikesat.federated.backends.ray import pack_results, split_blocks, unpack_results


def test_backend_registry() -> None:
    assert set(list_backends()) >= {"local", "ray"}
    with pytest.raises(ValueError, match="local"):
        create_backend("dask")
    with pytest.raises(ValueError, match="num_actors"):
        RayBackend(num_actors=0)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_equals_local(small_network, small_data, local_config) -> None:
    common = dict(network=small_network, data=small_data, rounds=1, local=local_config, seed=0)
    local = federate("fedisl", backend="local", **common)
    ray = federate("fedisl", backend=RayBackend(num_actors=2), **common)
    for (name, a), b in zip(
        local.model.state_dict().items(), ray.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0.0, msg=name)
    assert local.history[0]["sim_time_s"] == ray.history[0]["sim_time_s"]


def test_ray_backend_refuses_bad_options() -> None:
    for bad in (0, -0.5, float("nan"), float("inf"), "half", True):
        with pytest.raises(ValueError, match="num_cpus_per_actor"):
            RayBackend(num_actors=2, num_cpus_per_actor=bad)
    with pytest.raises(ValueError, match="num_actors"):
        RayBackend(num_actors=2.0)
    with pytest.raises(ValueError, match="num_cpus"):
        RayBackend(num_actors=2, num_cpus=0)
    with pytest.raises(ValueError, match="address"):
        RayBackend(num_actors=2, num_cpus=2, address="auto")
    assert RayBackend(num_actors=4, num_cpus_per_actor=0.5).num_cpus == 2
    assert RayBackend(num_actors=3, num_cpus_per_actor=0.5).num_cpus == 2


def test_split_blocks_are_contiguous_and_balanced() -> None:
    assert split_blocks([1.0] * 10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert split_blocks([1.0] * 1584, 4) == [(0, 396), (396, 792), (792, 1188), (1188, 1584)]
    assert split_blocks([1.0] * 2, 4) == [(0, 1), (1, 2)]
    assert split_blocks([], 4) == []
    # one heavy job at the front gets a block of its own
    assert split_blocks([10.0, 1.0, 1.0, 1.0, 1.0, 1.0], 2) == [(0, 1), (1, 6)]
    weights = [
        float(w) for w in torch.randint(1, 6, (97,), generator=torch.Generator().manual_seed(0))
    ]
    blocks = split_blocks(weights, 4)
    assert blocks[0][0] == 0 and blocks[-1][1] == 97
    assert all(a < b == c for (a, b), (c, _) in itertools.pairwise(blocks))
    loads = [sum(weights[a:b]) for a, b in blocks]
    assert max(loads) - min(loads) <= 2 * max(weights)
    with pytest.raises(ValueError, match="num_blocks"):
        split_blocks([1.0], 0)


def test_packed_results_round_trip() -> None:
    results = [
        LocalResult(s, 3, {"a": torch.full((2, 3), float(s)), "b": torch.arange(4.0) * s}, s, 0.5)
        for s in range(3)
    ]
    back = unpack_results(pack_results(results))
    for a, b in zip(results, back, strict=True):
        assert (a.sat, a.round, a.num_samples, a.train_loss) == (
            b.sat, b.round, b.num_samples, b.train_loss
        )  # fmt: skip
        for name in a.state:
            assert torch.equal(a.state[name], b.state[name])
            assert b.state[name].untyped_storage().nbytes() == a.state[name].nbytes  # compact
    mixed = [LocalResult(0, 0, {"a": torch.zeros(2), "i": torch.zeros(2, dtype=torch.int64)}, 1, 0)]
    assert unpack_results(pack_results(mixed)) == mixed


@pytest.fixture(scope="module")
def two_cpu_ray():
    """A local Ray instance of 2 CPUs shared by the tests below (the backends leave it up)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_fractional_actors_equal_local(two_cpu_ray, small_network, small_data, local_config):
    """4 actors of 0.5 CPU on 2 cores (5 virtual satellites each) give the local model."""
    common = dict(network=small_network, data=small_data, rounds=2, local=local_config, seed=0)
    local = federate("fedisl", backend="local", **common)
    backend = RayBackend(num_actors=4, num_cpus_per_actor=0.5)
    ray = federate("fedisl", backend=backend, **common)
    assert not backend.actors and two_cpu_ray.is_initialized()  # closed, Ray left up
    for (name, a), b in zip(
        local.model.state_dict().items(), ray.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0.0, msg=name)
    assert [h["sim_time_s"] for h in local.history] == [h["sim_time_s"] for h in ray.history]


def test_ray_batches_jobs_of_different_states(two_cpu_ray, small_data, dropout_free_vit):
    """Jobs from two states in one call, dealt to 3 actors: each equals the local run."""
    from spikesat.federated.lora import add_lora

    model = dropout_free_vit()
    add_lora(model, 4, seed=0)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    config = LocalConfig(epochs=1, batch_size=8)
    trainer = LocalTrainer(model, small_data, names, config)
    first = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    second = {n: v + 0.01 for n, v in first.items()}
    jobs = [
        LocalJob(s, 1, job_seed(0, 1, s), first if s % 3 else second)
        for s in range(small_data.num_sats)
    ]
    local = LocalBackend()
    local.start(trainer)
    expected = local.run(jobs)
    backend = RayBackend(num_actors=3, num_cpus_per_actor=0.5)
    backend.start(trainer)
    try:
        assert len(set(backend.actor_pids)) == 3
        got = backend.run(jobs)
        assert backend.run([]) == []
    finally:
        backend.close()
    assert [r.sat for r in got] == [j.sat for j in jobs]
    for a, b in zip(expected, got, strict=True):
        assert (a.num_samples, a.train_loss) == (b.num_samples, b.train_loss)
        for name in names:
            torch.testing.assert_close(a.state[name], b.state[name], atol=1e-6, rtol=0.0)


def test_ray_refuses_more_cpus_than_the_instance(two_cpu_ray, small_data, dropout_free_vit):
    model = dropout_free_vit()
    names = [n for n, _ in model.named_parameters()]
    trainer = LocalTrainer(model, small_data, names, LocalConfig())
    backend = RayBackend(num_actors=3, num_cpus_per_actor=1.0)
    with pytest.raises(RuntimeError, match="3 CPUs but the Ray instance has 2"):
        backend.start(trainer)
    assert not backend.actors and two_cpu_ray.is_initialized()


def test_trainer_loads_states_and_pickles_without_its_cache(small_data, dropout_free_vit):
    import pickle

    model = dropout_free_vit()
    names = [n for n, _ in model.named_parameters() if n.startswith("head.")]
    trainer = LocalTrainer(model, small_data, names, LocalConfig(epochs=1, batch_size=8))
    state = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    first = trainer.run(LocalJob(3, 0, job_seed(0, 0, 3), state))
    assert "_params" in trainer.__dict__
    copy = pickle.loads(pickle.dumps(trainer))
    assert "_params" not in copy.__dict__
    again = copy.run(LocalJob(3, 0, job_seed(0, 0, 3), state))
    for name in names:
        assert torch.equal(first.state[name], again.state[name])
    bad = {**state, names[0]: torch.zeros(1, 1)}
    with pytest.raises(ValueError, match="shape"):
        trainer.run(LocalJob(3, 0, 0, bad))
    with pytest.raises(ValueError, match="exactly the trainable"):
        trainer.run(LocalJob(3, 0, 0, {names[0]: state[names[0]]}))
