"""The progress callback of the training loop, and the one that draws it as a rich bar."""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import Progress

ProgressFn = Callable[[int, int, dict[str, float]], None]
"""``progress(step, total_steps, metrics)``, called after every optimisation step.

``step`` counts from 1 over the whole run (a resumed run goes on from where it stopped);
``metrics`` holds the step's own figures (at least ``"loss"``).
"""


class BarProgress:
    """A :data:`ProgressFn` that advances a rich bar: ``"{label} epoch e/E loss x"``.

    The task is added to ``bar`` on construction.

    Parameters
    ----------
    bar : rich.progress.Progress
        From :func:`spikesat._progress.progress_bar`.
    label : str
        What is trained (``"training"``, ``"MAE pretraining"``).
    num_epochs, steps_per_epoch : int
        Length of the run.
    completed : int
        Steps already done (a resumed run).
    """

    def __init__(
        self,
        bar: Progress,
        label: str,
        num_epochs: int,
        steps_per_epoch: int,
        completed: int = 0,
    ) -> None:
        self.bar = bar
        self.label = label
        self.num_epochs = num_epochs
        self.steps_per_epoch = steps_per_epoch
        self.task = bar.add_task(label, total=num_epochs * steps_per_epoch, completed=completed)

    def __call__(self, step: int, total_steps: int, metrics: dict[str, float]) -> None:
        epoch = (step - 1) // self.steps_per_epoch + 1
        self.bar.update(
            self.task,
            completed=step,
            description=(
                f"{self.label} epoch {epoch}/{self.num_epochs} loss {metrics['loss']:.3f}"
            ),
        )
