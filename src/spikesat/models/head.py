"""The task head every LAM ends with: a ReLU MLP on pooled features.

The head is a plain ``nn.Sequential`` of Linear, ReLU, Dropout and Linear so that the
spiking-network converter can turn it into integrate-and-fire layers without
approximating any non-linearity but the ReLU.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def task_head(
    in_features: int, num_classes: int, hidden: int = 256, dropout: float = 0.1
) -> nn.Sequential:
    """Build the MLP task head.

    Parameters
    ----------
    in_features : int
        Width ``D`` of the pooled features ``[B, D]``.
    num_classes : int
        Number of classes.
    hidden : int
        Width of the hidden layer.
    dropout : float
        Dropout probability between the layers (active in training only).

    Returns
    -------
    nn.Sequential
        ``fc1 -> act (ReLU) -> drop -> fc2``: ``[B, D]`` -> logits ``[B, num_classes]``.
    """
    for label, value in (
        ("in_features", in_features),
        ("num_classes", num_classes),
        ("hidden", hidden),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(in_features, hidden),
            act=nn.ReLU(),
            drop=nn.Dropout(dropout),
            fc2=nn.Linear(hidden, num_classes),
        )
    )
