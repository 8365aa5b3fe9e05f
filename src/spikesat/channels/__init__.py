"""Channels: link budgets, ITU-R atmosphere, fading layers, capacity and ACM, link traces.

- :func:`free_space_path_loss_db`, :class:`LinkBudget` (``.preset(name)``, ``.presets()``,
  ``.snr_db``, ``.cn0_dbhz``, ``.capacity_bps``) and :class:`ItuAtmosphere`;
- fading layers from :func:`create` (``"awgn"``, ``"rayleigh"``, ``"rician"``,
  ``"shadowed-rician"``, ``"lognormal"``, ``"tr38811"``, ``"jakes"``) listed by
  :func:`list_channels`: ``nn.Module`` s with ``forward(x, snr_db)``, ``generate`` and ``apply``;
- :func:`shannon_capacity_bps`, :func:`outage_probability`, the DVB-S2/S2X tables
  (:func:`modcod_table`, :func:`achievable_rate_bps`) and :func:`packet_error_probability`;
- :func:`link_trace` over a ``ContactPlan``, giving a :class:`LinkTrace` and :class:`LinkState`.
"""

from __future__ import annotations

from typing import Any

from spikesat.channels.atmosphere import ItuAtmosphere
from spikesat.channels.capacity import outage_probability, shannon_capacity_bps
from spikesat.channels.error_rates import ber_awgn, ber_rayleigh, q_function
from spikesat.channels.fading import (
    AWGN,
    CHANNELS,
    SHADOWING_LEVELS,
    TR38811,
    ChannelRealization,
    FadingChannel,
    Jakes,
    LogNormal,
    Rayleigh,
    Rician,
    ShadowedRician,
    circular_orbit_speed_km_s,
    doppler_hz,
)
from spikesat.channels.link_budget import LinkBudget
from spikesat.channels.link_trace import IslTrace, LinkState, LinkTrace, link_trace
from spikesat.channels.modcod import Modcod, ModcodTable, achievable_rate_bps, modcod_table
from spikesat.channels.modulation import (
    bpsk_demodulate,
    bpsk_modulate,
    qpsk_demodulate,
    qpsk_modulate,
)
from spikesat.channels.packet_error import frame_error_rate, packet_error_probability
from spikesat.channels.path_loss import free_space_path_loss_db, slant_range_km


def create(name: str, **kwargs: Any) -> FadingChannel:
    """Build the channel layer registered as ``name`` (see :func:`list_channels`).

    Unknown names raise a ``ValueError`` listing the valid ones and the closest match; unknown
    keyword arguments raise a ``TypeError`` from the layer's constructor.
    """
    return CHANNELS.create(name, **kwargs)


def list_channels() -> list[str]:
    """Names of the registered channel layers."""
    return CHANNELS.names()


__all__ = [
    "AWGN",
    "CHANNELS",
    "SHADOWING_LEVELS",
    "TR38811",
    "ChannelRealization",
    "FadingChannel",
    "IslTrace",
    "ItuAtmosphere",
    "Jakes",
    "LinkBudget",
    "LinkState",
    "LinkTrace",
    "LogNormal",
    "Modcod",
    "ModcodTable",
    "Rayleigh",
    "Rician",
    "ShadowedRician",
    "achievable_rate_bps",
    "ber_awgn",
    "ber_rayleigh",
    "bpsk_demodulate",
    "bpsk_modulate",
    "circular_orbit_speed_km_s",
    "create",
    "doppler_hz",
    "frame_error_rate",
    "free_space_path_loss_db",
    "link_trace",
    "list_channels",
    "modcod_table",
    "outage_probability",
    "packet_error_probability",
    "q_function",
    "qpsk_demodulate",
    "qpsk_modulate",
    "shannon_capacity_bps",
    "slant_range_km",
]
