"""Link traces over a stand-in contact plan (the interface) and over the real orbits engine."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from spikesat import orbits
from spikesat.channels import LinkBudget, LinkState, create, link_trace, modcod_table
from spikesat.units import SPEED_OF_LIGHT_M_S


@dataclass
class _Ground:
    sat: np.ndarray
    station: np.ndarray
    time_index: np.ndarray
    range_km: np.ndarray
    elevation_deg: np.ndarray
    range_rate_km_s: np.ndarray


@dataclass
class _Isl:
    sat_a: np.ndarray
    sat_b: np.ndarray
    time_index: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray


@dataclass
class _Station:
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0


@dataclass
class _StandInPlan:
    """The ContactPlan interface of interfaces.md, filled with a geometric pass."""

    num_samples: int = 400
    stations: list = field(
        default_factory=lambda: [_Station("a", 51.5, -0.14, 31.0), _Station("b", 3.1, 101.7)]
    )

    def ground_links(self) -> _Ground:
        rng = np.random.default_rng(0)
        elevation = rng.uniform(10.0, 90.0, self.num_samples)
        from spikesat.channels import slant_range_km

        return _Ground(
            sat=rng.integers(0, 5, self.num_samples).astype(np.int32),
            station=rng.integers(0, 2, self.num_samples).astype(np.int32),
            time_index=np.arange(self.num_samples, dtype=np.int32),
            range_km=np.asarray(slant_range_km(550.0, elevation)),
            elevation_deg=elevation,
            range_rate_km_s=rng.uniform(-7, 7, self.num_samples),
        )

    def isl_links(self) -> _Isl:
        n = 50
        return _Isl(
            sat_a=np.zeros(n, np.int32),
            sat_b=np.ones(n, np.int32),
            time_index=np.arange(n, dtype=np.int32),
            range_km=np.linspace(500.0, 5000.0, n),
            range_rate_km_s=np.zeros(n),
        )


def test_trace_aligns_with_the_plan_and_follows_the_budget() -> None:
    plan = _StandInPlan()
    budget = LinkBudget.preset("x-band-eo-sentinel2")
    trace = link_trace(plan, budget)
    links = plan.ground_links()
    assert len(trace) == plan.num_samples
    assert np.array_equal(trace.sat, links.sat) and np.array_equal(trace.station, links.station)
    assert trace.snr_db == pytest.approx(budget.snr_db(links.range_km, links.elevation_deg))
    assert trace.delay_s == pytest.approx(links.range_km * 1e3 / SPEED_OF_LIGHT_M_S)
    table = modcod_table("dvb-s2")
    expected_index = table.select(trace.snr_db, budget.acm_margin_db)
    assert np.array_equal(trace.modcod, expected_index)
    assert trace.rate_bps == pytest.approx(
        table.spectral_efficiencies[expected_index] * budget.symbol_rate_hz
    )
    assert len(trace.isl) == 50
    isl_budget = LinkBudget.preset("ka-band-isl")
    assert trace.isl.snr_db == pytest.approx(isl_budget.snr_db(plan.isl_links().range_km))
    assert np.all(np.diff(trace.isl.rate_bps) <= 0)  # longer ISLs, lower rates


def test_fading_is_seeded_and_lowers_the_snr_by_its_gain() -> None:
    plan = _StandInPlan(num_samples=20_000)
    first = link_trace(plan, "s-band-tr38821-leo600", fading="rayleigh", seed=3)
    again = link_trace(plan, "s-band-tr38821-leo600", fading="rayleigh", seed=3)
    other = link_trace(plan, "s-band-tr38821-leo600", fading="rayleigh", seed=4)
    assert np.array_equal(first.snr_db, again.snr_db)
    assert not np.array_equal(first.snr_db, other.snr_db)
    assert first.snr_db == pytest.approx(first.mean_snr_db + first.fading_gain_db)
    gain = 10 ** (first.fading_gain_db / 10)
    assert gain.mean() == pytest.approx(
        1.0, abs=5 / np.sqrt(gain.size)
    )  # exponential, SE 1/sqrt(n)
    # ACM follows the mean SNR, so deep fades become packet errors.
    per = first.packet_error_rate(1500)
    assert 0.0 < per[first.modcod >= 0].mean() < 1.0
    assert np.all(per[first.modcod < 0] == 1.0)
    ideal = link_trace(
        plan, "s-band-tr38821-leo600", fading="rayleigh", seed=3, acm_csi="instantaneous"
    )
    assert ideal.packet_error_rate(1500)[ideal.modcod >= 0].max() < 1e-3


def test_tr38811_fading_uses_each_sample_elevation() -> None:
    plan = _StandInPlan(num_samples=5000)
    trace = link_trace(plan, "s-band-tr38821-leo600", fading="tr38811", seed=1)
    low = trace.elevation_deg < 30
    # Urban LOS probability rises with elevation, so low elevations fade more on average.
    assert trace.fading_gain_db[low].mean() < trace.fading_gain_db[~low].mean()


def test_link_state_and_selection() -> None:
    trace = link_trace(_StandInPlan(), "x-band-eo-sentinel2")
    index = trace.select(sat=2, station=1)
    assert np.all(trace.sat[index] == 2) and np.all(np.diff(trace.time_index[index]) >= 0)
    state = trace.state(int(index[0]))
    assert isinstance(state, LinkState)
    assert state.rate_bps == trace.rate_bps[index[0]]
    assert state.modcod == trace.modcod_names()[index[0]]
    assert 0.0 <= state.packet_error_probability(1500) <= 1.0
    down = LinkState(snr_db=-10.0, rate_bps=0.0, modcod=None, delay_s=0.01, spectral_efficiency=0.0)
    assert down.packet_error_probability(100) == 1.0
    with pytest.raises(IndexError):
        trace.state(10**6)


def test_itu_atmosphere_lowers_ground_snr_per_station() -> None:
    plan = _StandInPlan(num_samples=200)
    clear = link_trace(plan, "ka-band-tr38821-leo600")
    rainy = link_trace(plan, "ka-band-tr38821-leo600", atmosphere_exceedance_percent=0.1)
    drop = clear.snr_db - rainy.snr_db
    assert np.all(drop > 0)
    # Kuala Lumpur (station b) rains far more than London (station a) at 0.1 % of the year.
    assert drop[rainy.station == 1].mean() > drop[rainy.station == 0].mean() + 3.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"budget": "ka-band-isl"}, ValueError, "ground"),
        ({"budget": "x-band-eo-sentinel2", "isl_budget": "x-band-eo-sentinel2"}, ValueError, "isl"),
        ({"budget": 3}, TypeError, "LinkBudget"),
        ({"budget": "x-band-eo-sentinel2", "fading": "raleigh"}, ValueError, "rayleigh"),
        ({"budget": "x-band-eo-sentinel2", "fading": 1.0}, TypeError, "fading"),
        ({"budget": "x-band-eo-sentinel2", "acm_csi": "perfect"}, ValueError, "acm_csi"),
        ({"budget": "x-band-eo-sentinel2", "seed": 1.5}, TypeError, "seed"),
    ],
)
def test_link_trace_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        link_trace(_StandInPlan(num_samples=10), **kwargs)


def test_link_trace_over_a_real_contact_plan() -> None:
    shell = orbits.preset("research-5x10")
    times = orbits.time_grid(shell.epoch, 4 * 3600.0, 60.0)
    plan = orbits.contact_plan(shell, times, "default", min_elevation_deg=10.0, eclipse=False)
    trace = link_trace(plan, "x-band-eo-sentinel2", fading=create("rician", k_factor=10.0))
    links, isl = plan.ground_links(), plan.isl_links()
    assert len(trace) == len(links) > 0
    assert np.array_equal(trace.time_index, links.time_index)
    assert np.all(trace.elevation_deg >= 10.0 - 1e-9)
    assert trace.range_km.min() >= shell.altitude_km - 1.0
    assert len(trace.isl) == len(isl) > 0
    assert np.array_equal(trace.isl.sat_a, isl.sat_a)
    assert np.all(trace.isl.delay_s > 0)
