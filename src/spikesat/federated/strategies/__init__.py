"""Federated strategies: "fedavg-ground", "fedisl", "on-board-only", "fedasync", "split-lam"
and "split-decomposed"."""

from spikesat.federated.strategies import (  # noqa: F401  (register the strategies)
    fedasync,
    fedavg_ground,
    fedisl,
    onboard_only,
    split_decomposed,
    split_lam,
)
from spikesat.federated.strategies.base import (
    STRATEGIES,
    Strategy,
    create_strategy,
    list_strategies,
)
from spikesat.federated.strategies.fedasync import FedAsync
from spikesat.federated.strategies.fedavg_ground import FedAvgGround
from spikesat.federated.strategies.fedisl import FedIsl
from spikesat.federated.strategies.onboard_only import OnboardOnly
from spikesat.federated.strategies.split_decomposed import SplitDecomposed
from spikesat.federated.strategies.split_lam import SplitLam

__all__ = [
    "STRATEGIES",
    "FedAsync",
    "FedAvgGround",
    "FedIsl",
    "OnboardOnly",
    "SplitDecomposed",
    "SplitLam",
    "Strategy",
    "create_strategy",
    "list_strategies",
]
