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
