"""SpikingJelly as the peer of spikesat's conversions: its ``ann2snn`` Converter (rate-coding
recipe, "Max" or "99.9%" thresholds) run for T steps on the same network and data, priced with
the same op counter."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from spikesat.energy import count_ops, energy_joules
from spikesat.snn import prefix_accuracies

SPIKINGJELLY_MODES = ("Max", "99.9%")


class SpikingJellyRunner(nn.Module):
    """Run a SpikingJelly single-step network for ``num_steps`` and average its output."""

    def __init__(self, net: nn.Module, num_steps: int) -> None:
        super().__init__()
        self.net = net
        self.num_steps = num_steps

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output at every step ``[num_steps, B, ...]``, from a reset state."""
        from spikingjelly.activation_based import functional

        functional.reset_net(self.net)
        outputs = torch.stack([self.net(x) for _ in range(self.num_steps)])
        functional.reset_net(self.net)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_steps(x).mean(0)


def spikingjelly_rows(
    ann: nn.Module,
    calibration: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    steps: Sequence[int],
    profiles: Sequence[str],
    sample: torch.Tensor,
    remote: nn.Module | None = None,
) -> list[dict[str, Any]]:
    """Rows for SpikingJelly's conversion of ``ann`` (a head, or an on-board part whose
    ``remote`` ANN answers on its rate output), one per mode and step count.

    Parameters
    ----------
    ann : nn.Module
        The network SpikingJelly converts (its stages traced by torch.fx).
    calibration : torch.Tensor
        Inputs ``[N, ...]`` for its thresholds.
    test_x, test_y : torch.Tensor
        ``[M, ...]`` inputs and ``[M]`` labels.
    steps, profiles
        Step counts and the hardware profiles to price on.
    sample : torch.Tensor
        Inputs the op counts run on (per-example figures).
    remote : nn.Module, optional
        The ANN after an on-board part; None for a head.
    """
    from spikingjelly.activation_based.ann2snn import Converter, RateCodingRecipe

    if isinstance(ann, nn.Sequential):  # a split part checks its input: trace its stages
        ann = nn.Sequential(OrderedDict(ann.named_children())).eval()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(calibration, torch.zeros(len(calibration))), batch_size=256
    )
    rows = []
    for mode in SPIKINGJELLY_MODES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = Converter(RateCodingRecipe(loader, mode=mode)).convert(ann).eval()
        runner = SpikingJellyRunner(net, max(steps)).eval()
        head = nn.Identity() if remote is None else remote.eval()
        accuracies = prefix_accuracies(runner.forward_steps, head, test_x, test_y, steps)
        for num_steps in steps:
            runner.num_steps = num_steps
            acc = accuracies[num_steps]
            ops = count_ops(runner, sample)
            rate = ops.spike_rate
            ops = ops.per_example()
            row = {"model": f"spikingjelly-{mode.lower()}", "num_steps": num_steps}
            row.update(accuracy=acc, spike_rate=rate, synops=ops.synops, macs=ops.macs)
            row.update({f"{p}_j": energy_joules(ops, p).total_j for p in profiles})
            rows.append(row)
    return rows
