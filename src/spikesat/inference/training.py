"""``train_multitask``: fit a multi-task LAM's heads and band adapters on a shared backbone.

Every step takes one minibatch of every task (tasks with fewer examples are sampled with
replacement), runs each through the model with the modalities its data carries, and sums the
tasks' losses (:meth:`~spikesat.inference.tasks.Task.loss`). With ``modality_dropout`` a task
whose data carries several modalities sees a random non-empty subset of them in each batch, so
its head answers requests with any of them (``ndvi`` from RGB alone, MS alone or both). Each
batch is augmented (flips, quarter turns, shifts: the same on every band, so the modalities
stay aligned; every target here is invariant to them).

``trainable="heads+adapters"`` (the multi-task set-up) trains the heads and every tokenizer that
is not the backbone's own pretrained projection, with the backbone frozen; ``"all"`` trains
everything (a single-task model fine-tuned whole, the baseline).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from spikesat.inference.data import TaskData, check_task_data
from spikesat.inference.model import MultiTaskLAM
from spikesat.train.augment import augment_batch
from spikesat.train.core import StepOutput, optimiser_step, run_epochs
from spikesat.train.optim import adamw_warmup_cosine
from spikesat.train.rng import seeded_global_rng

TRAINABLE = ("heads+adapters", "all")


@dataclass
class MultitaskConfig:
    """Hyper-parameters of :func:`train_multitask`.

    Attributes
    ----------
    epochs : int
        Passes over the largest task's examples.
    batch_size : int
        Examples per task per step.
    lr, weight_decay, warmup_epochs
        AdamW with warm-up and cosine decay.
    trainable : {"heads+adapters", "all"}
        What trains (see the module docstring).
    modality_dropout : bool
        Random non-empty modality subsets per batch for multi-modal task data.
    augment : bool
        Flips, quarter turns and shifts.
    seed : int
        Seed of the order, the subsets, the augmentation and dropout.
    """

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 0.5
    trainable: str = "heads+adapters"
    modality_dropout: bool = True
    augment: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.trainable not in TRAINABLE:
            raise ValueError(f"unknown trainable {self.trainable!r}; choose one of {TRAINABLE}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")


def trainable_parameters(mtl: MultiTaskLAM, tasks: list[str], trainable: str) -> list[nn.Parameter]:
    """The parameters ``train_multitask`` updates (see the module docstring)."""
    if trainable == "all":
        return list(mtl.parameters())
    params = [p for t in tasks for p in mtl.heads[t].parameters()]
    for name, tokenizer in mtl.tokenizers.items():
        if name not in mtl.pretrained_tokenizers:
            params.extend(tokenizer.parameters())
    return params


def train_multitask(
    mtl: MultiTaskLAM,
    train: Mapping[str, TaskData],
    config: MultitaskConfig | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``mtl`` on every task of ``train`` at once (see the module docstring).

    Parameters
    ----------
    mtl : MultiTaskLAM
        Trained in place.
    train : mapping of str to TaskData
        Per task, its training examples.
    config : MultitaskConfig, optional
        Hyper-parameters.
    progress : callable, optional
        ``progress(step, total_steps, metrics)`` after every step.

    Returns
    -------
    list of dict
        One record per epoch: ``epoch`` and each task's mean loss (``loss_<task>``).
    """
    cfg = config or MultitaskConfig()
    check_task_data(train, mtl.tasks)
    tasks = list(train)
    for data in train.values():
        mtl.check_inputs(data.subset(slice(0, 1)).inputs)
    params = trainable_parameters(mtl, tasks, cfg.trainable)
    chosen = {id(p) for p in params}
    frozen = [p for p in mtl.parameters() if id(p) not in chosen and p.requires_grad]
    largest = max(len(d) for d in train.values())
    optimiser, schedule = adamw_warmup_cosine(
        params,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_epochs=cfg.warmup_epochs,
        num_epochs=cfg.epochs,
        steps_per_epoch=-(-largest // cfg.batch_size),
    )
    for p in frozen:
        p.requires_grad_(False)
    try:
        with seeded_global_rng(cfg.seed, torch.device("cpu")):
            gen = torch.Generator().manual_seed(cfg.seed)

            def step(index: Tensor) -> StepOutput:
                if cfg.trainable != "all":
                    for part in mtl.frozen_parts():
                        part.eval()  # frozen: no dropout or drop-path, as at inference
                losses = {}
                for name, data in train.items():
                    rows = index if len(data) == largest else _draw(len(data), len(index), gen)
                    batch = _batch(data.subset(rows), cfg, gen)
                    answer = mtl.tasks[name].answer(mtl.heads[name](mtl.features(batch.inputs)))
                    losses[name] = mtl.tasks[name].loss(answer, batch.target)
                optimiser_step(torch.stack(list(losses.values())).sum(), optimiser, schedule)
                metrics = {f"loss_{n}": float(v.detach()) for n, v in losses.items()}
                return StepOutput(metrics, {k: v * len(index) for k, v in metrics.items()})

            history = run_epochs(
                mtl,
                step,
                num_examples=largest,
                batch_size=cfg.batch_size,
                num_epochs=cfg.epochs,
                generator=gen,
                progress=progress,
            )
    finally:
        for p in frozen:
            p.requires_grad_(True)
        mtl.eval()
    return history


def _draw(num: int, size: int, gen: torch.Generator) -> Tensor:
    return torch.randint(num, (size,), generator=gen)


def _batch(data: TaskData, cfg: MultitaskConfig, gen: torch.Generator) -> TaskData:
    """Modality subset and augmentation of one minibatch."""
    names = list(data.inputs)
    if cfg.modality_dropout and len(names) > 1:
        mask = 0
        while mask == 0:
            mask = int(torch.randint(1, 2 ** len(names), (1,), generator=gen))
        names = [n for i, n in enumerate(names) if mask >> i & 1]
    inputs = {n: data.inputs[n] for n in names}
    if cfg.augment:
        stacked = augment_batch(torch.cat(list(inputs.values()), dim=1), gen)
        sizes = [x.shape[1] for x in inputs.values()]
        inputs = dict(zip(names, torch.split(stacked, sizes, dim=1), strict=True))
    return TaskData(inputs, data.target, data.source)


@torch.no_grad()
def evaluate_multitask(
    mtl: MultiTaskLAM, data: Mapping[str, TaskData], batch_size: int = 256
) -> dict[str, float]:
    """Each task's metric on its data (accuracy, or mean absolute error).

    Returns
    -------
    dict of str to float
        ``{task: metric}`` (:attr:`~spikesat.inference.tasks.Task.metric`).
    """
    check_task_data(data, mtl.tasks)
    was_training = mtl.training
    mtl.eval()
    scores = {}
    for name, task_data_ in data.items():
        answers = []
        for start in range(0, len(task_data_), batch_size):
            batch = task_data_.subset(slice(start, start + batch_size))
            answers.append(mtl(batch.inputs)[name])
        scores[name] = mtl.tasks[name].score(torch.cat(answers), task_data_.target)
    mtl.train(was_training)
    return scores
