"""Packet error probability of an N-byte packet sent at a DVB-S2/S2X MODCOD.

Model (stated, not fitted):

1. **Frame error rate on AWGN.** A FECFRAME of ``n`` complex symbols at Es/N0 ``g`` fails
   with the normal approximation of finite-blocklength coding (Polyanskiy, Poor and Verdu,
   IEEE Trans. Inf. Theory 56(5), 2010), anchored at the MODCOD's published threshold:

   ``FER(g) = Q( sqrt(n / V(g)) (C(g) - C(g_th)) + Qinv(eps_ref) )``

   with ``C(g) = log2(1 + g)`` and the complex-AWGN dispersion
   ``V(g) = g (g + 2) / (g + 1)^2 log2(e)^2``. At the threshold ``g_th`` of EN 302 307 the
   FER is the table's reference ratio ``eps_ref`` (1e-7 for DVB-S2, 1e-5 for DVB-S2X); the
   slope of the waterfall is that of an ideal code of the FECFRAME's length (64800 coded
   bits), slightly steeper than measured LDPC curves.
2. **Packet over frames.** An ``N``-byte packet spans ``ceil(8 N / k)`` FECFRAMEs of ``k``
   information bits (``k = 64800 x code rate``) and is lost if any of them fails:
   ``PER = 1 - (1 - FER)^ceil(8 N / k)``. A packet shorter than a frame shares one frame.
3. **Fading.** Block fading constant over a packet (LEO coherence times exceed a frame):
   ``PER = E_h[PER_AWGN(g |h|^2)]``, integrated over the analytic CDF of ``|h|^2`` on a
   logarithmic grid of 6000 points between 1e-9 and 1e3 (mass outside counted at the ends).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from spikesat.channels._checks import check_snr_array_db
from spikesat.channels.fading.base import FadingChannel
from spikesat.channels.modcod import Modcod, modcod_table

_LOG2E_SQUARED = math.log2(math.e) ** 2
_GRID = np.logspace(-9.0, 3.0, 6001)
_CHUNK = 2048


def frame_error_rate(snr_db: object, modcod: Modcod) -> np.ndarray:
    """FER of one normal FECFRAME at Es/N0 ``snr_db`` [dB] on AWGN (model in the module doc)."""
    snr = 10.0 ** (check_snr_array_db(snr_db) / 10.0)
    threshold = 10.0 ** (modcod.esn0_threshold_db / 10.0)
    capacity = np.log2(1.0 + snr)
    dispersion = snr * (snr + 2.0) / (snr + 1.0) ** 2 * _LOG2E_SQUARED
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.sqrt(modcod.frame_symbols / dispersion) * (capacity - np.log2(1.0 + threshold))
    z = np.where(dispersion > 0, z, -np.inf)
    return special.ndtr(-(z - special.ndtri(modcod.reference_error_rate)))


def _frames_per_packet(num_bytes: int, modcod: Modcod) -> int:
    return max(1, -(-8 * num_bytes // modcod.frame_info_bits))


def _awgn_packet_error(snr_db: np.ndarray, num_frames: int, modcod: Modcod) -> np.ndarray:
    fer = frame_error_rate(snr_db, modcod)
    return -np.expm1(num_frames * np.log1p(-np.clip(fer, 0.0, 1.0 - 1e-16)))


def resolve_modcod(modcod: str | Modcod, table: str = "dvb-s2x") -> Modcod:
    """A :class:`Modcod` from itself or its name in ``table``."""
    if isinstance(modcod, Modcod):
        return modcod
    if isinstance(modcod, str):
        return modcod_table(table).get(modcod)
    raise TypeError(f"modcod must be a MODCOD name or a Modcod, got {type(modcod).__name__}")


def packet_error_probability(
    num_bytes: int,
    snr_db: object,
    modcod: str | Modcod,
    fading: FadingChannel | None = None,
    table: str = "dvb-s2x",
) -> np.ndarray | float:
    """Probability that an ``num_bytes``-byte packet at ``modcod`` is lost (model above).

    Parameters
    ----------
    num_bytes : int
        Packet size [bytes], >= 1.
    snr_db : float or array
        Es/N0 [dB]: the instantaneous value on AWGN, the mean value when ``fading`` is given.
    modcod : str or Modcod
        A MODCOD name of ``table`` (e.g. ``"QPSK 3/4"``) or a :class:`Modcod`.
    fading : FadingChannel, optional
        Block-fading model whose power-gain CDF is averaged over; ``None`` is AWGN.
    table : {"dvb-s2", "dvb-s2x"}
        Where to look ``modcod`` up by name.

    Returns
    -------
    float or ndarray
        Packet error probability, same shape as ``snr_db``.
    """
    if isinstance(num_bytes, bool) or not isinstance(num_bytes, (int, np.integer)):
        raise TypeError(f"num_bytes must be an int, got {type(num_bytes).__name__}")
    if num_bytes < 1:
        raise ValueError(f"num_bytes must be >= 1, got {num_bytes}")
    mc = resolve_modcod(modcod, table)
    snr = check_snr_array_db(snr_db)
    frames = _frames_per_packet(int(num_bytes), mc)
    if fading is None:
        per = _awgn_packet_error(snr, frames, mc)
    else:
        per = _faded_packet_error(snr, frames, mc, fading)
    return float(per) if per.ndim == 0 else per


def _faded_packet_error(
    snr_db: np.ndarray, num_frames: int, modcod: Modcod, fading: FadingChannel
) -> np.ndarray:
    cdf = np.asarray(fading.power_gain_cdf(_GRID), dtype=np.float64)
    mass = np.diff(cdf)
    mid_db = 10.0 * np.log10(np.sqrt(_GRID[1:] * _GRID[:-1]))
    flat = snr_db.reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK, None]
        inner = _awgn_packet_error(chunk + mid_db[None, :], num_frames, modcod) @ mass
        low = cdf[0] * _awgn_packet_error(
            chunk[:, 0] + 10.0 * np.log10(_GRID[0]), num_frames, modcod
        )
        high = (1.0 - cdf[-1]) * _awgn_packet_error(
            chunk[:, 0] + 10.0 * np.log10(_GRID[-1]), num_frames, modcod
        )
        out[start : start + _CHUNK] = inner + low + high
    return np.clip(out, 0.0, 1.0).reshape(snr_db.shape)
