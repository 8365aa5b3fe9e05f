"""Compute profiles: sustained MAC throughput and board power of on-board and ground computers.

``spikesat.energy`` profiles give energy per operation but no throughput, so the federated
clock keeps its own small registry of computers: the time of a job is
``MACs / macs_per_s`` and its energy ``power_w x time``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from spikesat._registry import Registry

COMPUTERS: Registry[ComputeProfile] = Registry("compute profile")

TRAINING_MACS_PER_FORWARD = 3.0
"""A training step costs about three forward passes (forward + backward of twice the MACs):
Kaplan et al., "Scaling Laws for Neural Language Models", arXiv:2001.08361, 2020, sec. 2.1."""


@dataclass(frozen=True)
class ComputeProfile:
    """A computer's sustained throughput and power.

    Attributes
    ----------
    name : str
        Registry name.
    macs_per_s : float
        Sustained multiply-accumulates per second while training [MAC/s].
    power_w : float
        Board power while computing [W].
    source : str
        Citation of the figures.
    status : {"measured", "simulated", "estimated"}
        How the figures were obtained.
    notes : str
        Assumptions.
    """

    name: str
    macs_per_s: float
    power_w: float
    source: str
    status: str
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.macs_per_s > 0 or not self.power_w > 0:
            raise ValueError(
                f"compute profile {self.name!r} needs macs_per_s > 0 and power_w > 0, got "
                f"{self.macs_per_s!r} and {self.power_w!r}"
            )

    def seconds(self, macs: float) -> float:
        """Time to run ``macs`` multiply-accumulates [s]."""
        return float(macs) / self.macs_per_s

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


class _Fixed:
    """A picklable factory returning one profile."""

    def __init__(self, profile: ComputeProfile) -> None:
        self.profile = profile

    def __call__(self) -> ComputeProfile:
        return self.profile


def register_computer(profile: ComputeProfile) -> ComputeProfile:
    """Add a profile under ``profile.name`` (a duplicate raises)."""
    COMPUTERS.register(profile.name)(_Fixed(profile))
    return profile


def get_computer(name: str | ComputeProfile) -> ComputeProfile:
    """The profile called ``name`` (a profile passes through); unknown names list the choices."""
    if isinstance(name, ComputeProfile):
        return name
    return COMPUTERS.create(name)


def list_computers() -> list[str]:
    """Names of the registered compute profiles."""
    return COMPUTERS.names()


register_computer(
    ComputeProfile(
        name="jetson-tx2nx",
        macs_per_s=0.25 * 1.33e12 / 2,
        power_w=15.0,
        source="NVIDIA Jetson TX2 NX module data sheet (DS-10171-001): 1.33 TFLOPS FP16, "
        "10-15 W; flown on-board in e.g. Unibap/D-Orbit ION missions",
        status="estimated",
        notes="1.33 TFLOPS = 0.665 TMAC/s peak; 25% sustained utilisation assumed for small-"
        "batch training; 15 W (MAXN) board power",
    )
)
register_computer(
    ComputeProfile(
        name="jetson-agx-orin",
        macs_per_s=0.25 * 85e12 / 2,
        power_w=40.0,
        source="NVIDIA Jetson AGX Orin series data sheet (DS-10662-001): 85 TFLOPS FP16 dense "
        "tensor (64 GB module), 15-60 W",
        status="estimated",
        notes="25% sustained utilisation of the dense FP16 tensor peak; 40 W power mode",
    )
)
register_computer(
    ComputeProfile(
        name="a100-ground",
        macs_per_s=0.4 * 312e12 / 2,
        power_w=400.0,
        source="NVIDIA A100 Tensor Core GPU data sheet (2021): 312 TFLOPS FP16 dense, 400 W SXM4",
        status="estimated",
        notes="40% sustained utilisation (typical model FLOPs utilisation of training); the "
        "ground server of the split and server-side strategies",
    )
)
register_computer(
    ComputeProfile(
        name="jetson-nano-5w",
        macs_per_s=0.25 * 472e9 * (640.0 / 921.6) / 2,
        power_w=5.0,
        source="NVIDIA Jetson Nano module data sheet: 472 GFLOPS FP16 at the "
        "921.6 MHz GPU clock; NVIDIA L4T Development Guide, 'Power Management for Jetson Nano': "
        "5 W mode (nvpmodel ID 1) caps the GPU at 640 MHz; CubeSat power budgets are 2-8 W "
        "(Arnold, Nuzzaci & Gordon-Ross, 'Energy Budgeting for CubeSats with an Integrated "
        "FPGA', IEEE Aerospace Conference 2012)",
        status="estimated",
        notes="the CubeSat-class computer: 472 GFLOPS scaled by the 5 W mode's GPU clock "
        "(640 / 921.6) = 328 GFLOPS = 164 GMAC/s peak; 25% sustained utilisation as the other "
        "Jetsons; 5 W board power",
    )
)
