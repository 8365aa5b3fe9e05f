"""Surrogate-gradient fine-tuning of converted spiking networks (BPTT through the time steps):
task heads (:func:`finetune`) and hybrid on-board parts with a spike-rate loss
(:func:`finetune_onboard`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikesat.snn.batches import labelled_tensors
from spikesat.snn.hybrid import HybridSNN
from spikesat.snn.network import SpikingNetwork, check_num_steps
from spikesat.snn.supervised import check_epochs_and_batch_size, train_cross_entropy
from spikesat.snn.surrogates import SURROGATES
from spikesat.train.core import StepOutput, optimiser_step, run_epochs
from spikesat.train.rng import seeded_global_rng


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


def finetune_onboard(
    snn: HybridSNN,
    remote: nn.Module,
    data: Any,
    num_steps: int,
    rate_weight: float = 0.0,
    surrogate: str = "atan",
    epochs: int = 1,
    lr: float = 1e-4,
    batch_size: int = 32,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Fine-tune a converted on-board part in place, the ground part ``remote`` frozen.

    The loss is ``cross_entropy(remote(snn(x)), y) + rate_weight * rate`` where ``rate`` is
    the spikes per neuron per step (:meth:`HybridSNN.rate_loss`, through the surrogate
    gradient): ``rate_weight`` trades accuracy for synaptic operations, which scale with it.

    Parameters
    ----------
    snn : HybridSNN
        From :func:`spikesat.snn.convert_onboard`; its ``num_steps`` becomes ``num_steps``.
    remote : nn.Module
        The ANN after the cut (``models.split(lam, at).remote``); not trained.
    data : (images, labels) tensors or data set
        Training examples ``[N, C, H, W]``, ``[N]``.
    num_steps : int
        Time steps to train at.
    rate_weight : float
        Weight of the spike-rate loss (>= 0).
    surrogate, epochs, lr, batch_size, seed
        Surrogate gradient and Adam training settings.

    Returns
    -------
    list of dict
        Per epoch: ``loss`` (cross-entropy) and ``spike_rate`` (training batches' mean).
    """
    if not isinstance(snn, HybridSNN):
        raise TypeError(
            f"snn must be a HybridSNN from spikesat.snn.convert_onboard, got {type(snn).__name__}"
        )
    if not rate_weight >= 0:
        raise ValueError(f"rate_weight must be >= 0, got {rate_weight!r}")
    snn.num_steps = check_num_steps(num_steps)
    SURROGATES.get(surrogate)
    check_epochs_and_batch_size(epochs, batch_size)
    inputs, labels = labelled_tensors(data)
    for neuron in snn.neurons().values():
        neuron.neuron.set_surrogate(surrogate)
    for p in remote.parameters():
        p.requires_grad_(False)
    remote.eval()
    optimiser = torch.optim.Adam(snn.parameters(), lr=lr)

    def step(idx: torch.Tensor) -> StepOutput:
        x, y = inputs[idx], labels[idx]
        snn.train()
        loss = F.cross_entropy(remote(snn(x)), y)
        rate = snn.rate_loss()
        optimiser_step(loss + rate_weight * rate, optimiser)
        sums = {"loss": loss.item() * len(idx), "spike_rate": rate.item() * len(idx)}
        return StepOutput({"loss": loss.item()}, sums)

    with seeded_global_rng(seed, torch.device("cpu")):
        history = run_epochs(
            snn, step, num_examples=len(inputs), batch_size=batch_size, num_epochs=epochs,
            generator=torch.Generator().manual_seed(seed),
        )  # fmt: skip
    snn.eval()
    return [{"loss": r["loss"], "spike_rate": r["spike_rate"]} for r in history]
