"""convert(): convergence to the ANN, exact QCFS equivalence, layers, pickling, bad input."""

from __future__ import annotations

import io
import itertools

import pytest
import torch
from torch import nn

from spikesat.snn import (
    QCFS,
    SpikingNetwork,
    convert,
    replace_relu_with_qcfs,
    train_qcfs,
)


@pytest.mark.parametrize("method", ["max", "percentile"])
def test_output_approaches_the_ann_as_steps_grow(task, method):
    head, x, _, x_test, _ = task
    ann = head(x_test).detach()
    snn = convert(head, x, num_steps=1, method=method)
    errors = []
    for num_steps in (2, 8, 32, 128):
        snn.num_steps = num_steps
        errors.append((snn(x_test) - ann).abs().mean().item())
    assert all(a > b for a, b in itertools.pairwise(errors))
    assert errors[-1] < 0.05 * ann.abs().mean().item()
    agreement = (snn(x_test).argmax(1) == ann.argmax(1)).float().mean().item()
    assert agreement > 0.98


def test_qcfs_snn_equals_qcfs_ann_at_T_equal_L(task):
    head, x, y, x_test, _ = task
    qhead = replace_relu_with_qcfs(head, num_levels=4, calibration_data=x)
    history = train_qcfs(qhead, (x, y), epochs=5, seed=0)
    # The head is already trained: the loss starts at its dropout-noise floor (~0.025) and
    # stays there (epoch to epoch it moves with the seeded dropout draws, up or down).
    assert len(history) == 5 and max(history) < 0.1
    theta = qhead.act.threshold.item()
    snn = convert(qhead, x, num_steps=4, method="qcfs")
    assert snn.thresholds == [pytest.approx(theta)]  # the learned threshold is used
    # One hidden layer with a constant input current: an IF neuron with half-threshold start
    # fires floor(T z + 1/2) times, exactly the QCFS output when T = L.
    torch.testing.assert_close(snn(x_test), qhead(x_test), atol=1e-5, rtol=1e-5)


def test_batchnorm_is_folded_and_conv_heads_convert():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )
    model[1].running_mean.uniform_(-0.5, 0.5)
    model[1].running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.randn(16, 3, 8, 8)
    snn = convert(model, x, num_steps=512, method="max")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in snn.modules())
    err = (snn(x) - model(x)).abs().mean() / model(x).abs().mean()
    assert err < 0.05


def test_layernorm_before_the_first_activation_stays_analog(task):
    _, x, _, _, _ = task
    model = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    snn = convert(model, x, num_steps=256, method="max")
    assert isinstance(snn.encoder[0], nn.LayerNorm)
    assert (snn(x).argmax(1) == model(x).argmax(1)).float().mean() > 0.97


def test_spike_counts_and_pickling(task):
    head, x, _, x_test, _ = task
    snn = convert(head, x, num_steps=8, method="percentile")
    out = snn(x_test)
    counts = snn.spike_counts()
    assert list(counts) == ["body.act"] and counts["body.act"] > 0
    assert 0 < snn.spike_rate < 1
    assert counts["body.act"] == pytest.approx(snn.spike_rate * 8 * len(x_test) * 32)
    buf = io.BytesIO()
    torch.save(snn, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert isinstance(loaded, SpikingNetwork)
    torch.testing.assert_close(loaded(x_test), out)


def test_lam_task_head_converts():
    import spikesat.models as models

    lam = models.create("vit-micro-p8").eval()
    features = torch.randn(32, 64)
    snn = convert(lam.head, features, num_steps=4, method="max")
    assert snn(features).shape == (32, 10)


def test_bad_input_gets_clear_errors(task):
    head, x, _, _, _ = task
    with pytest.raises(ValueError, match="num_steps"):
        convert(head, x, num_steps=0, method="max")
    with pytest.raises(ValueError, match="empty"):
        convert(head, torch.empty(0, 8), method="max")
    with pytest.raises(ValueError, match="empty"):
        convert(head, [], method="max")
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        convert(head, bad, method="max")
    with pytest.raises(ValueError, match="qcfs"):
        convert(head, x, method="qcfs")  # plain ReLU head
    with pytest.raises(ValueError, match="method"):
        convert(head, x, method="rate")
    with pytest.raises(TypeError, match="Sigmoid.*Linear"):
        convert(nn.Sequential(nn.Linear(8, 4), nn.Sigmoid(), nn.Linear(4, 2)), x, method="max")
    with pytest.raises(TypeError, match="QCFS"):
        convert(nn.Sequential(nn.Linear(8, 4), nn.GELU(), nn.Linear(4, 2)), x, method="max")
    with pytest.raises(TypeError, match="LayerNorm"):
        model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.LayerNorm(4), nn.Linear(4, 2))
        convert(model, x, method="max")
    snn = convert(head, x, num_steps=2, method="max")
    with pytest.raises(ValueError, match="num_steps"):
        snn.num_steps = 0
    with pytest.raises(ValueError, match="NaN"):
        snn(bad)


def test_gelu_can_be_swapped_for_qcfs(task):
    _, x, y, _, _ = task
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    swapped = replace_relu_with_qcfs(model, num_levels=4, include_gelu=True)
    assert isinstance(swapped[1], QCFS)
    train_qcfs(swapped, (x, y), epochs=2)
    assert convert(swapped, x, num_steps=4, method="qcfs")(x).shape == (len(x), 4)
