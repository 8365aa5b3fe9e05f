"""Contact plans: windows against Skyfield's find_events, refinement, routing, persistence."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest

from spikesat import orbits

START = "2025-10-03T00:00:00Z"


def _skyfield_windows(rec: orbits.TLERecord, station: orbits.GroundStation, times, ts):
    """Complete (rise, set) pairs from Skyfield's find_events, seconds from times[0]."""
    from skyfield.api import EarthSatellite, wgs84

    sat = EarthSatellite(rec.line1, rec.line2, rec.name, ts)
    topos = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
    t = times.skyfield_time()
    event_t, events = sat.find_events(topos, t[0], t[-1], altitude_degrees=10.0)
    offsets = (event_t.tt - t[0].tt) * 86400.0
    rises = [o for o, e in zip(offsets, events, strict=True) if e == 0]
    sets = [o for o, e in zip(offsets, events, strict=True) if e == 2]
    if sets and rises and sets[0] < rises[0]:
        sets = sets[1:]
    return np.array(list(zip(rises, sets, strict=False)))


@pytest.mark.parametrize(
    ("pattern", "network", "station_name"),
    [("SENTINEL-2A", "ksat", "Svalbard"), ("STARLINK-1008", "ksat", "Athens")],
)
def test_window_edges_match_skyfield_find_events(
    catalogue, data_dir, skyfield_ts, monkeypatch, pattern, network, station_name
) -> None:
    """Edges within 1 s of Skyfield's, on a 30 s grid (refinement, not the grid step)."""
    monkeypatch.setenv("SPIKESAT_DATA_DIR", str(data_dir))
    sats = catalogue.select(pattern)
    station = next(s for s in orbits.ground_stations(network) if s.name == station_name)
    times = orbits.time_grid(START, 86400, 30)
    plan = orbits.contact_plan(sats, times, [station], isl=None, eclipse=False)
    ours = plan.windows(0, 0)
    ours = ours[(ours[:, 0] > 0) & (ours[:, 1] < times.offsets_s[-1])]  # complete windows
    ref = _skyfield_windows(sats.records[0], station, times, skyfield_ts)
    assert len(ref) >= 3, "expected several passes in a day"
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1.0)


def test_refined_edges_sit_on_the_mask_and_coarse_grid_agrees() -> None:
    shell = orbits.preset("research-5x10")
    stations = orbits.ground_stations("default")
    fine = orbits.contact_plan(
        shell, orbits.time_grid(shell.epoch, 6 * 3600, 5), stations, isl=None, eclipse=False
    )
    coarse = orbits.contact_plan(
        shell, orbits.time_grid(shell.epoch, 6 * 3600, 60), stations, isl=None, eclipse=False
    )
    wf, wc = fine.all_windows(), coarse.all_windows()
    assert len(wc) == len(wf) > 50
    np.testing.assert_array_equal(wc.sat, wf.sat)
    np.testing.assert_array_equal(wc.station, wf.station)
    # Well inside the 1 s contract; grazing passes are flat at the mask, so their edges are
    # the least well conditioned (a 1e-4 deg elevation difference moves them ~0.02 s).
    np.testing.assert_allclose(wc.start_s, wf.start_s, atol=0.05)
    np.testing.assert_allclose(wc.end_s, wf.end_s, atol=0.05)
    assert np.median(np.abs(wc.start_s - wf.start_s)) < 1e-3
    # Some passes fit between two 60 s samples and were found from sampled maxima.
    short = wc.duration_s < 60
    assert short.any()
    # Interior edges are mask crossings: the elevation there is 10 deg to ~1e-4 deg.
    inner = wc.start_s > 0
    from spikesat.orbits.look_angles import StationFrames, pair_look

    r, v = shell.pair_states_ecef(coarse.times, wc.sat[inner], wc.start_s[inner])
    elevation = pair_look(r, v, wc.station[inner], StationFrames.from_stations(stations))[0]
    np.testing.assert_allclose(elevation, 10.0, atol=1e-3)


def test_newton_edges_agree_with_the_bracketing_fallback(monkeypatch) -> None:
    """Edges from Newton steps and from scipy's bracketing solver alone agree to 1 ms."""
    from spikesat.orbits import windows

    shell = orbits.preset("research-5x10")
    times = orbits.time_grid(shell.epoch, 6 * 3600, 30)
    newton = orbits.contact_plan(shell, times, "default", isl=None, eclipse=False)
    monkeypatch.setattr(windows, "NEWTON_MAX_ITERATIONS", 0)
    bracketing = orbits.contact_plan(shell, times, "default", isl=None, eclipse=False)
    a, b = newton.all_windows(), bracketing.all_windows()
    assert len(a) == len(b) > 50
    np.testing.assert_allclose(a.start_s, b.start_s, rtol=0, atol=windows.EDGE_TOLERANCE_S)
    np.testing.assert_allclose(a.end_s, b.end_s, rtol=0, atol=windows.EDGE_TOLERANCE_S)
    assert np.any(a.start_s != b.start_s), "the two paths ran"


def test_samples_chunks_and_windows_are_consistent() -> None:
    shell = orbits.preset("research-5x10")
    stations = orbits.ground_stations("default")
    times = orbits.time_grid(shell.epoch, 3 * 3600, 20)
    plan = orbits.contact_plan(shell, times, stations)
    small = orbits.contact_plan(shell, times, stations, max_chunk_elements=3000)
    for a, b in zip(
        vars(plan.ground_links()).values(), vars(small.ground_links()).values(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plan.all_windows().start_s, small.all_windows().start_s)
    np.testing.assert_array_equal(plan.isl_links().range_km, small.isl_links().range_km)
    np.testing.assert_array_equal(plan.sunlit_fraction, small.sunlit_fraction)
    links = plan.ground_links()
    assert links.sat.dtype == np.int32 and links.range_km.dtype == np.float64
    assert np.all(np.diff(links.time_index) >= 0)
    assert np.all(links.elevation_deg >= 10.0)
    # Dense look angles agree with the sparse samples.
    dense = orbits.look_angles(shell.positions_ecef_km(times), stations)
    np.testing.assert_allclose(
        dense.elevation_deg[links.sat, links.station, links.time_index], links.elevation_deg
    )
    assert np.count_nonzero(dense.elevation_deg >= 10.0) == len(links)
    # Every sample lies inside one of its pair's windows.
    for k in range(0, len(links), 37):
        w = plan.windows(int(links.sat[k]), int(links.station[k]))
        t = times.offsets_s[links.time_index[k]]
        assert np.any((w[:, 0] <= t + 1e-6) & (t - 1e-6 <= w[:, 1]))
    # Range rate is the time derivative of range.
    k = np.flatnonzero(np.diff(links.time_index) == 0)[:1]
    s, g, t = int(links.sat[k[0]]), int(links.station[k[0]]), int(links.time_index[k[0]])
    rng = dense.range_km[s, g]
    if 0 < t < len(times) - 1:
        assert links.range_rate_km_s[k[0]] == pytest.approx(
            (rng[t + 1] - rng[t - 1]) / 40.0, abs=2e-3
        )


def test_graph_latency_and_routes() -> None:
    shell = orbits.preset("starlink-shell1")
    times = orbits.time_grid(shell.epoch, 60, 60)
    plan = orbits.contact_plan(shell, times, orbits.ground_stations("default"), eclipse=False)
    latency = plan.latency_to_ground_s(1)
    assert np.all(np.isfinite(latency)) and latency.max() < 0.2
    graph = plan.graph(1)
    assert graph.number_of_nodes() == shell.num_sats + 6
    sources = [("gs", j) for j in range(6)]
    lengths = nx.multi_source_dijkstra_path_length(graph, sources, weight="delay_s")
    for sat in (0, 500, 1583):
        assert lengths[("sat", sat)] == pytest.approx(latency[sat], rel=1e-12)
    delay, path = plan.route_to_ground(700, 1)
    assert delay == pytest.approx(latency[700]) and path[0] == ("sat", 700)
    assert path[-1][0] == "gs"
    in_view = plan.ground_links(1)
    assert np.all(latency[in_view.sat] <= in_view.range_km / 299792.458 + 1e-12)


def test_save_load_round_trip(tmp_path) -> None:
    shell = orbits.preset("research-5x10")
    plan = orbits.contact_plan(
        shell, orbits.time_grid(shell.epoch, 3600, 30), orbits.ground_stations("default")
    )
    path = plan.save(tmp_path / "plan")
    assert path.name == "plan.npz" and (tmp_path / "plan.json").is_file()
    back = orbits.ContactPlan.load(tmp_path / "plan.npz")
    assert back.times == plan.times and back.sat_names == plan.sat_names
    assert back.stations == plan.stations and back.isl_config == plan.isl_config
    for a, b in zip(
        vars(plan.ground_links()).values(), vars(back.ground_links()).values(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.windows(3, 2), plan.windows(3, 2))
    np.testing.assert_array_equal(back.sunlit(), plan.sunlit())
    np.testing.assert_array_equal(back.latency_to_ground_s(5), plan.latency_to_ground_s(5))
    assert back.constellation_info == shell.describe()
    with pytest.raises(FileNotFoundError):
        orbits.ContactPlan.load(tmp_path / "missing")


def test_next_contact_and_gaps() -> None:
    shell = orbits.preset("research-5x10")
    plan = orbits.contact_plan(
        shell, orbits.time_grid(shell.epoch, 6 * 3600, 30), orbits.ground_stations("default")
    )
    w = plan.all_windows()
    first = plan.next_contact(0)
    mine = w.sat == 0
    assert first.start_s == pytest.approx(w.start_s[mine].min())
    later = plan.next_contact(0, after_s=first.end_s + 1)
    assert later.start_s > first.end_s
    summary = {row["station"]: row for row in plan.station_summary()}
    assert summary["Svalbard"]["num_contacts"] == 0  # 78 deg N is out of reach of a 53 deg shell
    assert summary["Wallops"]["num_contacts"] > 0
    gaps = plan.station_gaps_s(2)
    assert np.all(gaps > 0) and gaps.max() == summary["Wallops"]["max_gap_s"]


def test_eclipse_agrees_with_skyfield_is_sunlit(catalogue, skyfield_ts) -> None:
    from skyfield.api import EarthSatellite

    from spikesat.orbits.sun import _ephemeris

    sats = catalogue.select("SENTINEL-2A")
    times = orbits.time_grid(START, 86400, 30)
    plan = orbits.contact_plan(sats, times, orbits.ground_stations("default"), isl=None)
    rec = sats.records[0]
    sat = EarthSatellite(rec.line1, rec.line2, rec.name, skyfield_ts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sat.at(times.skyfield_time()).is_sunlit(_ephemeris())
    agree = np.mean(plan.sunlit()[0] == ref)
    assert agree > 0.99
    assert (
        0.25 < plan.eclipsed().mean() < 0.40
    )  # a dawn-dusk-ish SSO at 10:30 spends ~1/3 in shadow


def test_conical_shadow_fraction_against_analytic() -> None:
    """A circular 550 km orbit containing the Sun direction: time in shadow ~= analytic."""
    radius = 6378.137 + 550.0
    angle = np.linspace(0, 2 * np.pi, 200_000, endpoint=False)
    r = np.stack([radius * np.cos(angle), radius * np.sin(angle), 0 * angle], -1)
    sun = np.array([1.496e8, 0.0, 0.0])
    fraction = orbits.sunlit_fraction(r, sun)
    assert fraction.max() == 1.0 and fraction.min() == 0.0
    # Cylindrical-shadow eclipse fraction acos(sqrt(h^2 + 2Rh) / (R+h)) / pi for beta = 0.
    analytic = np.arccos(np.sqrt(550.0**2 + 2 * 6378.137 * 550.0) / radius) / np.pi
    assert np.mean(fraction < 0.5) == pytest.approx(analytic, abs=0.002)
    penumbra = np.mean((fraction > 0) & (fraction < 1)) * 5731.0  # seconds per orbit
    assert 10.0 < penumbra < 30.0  # two penumbra crossings of ~8 s at 550 km


def test_sun_positions_match_skyfield() -> None:
    times = orbits.time_grid(START, 86400, 3600)
    sun = orbits.sun_positions_ecef_km(times)
    assert sun.shape == (len(times), 3)
    np.testing.assert_allclose(np.linalg.norm(sun, axis=-1), 1.4975e8, rtol=0.002)  # early Oct
    # The Sun crosses the Greenwich meridian near 12:00 UTC (equation of time ~ +10 min).
    noon = np.argmin(np.abs(np.arctan2(sun[:, 1], sun[:, 0])))
    assert noon == 12


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_elevation_deg": 95}, ValueError, "min_elevation_deg=95"),
        ({"stations": []}, ValueError, "non-empty list of GroundStation"),
        ({"stations": ["Svalbard"]}, TypeError, "GroundStation"),
        ({"times": [0, 10]}, TypeError, "TimeGrid"),
        ({"constellation": "starlink"}, TypeError, "Constellation"),
        ({"isl": 4}, TypeError, "isl must be None"),
    ],
)
def test_bad_plan_input(kwargs: dict, error: type, match: str) -> None:
    shell = orbits.preset("research-5x10")
    args = {
        "constellation": shell,
        "times": orbits.time_grid(shell.epoch, 60, 30),
        "stations": orbits.ground_stations("default"),
        **kwargs,
    }
    with pytest.raises(error, match=match):
        orbits.contact_plan(**args)


def test_index_checks() -> None:
    shell = orbits.preset("research-5x10")
    plan = orbits.contact_plan(
        shell, orbits.time_grid(shell.epoch, 60, 30), "default", isl=None, eclipse=False
    )
    with pytest.raises(ValueError, match=r"sat=50 is out of range \[0, 49\]"):
        plan.windows(50, 0)
    with pytest.raises(TypeError, match="station must be an int"):
        plan.windows(0, "Wallops")
    with pytest.raises(ValueError, match="eclipse=False"):
        plan.sunlit()
    assert len(plan.isl_links()) == 0 and plan.isl_config is None


def test_hermite_anchors_match_exact_propagation(catalogue) -> None:
    """SGP4 every 60 s + Hermite in between: sub-metre states, identical windows."""
    from spikesat.orbits.hermite import HermiteSegments

    sats = catalogue.select("STARLINK-10*").subset(np.arange(20))
    times = orbits.time_grid(START, 3 * 3600, 10)
    r, v = sats.states_ecef(times)
    anchors = np.arange(0, len(times), 6)
    interp = HermiteSegments(times.offsets_s[anchors], r[:, anchors], v[:, anchors])
    r_i, v_i = interp.at(times.offsets_s)
    err_m = np.linalg.norm(r_i - r, axis=-1).max(axis=1) * 1000
    assert np.median(err_m) < 0.5  # ~0.3 m at 550 km
    assert err_m.max() < 10.0  # a few metres for STARLINK-1015, re-entering at ~200 km
    verr_m_s = np.linalg.norm(v_i - v, axis=-1).max(axis=1) * 1000
    assert np.median(verr_m_s) < 0.1 and verr_m_s.max() < 2.0  # cm/s; ~1 m/s re-entering
    stations = orbits.ground_stations("default")
    fast = orbits.contact_plan(sats, times, stations, isl=None)
    exact = orbits.contact_plan(sats, times, stations, isl=None, anchor_step_s=None)
    a, b = fast.ground_links(), exact.ground_links()
    np.testing.assert_array_equal(a.sat, b.sat)
    np.testing.assert_array_equal(a.time_index, b.time_index)
    # Metres of position error at hundreds of km of range: ~1e-3 deg at worst.
    np.testing.assert_allclose(a.elevation_deg, b.elevation_deg, atol=2e-3)
    assert np.median(np.abs(a.elevation_deg - b.elevation_deg)) < 1e-4
    np.testing.assert_allclose(a.range_rate_km_s, b.range_rate_km_s, atol=2e-3)
    # Edges refined on the anchors' interpolant: sub-ms typically, a few ms at worst here.
    edge_diff_s = np.abs(fast.all_windows().start_s - exact.all_windows().start_s)
    assert edge_diff_s.max() < 1e-2 and np.median(edge_diff_s) < 5e-4
    np.testing.assert_allclose(fast.sunlit_fraction, exact.sunlit_fraction, atol=1e-3)
    with pytest.raises(ValueError, match="anchor_step_s=-1"):
        orbits.contact_plan(sats, times, stations, isl=None, anchor_step_s=-1)
