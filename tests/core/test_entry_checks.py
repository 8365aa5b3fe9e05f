"""Checked entry points: NaN/Inf, wrong shapes and wrong types get a clear error before torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from spikesat import channels, models
from spikesat._checks import NO_CHECKS_ENV, check_finite, check_tensor, checks_enabled
from spikesat.energy import count_ops
from spikesat.snn import convert, export_nir, run_nir

BAD_VALUES = [float("nan"), float("inf"), float("-inf")]


@pytest.fixture(scope="module")
def lam() -> models.LAM:
    return models.create("vit-micro-p8").eval()


@pytest.fixture(scope="module")
def head() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()


def _poison(x: torch.Tensor, value: float) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[x.numel() // 2] = value
    return x


# -- the helper ---------------------------------------------------------------------------------
def test_check_tensor_names_argument_and_expected_shape():
    with pytest.raises(TypeError, match=r"images must be a torch.Tensor of shape \[B, 3, H, W\]"):
        check_tensor([1, 2], "images", shape=("B", 3, "H", "W"))
    with pytest.raises(ValueError, match=r"images must have shape \[B, 3, H, W\], got \[3, 8, 8\]"):
        check_tensor(torch.zeros(3, 8, 8), "images", shape=("B", 3, "H", "W"))
    with pytest.raises(ValueError, match=r"\[B, \.\.\., 16\].*got \[2, 15\]"):
        check_tensor(torch.zeros(2, 15), "features", shape=(..., 16))
    with pytest.raises(ValueError, match="must have 2 dimensions"):
        check_tensor(torch.zeros(2), "x", ndim=2)
    x = torch.zeros(2, 16)
    assert check_tensor(x, "features", shape=(..., 16)) is x
    assert check_finite(torch.tensor([1, 2]), "ints") is not None  # integers are always finite


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64]
)
def test_check_finite_finds_every_bad_value(value, dtype):
    x = _poison(torch.zeros(4, 6, dtype=dtype), value)
    with pytest.raises(ValueError, match=r"features holds \d NaN and \d infinite"):
        check_finite(x, "features")
    with pytest.raises(ValueError, match="features holds"):
        check_finite(x.t(), "features")  # non-contiguous
    if dtype.is_complex:
        with pytest.raises(ValueError, match="features holds"):
            check_finite(x.conj(), "features")
    check_finite(torch.zeros(4, 6, dtype=dtype).t(), "features")
    check_finite(torch.empty(0, 6, dtype=dtype), "features")


def test_switch_turns_the_finite_check_off(monkeypatch, lam):
    monkeypatch.setenv(NO_CHECKS_ENV, "1")
    assert not checks_enabled()
    bad = _poison(torch.zeros(2, 16), float("nan"))
    assert check_finite(bad, "x") is bad
    out = lam(_poison(torch.zeros(1, lam.in_chans, 64, 64), float("nan")))
    assert torch.isnan(out).any()  # passes through, unchecked
    y = channels.create("awgn")(_poison(torch.ones(2, 8, 2), float("nan")), 10.0)
    assert torch.isnan(y).any()
    # type and shape checks cost nothing and stay on
    with pytest.raises(ValueError, match="must have shape"):
        lam(torch.zeros(lam.in_chans, 64, 64))
    monkeypatch.setenv(NO_CHECKS_ENV, "0")
    assert checks_enabled()


# -- channel layers -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", channels.list_channels())
@pytest.mark.parametrize("value", BAD_VALUES)
def test_channel_layers_reject_non_finite_x(name, value):
    layer = channels.create(name)
    with pytest.raises(ValueError, match=r"^x holds"):
        layer(_poison(torch.ones(2, 8, 2), value), 10.0)
    with pytest.raises(ValueError, match=r"^x holds"):
        layer(_poison(torch.ones(2, 8, dtype=torch.complex64), value), 10.0)


@pytest.mark.parametrize("name", channels.list_channels())
@pytest.mark.parametrize("value", BAD_VALUES)
def test_channel_layers_reject_non_finite_snr(name, value):
    with pytest.raises(ValueError, match="snr_db holds"):
        channels.create(name)(torch.ones(2, 8, 2), torch.tensor([10.0, value]))


# -- models -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", BAD_VALUES)
def test_lam_and_split_parts_reject_non_finite_input(lam, value):
    images = _poison(torch.zeros(2, lam.in_chans, 64, 64), value)
    with pytest.raises(ValueError, match="^images holds"):
        lam(images)
    with pytest.raises(ValueError, match="^images holds"):
        lam.forward_features(images)
    parts = models.split(lam, lam.stage_names[2])
    with pytest.raises(ValueError, match="^images holds"):
        parts(images)
    with pytest.raises(ValueError, match="^images holds"):
        parts.onboard(images)
    features = parts.onboard(torch.zeros(2, lam.in_chans, 64, 64))
    with pytest.raises(ValueError, match="^features .* holds"):
        parts.remote(_poison(features, value))


def test_lam_and_split_reject_wrong_shapes(lam):
    c = lam.in_chans
    with pytest.raises(ValueError, match=rf"images must have shape \[B, {c}, H, W\]"):
        lam(torch.zeros(c, 64, 64))
    with pytest.raises(ValueError, match=rf"images must have shape \[B, {c}, H, W\]"):
        lam(torch.zeros(1, c + 1, 64, 64))
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        lam([[0.0]])
    parts = models.split(lam, lam.stage_names[1])
    with pytest.raises(ValueError, match=rf"images must have shape \[B, {c}, H, W\]"):
        parts.onboard(torch.zeros(1, c + 2, 64, 64))
    with pytest.raises(ValueError, match=r"features .* must have shape \[B, \.\.\., \*\]"):
        parts.remote(torch.zeros(5))


def test_split_remote_and_slices_still_work(lam):
    parts = models.split(lam, lam.stage_names[2])
    x = torch.randn(2, lam.in_chans, 64, 64)
    with torch.no_grad():
        assert torch.equal(parts.remote(parts.onboard(x)), lam(x))
        assert parts.onboard[:1](x).shape[0] == 2  # slicing a checked part still works


# -- count_ops ----------------------------------------------------------------------------------
def test_count_ops_rejects_bad_model_and_inputs(lam, head):
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_ops("vit", torch.zeros(1, 3, 64, 64))
    with pytest.raises(TypeError, match="inputs must be a tensor"):
        count_ops(head, None)
    with pytest.raises(TypeError, match="inputs must be a tensor"):
        count_ops(head, "x")
    with pytest.raises(ValueError, match=r"inputs must have shape \[B, \.\.\., 16\]"):
        count_ops(head, torch.zeros(2, 15))
    with pytest.raises(ValueError, match=rf"inputs must have shape \[B, {lam.in_chans}, H, W\]"):
        count_ops(lam, torch.zeros(1, lam.in_chans + 1, 64, 64))
    with pytest.raises(ValueError, match="inputs holds 1 NaN"):
        count_ops(head, _poison(torch.zeros(2, 16), float("nan")))


def test_count_ops_wraps_a_shape_error_of_an_unknown_model():
    class Custom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(16, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x)

    with pytest.raises(ValueError, match=r"Custom failed on inputs of shape \[2, 15\]"):
        count_ops(Custom(), torch.zeros(2, 15))


# -- snn ----------------------------------------------------------------------------------------
def test_convert_checks_calibration_data(head):
    with pytest.raises(ValueError, match=r"calibration_data must have shape \[B, \.\.\., 16\]"):
        convert(head, torch.randn(32, 15), method="max")
    with pytest.raises(ValueError, match="calibration_data batch 1 holds"):
        convert(head, [torch.randn(8, 16), _poison(torch.randn(8, 16), float("inf"))], method="max")
    snn = convert(head, torch.randn(32, 16), method="max", num_steps=2)
    with pytest.raises(ValueError, match=r"x must have shape \[B, \.\.\., 16\]"):
        snn(torch.randn(2, 17))
    with pytest.raises(ValueError, match="x holds"):
        snn(_poison(torch.randn(2, 16), float("nan")))


def test_export_and_run_nir_check_the_sample(head):
    snn = convert(head, torch.randn(32, 16), method="max", num_steps=2)
    with pytest.raises(ValueError, match=r"sample must have shape \[B, \.\.\., 16\]"):
        export_nir(snn, torch.randn(2, 8))
    with pytest.raises(ValueError, match="sample holds"):
        export_nir(snn, _poison(torch.randn(2, 16), float("nan")))
    with pytest.raises(TypeError, match="sample must be a torch.Tensor"):
        export_nir(snn, None)
    graph = export_nir(snn, torch.randn(2, 16))
    with pytest.raises(ValueError, match=r"x must have shape \[B, 16\]"):
        run_nir(graph, torch.randn(2, 8))


# -- link_trace ---------------------------------------------------------------------------------
@pytest.mark.parametrize("plan", ["not a plan", None, 3, object()])
def test_link_trace_rejects_a_non_plan(plan):
    with pytest.raises(TypeError, match="plan must be a ContactPlan"):
        channels.link_trace(plan, "x-band-eo-sentinel2")
