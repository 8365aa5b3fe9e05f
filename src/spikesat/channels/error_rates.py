"""Closed-form bit error rates of uncoded BPSK and Gray-coded QPSK with coherent detection.

``snr_db`` is Es/N0 per complex symbol (the convention of the channel layers). With complex
noise of power N0, BPSK has ``BER = Q(sqrt(2 Es/N0))`` and Gray QPSK (two bits per symbol)
``BER = Q(sqrt(Es/N0))`` on AWGN. Over Rayleigh fading with mean SNR ``g`` the averages are
``(1 - sqrt(g / (1 + g))) / 2`` for BPSK and the same with ``g / 2`` for QPSK (Proakis,
Digital Communications, 5th ed., eq. 13.3-13; Simon and Alouini, Digital Communication over
Fading Channels, 2nd ed., Section 8.1.1).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from spikesat.channels._checks import check_choice, check_snr_array_db

MODULATIONS = ("bpsk", "qpsk")


def q_function(x: object) -> np.ndarray:
    """The Gaussian tail ``Q(x) = P(N(0, 1) > x)``."""
    return special.ndtr(-np.asarray(x, dtype=np.float64))


def ber_awgn(modulation: str, snr_db: object) -> np.ndarray:
    """Bit error rate on AWGN at Es/N0 ``snr_db`` [dB]."""
    check_choice(modulation, MODULATIONS, "modulation")
    snr = 10.0 ** (check_snr_array_db(snr_db) / 10.0)
    factor = 2.0 if modulation == "bpsk" else 1.0
    return q_function(np.sqrt(factor * snr))


def ber_rayleigh(modulation: str, snr_db: object) -> np.ndarray:
    """Average bit error rate over Rayleigh block fading at mean Es/N0 ``snr_db`` [dB]."""
    check_choice(modulation, MODULATIONS, "modulation")
    snr = 10.0 ** (check_snr_array_db(snr_db) / 10.0)
    per_bit = snr if modulation == "bpsk" else snr / 2.0
    return 0.5 * (1.0 - np.sqrt(per_bit / (1.0 + per_bit)))
