"""Surrogate fine-tuning and NIR export / re-execution (task heads and on-board parts)."""

from __future__ import annotations

import nir
import pytest
import torch
from torch import nn

import spikesat.models as models
from spikesat.snn import (
    accuracy,
    convert,
    convert_onboard,
    export_nir,
    finetune,
    list_surrogates,
    run_nir,
)


def test_finetune_recovers_accuracy_at_one_step(task):
    head, x, y, x_test, y_test = task
    snn = convert(head, x, num_steps=1, method="max", v_init=0.0)
    before = accuracy(snn, x_test, y_test)
    history = finetune(snn, (x, y), num_steps=1, surrogate="atan", epochs=15, lr=3e-3)
    after = accuracy(snn, x_test, y_test)
    assert history[-1] < history[0]
    assert after > before + 0.05
    assert "fast_sigmoid" in list_surrogates()
    with pytest.raises(ValueError, match="surrogate"):
        finetune(snn, (x, y), num_steps=1, surrogate="tanh")
    with pytest.raises(TypeError, match="SpikingNetwork"):
        finetune(head, (x, y), num_steps=1)


@pytest.mark.parametrize("beta", [1.0, 0.9])
def test_nir_round_trip_matches_outputs(task, tmp_path, beta):
    head, x, _, x_test, _ = task
    snn = convert(head, x, num_steps=6, method="percentile", beta=beta)
    path = tmp_path / "head.nir"
    export_nir(snn, x[:2], path)
    graph = nir.read(str(path))
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert ("IF" if beta == 1.0 else "LIF") in kinds and "Affine" in kinds
    assert graph.metadata["num_steps"] == 6
    torch.testing.assert_close(run_nir(graph, x_test), snn(x_test), atol=1e-5, rtol=1e-5)


def test_nir_conv_network(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16, 3),
    ).eval()
    x = torch.randn(8, 2, 8, 8)
    snn = convert(model, x, num_steps=5, method="max")
    export_nir(snn, x, tmp_path / "conv.nir")
    torch.testing.assert_close(run_nir(tmp_path / "conv.nir", x), snn(x), atol=1e-5, rtol=1e-5)
    with_maxpool = nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3)
    ).eval()
    with pytest.raises(ValueError, match="MaxPool"):
        export_nir(convert(with_maxpool, x, method="max"), x)


class _Residual(nn.Module):
    """``relu(x + bn(conv(x)))``: a residual sum for the graph export."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.bn(self.conv(x)))


def test_an_onboard_part_with_residual_sums_exports_and_runs_as_converted(tmp_path):
    torch.manual_seed(0)
    part = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        _Residual(4),
        nn.AvgPool2d(2),
        _Residual(4),
        nn.Flatten(),
        nn.Linear(64, 6),
        nn.ReLU(),
    )
    for m in part.modules():  # non-trivial BatchNorm statistics to fold
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    part.eval()
    x = torch.rand(6, 3, 8, 8)
    snn = convert_onboard(part, x, num_steps=6, method="max")
    export_nir(snn, x[:2], tmp_path / "part.nir")
    graph = nir.read(str(tmp_path / "part.nir"))
    kinds = [type(node).__name__ for node in graph.nodes.values()]
    assert kinds.count("IF") == 4 and "AvgPool2d" in kinds and "BatchNorm2d" not in kinds
    sums = [n for n, node in graph.nodes.items() if type(node).__name__ == "Scale"]
    fan_in = {n: sum(dst == n for _, dst in graph.edges) for n in sums}
    assert sorted(fan_in.values()).count(2) == 2  # the two residual sums
    torch.testing.assert_close(run_nir(graph, x), snn(x), atol=1e-5, rtol=1e-5)
    three_steps = run_nir(graph, x, num_steps=3)
    snn.num_steps = 3
    torch.testing.assert_close(three_steps, snn(x))


def test_the_reference_lam_stem_exports_and_its_max_pools_are_named(tmp_path):
    lam = models.create("resnet9", seed=0).eval()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    stem = convert_onboard(models.split(lam, at="stem").onboard, x, num_steps=4, method="max")
    graph = export_nir(stem, x[:1], tmp_path / "stem.nir")
    assert list(graph.nodes) == ["input", "stem.conv", "stem.act.if", "stem.act", "output"]
    torch.testing.assert_close(run_nir(tmp_path / "stem.nir", x), stem(x))
    layer1 = convert_onboard(models.split(lam, at="layer1").onboard, x, num_steps=4)
    with pytest.raises(ValueError, match=r"layer1\.0\.pool.*RateMaxPool.*cut the LAM before it"):
        export_nir(layer1, x[:1])
