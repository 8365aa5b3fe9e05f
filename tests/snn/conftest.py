"""A small trained network on a synthetic task, shared by the SNN tests."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn


def blobs(num_samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Four Gaussian classes in 8 dimensions (features [N, 8], labels [N])."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 2.0
    labels = torch.arange(num_samples) % 4
    x = centres[labels] + torch.randn(num_samples, 8, generator=gen)
    return x, labels


def mlp_head() -> nn.Sequential:
    """The LAM task-head layout: fc1 -> ReLU -> Dropout -> fc2."""
    return nn.Sequential(
        OrderedDict(fc1=nn.Linear(8, 32), act=nn.ReLU(), drop=nn.Dropout(0.1), fc2=nn.Linear(32, 4))
    )


@pytest.fixture(scope="session")
def task():
    """(trained head, train features, train labels, test features, test labels)."""
    torch.manual_seed(0)
    head = mlp_head()
    x, y = blobs(600, seed=1)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(150):
        loss = F.cross_entropy(head(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    x_test, y_test = blobs(400, seed=2)
    return head, x, y, x_test, y_test
