"""``spikesat demo``: the whole data path on embedded defaults, one stage per row.

data -> LAM (shipped with the package for the built-in scenes, else trained once and cached) ->
split -> on-board features -> remote -> orbit -> link -> codec -> spiking head -> energy ->
federated fine-tuning. Each capability adds its own stage here, so the demo always shows the
whole path.
"""

from spikesat.cli.demo.lam import DEMO_MODEL, DEMO_SPLIT_AT, demo_lam
from spikesat.cli.demo.run import run_demo

__all__ = ["DEMO_MODEL", "DEMO_SPLIT_AT", "demo_lam", "run_demo"]
