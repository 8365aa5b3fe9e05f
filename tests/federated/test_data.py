"""Per-satellite partitions and the bad-input errors of a federated run."""

from __future__ import annotations

import numpy as np
import pytest

from spikesat.federated import build_network, federate, federated_data
from spikesat.federated.data import FederatedData


def test_dirichlet_partition_covers_every_example_once() -> None:
    data = federated_data(10, num_train=300, num_test=20, alpha=0.3, seed=1)
    joined = np.concatenate(data.parts)
    assert np.array_equal(np.sort(joined), np.arange(300))
    counts = data.histogram()
    assert counts.sum() == 300 and counts.shape == (10, 10)
    # Strongly non-IID: most satellites miss some classes entirely.
    assert (counts == 0).sum() > 20
    images, labels = data.client(4)
    assert images.shape == (len(data.parts[4]), 3, 32, 32) and len(labels) == len(images)


def test_per_plane_partition_shares_one_skew_per_plane() -> None:
    planes = np.repeat(np.arange(4), 5)
    data = federated_data(20, num_train=400, scheme="per-plane", alpha=0.2, planes=planes, seed=2)
    counts = data.histogram().astype(float)
    share = counts / counts.sum(1, keepdims=True)
    within = np.mean([share[planes == p].std(0).mean() for p in range(4)])
    across = np.stack([share[planes == p].mean(0) for p in range(4)]).std(0).mean()
    assert within < across / 2  # satellites of a plane look alike, planes differ
    with pytest.raises(ValueError, match="planes"):
        federated_data(20, num_train=400, scheme="per-plane")


def test_bad_partition_inputs() -> None:
    with pytest.raises(ValueError, match="scheme"):
        federated_data(4, scheme="pathological")
    with pytest.raises(ValueError, match="source"):
        federated_data(4, source="imagenet")
    with pytest.raises(ValueError, match="num_train"):
        federated_data(50, num_train=10)
    data = federated_data(4, num_train=40, scheme="iid")
    parts = [*data.parts[:3], np.zeros(0, np.int64)]
    with pytest.raises(ValueError, match="satellite 3 has no training data"):
        FederatedData(
            data.train_images,
            data.train_labels,
            data.test_images,
            data.test_labels,
            parts,
            10,
            "synthetic",
        )


def test_eurosat_partition(data_dir) -> None:
    if not (data_dir / "eurosat_rgb").is_dir():
        pytest.skip("EuroSAT RGB is not in the shared data")
    data = federated_data(5, source="eurosat", num_train=200, num_test=50, image_size=32)
    assert data.train_images.shape[1:] == (3, 32, 32) and data.num_classes == 10


def test_unknown_names_and_unreachable_satellites(small_data) -> None:
    with pytest.raises(ValueError, match="research-5x10"):
        build_network("research-5x11", "default")
    with pytest.raises(ValueError, match="default"):
        build_network("research-5x10", "nowhere-network")
    # A 53 deg shell never rises 10 deg above Svalbard (78 N): every satellite is named.
    polar = build_network("research-5x10", "default", num_stations=1, horizon_h=3.0, step_s=120.0)
    data = federated_data(50, num_train=100, num_test=10, scheme="iid")
    with pytest.raises(ValueError, match="never reach a ground station") as info:
        federate("fedavg-ground", network=polar, data=data, rounds=1)
    assert polar.plan.sat_names[0] in str(info.value)
    with pytest.raises(ValueError, match="20 satellites"):
        federate("fedavg-ground", network=polar, data=small_data, rounds=1)


def test_one_plane_subset_is_plane_zero_of_the_shell() -> None:
    from spikesat.federated.simulation import _subset
    from spikesat.orbits import preset

    shell = preset("research-5x10")  # phasing F = 1: a lone plane must take F = 0
    one = _subset(shell, 10)
    plane0 = shell.planes == 0
    assert one.num_sats == 10 and one.num_planes == 1
    np.testing.assert_allclose(one.raan_rad, shell.raan_rad[plane0])
    np.testing.assert_allclose(one.u0_rad, shell.u0_rad[plane0])
    assert build_network(shell, "default", horizon_h=1.0, step_s=300.0, num_sats=10)
