"""Integrate-and-fire neurons on snnTorch's ``Leaky``, reset by subtraction, with spike counters."""

from __future__ import annotations

import snntorch
import torch
from torch import nn

from spikesat.snn.surrogates import SURROGATES


def _unregister(neuron: snntorch.SpikingNeuron) -> None:
    """Take ``neuron`` off snnTorch's class-level ``SpikingNeuron.instances`` list.

    snnTorch appends every neuron it builds to that list (for ``snntorch.utils.reset`` of
    ``init_hidden=True`` neurons, which spikesat does not use: the membrane is passed
    explicitly), so it would grow, and keep every neuron alive, with each network built.
    """
    instances = snntorch.SpikingNeuron.instances
    for i in range(len(instances) - 1, -1, -1):
        if instances[i] is neuron:
            del instances[i]
            return


class IFNeuron(nn.Module):
    """An integrate-and-fire (``beta = 1``) or leaky (``beta < 1``) spiking neuron layer.

    Wraps ``snntorch.Leaky(beta, threshold, reset_mechanism="subtract")``. The membrane starts
    at ``v_init x threshold`` at the first time step of every sequence and carries over between
    steps until :meth:`reset`. Each call is one time step.

    Parameters
    ----------
    threshold : float
        Firing threshold (> 0). Converted networks use 1 and fold the layer scale into weights.
    beta : float
        Membrane decay per step in (0, 1]; 1 is a pure integrate-and-fire neuron.
    v_init : float
        Initial membrane as a fraction of the threshold (0.5 for QCFS conversion).
    surrogate : str
        Surrogate gradient for training, one of :func:`spikesat.snn.list_surrogates`.

    Attributes
    ----------
    num_spikes : int
        Spikes emitted since the last :meth:`reset_counts`.
    num_updates : int
        Neuron updates (neurons x steps) since the last :meth:`reset_counts`.
    """

    def __init__(
        self,
        threshold: float = 1.0,
        beta: float = 1.0,
        v_init: float = 0.5,
        surrogate: str = "atan",
    ) -> None:
        super().__init__()
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0, got {threshold!r}")
        if not 0 < beta <= 1:
            raise ValueError(f"beta must be in (0, 1], got {beta!r}")
        self.threshold = float(threshold)
        self.beta = float(beta)
        self.v_init = float(v_init)
        self.lif = snntorch.Leaky(
            beta=self.beta,
            threshold=self.threshold,
            spike_grad=SURROGATES.create(surrogate),
            reset_mechanism="subtract",
        )
        _unregister(self.lif)
        self.membrane: torch.Tensor | None = None
        self._spikes = torch.zeros((), dtype=torch.float64)
        self.num_updates = 0

    def set_surrogate(self, name: str, **kwargs: float) -> None:
        """Use the snnTorch surrogate ``name`` (e.g. "atan", "fast_sigmoid") in training."""
        self.lif.spike_grad = SURROGATES.create(name, **kwargs)

    def reset(self) -> None:
        """Forget the membrane (the next call starts a new sequence)."""
        self.membrane = None
        self.lif.mem = torch.zeros(0)

    def reset_counts(self) -> None:
        """Zero the spike and update counters."""
        self._spikes = torch.zeros((), dtype=torch.float64)
        self.num_updates = 0

    @property
    def num_spikes(self) -> int:
        return int(self._spikes.item())

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        """One time step: input current ``[B, ...]`` -> spikes ``[B, ...]`` in {0, 1}."""
        if self.membrane is None or self.membrane.shape != current.shape:
            self.membrane = torch.full_like(current, self.v_init * self.threshold)
        spikes, self.membrane = self.lif(current, self.membrane)
        self._spikes = self._spikes.to(spikes.device) + spikes.detach().sum().double()
        self.num_updates += spikes.numel()
        return spikes

    def extra_repr(self) -> str:
        return f"threshold={self.threshold:.4g}, beta={self.beta:.4g}, v_init={self.v_init:.4g}"
