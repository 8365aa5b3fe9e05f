"""Hybrid conversion of on-board parts: residual CNNs spike throughout, ViTs where they can."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

import spikesat.models as models
from spikesat.codecs import create as create_codec
from spikesat.energy import count_ops, energy_joules
from spikesat.snn import accuracy, convert, finetune_onboard, prefix_accuracies
from spikesat.snn.hybrid import convert_onboard
from spikesat.snn.onboard_sweep import (
    break_even_rate,
    layer_break_even_rates,
    spike_payload,
    sweep_onboard,
)


def _with_batchnorm_statistics(lam: nn.Module) -> nn.Module:
    """Give every BatchNorm non-trivial running statistics and affine terms (eval mode)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in lam.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.2 * torch.rand(n, generator=gen) - 0.1)
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(0.1 * torch.rand(n, generator=gen))
    return lam.eval()


@pytest.fixture(scope="module")
def resnet_part():
    lam = _with_batchnorm_statistics(models.create("resnet9", seed=0))
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    return models.split(lam, at="layer3").onboard, x


def test_the_rate_converges_to_the_ann_as_steps_grow(resnet_part) -> None:
    part, x = resnet_part
    with torch.no_grad():
        ann = part(x)
        errors = []
        for steps in (8, 64):
            snn = convert_onboard(part, x, num_steps=steps, method="max")
            errors.append(float((snn(x) - ann).norm() / ann.norm()))
    assert errors[1] < 0.5 * errors[0] and errors[1] < 0.3
    again = snn(x)
    torch.testing.assert_close(again, snn(x))  # no state leaks from one call to the next
    pickle.dumps(snn)


def test_layer_table_and_energy_count_the_input_stage_once(resnet_part) -> None:
    part, x = resnet_part
    snn = convert_onboard(part, x, num_steps=4)
    table = snn.layer_table(x[:2])
    convs = [r for r in table if r.kind == "Conv2d"]
    assert convs[0].name == "stem.conv" and convs[0].role == "analog"
    assert "analog image" in convs[0].reason
    assert convs[1:] and all(r.role == "spiking" for r in convs[1:])
    assert sum(r.role == "neuron" for r in table) == 8  # stem, 3 layer convs, 2 x 2 residual
    ops = count_ops(snn, x[:1])
    stem_macs = models.count_macs(part[0].conv, x[:1])
    assert ops.macs == stem_macs  # the analog stem once per inference, the rest synaptic
    assert ops.synops > 0 and ops.neuron_updates > 0


def test_a_spiking_head_counts_only_its_encoder_as_macs() -> None:
    """Synop counting runs convolutions of its own; they are not booked as MACs."""
    head = nn.Sequential(
        nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4)
    )
    features = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    snn = convert(head, features, num_steps=4, method="max")
    ops = count_ops(snn, features[:1])
    assert ops.macs == 16 * 32


def test_spikes_at_the_cut_are_a_lossless_payload(resnet_part) -> None:
    _, x = resnet_part
    lam = _with_batchnorm_statistics(models.create("resnet9", seed=0))
    onboard = models.split(lam, at="layer2").onboard
    snn = convert_onboard(onboard, x, num_steps=4)
    spikes = snn.forward_spikes(x[:2])
    assert spikes.shape == (4, 2, 128, 4, 4) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    theta = snn.thresholds["layer2.act"]
    torch.testing.assert_close(spikes.mean(0) * theta, snn(x[:2]))
    codec = create_codec("spikes", in_channels=128)
    torch.testing.assert_close(codec.decompress(codec.compress(spikes)), spikes)
    pooled = convert_onboard(models.split(lam, at="pool").onboard, x, num_steps=2)
    with pytest.raises(ValueError, match="does not end in spiking neurons"):
        pooled.forward_spikes(x[:2])


def test_a_vit_keeps_gelu_layernorm_and_attention_analog() -> None:
    lam = models.create("vit-micro-p8", seed=0).eval()
    part = models.split(lam, at="blocks.1").onboard
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with pytest.raises(ValueError, match="gelu='relu'"):
        convert_onboard(part, x)
    snn = convert_onboard(part, x, num_steps=4, gelu="relu")
    roles = {r.name: r for r in snn.layer_table(x[:1])}
    assert roles["blocks_0.mlp.fc2"].role == "spiking"
    assert roles["blocks_0.attn.qkv"].role == "analog"
    assert roles["blocks_0.norm1"].role == "analog-nonlinear"


def test_a_convnext_spikes_at_its_timm_gelus_and_keeps_its_norms_analog() -> None:
    lam = models.create("convnextv2-atto", seed=0).eval()
    part = models.split(lam, at="stages.1").onboard
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    with pytest.raises(ValueError, match=r"\['GELU'\] stay analog; pass gelu='relu'"):
        convert_onboard(part, x)  # timm's GELU module is found although it is no nn.GELU
    snn = convert_onboard(part, x, num_steps=4, gelu="relu")
    table = snn.layer_table(x[:1])
    kinds = {(r.kind, r.role) for r in table}
    assert ("LayerNorm2d", "analog-nonlinear") in kinds
    assert ("GlobalResponseNorm", "analog-nonlinear") in kinds
    assert sum(r.role == "neuron" for r in table) == 4  # one per block
    assert not any(r.kind == "DropPath" for r in table)  # identity at inference
    assert snn(x).shape == part(x).shape


def test_bad_input_is_named(resnet_part) -> None:
    part, x = resnet_part
    with pytest.raises(ValueError, match="num_steps"):
        convert_onboard(part, x, num_steps=0)
    with pytest.raises(ValueError, match="unknown method"):
        convert_onboard(part, x, method="nope")
    with pytest.raises(ValueError, match="QCFS"):
        convert_onboard(part, x, method="qcfs")
    with pytest.raises(ValueError):
        convert_onboard(part, torch.randn(4, 13, 32, 32))
    silent = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 1))
    with torch.no_grad():
        silent[0].weight.fill_(-1.0)
        silent[0].bias.zero_()
    with pytest.raises(ValueError, match="never fire"):
        convert_onboard(silent, torch.rand(2, 3, 8, 8))


def test_convert_takes_a_split_lams_onboard_part(resnet_part) -> None:
    part, x = resnet_part
    snn = convert(part, x, num_steps=4, method="max")
    assert type(snn).__name__ == "HybridSNN" and snn(x).shape == part(x).shape
    with pytest.raises(ValueError, match="QCFS"):
        convert(part, x)  # the contract's default method needs QCFS activations


def test_onboard_sweep_puts_the_int8_ann_beside_each_snn(resnet_part) -> None:
    _, x = resnet_part
    lam = _with_batchnorm_statistics(models.create("resnet9", seed=0))
    labels = torch.arange(len(x)) % 10
    rows = sweep_onboard(
        lam, "layer2", x, x, labels, steps=(1, 2), methods=("max",), num_energy_examples=2
    )
    assert [r["model"] for r in rows] == ["ann-fp32", "ann-int8", "snn-max", "snn-max"]
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    assert rows[2]["analog_layers"] == ["stem.conv"] and rows[3]["synops"] > rows[2]["synops"]
    assert set(rows[3]["break_even_rate"]) == {"loihi", "spinnaker2"}


def test_the_sweep_prices_the_spikes_at_the_cut_as_the_payload(resnet_part) -> None:
    _, x = resnet_part
    lam = _with_batchnorm_statistics(models.create("resnet9", seed=0))
    labels = torch.arange(len(x)) % 10
    rows = sweep_onboard(
        lam, "layer2", x, x, labels, steps=(4,), methods=("max",), num_energy_examples=2,
        payload_examples=4,
    )  # fmt: skip
    snn = convert_onboard(models.split(lam, at="layer2").onboard, x, num_steps=4, method="max")
    spikes = snn.forward_spikes(x[:4])
    codec = create_codec("spikes", 128)
    expected = sum(s.num_bytes for s in codec.compress(spikes)) / 4
    assert rows[-1]["payload_bytes"] == pytest.approx(expected)
    assert spike_payload(snn, x[:4], batch_size=3) == pytest.approx(expected)  # batch-free
    raw_bits_bytes = spikes[:, 0].numel() / 8  # 4 x 128 x 4 x 4 bits, before framing
    assert rows[-1]["payload_bytes"] < raw_bits_bytes + 64
    assert (
        "payload_bytes"
        not in sweep_onboard(
            lam, "layer2", x, x, labels, steps=(1,), methods=("max",), num_energy_examples=2
        )[-1]
    )


def test_break_even_rate_is_the_measured_rate_at_the_measured_energy(resnet_part) -> None:
    part, x = resnet_part
    snn = convert_onboard(part, x, num_steps=4, method="max")
    ops = count_ops(snn, x[:1])
    rate = ops.spike_rate
    ops = ops.per_example()
    measured = energy_joules(ops, "loihi").total_j
    assert break_even_rate(ops, rate, "loihi", measured) == pytest.approx(rate)
    assert break_even_rate(ops, rate, "loihi", 1e-15) == float("inf")


def test_each_spiking_layer_gets_the_rate_it_would_need(resnet_part) -> None:
    part, x = resnet_part
    ann_ops = count_ops(part, x[:1]).per_example()
    needed = {}
    for steps in (4, 8):
        snn = convert_onboard(part, x, num_steps=steps, method="max")
        rows = layer_break_even_rates(count_ops(snn, x[:1]).per_example(), ann_ops, "loihi")
        assert [r["layer"] for r in rows][:2] == ["layer1.0.conv", "layer1.1.conv1"]
        assert "stem.conv" not in {r["layer"] for r in rows}  # analog: no spikes in
        assert all(0 < r["rate"] < 1 and r["needed_rate"] > 0 for r in rows)
        needed[steps] = {r["layer"]: r["needed_rate"] for r in rows}
    # Spike-driven joules grow with spikes = rate x neurons x steps: twice the steps, half the
    # rate for the same joules.
    for layer, rate in needed[4].items():
        assert needed[8][layer] == pytest.approx(rate / 2, rel=1e-6)


def test_the_spike_rate_loss_lowers_the_spike_rate(resnet_part) -> None:
    _, x = resnet_part
    lam = _with_batchnorm_statistics(models.create("resnet9", seed=0))
    sm = models.split(lam, at="layer2")
    labels = torch.arange(len(x)) % 10
    rates = {}
    for weight in (0.0, 20.0):
        snn = convert_onboard(sm.onboard, x, num_steps=2, method="max")
        history = finetune_onboard(
            snn, sm.remote, (x, labels), num_steps=2, rate_weight=weight, epochs=3, lr=1e-3,
            batch_size=4,
        )  # fmt: skip
        assert len(history) == 3 and all(h["loss"] > 0 for h in history)
        snn(x)
        rates[weight] = snn.spike_rate
    assert rates[20.0] < 0.8 * rates[0.0]
    assert all(p.requires_grad is False for p in sm.remote.parameters())
    with pytest.raises(ValueError, match="rate_weight"):
        finetune_onboard(snn, sm.remote, (x, labels), num_steps=2, rate_weight=-1.0)


def test_one_long_run_gives_every_shorter_runs_output(resnet_part) -> None:
    part, x = resnet_part
    snn = convert_onboard(part, x, num_steps=8, method="max")
    with torch.no_grad():
        running = snn.forward_steps(x).cumsum(0)
        for steps in (1, 3, 8):
            snn.num_steps = steps
            torch.testing.assert_close(running[steps - 1] / steps, snn(x))
    snn.num_steps = 8
    head = nn.Sequential(nn.Flatten(), nn.LazyLinear(4))
    head(x[:1].new_zeros(1, *running.shape[2:]))
    labels = torch.arange(len(x)) % 4
    got = prefix_accuracies(snn.forward_steps, head, x, labels, (1, 2, 8), batch_size=3)
    for steps, value in got.items():
        snn.num_steps = steps
        assert value == accuracy(nn.Sequential(snn, head), x, labels)
    with pytest.raises(ValueError, match="fewer than the 16"):
        prefix_accuracies(snn.forward_steps, head, x, labels, (16,))
