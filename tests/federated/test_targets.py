"""Real targets: the centralised reference, the target derived from it, runs that stop there."""

from __future__ import annotations

import pytest
import torch

from spikesat.federated import centralised_accuracy, check_target, federate, real_target
from spikesat.models import create


def _model() -> torch.nn.Module:
    return create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32, seed=0)


def test_centralised_training_pools_the_satellites_images_and_leaves_the_model(
    small_data,
) -> None:
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ref = centralised_accuracy(model, small_data, epochs=2, batch_size=16)
    assert ref["num_train"] == len(small_data.train_labels) == 120
    assert 0.0 <= ref["start_accuracy"] <= 1.0 and 0.0 <= ref["accuracy"] <= 1.0
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key  # a copy was trained
    with pytest.raises(TypeError, match="FederatedData"):
        centralised_accuracy(model, (small_data.train_images, small_data.train_labels))


def test_a_real_target_is_a_fraction_of_the_centralised_accuracy() -> None:
    assert real_target(0.8, 0.9) == pytest.approx(0.72)
    with pytest.raises(ValueError, match="above the centralised"):
        real_target(0.8, 1.1)
    with pytest.raises(ValueError, match=r"accuracy in \(0, 1\]"):
        real_target(80.0, 0.9)  # a percentage, not an accuracy
    with pytest.raises(ValueError, match="above the centralised accuracy 0.8000"):
        check_target(0.85, 0.8)
    check_target(0.8, 0.8)


def test_a_run_stops_at_its_target(small_network, small_data, local_config) -> None:
    kwargs = dict(network=small_network, data=small_data, local=local_config, seed=0)
    full = federate("fedavg-ground", rounds=3, **kwargs)
    target = full.history[1]["accuracy"]
    first = next(i for i, h in enumerate(full.history) if h["accuracy"] >= target)
    stopped = federate("fedavg-ground", rounds=3, target_accuracy=target, **kwargs)
    assert stopped.stop_reason == "target" and full.stop_reason == "rounds"
    assert len(stopped.history) == first + 1
    for a, b in zip(stopped.history, full.history, strict=False):
        assert a["accuracy"] == b["accuracy"] and a["sim_time_s"] == b["sim_time_s"]
    assert stopped.time_to_accuracy_s(target) == full.time_to_accuracy_s(target)
    with pytest.raises(ValueError, match="above the centralised accuracy"):
        federate("fedavg-ground", rounds=3, target_accuracy=0.9, centralised_accuracy=0.5, **kwargs)


def test_on_board_only_is_fedisl_under_the_seeds_name(
    small_network, small_data, local_config
) -> None:
    kwargs = dict(network=small_network, data=small_data, local=local_config, seed=0, rounds=1)
    onboard = federate("on-board-only", **kwargs)
    isl = federate("fedisl", **kwargs)
    assert onboard.config["strategy"] == "on-board-only"
    for a, b in zip(onboard.model.parameters(), isl.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert onboard.history[0]["sim_time_s"] == isl.history[0]["sim_time_s"]
