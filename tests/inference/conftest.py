"""Fixtures for placement tests: a small service graph, a real small network, hand-made routes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from spikesat.federated.compute import ComputeProfile
from spikesat.inference import Link, Network, Node, multitask_lam, service_graph


@pytest.fixture(scope="session")
def placement_graph():
    """vit-micro-p8 with RGB and MS tokenizers, three heads, cut after blocks.1 (8 services)."""
    mtl = multitask_lam("vit-micro-p8", ("rgb", "ms"), ("landcover", "cloud", "ndvi")).eval()
    return service_graph(mtl, cuts=["blocks.1"])


@pytest.fixture(scope="session")
def fed_network():
    """20 satellites in 2 planes of 10 at 550 km / 53 deg, the 6 default stations, 3 h at 60 s."""
    from spikesat.federated import build_network
    from spikesat.orbits import walker_delta

    shell = walker_delta(20, 2, 1, altitude_km=550.0, inclination_deg=53.0, name="test-2x10")
    return build_network(shell, "default", horizon_h=3.0, step_s=60.0)


def _computer(name: str, macs_per_s: float, power_w: float) -> ComputeProfile:
    return ComputeProfile(name, macs_per_s, power_w, source="test", status="estimated")


@pytest.fixture
def route():
    """``route(num_sats, seed, **budgets)``: a hand-made route of ``num_sats`` satellites and
    a station, with random (seeded) computers and link rates, so that costs trade off."""

    def make(
        num_sats: int = 2,
        seed: int = 0,
        memory_bytes: float = math.inf,
        energy_budget_j: float = math.inf,
        wait_s: float = 0.0,
    ) -> Network:
        rng = np.random.default_rng(seed)
        nodes = {}
        names = [f"sat:{i}" for i in range(num_sats)] + ["gs:0"]
        for i, name in enumerate(names):
            ground = name.startswith("gs")
            macs = 10 ** rng.uniform(11.5, 13) if ground else 10 ** rng.uniform(8, 10)
            power = rng.uniform(100, 400) if ground else rng.uniform(2, 20)
            nodes[name] = Node(
                name, "ground" if ground else "satellite", i, _computer(name, macs, power),
                math.inf if ground else memory_bytes, math.inf if ground else energy_budget_j,
                None if ground else bool(rng.random() < 0.5), name,
            )  # fmt: skip
        links = {}
        for a, b in itertools.pairwise(names):
            kind = "downlink" if b.startswith("gs") else "isl"
            rate = 10 ** rng.uniform(5, 8)
            links[(a, b)] = Link(a, b, kind, rate, 1000.0, 1000.0 / 299_792.458, rng.uniform(1, 20))
        return Network(0, 0.0, wait_s, nodes, links, "sat:0", names)

    return make
