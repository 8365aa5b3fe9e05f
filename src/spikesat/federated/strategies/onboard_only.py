"""``on-board-only``: the whole LAM fine-tuned on the satellites, the baseline of Zhu et al.

Zhu et al., "Satellite Federated Fine-Tuning for Foundation Models in Space Computing Power
Networks" (arXiv 2504.10403) compare their satellite-ground split fine-tuning against
on-board training: every satellite runs the whole model's forward and backward passes on its
own images, the models are aggregated within each orbit over the intra-plane ISLs and across
orbits through the ground passes. That is the schedule of :class:`~spikesat.federated.FedIsl`
(ring all-reduce per plane, one upload per plane, the server averages the planes), so this
strategy is FedISL under the name the seeds' comparison uses; it differs from ``split-lam``
in where the backbone runs (on board here, for its MACs on the on-board profile).
"""

from __future__ import annotations

from spikesat.federated.strategies.base import STRATEGIES
from spikesat.federated.strategies.fedisl import FedIsl


@STRATEGIES.register("on-board-only")
class OnboardOnly(FedIsl):
    """The whole model trained on board, aggregated over ISLs and ground passes (FedISL)."""

    name = "on-board-only"
