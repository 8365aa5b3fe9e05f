"""Exact splits at every split point of every model, for 3 and 13 bands."""

from __future__ import annotations

import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

import spikesat.models as models


@pytest.mark.parametrize("in_chans", [3, 13])
@pytest.mark.parametrize("name", models.list_models())
def test_remote_of_onboard_equals_model_at_every_split_point(name: str, in_chans: int) -> None:
    torch.manual_seed(0)
    lam = models.create(name, in_chans=in_chans).eval()
    x = torch.randn(2, in_chans, 64, 64)
    with torch.no_grad():
        expected = lam(x)
        points = models.split_points(lam, (in_chans, 64, 64))
        assert [p.at for p in points] == lam.stage_names[:-1]
        for point in points:
            sm = models.split(lam, at=point.at)
            features = sm.onboard(x)
            assert tuple(features.shape[1:]) == point.feature_shape
            assert torch.equal(sm.remote(features), expected), point.at
            assert torch.equal(sm(x), expected)


def test_split_point_records_are_consistent() -> None:
    lam = models.create("vit-micro-p8")
    points = models.split_points(lam, (3, 64, 64))
    first = points[0]
    assert first.at == "patch_embed" and first.feature_shape == (65, 64)
    assert first.bytes_fp32 == 65 * 64 * 4 and first.bytes_fp16 == 65 * 64 * 2
    # The patch projection alone: 64 patches x (3*8*8 inputs) x 64 outputs.
    assert first.onboard_macs == 64 * 3 * 8 * 8 * 64
    macs = [p.onboard_macs for p in points]
    params = [p.onboard_params for p in points]
    assert macs == sorted(macs) and params == sorted(params)
    backbone = sum(p.numel() for n, p in lam.named_parameters() if not n.startswith("head."))
    assert params[-1] == backbone


def test_onboard_params_are_only_those_on_board() -> None:
    lam = models.create("resnet18")
    sm = models.split(lam, at="layer1")
    point = next(p for p in models.split_points(lam, (3, 64, 64)) if p.at == "layer1")
    assert sum(p.numel() for p in sm.onboard.parameters()) == point.onboard_params
    assert point.feature_shape == (64, 16, 16)


def test_vit_stages_reproduce_timm_forward() -> None:
    """The LAM's ViT stages run the same arithmetic as timm's VisionTransformer."""
    torch.manual_seed(0)
    vit = VisionTransformer(
        img_size=64,
        patch_size=8,
        num_classes=0,
        embed_dim=64,
        depth=2,
        num_heads=2,
        global_pool="avg",
    ).eval()
    from collections import OrderedDict

    from spikesat.models.vit import TokenPool, ViTEmbed

    lam = models.LAM(
        "check",
        OrderedDict(
            patch_embed=ViTEmbed(vit),
            blocks=vit.blocks,
            norm=vit.norm,
            pool=TokenPool(vit),
            head=torch.nn.Identity(),
        ),
        expand=("blocks",),
    ).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(lam(x), vit(x), rtol=0, atol=0)


def test_head_is_a_named_relu_mlp() -> None:
    lam = models.create("vit-tiny-p8", num_classes=7)
    assert list(dict(lam.head.named_children())) == ["fc1", "act", "drop", "fc2"]
    assert isinstance(lam.head.act, torch.nn.ReLU)
    assert lam.head.fc2.out_features == 7 and lam.head.fc1.in_features == 192


def test_bad_inputs_get_clear_errors() -> None:
    lam = models.create("vit-micro-p8")
    with pytest.raises(ValueError, match="valid split points: patch_embed, blocks.0"):
        models.split(lam, at="blocks.9")
    with pytest.raises(ValueError, match="valid split points"):
        models.split(lam, at="head")
    with pytest.raises(TypeError, match="spikesat LAM"):
        models.split(torch.nn.Linear(2, 2), at="blocks.0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in_chans=3"):
        models.split_points(lam, (13, 64, 64))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        models.split_points(lam, (3, 64))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Did you mean 'vit-tiny-p8'"):
        models.create("vit-tiny")
    for bad in (0, -3, 2.5, "3", True):
        with pytest.raises(ValueError, match="in_chans must be an integer >= 1"):
            models.create("resnet18", in_chans=bad)
    with pytest.raises(TypeError):
        models.create("resnet18", depth=50)


def test_split_parts_take_the_model_mode() -> None:
    from spikesat.train import evaluate

    lam = models.create("vit-micro-p8").eval()
    sm = models.split(lam, at="blocks.1")
    assert not sm.training and not sm.onboard.training and not sm.remote.training
    x = torch.randn(4, 3, 64, 64)
    evaluate(sm.remote, (sm.onboard(x), torch.zeros(4, dtype=torch.long)))
    # evaluate restores the part's mode: it must not leave the LAM's blocks training.
    assert not any(m.training for m in lam.modules())
    assert models.split(lam.train(), at="blocks.1").remote.training
