"""A run priced as another LAM: the same learning, the priced model's MACs and bytes."""

from __future__ import annotations

import pytest
import torch

from spikesat.federated import federate
from spikesat.federated.pricing import build_pricing, priced_bytes
from spikesat.models import count_macs, create


@pytest.fixture(scope="module")
def onboard_runs(small_network, small_data, local_config):
    """One on-board-only round, unpriced and priced as vit-small-p8 at 32 x 32."""
    common = dict(network=small_network, data=small_data, rounds=1, local=local_config)
    plain = federate("on-board-only", **common)
    priced = federate("on-board-only", price_as="vit-small-p8", **common)
    return plain, priced


def test_pricing_leaves_the_learning_unchanged(onboard_runs) -> None:
    plain, priced = onboard_runs
    for a, b in zip(
        plain.model.state_dict().values(), priced.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert plain.history[0]["accuracy"] == priced.history[0]["accuracy"]
    assert priced.history[0]["sim_time_s"] > plain.history[0]["sim_time_s"]


def test_priced_updates_carry_the_priced_models_values(onboard_runs) -> None:
    plain, priced = onboard_runs
    small = create("vit-small-p8", in_chans=3, num_classes=10, img_size=32)
    small_numel = sum(p.numel() for p in small.parameters())
    plain_numel = plain.config["num_trainable_params"]
    expected = priced_bytes(plain.config["update_bytes"], plain_numel, small_numel)
    assert priced.config["update_bytes"] == expected
    assert priced.config["price_as"]["trainable_params"] == small_numel
    # One download and one upload per plane, each exactly one priced update.
    entry, num_planes = priced.history[0], priced.history[0]["num_planes"]
    assert entry["bytes_ground_up"] == num_planes * expected
    assert entry["bytes_ground_down"] == num_planes * expected


def test_priced_compute_joules_scale_with_the_priced_macs(onboard_runs) -> None:
    plain, priced = onboard_runs
    sample = torch.zeros(1, 3, 32, 32)
    micro = count_macs(create("vit-micro-p8", in_chans=3, num_classes=10, img_size=32), sample)
    small = priced.config["price_as"]["forward_macs"]
    ratio = priced.energy["compute_j"] / plain.energy["compute_j"]
    assert ratio == pytest.approx(small / micro, rel=1e-9)


def test_split_lam_priced_tokens_are_the_priced_shape(small_network, small_data) -> None:
    common = dict(
        network=small_network, data=small_data, rounds=1, strategy_kwargs={"batch_size": 4}
    )
    plain = federate("split-lam", **common)
    priced = federate("split-lam", price_as="vit-small-p8", price_image_size=64, **common)
    examples = sum(min(4, small_data.num_samples(s)) for s in range(small_data.num_sats))
    assert priced.history[0]["bytes_embeddings"] == examples * 65 * 384 * 4  # [b, 65, 384] fp32
    assert priced.config["price_as"]["image_size"] == 64
    # One step per round does not depend on timing: the same model either way.
    for a, b in zip(
        plain.model.state_dict().values(), priced.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_priced_lora_updates_count_the_priced_adapters() -> None:
    full = build_pricing("vit-small-p8", 3, 10, 32)
    lora = build_pricing("vit-small-p8", 3, 10, 32, trainable="lora", lora_rank=4)
    assert 0 < lora.trainable_numel() < full.trainable_numel() / 20
    assert priced_bytes(1000, 10, 20) == 1040


def test_pricing_bad_input_is_named(small_network, small_data) -> None:
    common = dict(network=small_network, data=small_data, rounds=1)
    with pytest.raises(ValueError, match="price_image_size needs price_as"):
        federate("fedavg-ground", price_image_size=64, **common)
    with pytest.raises(ValueError, match="codec cannot be combined"):
        federate("split-lam", price_as="vit-small-p8", strategy_kwargs={"codec": "int8"}, **common)
    with pytest.raises(ValueError, match="no patch embedding"):
        federate("split-lam", price_as="resnet9", **common)
    with pytest.raises(ValueError, match="positive int"):
        build_pricing("vit-small-p8", 3, 10, 0)
    with pytest.raises(ValueError, match="unknown"):
        federate("fedavg-ground", price_as="vit-enormous", **common)


def test_a_cnn_named_by_its_name_federates(small_network, small_data, local_config) -> None:
    """CNNs take no image size: federate builds them by name (and prices them) all the same."""
    common = dict(network=small_network, data=small_data, rounds=1, local=local_config)
    result = federate("fedavg-ground", model="resnet9", price_as="resnet18", **common)
    assert result.config["model"] == "resnet9" and 0.0 <= result.final_accuracy <= 1.0
    assert result.config["price_as"]["model"] == "resnet18"
