"""Walker shells: geometry, Kepler period, J2 drift, velocities, torch path, presets, bad input."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from spikesat import orbits
from spikesat.orbits.walker import j2_secular_rates_rad_s
from spikesat.units import EARTH_J2, EARTH_MU_KM3_S2, EARTH_RADIUS_KM


def _node_and_u(r: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RAAN and argument of latitude [rad] from inertial states ``[..., 3]``."""
    h = np.cross(r, v)
    node = np.arctan2(h[..., 0], -h[..., 1])
    n_hat = np.stack([np.cos(node), np.sin(node), np.zeros_like(node)], -1)
    cos_u = np.einsum("...k,...k->...", r, n_hat) / np.linalg.norm(r, axis=-1)
    sin_u = r[..., 2] / (
        np.linalg.norm(r, axis=-1) * np.sin(np.arccos(h[..., 2] / np.linalg.norm(h, axis=-1)))
    )
    return node, np.arctan2(sin_u, cos_u)


def test_plane_spacing_and_phasing() -> None:
    shell = orbits.walker_delta(60, 6, 2, altitude_km=700, inclination_deg=60, j2=False)
    times = orbits.time_grid(shell.epoch, 0, 1)
    r, v = shell.states_teme(times)
    node, u = _node_and_u(r[:, 0], v[:, 0])
    node_deg = np.degrees(node).reshape(6, 10) % 360
    u_deg = np.degrees(u).reshape(6, 10) % 360

    # Planes 360/P = 60 deg apart; satellites 360/(T/P) = 36 deg apart in a plane.
    def wrap(x: np.ndarray) -> np.ndarray:
        return (x + 180.0) % 360.0 - 180.0

    np.testing.assert_allclose(wrap(node_deg[:, 0] - np.arange(6) * 60.0), 0.0, atol=1e-9)
    np.testing.assert_allclose(wrap(node_deg - node_deg[:, :1]), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.diff(u_deg[0]), 36.0, atol=1e-9)
    # Adjacent planes phased by F * 360 / T = 2 * 6 = 12 deg.
    np.testing.assert_allclose((u_deg[1:, 0] - u_deg[:-1, 0]) % 360, 12.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(r, axis=-1), EARTH_RADIUS_KM + 700, rtol=1e-12)
    np.testing.assert_array_equal(shell.planes, np.repeat(np.arange(6), 10))


def test_star_pattern_spreads_nodes_over_180_degrees() -> None:
    shell = orbits.preset("iridium")
    assert shell.is_star and shell.num_planes == 6 and shell.num_sats == 66
    np.testing.assert_allclose(np.degrees(np.unique(shell.raan_rad)), np.arange(6) * 30.0)


def test_kepler_period_without_j2() -> None:
    shell = orbits.walker_delta(1, 1, 0, altitude_km=550, inclination_deg=53, j2=False)
    a = EARTH_RADIUS_KM + 550
    kepler_s = 2 * math.pi * math.sqrt(a**3 / EARTH_MU_KM3_S2)
    assert shell.period_s == pytest.approx(kepler_s, rel=1e-12)
    # Measure it: the satellite returns to its starting inertial position after one period.
    times = orbits.time_grid(shell.epoch, 3.5 * kepler_s, 1.0)
    z = shell.positions_teme_km(times)[0, :, 2]
    up = np.flatnonzero((z[:-1] < 0) & (z[1:] >= 0))
    crossings = times.offsets_s[up] - z[up] / (z[up + 1] - z[up]) * 1.0
    assert np.diff(crossings) == pytest.approx([kepler_s, kepler_s], abs=0.05)


def test_j2_raan_drift_of_sun_synchronous_orbit() -> None:
    shell = orbits.preset("sentinel-2")
    assert shell.altitude_km == 786.0 and 98.4 < shell.inclination_deg < 98.7
    # Measure the node: the inertial longitude of each ascending equator crossing.
    times = orbits.time_grid(shell.epoch, 5 * 86400, 20)
    r = shell.positions_teme_km(times)[0]
    k = np.flatnonzero((r[:-1, 2] < 0) & (r[1:, 2] >= 0))
    frac = -r[k, 2] / (r[k + 1, 2] - r[k, 2])
    at_node = r[k] + frac[:, None] * (r[k + 1] - r[k])
    node_deg = np.degrees(np.unwrap(np.arctan2(at_node[:, 1], at_node[:, 0])))
    t_days = (times.offsets_s[k] + frac * 20) / 86400
    drift_deg_day = np.polyfit(t_days, node_deg, 1)[0]
    # Analytic J2 rate -3/2 n J2 (R/a)^2 cos i ...
    a = EARTH_RADIUS_KM + 786
    n = math.sqrt(EARTH_MU_KM3_S2 / a**3)
    analytic = (
        -1.5
        * n
        * EARTH_J2
        * (EARTH_RADIUS_KM / a) ** 2
        * math.cos(math.radians(shell.inclination_deg))
    )
    np.testing.assert_allclose(drift_deg_day, math.degrees(analytic) * 86400, rtol=1e-4)
    # ... which is the sun-synchronous +0.9856 deg/day (360 deg per tropical year).
    np.testing.assert_allclose(drift_deg_day, 0.9856, atol=0.0005)


def test_j2_advances_argument_of_latitude_as_analytic() -> None:
    raan_dot, u_dot = j2_secular_rates_rad_s(550.0, 53.0)
    n = math.sqrt(EARTH_MU_KM3_S2 / (EARTH_RADIUS_KM + 550) ** 3)
    k = EARTH_J2 * (EARTH_RADIUS_KM / (EARTH_RADIUS_KM + 550)) ** 2
    c = math.cos(math.radians(53))
    assert raan_dot == pytest.approx(-1.5 * n * k * c, rel=1e-14)
    # du/dt = n + dω/dt + dM0/dt = n + 3/4 n k (5c²-1) + 3/4 n k (3c²-1)
    assert u_dot == pytest.approx(
        n + 0.75 * n * k * (5 * c * c - 1) + 0.75 * n * k * (3 * c * c - 1)
    )
    # Starlink shell 1 regresses about -4.5 deg/day.
    assert math.degrees(raan_dot) * 86400 == pytest.approx(-4.5, abs=0.1)


def test_velocities_are_derivatives_of_positions() -> None:
    shell = orbits.preset("research-5x10")
    step = 0.5
    times = orbits.time_grid("2025-03-01T00:00:00Z", 20, step)
    r = shell.positions_ecef_km(times)
    v = shell.velocities_ecef_km_s(times)
    central = (r[:, 2:] - r[:, :-2]) / (2 * step)
    np.testing.assert_allclose(central, v[:, 1:-1], atol=2e-6)
    # Earth-fixed states equal the inertial ones rotated by GMST (one formula, two routes).
    from spikesat.orbits.constellation import Constellation

    r_generic, v_generic, _ = Constellation.propagate_ecef(shell, times)
    np.testing.assert_allclose(r_generic, r, atol=1e-8)
    np.testing.assert_allclose(v_generic, v, atol=1e-11)


def test_subpoints() -> None:
    shell = orbits.preset("research-5x10")
    sub = shell.subpoints(orbits.time_grid(shell.epoch, 6000, 60))
    assert sub.lat_deg.shape == (50, 101)
    assert np.abs(sub.lat_deg).max() == pytest.approx(53.0, abs=0.3)  # geodetic vs geocentric
    # A circular orbit above the equatorial radius sits higher above the flattened poles.
    assert 549.9 < sub.alt_km.min() and sub.alt_km.max() < 550 + 21.4 * 0.65


def test_torch_path_matches_numpy() -> None:
    shell = orbits.preset("research-5x10")
    times = orbits.time_grid("2025-06-01T00:00:00Z", 3600, 30)
    r_np, v_np = shell.states_ecef(times)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    r_t, v_t = shell.states_ecef_torch(times, device=device)
    assert r_t.shape == (50, len(times), 3) and r_t.dtype == torch.float64
    np.testing.assert_allclose(r_t.cpu().numpy(), r_np, atol=1e-7)
    np.testing.assert_allclose(v_t.cpu().numpy(), v_np, atol=1e-10)
    r32, _ = shell.states_ecef_torch(times, device=device, dtype=torch.float32)
    assert np.abs(r32.cpu().numpy() - r_np).max() < 5e-3  # float32: millimetres-metres


def test_presets_have_sources_and_sizes() -> None:
    rows = {p.name: p for p in orbits.list_presets()}
    expected = {
        "starlink-shell1": (1584, 72, 550.0, 53.0),
        "kuiper-630": (1156, 34, 630.0, 51.9),
        "oneweb": (588, 12, 1200.0, 87.9),
        "iridium": (66, 6, 781.0, 86.4),
        "research-5x10": (50, 5, 550.0, 53.0),
    }
    for name, (num, planes, alt, inc) in expected.items():
        row = rows[name]
        assert (row.num_sats, row.num_planes, row.altitude_km, row.inclination_deg) == (
            num,
            planes,
            alt,
            inc,
        )
    for row in rows.values():
        assert row.source and ("published" in row.source or "modelled" in row.source)
    assert rows["sentinel-2"].altitude_km == 786.0


def test_unknown_preset_lists_choices() -> None:
    with pytest.raises(ValueError, match="starlink-shell1") as err:
        orbits.preset("starlink-shel1")
    assert "Did you mean 'starlink-shell1'" in str(err.value)


def test_pickle_round_trip() -> None:
    shell = orbits.preset("research-5x10")
    times = orbits.time_grid(shell.epoch, 600, 60)
    back = pickle.loads(pickle.dumps(shell))
    np.testing.assert_array_equal(back.positions_ecef_km(times), shell.positions_ecef_km(times))
    buffer = __import__("io").BytesIO()
    torch.save(shell, buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=False).num_sats == 50


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((50, 6, 1, 550, 53), ValueError, "not divisible by num_planes=6.*num_sats=48 or 54"),
        ((50, 5, 1, -550, 53), ValueError, "altitude_km=-550 must be > 0"),
        ((50, 5, 5, 550, 53), ValueError, r"phasing=5 .*\[0, 4\]"),
        ((50, 5, 1, 550, 190), ValueError, "inclination_deg=190"),
        ((50.0, 5, 1, 550, 53), TypeError, "num_sats must be an int"),
        ((50, 0, 0, 550, 53), ValueError, "positive"),
        ((50, 5, 1, "550", 53), TypeError, "altitude_km must be a number"),
    ],
)
def test_bad_walker_input(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        orbits.walker_delta(*args)
