"""The LAM: a large AI model as an ordered list of named stages.

A :class:`LAM` runs its stages one after the other. Splitting it at a stage boundary
therefore needs no re-implementation of its forward pass: the on-board part runs the
stages up to and including the split point and the remote part runs the rest, with the
very same modules, so ``remote(onboard(x))`` equals ``model(x)`` bit for bit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
from torch import nn

from spikesat._checks import check_tensor


class LAM(nn.Module):
    """A model made of named stages, with a task head as its own submodule ``head``.

    Parameters
    ----------
    name : str
        The registry name the model was created under (kept for checkpoints).
    stages : OrderedDict[str, nn.Module]
        The top-level parts in execution order. The last one must be named ``"head"``.
    expand : iterable of str
        Names of parts that are ``nn.Sequential`` containers whose children are stages of
        their own (``"blocks"`` gives the split points ``"blocks.0"``, ``"blocks.1"``, ...).
    config : dict
        The keyword arguments the model was built with (kept for checkpoints).

    Notes
    -----
    Input: images ``[B, C, H, W]`` (normalised). Output: logits ``[B, num_classes]``.
    """

    def __init__(
        self,
        name: str,
        stages: OrderedDict[str, nn.Module],
        expand: Iterable[str] = (),
        config: dict | None = None,
    ) -> None:
        super().__init__()
        if next(reversed(stages)) != "head":
            raise ValueError(f"the last stage of a LAM must be 'head', got {list(stages)}")
        self.name = name
        self.config = dict(config or {})
        for part_name, module in stages.items():
            self.add_module(part_name, module)
        expand = set(expand)
        names: list[str] = []
        for part_name, module in stages.items():
            if part_name in expand:
                if not isinstance(module, nn.Sequential):
                    raise TypeError(f"stage {part_name!r} must be nn.Sequential to be expanded")
                names.extend(f"{part_name}.{i}" for i in range(len(module)))
            else:
                names.append(part_name)
        self.stage_names: list[str] = names

    @property
    def num_classes(self) -> int:
        """Number of output classes of the task head."""
        return int(self.config["num_classes"])

    @property
    def in_chans(self) -> int:
        """Number of input bands the model takes."""
        return int(self.config["in_chans"])

    def stage(self, name: str) -> nn.Module:
        """Return the stage module called ``name`` (one of :attr:`stage_names`)."""
        if name not in self.stage_names:
            raise ValueError(
                f"{name!r} is not a stage of {self.name}; its stages are: "
                f"{', '.join(self.stage_names)}"
            )
        return self.get_submodule(name)

    def stages_between(self, start: int, stop: int) -> OrderedDict[str, nn.Module]:
        """The stages ``stage_names[start:stop]`` as an ordered name -> module mapping."""
        return OrderedDict((n, self.get_submodule(n)) for n in self.stage_names[start:stop])

    def expected_input_shape(self) -> tuple:
        """The input shape the model takes: ``("B", in_chans, "H", "W")``."""
        return ("B", self.config.get("in_chans", "C"), "H", "W")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Run every stage but the head: images ``[B, C, H, W]`` -> pooled features ``[B, D]``.

        Raises ``TypeError`` / ``ValueError`` for a non-tensor, a wrong shape or NaN/infinite
        images (see :mod:`spikesat._checks`; ``SPIKESAT_NO_CHECKS=1`` skips the NaN check).
        """
        check_images(x, self)
        for name in self.stage_names[:-1]:
            x = self.get_submodule(name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``[B, C, H, W]`` -> logits ``[B, num_classes]``."""
        return self.head(self.forward_features(x))


def check_images(x: object, model: LAM) -> torch.Tensor:
    """Check that ``x`` is a finite image batch ``[B, in_chans, H, W]`` for ``model``."""
    return check_tensor(
        x,
        "images",
        shape=model.expected_input_shape(),
        hint=f"{model.name} takes a batch of normalised images; add a batch dimension with "
        "x.unsqueeze(0) for one image, and give it the bands the model was built with",
    )
