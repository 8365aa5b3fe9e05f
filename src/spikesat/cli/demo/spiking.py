"""The demo's QCFS head: the LAM's head with QCFS activations, trained on its features.

Shipped with the package beside the LAM (see :mod:`spikesat.cli.demo.weights`), else
trained once and cached; only its ``state_dict`` is stored, and the module is rebuilt from
the LAM's own head, so loading it runs no pickled code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import spikesat.models as models
from spikesat.cli.demo.lam import in_batches
from spikesat.cli.demo.weights import weights_path
from spikesat.snn import replace_relu_with_qcfs, task_head_of, train_qcfs

QCFS_LEVELS = 4
QCFS_EPOCHS = 30
CALIBRATION_IMAGES = 2000


def calibration_features(
    lam: nn.Module, train: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features ``[M, D]`` and labels ``[M]`` of the first ``CALIBRATION_IMAGES``."""
    images, labels = train[0][:CALIBRATION_IMAGES], train[1][:CALIBRATION_IMAGES]
    return in_batches(lam.forward_features, images), labels


def demo_qcfs_head(
    lam: nn.Module,
    calibration: tuple[torch.Tensor, torch.Tensor],
    lam_checkpoint: str | Path,
    seed: int,
) -> tuple[nn.Module, bool]:
    """The QCFS copy of ``lam``'s head, from the package, the cache, or trained now.

    Parameters
    ----------
    lam : nn.Module
        The demo LAM (its head is left unchanged).
    calibration : (Tensor, Tensor)
        Pooled training features ``[M, D]`` and labels ``[M]``.
    lam_checkpoint : path
        The LAM's checkpoint; its file name keys the head's file.
    seed : int
        Seed of the QCFS training.

    Returns
    -------
    (nn.Module, bool)
        The head in eval mode, and whether it was loaded rather than trained.
    """
    name = f"qcfs-{Path(lam_checkpoint).stem}-L{QCFS_LEVELS}-e{QCFS_EPOCHS}.pt"
    path, _ = weights_path(name, models.cache_dir() / "demo")
    head = replace_relu_with_qcfs(task_head_of(lam), QCFS_LEVELS, calibration_data=calibration[0])
    if path.is_file():
        head.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return head.eval(), True
    train_qcfs(head, calibration, epochs=QCFS_EPOCHS, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(head.state_dict(), tmp)
    tmp.replace(path)
    return head.eval(), False
