"""Plus-grid ISLs: degree 4 below the polar cut-off, seam, Earth-grazing and range limits."""

from __future__ import annotations

import numpy as np
import pytest

from spikesat import orbits
from spikesat.orbits.isl import clears_earth
from spikesat.units import SPEED_OF_LIGHT_M_S

STATION = [orbits.GroundStation("Equator", 0.0, 0.0)]


def _plan(shell: orbits.Constellation, isl: object, num_steps: int = 4) -> orbits.ContactPlan:
    times = orbits.time_grid("2025-02-01T00:00:00Z", 600 * (num_steps - 1), 600)
    return orbits.contact_plan(shell, times, STATION, isl=isl, eclipse=False)


def test_starlink_shell_has_degree_four_everywhere() -> None:
    shell = orbits.preset("starlink-shell1")
    plan = _plan(shell, "plus-grid")
    for t in range(len(plan.times)):
        np.testing.assert_array_equal(plan.isl_degree(t), 4)
    links = plan.isl_links()
    assert len(links) == 2 * shell.num_sats * len(plan.times)
    assert np.all(links.sat_a < links.sat_b)
    # Intra-plane neighbours of a 22-satellite plane at 550 km are one chord apart.
    chord = 2 * shell.semi_major_axis_km * np.sin(np.pi / 22)
    intra = plan.planes[links.sat_a] == plan.planes[links.sat_b]
    np.testing.assert_allclose(links.range_km[intra], chord, rtol=1e-6)


def test_delta_seam_links_last_plane_to_first_with_phasing_shift() -> None:
    shell = orbits.walker_delta(40, 4, 1, altitude_km=550, inclination_deg=53)
    cand = orbits.PlusGrid().candidates(shell)
    pairs = set(zip(cand.sat_a.tolist(), cand.sat_b.tolist(), strict=True))
    # plane 3 slot 9 (index 39) links to plane 0 slot (9 + F) % 10 = 0 (index 0).
    assert (0, 39) in pairs and (0, 30) not in pairs
    assert len(cand) == 80  # 40 intra + 40 cross
    star = orbits.walker_star(40, 4, 1, altitude_km=550, inclination_deg=86)
    assert len(orbits.PlusGrid().candidates(star)) == 70  # no seam: 40 intra + 30 cross


def test_polar_cutoff_removes_cross_plane_links_at_high_latitude() -> None:
    shell = orbits.walker_delta(720, 36, 1, altitude_km=780, inclination_deg=88)
    grid = orbits.PlusGrid(polar_cutoff_lat_deg=70.0)
    plan = _plan(shell, grid, num_steps=3)
    times = plan.times
    r = shell.positions_ecef_km(times)
    lat = np.degrees(np.arcsin(r[..., 2] / np.linalg.norm(r, axis=-1)))
    cand = grid.candidates(shell)
    for t in range(len(times)):
        degree = plan.isl_degree(t)
        polar = np.abs(lat[:, t]) > 70.0
        assert np.all(degree[polar] == 2)  # only the two intra-plane links
        # Away from the cut-off every cross-plane neighbour is also below it: degree 4.
        cross_polar = np.zeros(shell.num_sats, bool)
        ends = polar[cand.sat_a] | polar[cand.sat_b]
        cross_polar[cand.sat_a[ends & cand.cross_plane]] = True
        cross_polar[cand.sat_b[ends & cand.cross_plane]] = True
        assert np.all(degree[~polar & ~cross_polar] == 4)
        assert polar.any() and (~polar & ~cross_polar).any()


def test_earth_grazing_links_are_removed() -> None:
    # Three satellites 120 deg apart: every chord passes through the Earth.
    shell = orbits.walker_delta(3, 1, 0, altitude_km=550, inclination_deg=53)
    plan = _plan(shell, orbits.PlusGrid(max_range_km=1e6))
    assert len(plan.isl_links()) == 0
    # Eight per plane at 550 km: chord midpoints sit at a cos(22.5 deg) = 6401 km from the
    # centre, below 6378 + 80 km but above 6378 + 0 km.
    eight = orbits.walker_delta(8, 1, 0, altitude_km=550, inclination_deg=53)
    assert len(_plan(eight, orbits.PlusGrid(max_range_km=1e6)).isl_links()) == 0
    thin = orbits.PlusGrid(max_range_km=1e6, atmosphere_height_km=0.0)
    assert len(_plan(eight, thin).isl_links()) == 8 * 4


def test_max_range_and_delay() -> None:
    shell = orbits.preset("research-5x10")  # intra-plane chord 4,282 km
    assert len(_plan(shell, orbits.PlusGrid(max_range_km=4000)).isl_links()) == 0
    plan = _plan(shell, "plus-grid")
    graph = plan.graph(0)
    links = plan.isl_links(0)
    a, b, rng = int(links.sat_a[0]), int(links.sat_b[0]), float(links.range_km[0])
    edge = graph.edges[("sat", a), ("sat", b)]
    assert edge["delay_s"] == pytest.approx(rng * 1000 / SPEED_OF_LIGHT_M_S, rel=1e-12)
    assert edge["kind"] == "isl"


def test_clears_earth_geometry() -> None:
    r1 = np.array([[7000.0, -3000.0, 0.0], [7000.0, -3000.0, 0.0]])
    d = np.array([[0.0, 6000.0, 0.0], [-7000.0, 6000.0, 0.0]])
    ok = clears_earth(r1, d, np.einsum("ik,ik->i", d, d), 80.0)
    np.testing.assert_array_equal(ok, [True, False])


def test_bad_topologies() -> None:
    with pytest.raises(ValueError, match="polar_cutoff_lat_deg=95"):
        orbits.PlusGrid(polar_cutoff_lat_deg=95)
    with pytest.raises(ValueError, match="unknown ISL topology 'mesh'"):
        _plan(orbits.preset("research-5x10"), "mesh")
    iss = orbits.load_tle(
        "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991\n"
        "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482\n"
    )
    with pytest.raises(ValueError, match="pass isl=None"):
        orbits.contact_plan(iss, orbits.time_grid("2019-12-09T17:00:00Z", 60, 60), STATION)
