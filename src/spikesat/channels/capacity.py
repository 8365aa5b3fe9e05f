"""Shannon capacity and outage probability over fading."""

from __future__ import annotations

import numpy as np

from spikesat.channels._checks import check_positive, check_snr_array_db
from spikesat.channels.fading.base import FadingChannel


def shannon_capacity_bps(bandwidth_hz: float, snr_db: object) -> np.ndarray | float:
    """AWGN capacity ``B log2(1 + SNR)`` [bit/s].

    Parameters
    ----------
    bandwidth_hz : float
        Bandwidth [Hz] in which ``snr_db`` is measured.
    snr_db : float or array
        Signal-to-noise ratio in that bandwidth [dB].
    """
    bandwidth = check_positive(bandwidth_hz, "bandwidth_hz")
    snr = check_snr_array_db(snr_db)
    capacity = bandwidth * np.log2(1.0 + 10.0 ** (snr / 10.0))
    return float(capacity) if capacity.ndim == 0 else capacity


def outage_probability(
    rate_bits_per_symbol: float, snr_db: object, fading: FadingChannel | None = None
) -> np.ndarray | float:
    """``P(log2(1 + SNR |h|^2) < R) = F_{|h|^2}((2^R - 1) / SNR)`` for block fading.

    Parameters
    ----------
    rate_bits_per_symbol : float
        Target rate ``R`` [bit per complex symbol], > 0.
    snr_db : float or array
        Mean SNR [dB].
    fading : FadingChannel, optional
        A model with an analytic power-gain CDF; ``None`` is AWGN (outage is 0 or 1).
    """
    rate = check_positive(rate_bits_per_symbol, "rate_bits_per_symbol")
    snr = 10.0 ** (check_snr_array_db(snr_db) / 10.0)
    required_gain = (2.0**rate - 1.0) / snr
    if fading is None:
        outage = (required_gain > 1.0).astype(np.float64)
    else:
        outage = np.asarray(fading.power_gain_cdf(required_gain), dtype=np.float64)
    return float(outage) if outage.ndim == 0 else outage
