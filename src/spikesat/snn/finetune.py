"""Surrogate-gradient fine-tuning of a converted spiking network (BPTT through the time steps)."""

from __future__ import annotations

from typing import Any

import torch

from spikesat.snn.batches import labelled_tensors
from spikesat.snn.network import SpikingNetwork, check_num_steps
from spikesat.snn.supervised import check_epochs_and_batch_size, train_cross_entropy
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
    check_epochs_and_batch_size(epochs, batch_size)
    inputs, labels = labelled_tensors(data)
    for neuron in snn.neurons().values():
        neuron.set_surrogate(surrogate)
    optimiser = torch.optim.Adam(snn.parameters(), lr=lr)
    return train_cross_entropy(snn, inputs, labels, optimiser, epochs, batch_size, seed)
