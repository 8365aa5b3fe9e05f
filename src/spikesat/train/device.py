"""The one device lookup of the trainers: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""

from __future__ import annotations

import re

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")
"""The device names :func:`resolve_device` accepts (``N`` a CUDA device index)."""

_CUDA_INDEX = re.compile(r"cuda:\d+")


def check_device(device: object) -> str:
    """Return ``device`` if it is one of :data:`DEVICE_CHOICES`, else raise ``ValueError``.

    Only the name is checked, not whether the hardware is there (that is
    :func:`resolve_device`'s job), so configurations can be built on any machine.
    """
    if not isinstance(device, str) or not (
        device in ("auto", "cpu", "cuda") or _CUDA_INDEX.fullmatch(device)
    ):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (N a GPU index), got {device!r}"
        )
    return device


def resolve_device(device: str) -> torch.device:
    """The ``torch.device`` for a device name.

    Parameters
    ----------
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises
    ------
    ValueError
        For any other name, or a CUDA device that this machine does not have.
    """
    check_device(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device={device!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'"
            )
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"device={device!r} was asked for but this machine has {count} CUDA GPU(s) "
                f"(cuda:0 to cuda:{count - 1})"
            )
    return resolved
