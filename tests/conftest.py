"""Shared fixtures: the real data folder (skipped with a reason where absent) and small seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder named by ``SPIKESAT_DATA_DIR``; skip where it is absent."""
    root = os.environ.get("SPIKESAT_DATA_DIR")
    if not root or not Path(root).is_dir():
        pytest.skip("real data not found: set SPIKESAT_DATA_DIR to the shared data folder")
    return Path(root)


@pytest.fixture(autouse=True)
def _single_thread_torch() -> None:
    """Keep torch on one thread per test worker: the suite runs two workers on two cores."""
    torch.set_num_threads(1)
