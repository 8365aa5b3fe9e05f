"""Surrogate-gradient fine-tuning of a converted spiking network (BPTT through the time steps)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from spikesat.snn.batches import labelled_tensors, minibatches
from spikesat.snn.network import SpikingNetwork, check_num_steps
from spikesat.snn.surrogates import SURROGATES


def finetune(
    snn: SpikingNetwork,
    data: Any,
    num_steps: int,
    surrogate: str = "atan",
    epochs: int = 5,
    lr: float = 1e-4,
    batch_size: int = 128,
    seed: int = 0,
) -> list[float]:
    """Fine-tune ``snn`` in place with backpropagation through time and a surrogate gradient.

    The loss is the cross-entropy of the output averaged over ``num_steps``. The spike's
    derivative is replaced by snnTorch's surrogate ``surrogate``; the reset (by subtraction)
    is detached, as in snnTorch. This recovers accuracy lost to conversion at low ``num_steps``.

    Parameters
    ----------
    snn : SpikingNetwork
        From :func:`spikesat.snn.convert`; its ``num_steps`` becomes ``num_steps``.
    data : (inputs, labels) tensors, data set or iterable of batches
        Training examples ``inputs [N, ...]``, ``labels [N]``.
    num_steps : int
        Time steps to train at (>= 1).
    surrogate : str
        One of :func:`spikesat.snn.list_surrogates` ("atan", "fast_sigmoid", "sigmoid",
        "triangular", "straight_through").
    epochs, lr, batch_size : training hyper-parameters (Adam).
    seed : int
        Seed of the shuffling.

    Returns
    -------
    list of float
        Mean training loss of every epoch.
    """
    if not isinstance(snn, SpikingNetwork):
        raise TypeError(
            f"snn must be a SpikingNetwork from spikesat.snn.convert, got {type(snn).__name__}"
        )
    snn.num_steps = check_num_steps(num_steps)
    SURROGATES.get(surrogate)
    for label, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    inputs, labels = labelled_tensors(data)
    for neuron in snn.neurons().values():
        neuron.set_surrogate(surrogate)
    device = next(snn.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(snn.parameters(), lr=lr)
    history = []
    snn.train()
    for _ in range(epochs):
        total = 0.0
        for x, y in minibatches(inputs, labels, batch_size, gen):
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(snn(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(x)
        history.append(total / len(inputs))
    snn.eval()
    return history
