"""Backends: the Ray actors give the local backend's model for the same seed."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from spikesat.federated import RayBackend, create_backend, federate, list_backends


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
