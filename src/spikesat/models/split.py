"""Splitting a LAM into an on-board part and a remote part, and the catalogue of split points."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass

import torch
from torch import nn

from spikesat._checks import check_tensor
from spikesat.models.lam import LAM
from spikesat.models.macs import count_macs


class SplitModel(nn.Module):
    """A LAM cut after one stage.

    ``onboard`` runs the stages up to and including ``at`` (on the satellite) and ``remote``
    runs the rest (on the ground or another node). Both share the LAM's modules, so
    ``remote(onboard(x))`` is ``model(x)`` exactly.

    Attributes
    ----------
    at : str
        The stage after which the model is cut.
    onboard, remote : nn.Sequential
        The two parts. Their children are the LAM's stages, with ``.`` in stage names
        written as ``_`` (``blocks.2`` -> ``blocks_2``).
    """

    def __init__(self, model: LAM, at: str) -> None:
        super().__init__()
        index = _split_index(model, at)
        self.at = at
        self.model_name = model.name
        self.onboard = _sequential(model, 0, index + 1)
        self.onboard.input_name = "images"
        self.onboard.input_shape = model.expected_input_shape()
        self.remote = _sequential(model, index + 1, len(model.stage_names))
        self.remote.input_name = f"features (the output of {model.name} at {at!r})"
        # The wrappers take the model's mode, so that a helper which restores a part's mode
        # (``model.train(was_training)``) cannot switch a model in eval mode back to training.
        for wrapper in (self, self.onboard, self.remote):
            wrapper.training = model.training

    @property
    def head(self) -> nn.Module:
        """The task head (the last stage of ``remote``)."""
        return self.remote[-1]

    def expected_input_shape(self) -> tuple:
        """The input shape the model takes: ``("B", in_chans, "H", "W")``."""
        return tuple(self.onboard.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[B, C, H, W]`` -> logits ``[B, num_classes]``."""
        return self.remote(self.onboard(x))


class CheckedSequential(nn.Sequential):
    """An ``nn.Sequential`` that checks its input first (a tensor, finite, of ``input_shape``).

    The two parts of a :class:`SplitModel` are ``CheckedSequential`` s: ``onboard`` takes
    images ``[B, C, H, W]``, ``remote`` takes the split-point features. Its state dict and
    children are those of a plain ``nn.Sequential``.

    Attributes
    ----------
    input_name : str
        What the input is called in error messages.
    input_shape : tuple or None
        The expected shape (see :func:`spikesat._checks.check_tensor`); ``None`` checks only
        that the input is a finite tensor with a batch dimension.
    """

    def __init__(self, *args: nn.Module) -> None:
        super().__init__(*args)
        self.input_name = "x"
        self.input_shape: tuple | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Check ``x`` (see :mod:`spikesat._checks`), then run the children in order."""
        if self.input_shape is None:
            check_tensor(x, self.input_name, shape=(..., None))
        else:
            check_tensor(x, self.input_name, shape=self.input_shape)
        return super().forward(x)


@dataclass(frozen=True)
class SplitPoint:
    """What cutting a LAM after stage ``at`` costs, per example.

    Attributes
    ----------
    at : str
        Stage name to pass to :func:`split`.
    feature_shape : tuple of int
        Shape of one example's split-point features (no batch dimension).
    bytes_fp32, bytes_fp16 : int
        Size of those features as raw float32 / float16 [bytes].
    onboard_macs : int
        Dense MACs of the on-board part for one example.
    onboard_params : int
        Parameters of the on-board part.
    """

    at: str
    feature_shape: tuple[int, ...]
    bytes_fp32: int
    bytes_fp16: int
    onboard_macs: int
    onboard_params: int

    def to_dict(self) -> dict:
        """The record as a JSON-ready dict."""
        return asdict(self)


def split(model: LAM, at: str) -> SplitModel:
    """Cut ``model`` after stage ``at``.

    Parameters
    ----------
    model : LAM
        A model from :func:`spikesat.models.create`.
    at : str
        A stage name from ``model.stage_names`` other than ``"head"``, e.g. ``"blocks.2"``;
        :func:`split_points` lists them with their costs.

    Returns
    -------
    SplitModel
    """
    return SplitModel(model, at)


def split_points(model: LAM, input_shape: tuple[int, int, int]) -> list[SplitPoint]:
    """List every split point of ``model`` with its feature size, MACs and parameters.

    Parameters
    ----------
    model : LAM
        A model from :func:`spikesat.models.create`.
    input_shape : tuple of int
        ``(C, H, W)`` of one input image.

    Returns
    -------
    list of SplitPoint
        One per stage but the head, in execution order.
    """
    _check_lam(model)
    if (
        not isinstance(input_shape, tuple | list)
        or len(input_shape) != 3
        or not all(isinstance(v, int) and v > 0 for v in input_shape)
    ):
        raise ValueError(f"input_shape must be (C, H, W) with positive ints, got {input_shape!r}")
    if input_shape[0] != model.in_chans:
        raise ValueError(
            f"input_shape has {input_shape[0]} bands but {model.name} was built with "
            f"in_chans={model.in_chans}"
        )
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = torch.zeros((1, *input_shape), device=device)
    points: list[SplitPoint] = []
    macs = 0
    seen: set[int] = set()
    params = 0
    try:
        for name in model.stage_names[:-1]:
            stage = model.get_submodule(name)
            macs += count_macs(stage, x)
            with torch.no_grad():
                x = stage(x)
            for p in stage.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params += p.numel()
            numel = x[0].numel()
            points.append(
                SplitPoint(
                    at=name,
                    feature_shape=tuple(x.shape[1:]),
                    bytes_fp32=4 * numel,
                    bytes_fp16=2 * numel,
                    onboard_macs=int(macs),
                    onboard_params=int(params),
                )
            )
    finally:
        model.train(was_training)
    return points


def _check_lam(model: object) -> None:
    if not isinstance(model, LAM):
        raise TypeError(
            f"expected a spikesat LAM (from spikesat.models.create), got {type(model).__name__}"
        )


def _split_index(model: LAM, at: str) -> int:
    _check_lam(model)
    choices = model.stage_names[:-1]
    if at not in choices:
        raise ValueError(
            f"cannot split {model.name} at {at!r}; valid split points: {', '.join(choices)}"
        )
    return choices.index(at)


def _sequential(model: LAM, start: int, stop: int) -> CheckedSequential:
    stages = model.stages_between(start, stop)
    return CheckedSequential(OrderedDict((n.replace(".", "_"), m) for n, m in stages.items()))
