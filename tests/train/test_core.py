"""The epoch / step loop: epoch averages, step counts, progress, seeded global generators."""

from __future__ import annotations

import torch
from rich.console import Console
from torch import nn

import spikesat.models as models
from spikesat._progress import progress_bar
from spikesat.codecs import CodecTrainConfig, create, train_codec
from spikesat.train import PretrainConfig, pretrain_mae
from spikesat.train.core import StepOutput, WallTime, run_epochs, steps_per_epoch
from spikesat.train.progress import BarProgress
from spikesat.train.rng import seeded_global_rng


class _Recorder:
    """A step that trains nothing and records the indices it was given."""

    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def __call__(self, idx: torch.Tensor) -> StepOutput:
        self.batches.append(idx)
        return StepOutput({"loss": float(len(idx))}, {"n": len(idx), "ones": float(len(idx))})


def test_epochs_cover_every_example_once_and_average_the_totals() -> None:
    step, calls = _Recorder(), []
    history = run_epochs(
        nn.Identity().eval(),
        step,
        num_examples=10,
        batch_size=4,
        num_epochs=3,
        generator=torch.Generator().manual_seed(0),
        progress=lambda done, total, metrics: calls.append((done, total, metrics["loss"])),
    )
    assert steps_per_epoch(10, 4) == 3
    assert [len(b) for b in step.batches] == [4, 4, 2] * 3
    for epoch in range(3):
        seen = torch.cat(step.batches[3 * epoch : 3 * epoch + 3]).sort().values
        assert torch.equal(seen, torch.arange(10))
    assert history == [{"epoch": e, "n": 1.0, "ones": 1.0} for e in (1, 2, 3)]
    assert [c[:2] for c in calls] == [(i, 9) for i in range(1, 10)]


def test_first_and_stop_epoch_continue_the_step_count_and_stop_at_the_end() -> None:
    calls: list[int] = []
    history = run_epochs(
        nn.Identity(),
        _Recorder(),
        num_examples=6,
        batch_size=3,
        num_epochs=4,
        generator=torch.Generator().manual_seed(0),
        first_epoch=2,
        stop_epoch=10,
        progress=lambda done, total, metrics: calls.append(done),
        end_epoch=WallTime(0.0),
        history=[{"epoch": 1}, {"epoch": 2}],
    )
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    assert calls == [5, 6, 7, 8]
    assert history[-1]["wall_time_s"] > 0


def test_model_is_put_in_train_mode_each_epoch() -> None:
    model = nn.Dropout().eval()

    def step(idx: torch.Tensor) -> StepOutput:
        assert model.training
        model.eval()
        return StepOutput({"loss": 0.0}, {})

    run_epochs(model, step, num_examples=2, batch_size=2, num_epochs=2, generator=torch.Generator())


def test_bar_progress_describes_epoch_and_loss() -> None:
    bar = progress_bar(console=Console(file=None, force_terminal=False), transient=False)
    show = BarProgress(bar, "training", num_epochs=2, steps_per_epoch=3, completed=3)
    show(5, 6, {"loss": 0.25})
    task = bar.tasks[0]
    assert (task.completed, task.total) == (5, 6)
    assert task.description == "training epoch 2/2 loss 0.250"


def test_seeded_global_rng_is_reproducible_and_leaves_the_callers_stream() -> None:
    before = torch.get_rng_state()
    with seeded_global_rng(3, torch.device("cpu")):
        a = torch.rand(4)
    with seeded_global_rng(3, torch.device("cpu")):
        b = torch.rand(4)
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), before)


def test_trainers_leave_torch_global_generator_alone() -> None:
    lam = models.create("vit-micro-p8", img_size=16)
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    before = torch.get_rng_state()
    pretrain_mae(lam, images, PretrainConfig(epochs=1, batch_size=4), progress=False)
    assert torch.equal(torch.get_rng_state(), before)
    x = torch.randn(16, 4, 8, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(16) % 2
    remote = nn.Sequential(nn.Flatten(), nn.Linear(32, 2))
    codec = create("factorized", 8, latent_channels=2, hidden_channels=8)
    before = torch.get_rng_state()
    train_codec(codec, x, labels, remote, CodecTrainConfig(num_epochs=1, batch_size=8))
    assert torch.equal(torch.get_rng_state(), before)
