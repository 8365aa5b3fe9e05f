"""The weights the demo ships reproduce the accuracies recorded when they were made."""

from __future__ import annotations

import pytest
import torch

from spikesat.cli.demo.weights import SHIPPED_DIR, shipped_manifest

manifest = shipped_manifest()
pytestmark = pytest.mark.skipif(
    not manifest, reason="no demo weights shipped; make them with scripts/make_demo_weights.py"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from spikesat.cli.demo.codec import demo_codec
    from spikesat.cli.demo.lam import DEMO_SPLIT_AT, demo_lam
    from spikesat.models import split

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPIKESAT_CACHE", str(tmp_path_factory.mktemp("cache")))
        lam, splits, meta = demo_lam("synthetic", None, seed=0, progress=False)
        sm = split(lam, at=DEMO_SPLIT_AT)
        codec, codec_meta = demo_codec(sm, splits.train, meta["checkpoint"], 0, progress=False)
    return lam, sm, splits, meta, codec, codec_meta


def test_the_demo_loads_the_shipped_files(demo) -> None:
    _, _, _, meta, _, codec_meta = demo
    assert meta["shipped"] and codec_meta["shipped"]
    assert meta["checkpoint"] == str(SHIPPED_DIR / manifest["lam"]["file"])


def test_shipped_lam_reproduces_its_recorded_accuracy(demo) -> None:
    from spikesat.train import evaluate

    lam, _, splits, _, _, _ = demo
    assert len(splits.test[1]) == manifest["num_test"]
    accuracy = evaluate(lam, splits.test)["accuracy"]
    # One test scene is 0.1%: allow a flip or two from another CPU's float rounding.
    assert accuracy == pytest.approx(manifest["lam"]["test_accuracy"], abs=2.5e-3)
    # The head was re-fitted, so the LAM's own head is not the weak point of the demo.
    assert manifest["lam"]["test_accuracy"] >= 0.95


def test_shipped_codec_reproduces_its_recorded_accuracy(demo) -> None:
    from spikesat.cli.demo.lam import in_batches
    from spikesat.train import evaluate

    _, sm, splits, _, codec, _ = demo
    features = in_batches(sm.onboard, splits.test[0])
    with torch.no_grad():
        decoded = codec.decompress(codec.compress(features))
    accuracy = evaluate(sm.remote, (decoded, splits.test[1]))["accuracy"]
    assert accuracy == pytest.approx(manifest["codec"]["test_accuracy_decoded"], abs=2.5e-3)


def test_shipped_qcfs_head_reproduces_its_recorded_accuracy(demo) -> None:
    from spikesat.cli.demo.lam import in_batches
    from spikesat.cli.demo.spiking import calibration_features, demo_qcfs_head
    from spikesat.train import evaluate

    lam, _, splits, meta, _, _ = demo
    head, loaded = demo_qcfs_head(
        lam, calibration_features(lam, splits.train), meta["checkpoint"], seed=0
    )
    assert loaded
    pooled = in_batches(lam.forward_features, splits.test[0])
    accuracy = evaluate(head, (pooled, splits.test[1]))["accuracy"]
    assert accuracy == pytest.approx(manifest["qcfs_head"]["test_accuracy"], abs=2.5e-3)
