"""DVB-S2 and DVB-S2X MODCOD tables for adaptive coding and modulation (ACM).

Each MODCOD has its ideal Es/N0 threshold on the AWGN channel and its spectral efficiency in
information bits per transmitted symbol (PL-frame overheads included, pilots off):

- DVB-S2: ETSI EN 302 307-1 V1.4.1 (2014-11), Table 13, normal FECFRAME (64800 bits), at
  packet error ratio 1e-7 (quasi error free).
- DVB-S2X: ETSI EN 302 307-2 V1.1.1 (2015-02), Table 20a, normal FECFRAME, at frame error
  ratio 1e-5; the "dvb-s2x" table is these plus the DVB-S2 MODCODs it keeps.

ACM picks the MODCOD of highest spectral efficiency whose threshold is at or below the SNR minus
a margin. MODCODs dominated by another (higher threshold, no higher efficiency) are never
chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from spikesat._registry import Registry
from spikesat.channels._checks import check_real_number, check_snr_array_db

DVB_S2_SOURCE = "ETSI EN 302 307-1 V1.4.1, Table 13 (normal FECFRAME, AWGN, PER 1e-7)"
DVB_S2X_SOURCE = "ETSI EN 302 307-2 V1.1.1, Table 20a (normal FECFRAME, AWGN, FER 1e-5)"
FECFRAME_BITS = 64800
"""Length of a normal FECFRAME [bits] (EN 302 307-1 Section 5.3)."""

_BITS_PER_SYMBOL = {
    "QPSK": 2,
    "8PSK": 3,
    "8APSK": 3,
    "16APSK": 4,
    "32APSK": 5,
    "64APSK": 6,
    "128APSK": 7,
    "256APSK": 8,
}


@dataclass(frozen=True)
class Modcod:
    """One modulation and coding pair.

    Attributes
    ----------
    name : str
        E.g. ``"QPSK 3/4"`` or ``"8APSK 5/9-L"``.
    spectral_efficiency : float
        Information bits per transmitted symbol [bit/symbol].
    esn0_threshold_db : float
        Ideal Es/N0 [dB] on the AWGN channel at ``reference_error_rate``.
    reference_error_rate : float
        The error ratio the threshold is quoted at (1e-7 PER for DVB-S2, 1e-5 FER for S2X).
    standard : str
        ``"DVB-S2"`` or ``"DVB-S2X"``.
    source : str
        The table the numbers come from.
    """

    name: str
    spectral_efficiency: float
    esn0_threshold_db: float
    reference_error_rate: float
    standard: str
    source: str

    @property
    def modulation(self) -> str:
        """The constellation, e.g. ``"16APSK"``."""
        return self.name.split()[0]

    @property
    def bits_per_symbol(self) -> int:
        """Coded bits per constellation symbol."""
        return _BITS_PER_SYMBOL[self.modulation]

    @property
    def code_rate(self) -> float:
        """LDPC code rate (``"5/9-L"`` gives 5/9)."""
        return float(Fraction(self.name.split()[1].removesuffix("-L")))

    @property
    def frame_symbols(self) -> int:
        """Complex symbols in one normal FECFRAME."""
        return FECFRAME_BITS // self.bits_per_symbol

    @property
    def frame_info_bits(self) -> int:
        """Information bits carried by one normal FECFRAME (``64800 x code rate``)."""
        return round(FECFRAME_BITS * self.code_rate)


def _s2(name: str, efficiency: float, threshold_db: float) -> Modcod:
    return Modcod(name, efficiency, threshold_db, 1e-7, "DVB-S2", DVB_S2_SOURCE)


def _s2x(name: str, efficiency: float, threshold_db: float) -> Modcod:
    return Modcod(name, efficiency, threshold_db, 1e-5, "DVB-S2X", DVB_S2X_SOURCE)


DVB_S2_MODCODS: tuple[Modcod, ...] = (
    _s2("QPSK 1/4", 0.490243, -2.35),
    _s2("QPSK 1/3", 0.656448, -1.24),
    _s2("QPSK 2/5", 0.789412, -0.30),
    _s2("QPSK 1/2", 0.988858, 1.00),
    _s2("QPSK 3/5", 1.188304, 2.23),
    _s2("QPSK 2/3", 1.322253, 3.10),
    _s2("QPSK 3/4", 1.487473, 4.03),
    _s2("QPSK 4/5", 1.587196, 4.68),
    _s2("QPSK 5/6", 1.654663, 5.18),
    _s2("QPSK 8/9", 1.766451, 6.20),
    _s2("QPSK 9/10", 1.788612, 6.42),
    _s2("8PSK 3/5", 1.779991, 5.50),
    _s2("8PSK 2/3", 1.980636, 6.62),
    _s2("8PSK 3/4", 2.228124, 7.91),
    _s2("8PSK 5/6", 2.478562, 9.35),
    _s2("8PSK 8/9", 2.646012, 10.69),
    _s2("8PSK 9/10", 2.679207, 10.98),
    _s2("16APSK 2/3", 2.637201, 8.97),
    _s2("16APSK 3/4", 2.966728, 10.21),
    _s2("16APSK 4/5", 3.165623, 11.03),
    _s2("16APSK 5/6", 3.300184, 11.61),
    _s2("16APSK 8/9", 3.523143, 12.89),
    _s2("16APSK 9/10", 3.567342, 13.13),
    _s2("32APSK 3/4", 3.703295, 12.73),
    _s2("32APSK 4/5", 3.951571, 13.64),
    _s2("32APSK 5/6", 4.119540, 14.28),
    _s2("32APSK 8/9", 4.397854, 15.69),
    _s2("32APSK 9/10", 4.453027, 16.05),
)
"""The 28 DVB-S2 MODCODs (EN 302 307-1 Table 13)."""

DVB_S2X_NEW_MODCODS: tuple[Modcod, ...] = (
    _s2x("QPSK 2/9", 0.434841, -2.85),
    _s2x("QPSK 13/45", 0.567805, -2.03),
    _s2x("QPSK 9/20", 0.889135, 0.22),
    _s2x("QPSK 11/20", 1.088581, 1.45),
    _s2x("8APSK 5/9-L", 1.647211, 4.73),
    _s2x("8APSK 26/45-L", 1.713601, 5.13),
    _s2x("8PSK 23/36", 1.896173, 6.12),
    _s2x("8PSK 25/36", 2.062148, 7.02),
    _s2x("8PSK 13/18", 2.145136, 7.49),
    _s2x("16APSK 1/2-L", 1.972253, 5.97),
    _s2x("16APSK 8/15-L", 2.104850, 6.55),
    _s2x("16APSK 5/9-L", 2.193247, 6.84),
    _s2x("16APSK 26/45", 2.281645, 7.51),
    _s2x("16APSK 3/5", 2.370043, 7.80),
    _s2x("16APSK 3/5-L", 2.370043, 7.41),
    _s2x("16APSK 28/45", 2.458441, 8.10),
    _s2x("16APSK 23/36", 2.524739, 8.38),
    _s2x("16APSK 2/3-L", 2.635236, 8.43),
    _s2x("16APSK 25/36", 2.745734, 9.27),
    _s2x("16APSK 13/18", 2.856231, 9.71),
    _s2x("16APSK 7/9", 3.077225, 10.65),
    _s2x("16APSK 77/90", 3.386618, 11.99),
    _s2x("32APSK 2/3-L", 3.289502, 11.10),
    _s2x("32APSK 32/45", 3.510192, 11.75),
    _s2x("32APSK 11/15", 3.620536, 12.17),
    _s2x("32APSK 7/9", 3.841226, 13.05),
    _s2x("64APSK 32/45-L", 4.206428, 13.98),
    _s2x("64APSK 11/15", 4.338659, 14.81),
    _s2x("64APSK 7/9", 4.603122, 15.47),
    _s2x("64APSK 4/5", 4.735354, 15.87),
    _s2x("64APSK 5/6", 4.933701, 16.55),
    _s2x("128APSK 3/4", 5.163248, 17.73),
    _s2x("128APSK 7/9", 5.355556, 18.53),
    _s2x("256APSK 29/45-L", 5.065690, 16.98),
    _s2x("256APSK 2/3-L", 5.241514, 17.24),
    _s2x("256APSK 31/45-L", 5.417338, 18.10),
    _s2x("256APSK 32/45", 5.593162, 18.59),
    _s2x("256APSK 11/15-L", 5.768987, 18.84),
    _s2x("256APSK 3/4", 5.900855, 19.57),
)
"""The MODCODs DVB-S2X adds for normal frames (EN 302 307-2 Table 20a)."""


class ModcodTable:
    """An ordered set of MODCODs with ACM selection.

    Parameters
    ----------
    name : str
        Table name (``"dvb-s2"``, ``"dvb-s2x"``).
    modcods : sequence of Modcod
        The MODCODs; names must be unique.
    source : str
        Citation of the thresholds.
    """

    def __init__(self, name: str, modcods: tuple[Modcod, ...], source: str) -> None:
        names = [m.name for m in modcods]
        if len(set(names)) != len(names):
            raise ValueError(f"MODCOD names in table {name!r} must be unique")
        self.name = name
        self.source = source
        self.modcods = tuple(sorted(modcods, key=lambda m: (m.esn0_threshold_db, m.name)))
        self._index = {m.name: i for i, m in enumerate(self.modcods)}
        thresholds = np.array([m.esn0_threshold_db for m in self.modcods])
        efficiency = np.array([m.spectral_efficiency for m in self.modcods])
        frontier, best = [], -np.inf
        for i in range(len(self.modcods)):
            if efficiency[i] > best:
                frontier.append(i)
                best = efficiency[i]
        self._frontier = np.array(frontier, dtype=np.int64)
        self._frontier_thresholds_db = thresholds[self._frontier]
        self.thresholds_db = thresholds
        self.spectral_efficiencies = efficiency

    def __len__(self) -> int:
        return len(self.modcods)

    def __repr__(self) -> str:
        return f"ModcodTable({self.name!r}, {len(self)} MODCODs)"

    @property
    def names(self) -> list[str]:
        """MODCOD names in table order (ascending threshold)."""
        return [m.name for m in self.modcods]

    @property
    def efficient_modcods(self) -> list[Modcod]:
        """The MODCODs ACM can choose: each more efficient than every lower-threshold one."""
        return [self.modcods[i] for i in self._frontier]

    def index(self, name: str) -> int:
        """Index of the MODCOD called ``name``; raises with the valid names if unknown."""
        if name not in self._index:
            raise ValueError(
                f"unknown MODCOD {name!r} in table {self.name!r}; valid names: "
                f"{', '.join(self.names)}"
            )
        return self._index[name]

    def get(self, name_or_index: str | int) -> Modcod:
        """The MODCOD by name or table index."""
        if isinstance(name_or_index, str):
            return self.modcods[self.index(name_or_index)]
        if isinstance(name_or_index, (int, np.integer)) and 0 <= name_or_index < len(self):
            return self.modcods[int(name_or_index)]
        raise ValueError(
            f"MODCOD {name_or_index!r} is neither a name nor an index in [0, {len(self)})"
        )

    def select(self, snr_db: object, margin_db: float = 0.0) -> np.ndarray:
        """ACM: index of the most efficient MODCOD with ``threshold <= snr_db - margin_db``.

        Returns
        -------
        ndarray of int64
            Table indices, ``-1`` where the SNR is below every threshold (no link).
        """
        snr = check_snr_array_db(snr_db) - check_real_number(margin_db, "margin_db")
        position = np.searchsorted(self._frontier_thresholds_db, snr, side="right") - 1
        return np.where(position >= 0, self._frontier[np.clip(position, 0, None)], -1)

    def spectral_efficiency(self, snr_db: object, margin_db: float = 0.0) -> np.ndarray:
        """Information bits per symbol ACM achieves at ``snr_db`` (0 below every threshold)."""
        index = self.select(snr_db, margin_db)
        return np.where(index >= 0, self.spectral_efficiencies[np.clip(index, 0, None)], 0.0)


MODCOD_TABLES: Registry[ModcodTable] = Registry("MODCOD table")


@MODCOD_TABLES.register("dvb-s2")
def _dvb_s2() -> ModcodTable:
    return ModcodTable("dvb-s2", DVB_S2_MODCODS, DVB_S2_SOURCE)


@MODCOD_TABLES.register("dvb-s2x")
def _dvb_s2x() -> ModcodTable:
    return ModcodTable(
        "dvb-s2x", DVB_S2_MODCODS + DVB_S2X_NEW_MODCODS, DVB_S2_SOURCE + "; " + DVB_S2X_SOURCE
    )


def modcod_table(name: str = "dvb-s2x") -> ModcodTable:
    """The MODCOD table ``"dvb-s2"`` or ``"dvb-s2x"``."""
    return MODCOD_TABLES.create(name)


def achievable_rate_bps(
    snr_db: object, symbol_rate_hz: float, table: str = "dvb-s2x", margin_db: float = 0.0
) -> np.ndarray:
    """Information rate [bit/s] ACM achieves: spectral efficiency x symbol rate.

    Parameters
    ----------
    snr_db : float or array
        Es/N0 [dB].
    symbol_rate_hz : float
        Symbol rate [symbol/s].
    table : {"dvb-s2", "dvb-s2x"}
        MODCOD table.
    margin_db : float
        ACM margin [dB] subtracted from the SNR before choosing.
    """
    if not symbol_rate_hz > 0:
        raise ValueError(f"symbol_rate_hz must be > 0, got {symbol_rate_hz!r}")
    return modcod_table(table).spectral_efficiency(snr_db, margin_db) * float(symbol_rate_hz)
