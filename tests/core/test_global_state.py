"""No library function touches process-wide state: torch's and numpy's global random streams,
Python's ``random``, torch's thread count and snnTorch's class-level neuron list.

Every public training, conversion and simulation entry point runs once on tiny inputs, after the
test has put the global generators in a state of its own; afterwards that state must be exactly
as it was (a library that reseeds with ``torch.manual_seed`` or draws from the global stream
leaves a different one).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
import snntorch
import torch
from torch import nn

from spikesat import models, snn
from spikesat.codecs import create as create_codec
from spikesat.codecs.training import CodecTrainConfig, train_codec
from spikesat.train import PretrainConfig, TrainConfig, fit, pretrain_mae


def _images(n: int = 16, size: int = 16, classes: int = 4):
    gen = torch.Generator().manual_seed(3)
    return torch.rand(n, 3, size, size, generator=gen), torch.arange(n) % classes


def _lam():
    return models.create("vit-micro-p8", in_chans=3, num_classes=4, img_size=16, seed=1)


def _features(n: int = 32, dim: int = 16, classes: int = 4):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(n, dim, generator=gen)
    return x, (x[:, :classes]).argmax(1)


def _head(dim: int = 16, classes: int = 4, dropout: float = 0.5) -> nn.Module:
    gen = torch.Generator().manual_seed(11)
    with torch.random.fork_rng(devices=[]):  # the test's own modules leave the stream alone too
        head = nn.Sequential(
            nn.Linear(dim, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, classes)
        )
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return head


def _fit() -> None:
    images, labels = _images()
    fit(_lam(), (images, labels), config=TrainConfig(epochs=1, batch_size=8), progress=False)


def _pretrain_mae() -> None:
    images, _ = _images()
    pretrain_mae(_lam(), images, PretrainConfig(epochs=1, batch_size=8), progress=False)


def _train_codec() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 9, 16, generator=gen)
    labels = x.mean(1)[:, :4].argmax(1)
    with torch.random.fork_rng(devices=[]):
        remote = nn.Sequential(nn.Flatten(), nn.Linear(9 * 16, 4))
    config = CodecTrainConfig(num_epochs=1, batch_size=8, device="cpu")
    with torch.random.fork_rng(devices=[]):
        # Building a codec draws its initial weights from the global stream, as any nn.Module
        # constructor does; the training is what is checked here.
        codec = create_codec("factorized", 16)
    train_codec(codec, x, labels, remote, config)


def _snn_pipeline() -> None:
    x, y = _features()
    qcfs = snn.replace_relu_with_qcfs(_head(), num_levels=4, calibration_data=x)
    snn.train_qcfs(qcfs, (x, y), epochs=1, batch_size=16)
    network = snn.convert(qcfs, x, num_steps=4)
    snn.finetune(network, (x, y), num_steps=4, epochs=1, batch_size=16)


def _spiking_head() -> None:
    x, y = _features()
    snn.spiking_head(_head(), x, num_steps=4, labels=y, qcfs_epochs=1)


def _lam_features(tmp_path, monkeypatch) -> Callable[[], None]:
    monkeypatch.setenv("SPIKESAT_CACHE", str(tmp_path))

    def run() -> None:
        snn.lam_features(
            num_samples=20, image_size=16, epochs=1, use_cache=False, progress=False, seed=2
        )

    return run


def _federate() -> None:
    from spikesat.federated import LocalConfig, build_network, federate, federated_data
    from spikesat.orbits import walker_delta

    shell = walker_delta(4, 1, 0, altitude_km=550.0, inclination_deg=53.0, name="gs-1x4")
    network = build_network(shell, "default", horizon_h=24.0, step_s=120.0)
    data = federated_data(network.num_sats, num_train=24, num_test=8, image_size=16, seed=0)
    federate(
        "fedavg-ground",
        network=network,
        data=data,
        rounds=1,
        local=LocalConfig(epochs=1, batch_size=8),
        seed=0,
    )


def _multitask() -> None:
    from spikesat.inference import multitask_lam, service_graph
    from spikesat.inference.data import TaskData
    from spikesat.inference.training import MultitaskConfig, train_multitask

    mtl = multitask_lam("vit-micro-p8", modalities=("rgb",), tasks=("landcover",))
    data = TaskData({"rgb": torch.zeros(8, 3, 64, 64)}, torch.zeros(8, dtype=torch.long))
    train_multitask(mtl, {"landcover": data}, MultitaskConfig(epochs=1, batch_size=8))
    service_graph(mtl.eval())


CASES = {
    "models.create": lambda: _lam(),
    "train.fit": _fit,
    "train.pretrain_mae": _pretrain_mae,
    "codecs.train_codec": _train_codec,
    "snn.train_qcfs-convert-finetune": _snn_pipeline,
    "snn.spiking_head": _spiking_head,
    "federated.federate": _federate,
    "inference.multitask_lam-train-graph": _multitask,
}


def _snapshot() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (the legacy global stream is the point)
        "random": random.getstate(),
        "threads": torch.get_num_threads(),
        "snntorch": len(snntorch.SpikingNeuron.instances),
    }


def _assert_untouched(run: Callable[[], None]) -> None:
    # A state of the test's own (not one a library would seed to by default).
    torch.manual_seed(987_654_321)
    np.random.seed(12_345)  # noqa: NPY002
    random.seed(6_789)
    torch.rand(3)
    before = _snapshot()
    run()
    after = _snapshot()
    assert torch.equal(after["torch"], before["torch"]), "torch's global RNG state changed"
    assert after["numpy"][0] == before["numpy"][0]
    assert np.array_equal(after["numpy"][1], before["numpy"][1]), "numpy's global RNG changed"
    assert after["numpy"][2:] == before["numpy"][2:], "numpy's global RNG changed"
    assert after["random"] == before["random"], "Python's random state changed"
    assert after["threads"] == before["threads"], "torch's thread count changed"
    assert after["snntorch"] == before["snntorch"], "snnTorch's instance list grew"


@pytest.mark.parametrize("name", list(CASES))
def test_entry_point_leaves_global_state(name: str) -> None:
    _assert_untouched(CASES[name])


def test_lam_features_leaves_global_state(tmp_path, monkeypatch) -> None:
    _assert_untouched(_lam_features(tmp_path, monkeypatch))


def _trained_qcfs_head(seed: int) -> dict[str, torch.Tensor]:
    x, y = _features()
    qcfs = snn.replace_relu_with_qcfs(_head(dropout=0.5), num_levels=4, calibration_data=x)
    snn.train_qcfs(qcfs, (x, y), epochs=3, batch_size=8, lr=1e-2, seed=seed)
    return qcfs.state_dict()


def test_qcfs_training_is_seeded_including_dropout() -> None:
    first = _trained_qcfs_head(0)
    torch.rand(100)  # the global stream moves between the runs; the result must not
    second = _trained_qcfs_head(0)
    for key in first:
        assert torch.equal(first[key], second[key]), key
    other = _trained_qcfs_head(1)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_models_create_is_seeded() -> None:
    a, b, c = (models.create("resnet18", num_classes=4, seed=s) for s in (0, 0, 1))
    for (key, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), key
    assert any(
        not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True)
    )
    with pytest.raises(TypeError, match="seed"):
        models.create("resnet18", seed=1.5)


def test_spiking_heads_do_not_grow_snntorch_instances() -> None:
    x, _ = _features()
    head = _head()
    before = len(snntorch.SpikingNeuron.instances)
    for _ in range(100):
        snn.convert(head, x, num_steps=2, method="max")
    assert len(snntorch.SpikingNeuron.instances) == before
    for _ in range(100):
        snn.IFNeuron()
    assert len(snntorch.SpikingNeuron.instances) == before
