"""Surrogate fine-tuning and NIR export / re-execution."""

from __future__ import annotations

import nir
import pytest
import torch
from torch import nn

from spikesat.snn import accuracy, convert, export_nir, finetune, list_surrogates, run_nir


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
