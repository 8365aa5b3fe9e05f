"""The model registry: ``create(name, **kw)`` and ``list_models()``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from spikesat._registry import Registry
from spikesat.models.lam import LAM

MODELS: Registry[LAM] = Registry("model")
register_model = MODELS.register


def create(
    name: str,
    in_chans: int = 3,
    num_classes: int = 10,
    checkpoint: str | Path | None = None,
    seed: int = 0,
    pretrained: bool = False,
    **kwargs: Any,
) -> LAM:
    """Build a LAM from the zoo, optionally loading weights.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    in_chans : int
        Input bands, any integer >= 1 (3 for RGB, 13 for Sentinel-2 multispectral, the
        band count of a user's image folder).
    num_classes : int
        Classes of the task head.
    checkpoint : path, optional
        A checkpoint written by :func:`spikesat.models.save_checkpoint` (or ``spikesat
        train``); its weights are loaded after checking that it was made for ``name``.
    seed : int
        Seed of the weight initialisation. The initialisers (timm's, torch's) draw from
        torch's global generator: it is seeded for the build only and the caller's state is
        restored afterwards, so the same seed gives the same weights and the user's random
        stream is left as it was.
    pretrained : bool
        Load the weights that ship with spikesat for ``name`` (see
        ``list_models(pretrained=True)`` and :func:`spikesat.models.pretrained_info` for what
        they were trained on and how well they do). With another ``num_classes`` every weight
        but the head's last layer is loaded.
    **kwargs
        Architecture options of the family (``head_hidden``, ``drop_path_rate``, ...).
        An unknown keyword raises ``TypeError``.

    Returns
    -------
    LAM
    """
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(
            f"in_chans must be an integer >= 1 (the number of input bands), got {in_chans!r}"
        )
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        model = MODELS.create(name, in_chans=in_chans, num_classes=num_classes, **kwargs)
    if pretrained and checkpoint is not None:
        raise ValueError("pass either pretrained=True or checkpoint=, not both")
    if pretrained:
        from spikesat.models.pretrained import load_pretrained

        load_pretrained(model)
    if checkpoint is not None:
        from spikesat.models.checkpoint import load_weights

        load_weights(model, checkpoint)
    return model


def list_models(pretrained: bool = False) -> list[str]:
    """Names accepted by :func:`create`; with ``pretrained=True`` only those whose weights ship."""
    if pretrained:
        from spikesat.models.pretrained import pretrained_manifest

        return sorted(name for name in pretrained_manifest() if name in MODELS.names())
    return MODELS.names()


def takes_image_size(name: str) -> bool:
    """Whether :func:`create` builds ``name`` for one image size (``img_size=``: the ViTs);
    the CNNs take any size and no such argument. Unknown names list the choices."""
    params = inspect.signature(MODELS.get(name)).parameters.values()
    return any(p.name == "img_size" or p.kind is p.VAR_KEYWORD for p in params)
