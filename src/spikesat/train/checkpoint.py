"""Training state for exact resume: model, optimiser, schedule, generators, history, epoch.

Written after every epoch with the one atomic writer
(:func:`spikesat.models.checkpoint.save_atomic`), so an interrupted run leaves the last
complete state behind. Besides the trainer's own ``torch.Generator`` the state holds torch's
global CPU (and CUDA) generator, which dropout and drop-path draw from; restoring it makes a
resumed run equal to an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from spikesat.data.cache import save_atomic


def save_training_state(
    path: str | Path,
    *,
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    history: list[dict[str, float]],
    epoch: int,
) -> Path:
    """Write the state after ``epoch`` completed epochs to ``path`` atomically."""
    payload = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "schedule": schedule.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "history": history,
        "epoch": epoch,
    }
    return save_atomic(payload, path)


def load_training_state(
    path: str | Path,
    *,
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
) -> tuple[list[dict[str, float]], int]:
    """Restore a state written by :func:`save_training_state` in place.

    Loads the weights, optimiser, schedule and ``generator`` states and torch's global
    generators. :func:`~spikesat.train.fit` calls it inside its
    :func:`~spikesat.train.rng.seeded_global_rng` block, so the restored global state is the
    training's own and the caller's is put back when ``fit`` returns; other callers should
    do the same.

    Returns
    -------
    (history, epoch)
        The per-epoch records so far and the number of completed epochs.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable training state.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training state at {path}")
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(f"{path} is not a readable training state: {err}") from err
    required = {"model", "optimiser", "schedule", "generator", "torch_rng", "history", "epoch"}
    if not isinstance(state, dict) or required - state.keys():
        raise ValueError(
            f"{path} is not a spikesat training state (written by fit's checkpoint_path)"
        )
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    schedule.load_state_dict(state["schedule"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if torch.cuda.is_available() and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["history"], state["epoch"]
