"""Link traces: per link and time step of a ContactPlan, the SNR, MODCOD, rate and delay.

``link_trace(plan, budget)`` evaluates a ground-link budget on every sample of
``plan.ground_links()`` (and an ISL budget on every sample of ``plan.isl_links()``):

1. mean Es/N0 from the budget at the sample's range and elevation, with the ITU-R atmosphere
   of each station when ``atmosphere_exceedance_percent`` is given;
2. a fading power gain per sample, drawn independently (seeded) from the fading model's
   distribution: time steps of a contact plan (seconds) are far longer than the coherence
   time of the fading (milliseconds at LEO Doppler), so successive samples are independent;
3. ACM: the MODCOD chosen on the mean SNR minus the budget's ``acm_margin_db`` (``acm_csi=
   "mean"``, the slow ACM loop of a real link, so fading shows up as packet errors), or on the
   faded SNR (``"instantaneous"``, ideal CSI);
4. rate = spectral efficiency x symbol rate; propagation delay = range / c.

ISLs are above the atmosphere and get no fading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from spikesat.channels._checks import check_choice
from spikesat.channels.atmosphere import ItuAtmosphere
from spikesat.channels.fading.base import CHANNELS, FadingChannel
from spikesat.channels.link_budget import LinkBudget
from spikesat.channels.modcod import ModcodTable, modcod_table
from spikesat.channels.packet_error import packet_error_probability
from spikesat.units import propagation_delay_s

ACM_CSI_MODES = ("mean", "instantaneous")


@dataclass(frozen=True)
class LinkState:
    """One link at one moment: what a codec's ``transmit`` consumes.

    Attributes
    ----------
    snr_db : float
        Es/N0 [dB] the packets see (with fading).
    rate_bps : float
        Information rate [bit/s] of the chosen MODCOD (0 when no MODCOD closes the link).
    modcod : str or None
        The MODCOD name, ``None`` when the link is down.
    delay_s : float
        Propagation delay [s].
    spectral_efficiency : float
        Information bits per symbol of the MODCOD.
    modcod_table : str
        The MODCOD table the name belongs to.
    """

    snr_db: float
    rate_bps: float
    modcod: str | None
    delay_s: float
    spectral_efficiency: float
    modcod_table: str = "dvb-s2x"

    def packet_error_probability(self, num_bytes: int) -> float:
        """Loss probability of a ``num_bytes`` packet on this link (1 when the link is down)."""
        if self.modcod is None:
            return 1.0
        return float(
            packet_error_probability(num_bytes, self.snr_db, self.modcod, table=self.modcod_table)
        )


@dataclass
class _TraceArrays:
    """Per-sample arrays common to ground and ISL traces."""

    time_index: np.ndarray
    range_km: np.ndarray
    mean_snr_db: np.ndarray
    snr_db: np.ndarray
    modcod: np.ndarray
    rate_bps: np.ndarray
    spectral_efficiency: np.ndarray
    delay_s: np.ndarray
    table: ModcodTable = field(repr=False)

    def __len__(self) -> int:
        return int(self.time_index.size)

    def modcod_names(self) -> np.ndarray:
        """MODCOD name of every sample (``"none"`` where the link is down)."""
        names = np.array([*self.table.names, "none"], dtype=object)
        return names[np.where(self.modcod >= 0, self.modcod, len(self.table))]

    def packet_error_rate(self, num_bytes: int) -> np.ndarray:
        """Loss probability of a ``num_bytes`` packet on every sample (AWGN at the faded SNR,
        model of :mod:`spikesat.channels.packet_error`; 1 where the link is down)."""
        per = np.ones(len(self), dtype=np.float64)
        for index in np.unique(self.modcod[self.modcod >= 0]):
            mask = self.modcod == index
            # A fade to exactly zero power (-inf dB) is a lost packet, like any deep fade.
            snr = np.maximum(self.snr_db[mask], -300.0)
            per[mask] = packet_error_probability(num_bytes, snr, self.table.modcods[int(index)])
        return per

    def state(self, sample: int) -> LinkState:
        """The :class:`LinkState` of one sample."""
        if not 0 <= sample < len(self):
            raise IndexError(f"sample {sample} is outside [0, {len(self)})")
        index = int(self.modcod[sample])
        return LinkState(
            snr_db=float(self.snr_db[sample]),
            rate_bps=float(self.rate_bps[sample]),
            modcod=None if index < 0 else self.table.modcods[index].name,
            delay_s=float(self.delay_s[sample]),
            spectral_efficiency=float(self.spectral_efficiency[sample]),
            modcod_table=self.table.name,
        )


@dataclass
class IslTrace(_TraceArrays):
    """ISL samples, aligned one to one with ``plan.isl_links()``."""

    sat_a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    sat_b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))


@dataclass
class LinkTrace(_TraceArrays):
    """Ground-link samples, aligned one to one with ``plan.ground_links()``, plus ``isl``.

    Attributes
    ----------
    sat, station, time_index : ndarray of int32
        Satellite index, station index and time step of each sample.
    range_km, elevation_deg : ndarray
        Slant range [km] and elevation [deg].
    mean_snr_db, fading_gain_db, snr_db : ndarray
        Es/N0 without fading, the fading power gain, and Es/N0 with fading [dB].
    modcod : ndarray of int16
        Index into ``table.modcods`` (-1: no MODCOD closes the link).
    rate_bps, spectral_efficiency, delay_s : ndarray
        Information rate [bit/s], bits per symbol and propagation delay [s].
    isl : IslTrace
        The ISL part (empty when the plan has no ISLs).
    """

    sat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    station: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    elevation_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fading_gain_db: np.ndarray = field(default_factory=lambda: np.zeros(0))
    isl: IslTrace | None = None
    budget: LinkBudget | None = None
    isl_budget: LinkBudget | None = None

    def select(self, sat: int | None = None, station: int | None = None) -> np.ndarray:
        """Indices of the samples of one satellite and/or station, in time order."""
        mask = np.ones(len(self), dtype=bool)
        if sat is not None:
            mask &= self.sat == sat
        if station is not None:
            mask &= self.station == station
        index = np.flatnonzero(mask)
        return index[np.argsort(self.time_index[index], kind="stable")]


def _resolve_budget(budget: LinkBudget | str, link_type: str, what: str) -> LinkBudget:
    if isinstance(budget, str):
        budget = LinkBudget.preset(budget)
    if not isinstance(budget, LinkBudget):
        raise TypeError(
            f"{what} must be a LinkBudget or a preset name, got {type(budget).__name__}"
        )
    if budget.link_type != link_type:
        raise ValueError(
            f"{what} {budget.name!r} is a {budget.link_type!r} budget but a {link_type!r} budget "
            f"is needed here; presets of that type: "
            + ", ".join(
                n for n in LinkBudget.presets() if LinkBudget.preset(n).link_type == link_type
            )
        )
    return budget


def _resolve_fading(fading: FadingChannel | str | None, budget: LinkBudget) -> FadingChannel | None:
    if fading is None or isinstance(fading, FadingChannel):
        return fading
    if isinstance(fading, str):
        if fading == "tr38811":
            return CHANNELS.create(fading, frequency_ghz=budget.frequency_ghz)
        return CHANNELS.create(fading)
    raise TypeError(
        f"fading must be None, a channel name ({', '.join(CHANNELS.names())}) or a "
        f"FadingChannel, got {type(fading).__name__}"
    )


def _check_plan(plan: object) -> None:
    """Raise ``TypeError`` unless ``plan`` looks like a ``ContactPlan`` (its link methods)."""
    missing = [
        attr
        for attr in ("ground_links", "isl_links", "stations")
        if not hasattr(plan, attr)
        or (attr != "stations" and not callable(getattr(plan, attr, None)))
    ]
    if missing:
        raise TypeError(
            f"plan must be a ContactPlan (from spikesat.orbits.contact_plan), got "
            f"{type(plan).__name__} without {', '.join(missing)}; build one with "
            "spikesat.orbits.contact_plan(constellation, times, stations)"
        )


def _station_atmospheres(plan: Any, percent: float) -> list[ItuAtmosphere]:
    return [
        ItuAtmosphere(
            s.lat_deg,
            s.lon_deg,
            alt_m=getattr(s, "alt_m", None),
            exceedance_percent=percent,
            include_scintillation=False,
        )
        for s in plan.stations
    ]


def link_trace(
    plan: Any,
    budget: LinkBudget | str,
    fading: FadingChannel | str | None = None,
    seed: int = 0,
    isl_budget: LinkBudget | str | None = None,
    atmosphere_exceedance_percent: float | None = None,
    acm_csi: str = "mean",
) -> LinkTrace:
    """Evaluate link budgets over every link sample of a contact plan.

    Parameters
    ----------
    plan : ContactPlan
        From ``spikesat.orbits.contact_plan``; uses ``ground_links()``, ``isl_links()`` and
        ``stations``.
    budget : LinkBudget or str
        The ground-link (downlink) budget or its preset name.
    fading : FadingChannel, str or None
        Fading of the ground links: a layer, a registered name (``"tr38811"`` takes the
        budget's frequency), or ``None`` for none.
    seed : int
        Seed of the fading draws.
    isl_budget : LinkBudget, str or None
        ISL budget; ``None`` uses the ``"ka-band-isl"`` preset.
    atmosphere_exceedance_percent : float, optional
        When given, the ITU-R P.618/P.676 attenuation (gas, rain, clouds) exceeded this
        percentage of the year at each station replaces the budget's clear-sky gaseous term
        (the budget's fixed scintillation loss is kept).
    acm_csi : {"mean", "instantaneous"}
        Whether ACM chooses the MODCOD on the mean or on the faded SNR.

    Returns
    -------
    LinkTrace

    Raises
    ------
    TypeError
        If ``plan`` is not a ContactPlan (or ``seed`` not an int).
    """
    _check_plan(plan)
    check_choice(acm_csi, ACM_CSI_MODES, "acm_csi")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    ground_budget = _resolve_budget(budget, "ground", "budget")
    isl = _resolve_budget("ka-band-isl" if isl_budget is None else isl_budget, "isl", "isl_budget")
    model = _resolve_fading(fading, ground_budget)

    links = plan.ground_links()
    range_km = np.asarray(links.range_km, dtype=np.float64)
    elevation = np.asarray(links.elevation_deg, dtype=np.float64)
    station = np.asarray(links.station, dtype=np.int32)
    mean_snr = np.empty(range_km.size, dtype=np.float64)
    if atmosphere_exceedance_percent is None:
        if range_km.size:
            mean_snr[:] = ground_budget.snr_db(range_km, elevation)
    else:
        atmospheres = _station_atmospheres(plan, atmosphere_exceedance_percent)
        for j in np.unique(station):
            mask = station == j
            mean_snr[mask] = ground_budget.snr_db(
                range_km[mask], elevation[mask], atmosphere=atmospheres[int(j)]
            )
    if model is None or range_km.size == 0:
        gain_db = np.zeros_like(mean_snr)
    else:
        generator = torch.Generator().manual_seed(seed)
        gain = model.sample_power_gain(range_km.size, generator, elevation_deg=elevation)
        with np.errstate(divide="ignore"):
            gain_db = 10.0 * np.log10(gain)
    snr = mean_snr + gain_db
    table = modcod_table(ground_budget.modcod_table)
    acm_snr = mean_snr if acm_csi == "mean" else snr
    ground = _acm(acm_snr, ground_budget, table)
    trace = LinkTrace(
        time_index=np.asarray(links.time_index, dtype=np.int32),
        range_km=range_km,
        mean_snr_db=mean_snr,
        snr_db=snr,
        modcod=ground[0],
        rate_bps=ground[1],
        spectral_efficiency=ground[2],
        delay_s=propagation_delay_s(range_km),
        table=table,
        sat=np.asarray(links.sat, dtype=np.int32),
        station=station,
        elevation_deg=elevation,
        fading_gain_db=gain_db,
        budget=ground_budget,
        isl_budget=isl,
    )
    trace.isl = _isl_trace(plan, isl)
    return trace


def _acm(
    snr_db: np.ndarray, budget: LinkBudget, table: ModcodTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if snr_db.size == 0:
        return np.zeros(0, np.int16), np.zeros(0), np.zeros(0)
    finite = np.where(np.isfinite(snr_db), snr_db, -1e3)
    index = table.select(finite, budget.acm_margin_db).astype(np.int16)
    efficiency = np.where(index >= 0, table.spectral_efficiencies[np.clip(index, 0, None)], 0.0)
    return index, efficiency * budget.symbol_rate_hz, efficiency


def _isl_trace(plan: Any, budget: LinkBudget) -> IslTrace:
    links = plan.isl_links()
    range_km = np.asarray(links.range_km, dtype=np.float64)
    snr = budget.snr_db(range_km) if range_km.size else np.zeros(0)
    snr = np.asarray(snr, dtype=np.float64).reshape(-1)
    table = modcod_table(budget.modcod_table)
    modcod, rate, efficiency = _acm(snr, budget, table)
    return IslTrace(
        time_index=np.asarray(links.time_index, dtype=np.int32),
        range_km=range_km,
        mean_snr_db=snr,
        snr_db=snr.copy(),
        modcod=modcod,
        rate_bps=rate,
        spectral_efficiency=efficiency,
        delay_s=propagation_delay_s(range_km),
        table=table,
        sat_a=np.asarray(links.sat_a, dtype=np.int32),
        sat_b=np.asarray(links.sat_b, dtype=np.int32),
    )
