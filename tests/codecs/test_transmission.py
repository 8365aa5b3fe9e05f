"""Transmission over a lossy link: seeded packet losses, erasure flags, ARQ accounting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikesat import channels
from spikesat.codecs import create, transmit


def _streams(n: int = 20, mtu: int = 128):
    codec = create("int8", 16, compressor="none", mtu_bytes=mtu)
    x = torch.randn(n, 9, 16, generator=torch.Generator().manual_seed(0))
    return codec, x, codec.compress(x)


def test_clean_link_delivers_everything_exactly(stand_in_link, fixed_loss) -> None:
    codec, _x, streams = _streams()
    model = fixed_loss(0.0)
    sent = transmit(streams, stand_in_link(), packet_error_fn=model)
    assert sent.num_packets_lost == 0 and sent.num_bytes_sent == sent.num_bytes_offered
    assert torch.equal(codec.decompress(sent.bitstreams), codec.decompress(streams))
    assert model.calls[0][1:] == (5.0, "QPSK 1/2", None)
    expected = 8 * sent.num_bytes_sent / 1e6 + 0.005
    assert sent.delay_s == pytest.approx(expected)


def test_dead_link_erases_and_flags(stand_in_link, fixed_loss) -> None:
    codec, _x, streams = _streams(n=5)
    sent = transmit(streams, stand_in_link(), packet_error_fn=fixed_loss(1.0))
    result = codec.decompress(sent.bitstreams, on_error="flag", shape=(9, 16))
    assert result.corrupted and bool(result.erasure_mask.all())
    with pytest.raises(ValueError, match="no packet received"):
        codec.decompress(sent.bitstreams)


def test_loss_rate_matches_probability_and_is_seeded(stand_in_link, fixed_loss) -> None:
    _, _, streams = _streams(n=200)
    num_packets = sum(s.num_packets for s in streams)
    a = transmit(streams, stand_in_link(), packet_error_fn=fixed_loss(0.3), seed=4)
    b = transmit(streams, stand_in_link(), packet_error_fn=fixed_loss(0.3), seed=4)
    assert a.num_packets_lost == b.num_packets_lost
    sigma = np.sqrt(num_packets * 0.3 * 0.7)
    assert abs(a.num_packets_lost - 0.3 * num_packets) < 4 * sigma


def test_arq_counts_bytes_rounds_and_delay(stand_in_link, fixed_loss) -> None:
    _, _, streams = _streams(n=50)
    link = stand_in_link()
    sent = transmit(
        streams, link, arq=True, max_retransmissions=6, packet_error_fn=fixed_loss(0.3), seed=1
    )
    size = streams[0].packets[0].num_bytes
    assert all(p.num_bytes == size for s in streams for p in s.packets[:-1])
    assert sent.num_retransmissions > 0
    assert sent.num_packets_sent == sum(s.num_packets for s in streams) + sent.num_retransmissions
    assert sent.num_bytes_sent > sent.num_bytes_offered
    expected = 8 * sent.num_bytes_sent / link.rate_bps + (1 + 2 * sent.num_rounds) * link.delay_s
    assert sent.delay_s == pytest.approx(expected)
    # P(a packet fails 7 times) = 0.3**7 ~ 2e-4: almost everything arrives.
    assert sent.num_packets_lost <= 2


def test_corrupt_mode_is_caught_by_crc(stand_in_link, fixed_loss) -> None:
    codec, _x, streams = _streams(n=30)
    sent = transmit(
        streams, stand_in_link(), loss="corrupt", packet_error_fn=fixed_loss(0.5), seed=2
    )
    assert sent.num_packets_lost > 0
    result = codec.decompress(sent.bitstreams, on_error="flag", shape=(9, 16))
    damaged = result.erasure_mask
    assert bool(damaged.any())
    clean = codec.decompress(streams)
    assert torch.equal(result.x_hat[~damaged], clean[~damaged])


def test_bad_arguments(stand_in_link, fixed_loss) -> None:
    _, _, streams = _streams(n=2)
    with pytest.raises(ValueError, match="loss"):
        transmit(streams, stand_in_link(), loss="drop", packet_error_fn=fixed_loss(0))
    with pytest.raises(ValueError, match="link_state has no 'snr_db'"):
        transmit(streams, object(), packet_error_fn=fixed_loss(0))
    with pytest.raises(ValueError, match="link is down"):
        transmit(streams, stand_in_link(rate_bps=0.0), packet_error_fn=fixed_loss(0))
    with pytest.raises(ValueError, match=r"not in \[0, 1\]"):
        transmit(streams, stand_in_link(), packet_error_fn=fixed_loss(1.5))
    with pytest.raises(ValueError, match="max_retransmissions"):
        transmit(
            streams,
            stand_in_link(),
            arq=True,
            max_retransmissions=-1,
            packet_error_fn=fixed_loss(0),
        )


def test_default_model_is_spikesat_channels() -> None:
    _, _, streams = _streams(n=10)
    good = channels.LinkState(
        snr_db=6.0, rate_bps=1e6, modcod="QPSK 1/2", delay_s=0.004, spectral_efficiency=0.99
    )
    bad = channels.LinkState(
        snr_db=-3.0, rate_bps=1e6, modcod="QPSK 1/2", delay_s=0.004, spectral_efficiency=0.99
    )
    assert transmit(streams, good).num_packets_lost == 0  # 5 dB above threshold
    assert transmit(streams, bad).num_packets_lost == sum(s.num_packets for s in streams)
