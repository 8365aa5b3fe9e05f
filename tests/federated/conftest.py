"""Fixtures for the federated tests: a small two-plane shell, its network and tiny data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from spikesat.federated import LocalConfig, Network, build_network, federated_data
from spikesat.federated.data import FederatedData
from spikesat.orbits import walker_delta


@pytest.fixture(scope="session")
def small_network() -> Network:
    """20 satellites in 2 planes of 10 (ISL ring neighbours 36 deg apart) at 550 km / 53 deg,
    the 6 default stations, 36 h at 60 s."""
    shell = walker_delta(20, 2, 1, altitude_km=550.0, inclination_deg=53.0, name="test-2x10")
    return build_network(shell, "default", horizon_h=36.0, step_s=60.0)


@pytest.fixture(scope="session")
def small_data(small_network: Network) -> FederatedData:
    """120 synthetic 32 x 32 scenes over the 20 satellites (Dirichlet 0.5), 40 test scenes."""
    return federated_data(
        small_network.num_sats, num_train=120, num_test=40, planes=small_network.planes, seed=0
    )


@pytest.fixture(scope="session")
def local_config() -> LocalConfig:
    """One quick local epoch."""
    return LocalConfig(epochs=1, batch_size=8, lr=1e-3)


@pytest.fixture(scope="session")
def centralised_sgd_step(small_data: FederatedData):
    """``step(model, trainable, strategy, sats, round, step=0, lr=0.1) -> examples``: one SGD
    step of the whole model on the concatenation of ``SplitLam.batches`` of ``sats`` (seed 0),
    mean cross-entropy: the centralised reference split-lam must equal."""
    import torch
    import torch.nn.functional as F

    batch_source = SimpleNamespace(data=small_data, seed=0)  # what SplitLam.batches reads

    def step(model, trainable, strategy, sats, round, step=0, lr=0.1) -> int:
        batches = strategy.batches(batch_source, sats, round, step)
        images = torch.cat([batches[s][0] for s in sats])
        labels = torch.cat([batches[s][1] for s in sats])
        model.train()
        loss = F.cross_entropy(model(images), labels)
        grads = torch.autograd.grad(loss, trainable)
        with torch.no_grad():
            for param, grad in zip(trainable, grads, strict=True):
                param -= lr * grad
        return len(labels)

    return step


@pytest.fixture(scope="session")
def dropout_free_vit():
    """A factory of vit-micro-p8 at 32 x 32 (seed 3) without drop-path or head dropout."""
    import torch

    from spikesat.models import create

    def build():
        torch.manual_seed(3)
        model = create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, drop_path_rate=0.0)
        model.head.drop.p = 0.0
        return model

    return build
