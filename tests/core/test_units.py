"""Unit helpers against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spikesat import units


def test_db_round_trips_on_floats_arrays_and_tensors() -> None:
    assert units.db_to_lin(30.0) == pytest.approx(1000.0)
    assert units.lin_to_db(0.5) == pytest.approx(-3.0103, abs=1e-4)
    arr = np.array([0.1, 1.0, 10.0])
    np.testing.assert_allclose(units.db_to_lin(units.lin_to_db(arr)), arr)
    t = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    torch.testing.assert_close(units.db_to_lin(units.lin_to_db(t)), t)
    assert units.lin_to_db(np.array([0.0]))[0] == -math.inf


def test_power_conversions() -> None:
    assert units.dbm_to_w(30.0) == pytest.approx(1.0)
    assert units.w_to_dbm(0.001) == pytest.approx(0.0)
    assert units.dbw_to_w(10.0) == pytest.approx(10.0)
    assert units.w_to_dbw(100.0) == pytest.approx(20.0)


def test_constants_and_delay() -> None:
    # Boltzmann's constant is -228.6 dBW/K/Hz.
    assert units.BOLTZMANN_DBW_PER_K_HZ == pytest.approx(-228.599, abs=1e-3)
    # Light crosses 299,792.458 km in one second.
    assert units.propagation_delay_s(299_792.458) == pytest.approx(1.0)
    assert units.km_to_m(1.5) == 1500.0 and units.m_to_km(1500.0) == 1.5
