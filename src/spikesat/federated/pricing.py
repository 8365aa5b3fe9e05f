"""Pricing a run as another LAM: one model learns, the clock charges a larger one's costs.

A regime sweep asks how the strategies compare when the LAM is ViT-Small or ViT-Base sized at
a real image size. Federating such a model over tens of satellites does not fit on a CPU. A
:class:`Pricing` keeps the trained model's maths and charges the simulated clock another
model's figures:

- the forward MACs per sample of the whole model (local training on board), and of the split
  LAM's patch embedding, backbone and head;
- the bytes of an update: float32 values of the priced model's trainable parameters, framed
  like the trained model's update (:func:`priced_bytes`);
- the split LAM's token shape ``[N, D]`` and pooled feature width at the cut.

The learning curve, round by round, is the trained model's. Time, bytes and joules are the
priced model's. A run whose strategy adapts to time (the split LAM's window schedule takes as
many steps as a window allows) therefore trains the small model on the large model's timing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spikesat.models import count_macs

FLOAT32_BYTES = 4
LABEL_BYTES = 1
"""Bytes of one class label sent with its activations in split training."""


@dataclass
class Pricing:
    """The LAM whose MACs and bytes the clock charges.

    Attributes
    ----------
    model : nn.Module
        The priced LAM, in eval mode. It is never trained.
    sample : Tensor
        One input at the priced image size, ``[1, C, H, W]``.
    trainable : list of str
        The priced model's parameters that an update carries.
    forward_macs : int
        MACs of one forward pass of one sample (counted once, by :func:`build_pricing`).
    """

    model: nn.Module
    sample: torch.Tensor
    trainable: list[str]
    forward_macs: int

    @property
    def name(self) -> str:
        """The priced model's name."""
        return str(getattr(self.model, "name", type(self.model).__name__))

    def trainable_numel(self) -> int:
        """Values in one update of the priced model."""
        params = dict(self.model.named_parameters())
        return int(sum(params[n].numel() for n in self.trainable))

    def info(self) -> dict[str, Any]:
        """The priced model, image size, forward MACs and update size, for run configs."""
        return {
            "model": self.name,
            "image_size": int(self.sample.shape[-1]),
            "forward_macs": self.forward_macs,
            "trainable_params": self.trainable_numel(),
        }


def build_pricing(
    price_as: str | nn.Module,
    in_chans: int,
    num_classes: int,
    image_size: int,
    trainable: str = "full",
    lora_rank: int = 4,
    seed: int = 0,
) -> Pricing:
    """The :class:`Pricing` of a run priced as ``price_as``.

    Parameters
    ----------
    price_as : str or nn.Module
        A LAM name (:func:`spikesat.models.list_models`), built for the run's channels and
        classes at ``image_size``, or a model (copied, never changed).
    in_chans, num_classes : int
        The run's input channels and classes.
    image_size : int
        The priced input's side [px].
    trainable : {"full", "lora"}
        What an update carries: every parameter, or LoRA adapters of rank ``lora_rank`` on the
        backbone plus the task head (as the run's own model).
    lora_rank, seed : int
        The adapters' rank and seed (``trainable="lora"``).

    Raises
    ------
    ValueError
        If the priced model does not run on ``[1, in_chans, image_size, image_size]``.
    """
    from spikesat.federated.lora import add_lora

    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"the priced image size must be a positive int, got {image_size!r}")
    if isinstance(price_as, nn.Module):
        model = copy.deepcopy(price_as)
    else:
        from spikesat.models import create, takes_image_size

        sized = {"img_size": image_size} if takes_image_size(price_as) else {}
        model = create(price_as, in_chans=in_chans, num_classes=num_classes, **sized)
    if trainable == "lora":
        add_lora(model, lora_rank, seed=seed)
        names = [n for n, p in model.named_parameters() if p.requires_grad]
    else:
        names = [n for n, _ in model.named_parameters()]
    sample = torch.zeros(1, in_chans, image_size, image_size)
    try:
        macs = count_macs(model.eval(), sample)
    except RuntimeError as error:
        name = getattr(model, "name", type(model).__name__)
        raise ValueError(
            f"the priced model {name} does not run on [1, {in_chans}, {image_size}, "
            f"{image_size}] inputs ({error}): give price_image_size a size it accepts"
        ) from error
    return Pricing(model, sample, names, macs)


def priced_bytes(encoded_bytes: int, numel: int, priced_numel: int) -> int:
    """Size of an update of ``priced_numel`` float32 values [B].

    Parameters
    ----------
    encoded_bytes : int
        Size of the trained model's encoded update [B].
    numel : int
        Values in that update.
    priced_numel : int
        Values in the priced model's update.

    Returns
    -------
    int
        ``encoded_bytes`` with the trained model's values swapped for the priced ones: the
        header (names, shapes, identity, digest) stays the trained model's.
    """
    return int(encoded_bytes + FLOAT32_BYTES * (priced_numel - numel))
