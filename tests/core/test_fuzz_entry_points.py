"""Property-based fuzzing of the checked entry points: whatever tensor a caller passes, the
answer is a result of the right shape, a ``ValueError`` or a ``TypeError`` with spikesat's
message, never a raw torch error and never a silently non-finite result. Bounded (derandomised,
30-60 examples per property) so the whole file runs in seconds.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesat import channels, models
from spikesat._checks import check_tensor
from spikesat.codecs import create as create_codec
from spikesat.codecs import list_codecs
from spikesat.energy import count_ops
from spikesat.orbits import time_grid
from spikesat.orbits.timegrid import MAX_TIME_STEPS

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BAD = st.sampled_from([float("nan"), float("inf"), float("-inf")])
SPIKESAT_MESSAGE = r"must|holds|expected|got"


@st.composite
def tensors(draw, max_dims: int = 5, max_side: int = 9) -> torch.Tensor:
    """A float tensor of 0-``max_dims`` dimensions with a random shape and dtype."""
    shape = draw(st.lists(st.integers(1, max_side), min_size=0, max_size=max_dims))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16]))
    return torch.rand(shape, generator=torch.Generator().manual_seed(len(shape))).to(dtype)


def _poisoned(x: torch.Tensor, position: int, value: float) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[position % x.numel()] = value
    return x


# -- the shared helper against an independent oracle -------------------------------------------
@st.composite
def specs(draw) -> tuple:
    parts = draw(st.lists(st.one_of(st.integers(1, 4), st.sampled_from(["B", None])), max_size=4))
    return (("...", *parts) if draw(st.booleans()) else tuple(parts)), draw(st.booleans())


def _matches(shape: tuple[int, ...], spec: tuple) -> bool:
    if spec[:1] == ("...",):  # a batch dimension, then any others: two dimensions at least
        spec = spec[1:]
        if len(shape) < max(len(spec), 1) + 1:
            return False
        shape = shape[len(shape) - len(spec) :]
    return len(shape) == len(spec) and all(
        not isinstance(want, int) or got == want for got, want in zip(shape, spec, strict=True)
    )


@FUZZ
@given(st.lists(st.integers(1, 4), max_size=5), specs(), st.integers(0, 10**6), BAD)
def test_check_tensor_agrees_with_an_independent_oracle(shape, spec_and_poison, position, bad):
    spec, poison = spec_and_poison
    spec = tuple(Ellipsis if part == "..." else part for part in spec)
    oracle = _matches(tuple(shape), tuple("..." if p is Ellipsis else p for p in spec))
    x = torch.zeros(shape)
    if poison:
        x = _poisoned(x, position, bad)
    if not oracle:
        with pytest.raises(ValueError, match="must have shape"):
            check_tensor(x, "x", shape=spec)
    elif poison:
        with pytest.raises(ValueError, match="^x holds"):
            check_tensor(x, "x", shape=spec)
    else:
        assert check_tensor(x, "x", shape=spec) is x


# -- channel layers -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", channels.list_channels())
@FUZZ
@given(
    x=tensors(max_dims=4),
    iq=st.booleans(),
    complex_=st.booleans(),
    snr_db=st.floats(-20, 40),
    poison=st.booleans(),
    bad=BAD,
)
def test_channel_layers_on_any_tensor(name, x, iq, complex_, snr_db, poison, bad):
    """Complex ``[B, ...]`` or real ``[B, ..., 2]`` symbols pass through with their shape and
    finite values; every other shape, and NaN/Inf, is refused by spikesat's own message."""
    layer = channels.create(name)
    if iq:  # make the last dimension the I/Q pair
        x = torch.stack([x, x], dim=-1) if x.ndim < 4 else x[..., :1].expand(*x.shape[:-1], 2)
    if complex_ and x.ndim >= 1:
        x = torch.complex(x.float(), x.float())
    if poison:
        x = _poisoned(x, x.numel() // 2, bad)
    valid = x.ndim >= 1 if x.is_complex() else x.ndim >= 2 and x.shape[-1] == 2
    if not valid:
        with pytest.raises(ValueError, match=r"x must be complex \[B, \.\.\.\] or real"):
            layer(x, snr_db)
        return
    if poison:
        with pytest.raises(ValueError, match="^x holds"):
            layer(x, snr_db)
        return
    y = layer(x, snr_db)
    assert y.shape == x.shape and bool(
        torch.isfinite(torch.view_as_real(y) if y.is_complex() else y).all()
    )


@pytest.mark.parametrize("name", channels.list_channels())
@FUZZ
@given(value=st.one_of(st.none(), st.text(max_size=3), st.lists(st.floats(), max_size=3)))
def test_channel_layers_refuse_what_is_not_a_tensor(name, value):
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        channels.create(name)(value, 10.0)


# -- models and count_ops -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def lam() -> models.LAM:
    return models.create("vit-micro-p8").eval()


@FUZZ
@given(
    shape=st.lists(st.integers(1, 5), min_size=0, max_size=5),
    poison=st.booleans(),
    bad=BAD,
)
def test_lam_on_any_shape(lam, shape, poison, bad):
    """Any shape: the right one answers; every other is refused with the expected shape."""
    right = len(shape) == 4 and shape[1] == lam.in_chans
    if right:
        shape = [shape[0], lam.in_chans, 64, 64]
    x = torch.zeros(shape)
    if poison and x.numel():
        x = _poisoned(x, 7, bad)
    if right and not poison:
        with torch.no_grad():
            logits = lam(x)
        assert logits.shape == (shape[0], lam.num_classes)
        return
    with pytest.raises(ValueError, match=rf"images (must have shape \[B, {lam.in_chans}|holds)"):
        lam(x)
    with pytest.raises(ValueError, match=rf"inputs (must have shape \[B, {lam.in_chans}|holds)"):
        count_ops(lam, x)


# -- codecs: any tensor in, a clear error or a bitstream ----------------------------------------
SMALL = {
    "factorized": {"hidden_channels": 8, "latent_channels": 4},
    "hyperprior": {"hidden_channels": 8, "latent_channels": 4, "hyper_channels": 2},
}
CODECS: dict = {}


def _codec(name: str):
    if name not in CODECS:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            CODECS[name] = create_codec(name, 4, **SMALL.get(name, {})).eval()
    return CODECS[name]


@pytest.mark.parametrize("name", list_codecs(kind="feature"))
@FUZZ
@given(
    batch=st.integers(0, 3),
    channels_=st.sampled_from([4, 4, 3]),
    spatial=st.lists(st.integers(1, 9), min_size=0, max_size=3),
    poison=st.booleans(),
    bad=BAD,
)
def test_feature_codecs_on_any_shape(name, batch, channels_, spatial, poison, bad):
    """A feature codec built for 4 channels: what it accepts round-trips to the same shape with
    finite values; everything else (and NaN/Inf) is a ValueError/TypeError with a message."""
    codec = _codec(name)
    x = torch.rand(batch, channels_, *spatial, generator=torch.Generator().manual_seed(batch))
    if poison and x.numel():
        x = _poisoned(x, 5, bad)
    try:
        with torch.no_grad():
            streams = codec.compress(x)
    except (ValueError, TypeError) as error:
        assert str(error)
        return
    assert not (poison and x.numel()), "a non-finite input was compressed"
    assert channels_ == 4
    with torch.no_grad():
        x_hat = codec.decompress(streams)
    assert x_hat.shape == x.shape and bool(torch.isfinite(x_hat).all())


# -- time grids: bounded before allocation ------------------------------------------------------
@FUZZ
@given(
    duration_s=st.one_of(st.floats(-1e12, 1e12), st.sampled_from([math.nan, math.inf])),
    step_s=st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, -math.inf, 1e-9])),
)
def test_time_grid_is_bounded_or_refused(duration_s, step_s):
    try:
        grid = time_grid("2025-01-01T00:00:00Z", duration_s, step_s)
    except ValueError as error:
        assert str(error)
        return
    assert math.isfinite(duration_s) and math.isfinite(step_s) and step_s > 0
    assert 1 <= len(grid) <= MAX_TIME_STEPS
