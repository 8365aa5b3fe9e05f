"""The one atomic writer and the training state: no partial files, exact resume, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spikesat.data.cache import save_atomic
from spikesat.train.checkpoint import load_training_state, save_training_state
from spikesat.train.core import StepOutput, optimiser_step, run_epochs
from spikesat.train.optim import adamw_warmup_cosine


class _Unpicklable:
    """Fails half-way through ``torch.save``, as a killed or full-disk write would."""

    def __reduce__(self):
        raise RuntimeError("interrupted while writing")


def test_interrupted_write_leaves_no_partial_file(tmp_path) -> None:
    path = save_atomic({"version": 1}, tmp_path / "state.pt")
    payload = {"weights": torch.randn(1000), "broken": _Unpicklable()}
    with pytest.raises(RuntimeError, match="interrupted"):
        save_atomic(payload, path)
    assert torch.load(path, weights_only=True) == {"version": 1}  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]  # no temporary left behind
    with pytest.raises(RuntimeError, match="interrupted"):
        save_atomic(payload, tmp_path / "new" / "state.pt")
    assert list((tmp_path / "new").iterdir()) == []


def test_atomic_writer_replaces_and_creates_folders(tmp_path) -> None:
    path = save_atomic({"a": torch.ones(2)}, tmp_path / "deep" / "x.pt")
    save_atomic({"a": torch.zeros(2)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.zeros(2))
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]


def _run(num_epochs: int, path=None, resume: bool = False, stop_epoch: int | None = None):
    """A small dropout MLP trained by the core; its global-RNG draws test the state too."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(40, 6, generator=gen)
    y = torch.randint(0, 3, (40,), generator=gen)
    optimiser, schedule = adamw_warmup_cosine(
        model.parameters(),
        lr=1e-2,
        weight_decay=0.01,
        warmup_epochs=1.0,
        num_epochs=num_epochs,
        steps_per_epoch=4,
    )
    history: list[dict[str, float]] = []
    first = 0
    if resume:
        history, first = load_training_state(
            path, model=model, optimiser=optimiser, schedule=schedule, generator=gen
        )

    def step(idx: torch.Tensor) -> StepOutput:
        loss = F.cross_entropy(
            model(x[idx] + 0.1 * torch.randn(len(idx), 6, generator=gen)), y[idx]
        )
        optimiser_step(loss, optimiser, schedule)
        return StepOutput({"loss": loss.item()}, {"loss": loss.item() * len(idx)})

    def end_epoch(epoch: int, record: dict[str, float]) -> None:
        if path is not None:
            save_training_state(
                path,
                model=model,
                optimiser=optimiser,
                schedule=schedule,
                generator=gen,
                history=[*history, record],
                epoch=epoch + 1,
            )

    run_epochs(
        model,
        step,
        num_examples=40,
        batch_size=10,
        num_epochs=num_epochs,
        generator=gen,
        first_epoch=first,
        stop_epoch=stop_epoch,
        end_epoch=end_epoch,
        history=history,
    )
    return model, history


def test_resume_gives_bit_identical_parameters(tmp_path) -> None:
    full, full_history = _run(4)
    path = tmp_path / "state.pt"
    _, first_part = _run(4, path, stop_epoch=2)
    assert [h["epoch"] for h in first_part] == [1, 2]
    resumed, history = _run(4, path, resume=True)
    assert history == full_history
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_training_state_errors(tmp_path) -> None:
    model = nn.Linear(2, 2)
    optimiser, schedule = adamw_warmup_cosine(
        model.parameters(),
        lr=1e-3,
        weight_decay=0.0,
        warmup_epochs=0,
        num_epochs=1,
        steps_per_epoch=1,
    )
    parts = {"model": model, "optimiser": optimiser, "schedule": schedule}
    with pytest.raises(FileNotFoundError, match="no training state"):
        load_training_state(tmp_path / "absent.pt", **parts, generator=torch.Generator())
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable training state"):
        load_training_state(damaged, **parts, generator=torch.Generator())
    other = save_atomic({"format_version": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a spikesat training state"):
        load_training_state(other, **parts, generator=torch.Generator())
