"""Sending bitstreams over a link: packet errors and erasures, and selective-repeat ARQ.

Each packet is lost independently with the probability the channel model gives for its size at
the link's SNR and MODCOD (``spikesat.channels.packet_error_probability``). A lost packet is
either dropped (``loss="erase"``: the link layer discarded it) or delivered with flipped bits
(``loss="corrupt"``: the receiver's CRC-32 must catch it). With ``arq=True`` the receiver
asks for every lost packet again (selective repeat) up to ``max_retransmissions`` times; every
extra copy is counted in bytes and time.

Time model: all bytes sent are serialised at ``link_state.rate_bps``; the first round costs one
propagation delay, and every retransmission round a NACK back plus the resend (two
propagation delays): ``delay_s = 8 * bytes_sent / rate_bps + (1 + 2 * rounds) * delay_s``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from spikesat.codecs.bitstream import Bitstream, Packet

PacketErrorFn = Callable[..., float]
"""``f(num_bytes, snr_db, modcod, fading=None) -> probability`` (the channels' signature)."""


@dataclass
class TransmissionResult:
    """What arrived and what it cost.

    Attributes
    ----------
    bitstreams : list of Bitstream
        What the receiver holds, one per example sent (possibly missing or corrupted packets).
    num_bytes_offered : int
        Bytes of the original bitstreams.
    num_bytes_sent : int
        Bytes put on the link, retransmissions included.
    num_packets_sent : int
        Packets put on the link, retransmissions included.
    num_packets_lost : int
        Packets that never arrived intact (after ARQ).
    num_retransmissions : int
        Extra packet copies sent by ARQ.
    num_rounds : int
        ARQ rounds after the first.
    delay_s : float
        Time until the last packet arrived [s] (see the module docstring).
    packet_error_probability : dict
        Packet size [bytes] -> loss probability used.
    """

    bitstreams: list[Bitstream]
    num_bytes_offered: int
    num_bytes_sent: int
    num_packets_sent: int
    num_packets_lost: int
    num_retransmissions: int
    num_rounds: int
    delay_s: float
    packet_error_probability: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the bitstreams left out)."""
        return {
            "num_bytes_offered": self.num_bytes_offered,
            "num_bytes_sent": self.num_bytes_sent,
            "num_packets_sent": self.num_packets_sent,
            "num_packets_lost": self.num_packets_lost,
            "num_retransmissions": self.num_retransmissions,
            "num_rounds": self.num_rounds,
            "delay_s": self.delay_s,
        }


def corrupt_packet(packet: Packet, rng: np.random.Generator, max_bit_flips: int = 8) -> Packet:
    """Flip 1..``max_bit_flips`` random bits of ``packet`` (a packet the channel damaged).

    The result keeps the original framing (so it can still be located) with the damaged raw
    bytes; its ``crc_ok`` is False unless the flips happen to form a CRC-32 codeword.
    """
    raw = bytearray(packet.raw)
    num_bits = len(raw) * 8
    for bit in rng.choice(num_bits, size=int(rng.integers(1, max_bit_flips + 1)), replace=False):
        raw[bit // 8] ^= 1 << (bit % 8)
    return dataclasses.replace(packet, raw=bytes(raw))


def transmit(
    bitstreams: Sequence[Bitstream],
    link_state: Any,
    *,
    arq: bool = False,
    max_retransmissions: int = 3,
    loss: Literal["erase", "corrupt"] = "erase",
    fading: Any = None,
    seed: int = 0,
    packet_error_fn: PacketErrorFn | None = None,
) -> TransmissionResult:
    """Send bitstreams over one link state.

    Parameters
    ----------
    bitstreams : sequence of Bitstream
        What the codec produced.
    link_state : LinkState
        Needs ``snr_db`` [dB], ``modcod`` (name), ``rate_bps`` [bit/s] and ``delay_s``
        (one-way propagation) [s], as ``spikesat.channels.LinkState`` has.
    arq : bool
        Retransmit lost packets (selective repeat).
    max_retransmissions : int
        Most extra copies of one packet.
    loss : {"erase", "corrupt"}
        What a lost packet becomes at the receiver.
    fading : optional
        Passed on to the packet-error model (e.g. a fading model name).
    seed : int
        Seed of the loss draws.
    packet_error_fn : callable, optional
        ``f(num_bytes, snr_db, modcod, fading=None)``; default
        ``spikesat.channels.packet_error_probability`` (with the link state's MODCOD table).

    Returns
    -------
    TransmissionResult

    Raises
    ------
    ValueError
        On a bad option, a link state without the needed fields, or a probability out of [0, 1].
    """
    if loss not in ("erase", "corrupt"):
        raise ValueError(f"loss must be 'erase' or 'corrupt', got {loss!r}")
    if isinstance(max_retransmissions, bool) or not isinstance(max_retransmissions, int):
        raise TypeError(f"max_retransmissions must be an int, got {max_retransmissions!r}")
    if max_retransmissions < 0:
        raise ValueError(f"max_retransmissions must be >= 0, got {max_retransmissions}")
    for name in ("snr_db", "modcod", "rate_bps", "delay_s"):
        if not hasattr(link_state, name):
            raise ValueError(
                f"link_state has no {name!r}; pass a spikesat.channels.LinkState (snr_db, "
                "modcod, rate_bps, delay_s)"
            )
    rate_bps = float(link_state.rate_bps)
    if not rate_bps > 0:
        raise ValueError(f"link_state.rate_bps must be > 0 (the link is down), got {rate_bps}")
    options: dict[str, Any] = {"fading": fading}
    if packet_error_fn is None:
        from spikesat.channels import packet_error_probability as packet_error_fn

        if hasattr(link_state, "modcod_table"):
            options["table"] = link_state.modcod_table
    rng = np.random.default_rng(seed)
    cache: dict[int, float] = {}

    def loss_probability(num_bytes: int) -> float:
        if num_bytes not in cache:
            p = float(
                packet_error_fn(
                    num_bytes, float(link_state.snr_db), link_state.modcod, fading=fading
                )
            )
            if not 0.0 <= p <= 1.0:
                raise ValueError(
                    f"packet error probability {p} for {num_bytes} bytes is not in [0, 1]"
                )
            cache[num_bytes] = p
        return cache[num_bytes]

    attempts = 1 + (max_retransmissions if arq else 0)
    received: list[Bitstream] = []
    offered = sent_bytes = sent_packets = lost = retransmissions = rounds = 0
    for stream in bitstreams:
        if not isinstance(stream, Bitstream):
            raise TypeError(f"expected Bitstream objects, got {type(stream).__name__}")
        kept: list[Packet] = []
        for packet in stream.packets:
            offered += packet.num_bytes
            p = loss_probability(packet.num_bytes)
            for attempt in range(attempts):
                sent_bytes += packet.num_bytes
                sent_packets += 1
                retransmissions += attempt > 0
                rounds = max(rounds, attempt)
                if rng.random() >= p:
                    kept.append(packet)
                    break
            else:
                lost += 1
                if loss == "corrupt":
                    kept.append(corrupt_packet(packet, rng))
        received.append(Bitstream(kept))
    delay_s = 8.0 * sent_bytes / rate_bps + (1 + 2 * rounds) * float(link_state.delay_s)
    return TransmissionResult(
        received, offered, sent_bytes, sent_packets, lost, retransmissions, rounds, delay_s, cache
    )
