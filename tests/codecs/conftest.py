"""Stand-ins shared by the codec tests: a link state and a fixed packet-error model."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class StandInLink:
    """Stand-in for spikesat.channels.LinkState."""

    snr_db: float = 5.0
    modcod: str = "QPSK 1/2"
    rate_bps: float = 1e6
    delay_s: float = 0.005
    spectral_efficiency: float = 1.0


class FixedLoss:
    """Stand-in packet-error model: a fixed probability, recording its calls."""

    def __init__(self, p: float) -> None:
        self.p = p
        self.calls: list[tuple] = []

    def __call__(self, num_bytes, snr_db, modcod, fading=None) -> float:
        self.calls.append((num_bytes, snr_db, modcod, fading))
        return self.p


@pytest.fixture
def stand_in_link() -> type[StandInLink]:
    """The :class:`StandInLink` class: call it (with overrides) for a link state."""
    return StandInLink


@pytest.fixture
def fixed_loss() -> type[FixedLoss]:
    """The :class:`FixedLoss` class: ``fixed_loss(p)`` loses every packet with probability p."""
    return FixedLoss


SMALL_OPTIONS: dict[str, dict] = {
    "factorized": {"hidden_channels": 8, "latent_channels": 4},
    "hyperprior": {"hidden_channels": 8, "latent_channels": 4, "hyper_channels": 2},
}
"""Small learned codecs, so the per-codec contract tests stay fast."""


@pytest.fixture
def small_codec():
    """``small_codec(name, seed=0, **options)``: a byte codec on RGB maps with 48-byte packets.

    Learned codecs draw their initial weights from torch's global generator, so the fixture
    builds them under a fixed seed: the weights, and every test's outcome, do not depend on
    which tests ran first in the worker.
    """
    import torch

    from spikesat.codecs import create
    from spikesat.train.rng import seeded_global_rng

    def make(name: str, seed: int = 0, **options):
        with seeded_global_rng(seed, torch.device("cpu")):
            codec = create(name, 3, mtu_bytes=48, **{**SMALL_OPTIONS.get(name, {}), **options})
        return codec.eval()

    return make


@pytest.fixture
def images():
    """``images(seed, size=16)``: a batch of 3 RGB images ``[3, 3, size, size]`` in [0, 1]."""
    import torch

    def make(seed: int = 0, size: int = 16):
        return torch.rand(3, 3, size, size, generator=torch.Generator().manual_seed(seed))

    return make


@pytest.fixture
def inputs(images):
    """``inputs(name, seed, size=16)``: a batch of 3 examples ``[3, 3, size, size]`` for codec
    ``name``: images in [0, 1] for the image codecs, features in [0, 10] for the others (so
    even an untrained learned codec gives every example its own bytes and decode)."""
    from spikesat.codecs import CODECS

    def make(name: str, seed: int = 0, size: int = 16):
        scale = 1.0 if not CODECS.get(name).accepts_tokens else 10.0
        return images(seed, size) * scale

    return make
