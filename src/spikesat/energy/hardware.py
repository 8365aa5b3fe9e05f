"""Hardware energy profiles: a registry of per-operation energies, each with its source.

Every profile says where its figures come from (``source``) and whether they were ``measured``
on silicon, ``simulated`` (circuit-level figures for a process node) or ``estimated`` (derived
from datasheet power and throughput, or from a design study). ``list_hardware()`` lists them;
``get_hardware(name)`` returns one; ``register_hardware`` adds your own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from spikesat._registry import Registry

STATUSES = ("measured", "simulated", "estimated")
MEMORY_MODELS = ("sram-by-size", "included")

HARDWARE: Registry[HardwareProfile] = Registry("hardware profile")


@dataclass(frozen=True)
class HardwareProfile:
    """Energy per operation of one kind of hardware.

    Attributes
    ----------
    name : str
        Registry name.
    description : str
        What the hardware is.
    source : str
        Citation of the figures.
    status : {"measured", "simulated", "estimated"}
        How the figures were obtained.
    mac_pj : float or None
        One dense multiply-accumulate [pJ]; None where the hardware has no dense datapath.
    ac_pj : float or None
        One accumulate that is not a synaptic event (e.g. a bias addition) [pJ].
    synop_pj : float or None
        One synaptic operation (a spike accumulated through one weight) [pJ].
    neuron_update_pj : float or None
        One neuron state update (integrate, compare, reset) [pJ].
    spike_pj : float
        Routing one emitted spike [pJ].
    event_driven : bool
        True when spike-driven layers cost their synaptic ops; False when the hardware runs them
        densely at every time step (GPUs): they then cost ``spike_layer_macs x mac_pj``.
    bytes_per_value : float
        Storage of one weight or graded activation [B].
    bytes_per_state : float
        Storage of one membrane potential [B].
    memory : {"sram-by-size", "included"}
        "sram-by-size": memory traffic is priced by Horowitz's access energy for the size of the
        memory that holds it (:mod:`spikesat.energy.memory`); "included": the per-op figures
        already include memory access (measured chip or board figures).
    dense_fallback : str or None
        Profile that prices dense MACs (and their memory) on hardware without a dense datapath,
        e.g. the first, analog-input layer of a spiking head.
    notes : str
        Assumptions behind derived figures.
    """

    name: str
    description: str
    source: str
    status: str
    mac_pj: float | None
    ac_pj: float | None
    synop_pj: float | None
    neuron_update_pj: float | None
    spike_pj: float = 0.0
    event_driven: bool = True
    bytes_per_value: float = 4.0
    bytes_per_state: float = 4.0
    memory: str = "sram-by-size"
    dense_fallback: str | None = None
    notes: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.memory not in MEMORY_MODELS:
            raise ValueError(f"memory must be one of {MEMORY_MODELS}, got {self.memory!r}")
        if not self.source:
            raise ValueError(f"hardware profile {self.name!r} needs a source citation")
        if self.mac_pj is None and self.dense_fallback is None:
            raise ValueError(
                f"hardware profile {self.name!r} has no mac_pj: name a dense_fallback profile"
            )

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


def register_hardware(profile: HardwareProfile) -> HardwareProfile:
    """Add a profile to the registry under ``profile.name`` (a duplicate name raises)."""
    HARDWARE.register(profile.name)(_Constant(profile))
    return profile


def get_hardware(name: str | HardwareProfile) -> HardwareProfile:
    """Return the profile registered as ``name`` (a profile passes through).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid profiles and the closest match.
    """
    if isinstance(name, HardwareProfile):
        return name
    return HARDWARE.create(name)


def list_hardware() -> list[str]:
    """Names of the registered hardware profiles, sorted."""
    return HARDWARE.names()


class _Constant:
    """A picklable factory that returns one fixed profile."""

    def __init__(self, profile: HardwareProfile) -> None:
        self.profile = profile
        self.__qualname__ = f"HardwareProfile({profile.name!r})"

    def __call__(self) -> HardwareProfile:
        return self.profile


_HOROWITZ = (
    "M. Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014, "
    "pp. 10-14, doi:10.1109/ISSCC.2014.6757323 (45 nm, 0.9 V): INT8 add 0.03 pJ, INT32 add "
    "0.1 pJ, INT8 mult 0.2 pJ, FP16 add 0.4 pJ, FP16 mult 1.1 pJ, FP32 add 0.9 pJ, FP32 mult "
    "3.7 pJ; 64-bit SRAM read 10/20/100 pJ at 8 KB/32 KB/1 MB, DRAM 1.3-2.6 nJ"
)


def _horowitz_datapath(
    name: str,
    description: str,
    *,
    mult_pj: float,
    add_pj: float,
    bytes_per_value: float,
    bytes_per_state: float,
    notes: str,
) -> HardwareProfile:
    """A 45 nm CMOS datapath priced from Horowitz's per-op figures (simulated).

    MAC = one multiply + one add; a bias accumulate and a synaptic event = one add; a neuron
    update = two adds (integrate, and the threshold compare priced as a second add).
    """
    return HardwareProfile(
        name=name,
        description=description,
        source=_HOROWITZ,
        status="simulated",
        mac_pj=mult_pj + add_pj,
        ac_pj=add_pj,
        synop_pj=add_pj,
        neuron_update_pj=2 * add_pj,
        bytes_per_value=bytes_per_value,
        bytes_per_state=bytes_per_state,
        notes=notes,
    )


register_hardware(
    _horowitz_datapath(
        "cmos45nm-fp32",
        "45 nm CMOS datapath in FP32 with on-chip SRAM (Horowitz figures)",
        mult_pj=3.7,
        add_pj=0.9,
        bytes_per_value=4.0,
        bytes_per_state=4.0,
        notes="MAC = FP32 mult + add; synop = FP32 add; neuron update = integrate add + "
        "threshold compare (priced as a second add), estimated from the per-op figures.",
    )
)
register_hardware(
    _horowitz_datapath(
        "cmos45nm-fp16",
        "45 nm CMOS datapath in FP16 with on-chip SRAM (Horowitz figures)",
        mult_pj=1.1,
        add_pj=0.4,
        bytes_per_value=2.0,
        bytes_per_state=2.0,
        notes="MAC = FP16 mult + add; synop = FP16 add; neuron update = two FP16 adds.",
    )
)
register_hardware(
    _horowitz_datapath(
        "cmos45nm-int8",
        "45 nm CMOS datapath with INT8 weights/activations and INT32 accumulators",
        mult_pj=0.2,
        add_pj=0.1,
        bytes_per_value=1.0,
        bytes_per_state=4.0,
        notes="MAC = INT8 mult + INT32 accumulate; synop = INT32 add of an INT8 weight into an "
        "INT32 membrane; neuron update = two INT32 adds. INT8 values take 1 byte, membranes 4.",
    )
)
register_hardware(
    HardwareProfile(
        name="loihi",
        description="Intel Loihi (14 nm FinFET neuromorphic manycore)",
        source="M. Davies et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip "
        "Learning', IEEE Micro 38(1):82-99, 2018, doi:10.1109/MM.2018.112130359, Table 1: "
        "synaptic spike op 23.6 pJ (min), neuron update 81 pJ (active) / 52 pJ (inactive), "
        "within-tile spike energy 1.7 pJ",
        status="measured",
        mac_pj=None,
        ac_pj=0.0,
        synop_pj=23.6,
        neuron_update_pj=81.0,
        spike_pj=1.7,
        memory="included",
        dense_fallback="cmos45nm-int8",
        notes="Synaptic memory reads are part of the 23.6 pJ synop; bias currents are part of "
        "the neuron update (ac_pj = 0); every neuron update is priced at the active figure "
        "(81 pJ), an upper bound. Dense MACs (an analog-input first layer) run off-chip on "
        "cmos45nm-int8.",
    )
)
register_hardware(
    HardwareProfile(
        name="spinnaker2",
        description="SpiNNaker 2 processing element (22 nm FDSOI, ARM Cortex-M4F cores)",
        source="C. Mayr, S. Hoeppner, S. Furber, 'SpiNNaker 2: A 10 Million Core Processor "
        "System for Brain Simulation and Machine Learning', arXiv:1911.02385, 2019; S. "
        "Hoeppner et al., 'The SpiNNaker 2 Processing Element Architecture for Hybrid Digital "
        "Neuromorphic Computing', arXiv:2103.08392, 2021: about 10 pJ per synaptic event",
        status="estimated",
        mac_pj=None,
        ac_pj=0.0,
        synop_pj=10.0,
        neuron_update_pj=10.0,
        memory="included",
        dense_fallback="cmos45nm-int8",
        notes="Design-study figure of ~10 pJ per synaptic event including the local SRAM "
        "read; the neuron update is taken equal to one synaptic event (same order of software "
        "instructions on the M4F), an estimate. Dense MACs run on cmos45nm-int8 (SpiNNaker 2's "
        "own MAC array is not modelled).",
    )
)
register_hardware(
    HardwareProfile(
        name="jetson-tx2nx",
        description="NVIDIA Jetson TX2 NX module (Pascal GPU, FP16), flown on LEO smallsats",
        source="NVIDIA Jetson TX2 NX datasheet: 1.33 TFLOPS (FP16), 7.5-15 W module power; "
        "flight use: The Aerospace Corporation's Edge Node mission computer, a cluster of Jetson "
        "TX2 NX modules after three LEO qualification missions (SmallSat 2024, "
        "digitalcommons.usu.edu/smallsat/2024/all2024/126)",
        status="estimated",
        mac_pj=15.0 / (1.33e12 / 2) * 1e12,
        ac_pj=15.0 / (1.33e12 / 2) * 1e12,
        synop_pj=15.0 / (1.33e12 / 2) * 1e12,
        neuron_update_pj=15.0 / (1.33e12 / 2) * 1e12,
        event_driven=False,
        bytes_per_value=2.0,
        bytes_per_state=2.0,
        memory="included",
        notes="Energy per FP16 MAC = 15 W / (1.33 TFLOPS / 2) = 22.6 pJ at peak throughput, "
        "module power (memory included). A GPU does not exploit spike sparsity: spiking layers "
        "cost their dense MACs at every time step, and a neuron update costs one MAC.",
    )
)
