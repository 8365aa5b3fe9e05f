"""Channel layers: ``nn.Module`` fading models with a generate step and an apply step."""

from __future__ import annotations

from spikesat.channels.fading.awgn import AWGN
from spikesat.channels.fading.base import (
    CHANNELS,
    ChannelRealization,
    CoefficientDraw,
    FadingChannel,
    complex_normal,
)
from spikesat.channels.fading.jakes import Jakes, circular_orbit_speed_km_s, doppler_hz
from spikesat.channels.fading.lognormal import LogNormal
from spikesat.channels.fading.rayleigh import Rayleigh
from spikesat.channels.fading.rician import Rician
from spikesat.channels.fading.shadowed_rician import SHADOWING_LEVELS, ShadowedRician
from spikesat.channels.fading.tr38811 import TR38811

__all__ = [
    "AWGN",
    "CHANNELS",
    "SHADOWING_LEVELS",
    "TR38811",
    "ChannelRealization",
    "CoefficientDraw",
    "FadingChannel",
    "Jakes",
    "LogNormal",
    "Rayleigh",
    "Rician",
    "ShadowedRician",
    "circular_orbit_speed_km_s",
    "complex_normal",
    "doppler_hz",
]
