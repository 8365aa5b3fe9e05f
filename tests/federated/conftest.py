"""Fixtures for the federated tests: a small two-plane shell, its network and tiny data."""

from __future__ import annotations

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
