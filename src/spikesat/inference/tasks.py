"""The task registry of the multi-task LAM: what each head answers and how it is scored.

=============  ==============  =====================================================  ========
task           kind            answer                                                 metric
=============  ==============  =====================================================  ========
``landcover``  classification  EuroSAT's 10 land-cover classes (logits ``[B, 10]``)   accuracy
``cloud``      regression      cloud fraction in [0, 1] (``[B]``), on scenes with     MAE
                               seeded clouds (:mod:`spikesat.inference.clouds`)
``ndvi``       regression      the scene's mean NDVI in [-1, 1] (``[B]``), computed   MAE
                               from MS bands B08 and B04 where MS is present and
                               predicted from RGB where it is not
=============  ==============  =====================================================  ========

A :class:`Task` maps its head's raw output to the answer (identity, sigmoid or tanh), gives the
training loss (cross-entropy, or mean squared error on the answer) and scores answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from spikesat._registry import Registry
from spikesat.data.eurosat import EUROSAT_CLASSES, MS_BANDS, MS_MEAN, MS_STD

KINDS = ("classification", "regression")
ACTIVATIONS = ("none", "sigmoid", "tanh")


@dataclass(frozen=True)
class Task:
    """One task a head answers.

    Attributes
    ----------
    name : str
        Registry name.
    kind : {"classification", "regression"}
        Cross-entropy on logits, or squared error on the answer.
    out_dim : int
        Width of the head's output (classes, or 1 for a scalar).
    activation : {"none", "sigmoid", "tanh"}
        Maps the head's output to the answer's range.
    description : str
        What the answer is.
    classes : tuple of str
        Class names (classification).
    """

    name: str
    kind: str
    out_dim: int
    activation: str
    description: str
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.activation not in ACTIVATIONS or self.out_dim < 1:
            raise ValueError(f"bad task definition {self!r}")

    @property
    def metric(self) -> str:
        """``"accuracy"`` (classification) or ``"mae"`` (regression)."""
        return "accuracy" if self.kind == "classification" else "mae"

    def answer(self, raw: Tensor) -> Tensor:
        """The head's raw output ``[B, out_dim]`` -> the answer (``[B, C]`` logits or ``[B]``)."""
        if self.kind == "regression" and self.out_dim == 1:
            raw = raw[:, 0]
        if self.activation == "sigmoid":
            return torch.sigmoid(raw)
        if self.activation == "tanh":
            return torch.tanh(raw)
        return raw

    def loss(self, answer: Tensor, target: Tensor) -> Tensor:
        """Training loss of answers against targets (``[B]`` labels or values)."""
        if self.kind == "classification":
            return F.cross_entropy(answer, target.long())
        return F.mse_loss(answer, target.to(answer.dtype))

    def score(self, answer: Tensor, target: Tensor) -> float:
        """Accuracy (fraction) or mean absolute error of a batch of answers."""
        if self.kind == "classification":
            return float((answer.argmax(1) == target).float().mean())
        return float((answer - target.to(answer.dtype)).abs().mean())


TASKS: Registry[Task] = Registry("task")


@TASKS.register("landcover")
def _landcover() -> Task:
    return Task(
        "landcover", "classification", len(EUROSAT_CLASSES), "none",
        "EuroSAT land-cover class (10 classes)", tuple(EUROSAT_CLASSES),
    )  # fmt: skip


@TASKS.register("cloud")
def _cloud() -> Task:
    return Task("cloud", "regression", 1, "sigmoid", "cloud fraction of the scene in [0, 1]")


@TASKS.register("ndvi")
def _ndvi() -> Task:
    return Task(
        "ndvi", "regression", 1, "tanh", "mean NDVI of the scene, (B08 - B04) / (B08 + B04)"
    )


def list_tasks() -> list[str]:
    """Names of the registered tasks."""
    return TASKS.names()


def get_task(name: str) -> Task:
    """The :class:`Task` called ``name`` (an unknown name lists the choices)."""
    return TASKS.create(name)


def resolve_tasks(tasks: Sequence[str]) -> list[Task]:
    """Tasks by name, checked: at least one, no repeats, all registered."""
    if isinstance(tasks, str):
        tasks = (tasks,)
    out = [get_task(name) for name in tasks]
    if not out:
        raise ValueError(f"a multi-task LAM needs at least one task; choose from {list_tasks()}")
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ValueError(f"tasks repeat: {names}")
    return out


def mean_ndvi(ms_images: Tensor, eps: float = 1e-6) -> Tensor:
    """Mean NDVI per scene from normalised EuroSAT MS images ``[B, 13, H, W]`` -> ``[B]``.

    The bands are taken back to digital numbers with :data:`~spikesat.data.eurosat.MS_MEAN`
    and :data:`~spikesat.data.eurosat.MS_STD` before ``(B08 - B04) / (B08 + B04)``.
    """
    red, nir = MS_BANDS.index("B04"), MS_BANDS.index("B08")
    raw_red = ms_images[:, red] * MS_STD[red] + MS_MEAN[red]
    raw_nir = ms_images[:, nir] * MS_STD[nir] + MS_MEAN[nir]
    ndvi = (raw_nir - raw_red) / (raw_nir + raw_red).clamp_min(eps)
    return ndvi.clamp(-1, 1).mean((1, 2))
