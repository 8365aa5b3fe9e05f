"""Local training of one satellite: the job a backend runs.

A :class:`LocalJob` carries the global trainable state, the satellite and a seed; the
:class:`LocalTrainer` loads the state into its own copy of the model, fine-tunes it on the
satellite's partition with :func:`spikesat.train.fit` (AdamW, no warm-up, cosine decay over the
local epochs, a fresh optimiser per round as FedAvg clients are stateless) and returns the new
trainable state. The torch RNG (dropout, stochastic depth) and the batch order are seeded by
the job, so any process running the job gets the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from spikesat.federated.data import FederatedData
from spikesat.train import TrainConfig, fit


@dataclass(frozen=True)
class LocalConfig:
    """Local fine-tuning hyper-parameters.

    Attributes
    ----------
    epochs : int
        Passes over the satellite's data per round.
    batch_size : int
        Examples per step.
    lr : float
        AdamW learning rate.
    weight_decay : float
        AdamW weight decay.
    label_smoothing : float
        Cross-entropy label smoothing.
    augment : bool
        Random dihedral symmetries and shifts.
    device : {"auto", "cpu", "cuda"}
        Where the training runs.
    """

    epochs: int = 1
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = False
    device: str = "cpu"

    def train_config(self, num_samples: int, seed: int) -> TrainConfig:
        """The :class:`~spikesat.train.TrainConfig` of one job."""
        return TrainConfig(
            epochs=self.epochs,
            batch_size=min(self.batch_size, num_samples),
            lr=self.lr,
            weight_decay=self.weight_decay,
            warmup_epochs=0.0,
            label_smoothing=self.label_smoothing,
            augment=self.augment,
            seed=seed,
            device=self.device,
        )


@dataclass
class LocalJob:
    """One satellite's local training in one round."""

    sat: int
    round: int
    seed: int
    state: dict[str, torch.Tensor]


@dataclass
class LocalResult:
    """The trained state and its sample count."""

    sat: int
    round: int
    state: dict[str, torch.Tensor]
    num_samples: int
    train_loss: float


def job_seed(seed: int, round: int, sat: int, salt: int = 0) -> int:
    """A 63-bit seed for one (round, satellite) job, independent of the order jobs run in."""
    state = np.random.SeedSequence([seed, salt, round, sat]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) | (int(state[1]) >> 1)


class LocalTrainer:
    """Runs :class:`LocalJob` s on a private copy of the model.

    Parameters
    ----------
    model : nn.Module
        The architecture (its trainable parameters are overwritten by each job's state;
        the frozen ones stay as given).
    data : FederatedData
        The partitions.
    trainable : list of str
        Names of the parameters a job trains and exchanges.
    config : LocalConfig
        Hyper-parameters.
    """

    def __init__(
        self, model: nn.Module, data: FederatedData, trainable: list[str], config: LocalConfig
    ) -> None:
        self.model = model
        self.data = data
        self.trainable = list(trainable)
        self.config = config
        names = {n for n, _ in model.named_parameters()}
        missing = sorted(set(self.trainable) - names)
        if missing:
            raise ValueError(f"trainable names {missing[:5]} are not parameters of the model")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_params", None)  # a cache of the model's parameters, rebuilt after unpickling
        return state

    def _parameters(self) -> dict[str, nn.Parameter]:
        """The model's parameters by name (cached: the module walk is per trainer, not job)."""
        params = self.__dict__.get("_params")
        if params is None:
            params = dict(self.model.named_parameters())
            self._params = params
        return params

    def load(self, state: dict[str, torch.Tensor]) -> None:
        """Copy ``state`` (exactly the trainable parameters) into the model.

        What ``model.load_state_dict(state, strict=False)`` does for parameters, without its
        walk over every module (a few ms per job on a ViT).
        """
        if set(state) != set(self.trainable):
            raise ValueError("the job's state must hold exactly the trainable parameters")
        params = self._parameters()
        with torch.no_grad():
            for name, value in state.items():
                param = params[name]
                if value.shape != param.shape:
                    raise ValueError(
                        f"the job's {name} has shape {tuple(value.shape)}, the model's "
                        f"{tuple(param.shape)}"
                    )
                param.copy_(value)

    def run(self, job: LocalJob) -> LocalResult:
        """Fine-tune on satellite ``job.sat`` from ``job.state``."""
        self.load(job.state)
        params = self._parameters()
        for name, param in params.items():
            param.requires_grad_(name in job.state)
        images, labels = self.data.client(job.sat)
        result = fit(
            self.model,
            (images, labels),
            config=self.config.train_config(len(labels), job.seed),
            progress=False,
            parameters=[params[n] for n in self.trainable],
        )
        state = {n: params[n].detach().cpu().clone() for n in self.trainable}
        return LocalResult(
            job.sat, job.round, state, len(labels), float(result.history[-1]["train_loss"])
        )
