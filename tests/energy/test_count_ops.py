"""count_ops: reference MAC figures, exact synaptic ops, SpikingJelly agreement, serialisation."""

from __future__ import annotations

import json

import pytest
import snntorch
import timm
import torch
from torch import nn

from spikesat.energy import OpCount, count_ops


def test_resnet18_macs_match_the_published_figure():
    # Reference: ResNet-18 at 224x224 costs 1.82 GMACs (He et al. 2016 list 1.8 GFLOPs counted
    # as multiply-adds; torchvision's model card gives 1.81 GFLOPS; ptflops prints 1.82 GMac).
    model = timm.create_model("resnet18", num_classes=1000).eval()
    ops = count_ops(model, torch.randn(1, 3, 224, 224))
    assert ops.macs == pytest.approx(1.82e9, rel=5e-3)
    # Same total as the models layer's dense counter (both on torch.utils.flop_counter).
    from spikesat.models import count_macs

    assert ops.macs == count_macs(model, torch.randn(1, 3, 224, 224))
    assert ops.synops == 0 and ops.neuron_updates == 0
    assert ops.num_params == sum(p.numel() for p in model.parameters())


def test_vit_macs_equal_an_independent_formula():
    img, patch, chans, dim, depth, heads, ratio, classes = 32, 8, 3, 48, 2, 3, 4, 10
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=img,
        patch_size=patch,
        in_chans=chans,
        embed_dim=dim,
        depth=depth,
        num_heads=heads,
        mlp_ratio=ratio,
        num_classes=classes,
    ).eval()
    ops = count_ops(model, torch.randn(2, chans, img, img))
    patches = (img // patch) ** 2
    tokens = patches + 1  # class token
    # patch projection: each patch is a (C p^2) -> D matmul
    expected = patches * chans * patch * patch * dim
    # per block: qkv (N D 3D), scores Q K^T (N N D), attention x V (N N D), proj (N D D),
    # MLP (N D rD + N rD D)
    block = tokens * dim * 3 * dim + 2 * tokens * tokens * dim + tokens * dim * dim
    block += 2 * tokens * dim * ratio * dim
    expected += depth * block + dim * classes  # classifier on the pooled token
    assert ops.macs == 2 * expected
    attention = [layer for layer in ops.per_layer if layer.name == "blocks.0.attn"]
    assert attention[0].macs == 2 * (2 * tokens * tokens * dim)  # batch of 2


def _spikes(shape, p=0.3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=gen) < p).float()


def test_linear_synops_equal_spikes_times_fan_out():
    layer = nn.Linear(4, 3)
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    ops = count_ops(layer, x)
    assert ops.synops == 3 * 3
    assert ops.acs == 9 + 2 * 3  # synops + one bias addition per output
    assert ops.macs == 0
    assert ops.spike_layer_macs == 2 * 4 * 3
    assert ops.per_layer[0].param_reads == 9 + 6


def test_an_ann_fed_zeros_counts_its_dense_macs():
    """An all-zero input is a silent spike train only where spiking neurons exist."""
    conv = nn.Conv2d(3, 4, 8, stride=8)
    ops = count_ops(conv, torch.zeros(1, 3, 64, 64))
    assert ops.macs == 64 * 4 * 3 * 8 * 8 and ops.synops == 0
    assert count_ops(conv, torch.randn(1, 3, 64, 64)).macs == ops.macs


def test_conv_synops_are_exact_per_position_not_kernel_size():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 0, 0] = 1.0  # a corner spike reaches 4 outputs (padding cuts the kernel)
    x[0, 0, 1, 1] = 1.0  # the centre spike reaches all 9 outputs
    assert count_ops(conv, x).synops == (4 + 9) * 2  # not 2 spikes x 9 taps x 2 = 36
    strided = nn.Conv2d(1, 2, 3, padding=1, stride=2, bias=False)
    # outputs sit at (0,0), (0,2), (2,0), (2,2): the centre is in 4 fields, the corner in 1
    assert count_ops(strided, x).synops == (4 + 1) * 2


def test_neuron_updates_and_spikes_from_snntorch_neurons():
    lif = snntorch.Leaky(beta=1.0, threshold=1.0)
    current = torch.tensor([[2.0, 0.1, 1.5, 0.0, 3.0]])
    ops = count_ops(lif, (current, torch.zeros_like(current)))
    assert ops.neuron_updates == 5
    assert ops.spikes == 3
    assert ops.spike_rate == pytest.approx(3 / 5)


def test_synops_equal_spikingjelly_counter():
    sj = pytest.importorskip("spikingjelly", reason="spikingjelly not installed")
    del sj
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.op_counter import DispatchCounterMode, SynOpCounter

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, stride=2),
        neuron.IFNode(v_threshold=0.2),
        nn.Conv2d(4, 4, 3, padding=1, groups=2),
        neuron.IFNode(v_threshold=0.2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 5),
    ).eval()
    x = _spikes((3, 2, 8, 8))
    ours = count_ops(model, x)
    for m in model.modules():
        if hasattr(m, "reset"):
            m.reset()
    counter = SynOpCounter()
    with torch.no_grad(), DispatchCounterMode([counter]):
        model(x)
    assert ours.synops == counter.get_total() > 0
    assert ours.neuron_updates == 3 * 4 * 4 * 4 * 2


def test_opcount_json_round_trip_and_per_example():
    ops = count_ops(nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2)), torch.randn(5, 8))
    data = json.loads(ops.to_json())
    assert OpCount.from_dict(data).to_dict() == ops.to_dict()
    assert data["macs"] == 5 * (8 * 4 + 4 * 2)
    per_example = ops.per_example()
    assert per_example.macs == 8 * 4 + 4 * 2 and per_example.batch_size == 1


def test_memory_bytes_of_a_dense_layer():
    layer = nn.Linear(8, 4)
    ops = count_ops(layer, torch.randn(2, 8))
    # parameters once (36 floats), input (16) and output (8) activations, 4 bytes each
    assert ops.memory_bytes == (36 + 16 + 8) * 4


def test_bad_inputs_are_rejected():
    with pytest.raises(TypeError, match="nn.Module"):
        count_ops(lambda x: x, torch.ones(1))
    with pytest.raises(ValueError, match="NaN"):
        count_ops(nn.Linear(2, 2), torch.tensor([[float("nan"), 1.0]]))
    with pytest.raises(ValueError, match="spikes"):
        count_ops(nn.Linear(2, 2), torch.ones(1, 2), spikes="sometimes")
    with pytest.raises(TypeError, match="tensor"):
        count_ops(nn.Linear(2, 2), [])
    with pytest.raises(ValueError, match="unknown count"):
        OpCount().total("flops")


def test_lam_macs_add_attention_to_the_dense_counter():
    # The LAM calls its blocks one by one (the `blocks` container itself never runs): MACs
    # must still be attributed once. On CPU the fused attention kernel is unknown to
    # torch.utils.flop_counter; both counters add its Q K^T and A V: exactly 2 N^2 D per
    # block (N = 64 patches + 1 class token, D = 64, depth 4).
    import spikesat.models as models

    lam = models.create("vit-micro-p8").eval()
    x = torch.randn(1, 3, 64, 64)
    ops = count_ops(lam, x)
    assert ops.macs == models.count_macs(lam, x)
    assert sum(layer.macs for layer in ops.per_layer if layer.name.endswith("attn")) == (
        4 * 2 * 65 * 65 * 64
    )
