"""``SpikingNetwork``: an analog input stage followed by spiking layers run for ``num_steps``."""

from __future__ import annotations

import torch
from torch import nn

from spikesat._checks import check_tensor, first_layer_input_shape
from spikesat.snn.neurons import IFNeuron


class SpikingNetwork(nn.Module):
    """A converted spiking network.

    The ``encoder`` (the layers before the first activation: the first Linear/Conv with any
    folded BatchNorm, and a LayerNorm on the input side) sees the analog input once; its output
    is injected as a constant current at every time step (direct encoding). The ``body``
    alternates :class:`IFNeuron` layers and synaptic layers driven by their spikes and ends with
    the non-spiking output layer, whose output is averaged over the time steps.

    Parameters
    ----------
    encoder : nn.Sequential
        Analog input stage: ``[B, ...]`` -> current ``[B, ...]``.
    body : nn.Sequential
        Spiking stage, run once per time step.
    num_steps : int
        Time steps per inference (changeable later through the attribute).
    method : str
        The conversion method that produced the network (for reports).
    thresholds : list of float
        The ANN activation scales folded into the weights, one per spiking layer.

    Notes
    -----
    ``snn(x)`` returns the output averaged over ``num_steps`` ``[B, num_classes]``;
    :meth:`spike_counts` and :attr:`spike_rate` describe the last call.
    """

    def __init__(
        self,
        encoder: nn.Sequential,
        body: nn.Sequential,
        num_steps: int,
        method: str,
        thresholds: list[float],
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.body = body
        self.num_steps = num_steps
        self.method = method
        self.thresholds = [float(t) for t in thresholds]

    @property
    def num_steps(self) -> int:
        """Time steps per inference."""
        return self._num_steps

    @num_steps.setter
    def num_steps(self, value: int) -> None:
        self._num_steps = check_num_steps(value)

    def expected_input_shape(self) -> tuple | None:
        """The input shape the network takes (from its first Linear/Conv layer), or ``None``."""
        return first_layer_input_shape(self.encoder)

    def neurons(self) -> dict[str, IFNeuron]:
        """The spiking layers by name."""
        return {name: m for name, m in self.named_modules() if isinstance(m, IFNeuron)}

    def reset(self) -> None:
        """Forget all membranes."""
        for neuron in self.neurons().values():
            neuron.reset()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs ``[B, ...]`` -> output averaged over ``num_steps`` ``[B, K]``."""
        return self.forward_steps(x)[-1]

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """The running average of the output after each step ``[num_steps, B, K]``."""
        check_tensor(x, "x", shape=self.expected_input_shape() or (..., None))
        for neuron in self.neurons().values():
            neuron.reset()
            neuron.reset_counts()
        current = self.encoder(x)
        total = None
        means = []
        for step in range(self.num_steps):
            out = self.body(current)
            total = out if total is None else total + out
            means.append(total / (step + 1))
        self.reset()  # drop the membranes: the module pickles cleanly after a call
        return torch.stack(means)

    def spike_counts(self) -> dict[str, int]:
        """Spikes each spiking layer emitted in the last call (summed over batch and steps)."""
        return {name: n.num_spikes for name, n in self.neurons().items()}

    @property
    def spike_rate(self) -> float:
        """Spikes per neuron per step in the last call."""
        neurons = self.neurons().values()
        updates = sum(n.num_updates for n in neurons)
        return sum(n.num_spikes for n in neurons) / updates if updates else 0.0


def check_num_steps(value: object) -> int:
    """Validate a number of time steps (an int >= 1)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"num_steps must be an integer >= 1, got {value!r}; spiking layers need at least "
            "one time step (4-32 are typical)"
        )
    return value
