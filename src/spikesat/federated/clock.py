"""The simulated clock: transfers inside contact windows, compute time, eclipse, energy.

Transfers
    ``num_bytes`` over a link start at ``max(ready_s, link free, next segment start)`` and move
    at the link-trace rate of each grid step (:class:`~spikesat.federated.network.LinkSegments`);
    when the window closes they pause and resume in the next window (queueing). The last byte
    leaves at ``tx_end_s``; it arrives ``range_km / c`` later, at the range of the segment the
    last byte leaves in. Inside one window of constant rate, ``arrival_s = start_s +
    8 num_bytes / rate_bps + range_km / c`` exactly. One transfer at a time per link (the two
    directions of a ground link share it: half duplex), so later transfers queue behind
    earlier ones. Up- and downlinks use the same trace rate and the same transmit power
    figure (a symmetric-link assumption).
Compute
    A job of ``macs`` on satellite ``i`` takes ``macs / macs_per_s`` of its
    :class:`~spikesat.federated.compute.ComputeProfile`, one job at a time per satellite. With
    ``eclipse="sunlit"`` it only advances while the satellite is sunlit (``plan.sunlit``);
    with ``eclipse="battery"`` it runs from a battery of ``battery_capacity_j`` that recharges
    at ``recharge_w`` while sunlit, waiting for charge when the battery cannot cover the job.
Energy
    Every compute job and every transmission is booked to an
    :class:`~spikesat.energy.EnergyLedger` (device ``"sat-i"``, ``"gs-j"`` or
    ``"ground-server"``), tagged with the round.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from spikesat.energy import EnergyLedger
from spikesat.energy.ledger import LedgerEntry
from spikesat.federated.compute import ComputeProfile, get_computer
from spikesat.federated.network import GROUND, ISL, LinkSegments, Network
from spikesat.units import propagation_delay_s

ECLIPSE_MODES = (None, "sunlit", "battery")
BYTE_KINDS = ("isl", "ground_up", "ground_down")


class SimulationHorizonError(RuntimeError):
    """Simulated time ran past the end of the contact plan."""


@dataclass(frozen=True)
class Transfer:
    """One scheduled transfer.

    Attributes
    ----------
    kind : {"isl", "ground_up", "ground_down"}
    sender, receiver : str
        Device names (``"sat-3"``, ``"gs-0"``).
    num_bytes : int
        Payload size [B].
    start_s, tx_end_s, arrival_s : float
        First byte sent, last byte sent, last byte received [s from the plan start].
    airtime_s : float
        Seconds the link was actually sending (excludes pauses between windows).
    """

    kind: str
    sender: str
    receiver: str
    num_bytes: int
    start_s: float
    tx_end_s: float
    arrival_s: float
    airtime_s: float


def schedule_transfer(
    segments: LinkSegments, num_bytes: int, ready_s: float
) -> tuple[float, float, float, float] | None:
    """Time a transfer of ``num_bytes`` over a link that is free from ``ready_s``.

    Parameters
    ----------
    segments : LinkSegments
        The link's availability.
    num_bytes : int
        Payload [B], >= 0.
    ready_s : float
        Earliest start [s].

    Returns
    -------
    tuple or None
        ``(start_s, tx_end_s, arrival_s, airtime_s)``, or None when the link cannot finish the
        transfer before the end of the plan.
    """
    if not isinstance(num_bytes, int | np.integer) or num_bytes < 0:
        raise ValueError(f"num_bytes must be an integer >= 0, got {num_bytes!r}")
    k = int(np.searchsorted(segments.end_s, ready_s, side="right"))
    if k >= len(segments):
        return None
    start = max(float(ready_s), float(segments.start_s[k]))
    bits = 8.0 * float(num_bytes)
    rate_k = float(segments.rate_bps[k])
    if bits <= (float(segments.end_s[k]) - start) * rate_k:
        airtime = bits / rate_k
        tx_end = start + airtime
        return start, tx_end, tx_end + float(propagation_delay_s(segments.range_km[k])), airtime
    sent_before = float(segments.cum_bits[k]) + (start - float(segments.start_s[k])) * rate_k
    target = sent_before + bits
    j = int(np.searchsorted(segments.cum_bits, target, side="left")) - 1
    if j >= len(segments):
        return None
    rates = segments.rate_bps[k : j + 1]
    contiguous = np.all(segments.start_s[k + 1 : j + 1] == segments.end_s[k:j])
    if contiguous and np.all(rates == rate_k):
        # One window at one rate: the exact closed form, free of running-sum round-off.
        airtime = bits / rate_k
        tx_end = start + airtime
    else:
        tx_end = float(segments.start_s[j]) + (target - float(segments.cum_bits[j])) / float(
            segments.rate_bps[j]
        )
        used_before = float(segments.cum_time_s[k]) + start - float(segments.start_s[k])
        airtime = float(segments.cum_time_s[j]) + tx_end - float(segments.start_s[j]) - used_before
    return start, tx_end, tx_end + float(propagation_delay_s(segments.range_km[j])), airtime


class Clock:
    """Stateful scheduler of transfers and compute over a :class:`Network`.

    Parameters
    ----------
    network : Network
        Link timelines.
    onboard : str, ComputeProfile or sequence of them
        Satellite computer (see :func:`~spikesat.federated.compute.list_computers`), or one
        per satellite (a heterogeneous constellation).
    ground : str or ComputeProfile
        Ground server computer.
    eclipse : {None, "sunlit", "battery"}
        Compute constraint (see the module docstring).
    battery_capacity_j : float
        Battery energy available to the payload [J] (``"battery"`` mode).
    recharge_w : float
        Solar charging power available to the payload while sunlit [W].

    Attributes
    ----------
    sat_computers : list of ComputeProfile
        Each satellite's computer.
    onboard : ComputeProfile
        Satellite 0's (every satellite's, unless ``onboard`` listed several).
    """

    def __init__(
        self,
        network: Network,
        onboard: str | ComputeProfile | Sequence[str | ComputeProfile] = "jetson-tx2nx",
        ground: str | ComputeProfile = "a100-ground",
        eclipse: str | None = None,
        battery_capacity_j: float = 20.0 * 3600.0,
        recharge_w: float = 10.0,
    ) -> None:
        if eclipse not in ECLIPSE_MODES:
            raise ValueError(
                f"eclipse={eclipse!r} is not a mode; choose None, 'sunlit' or 'battery'"
            )
        if not battery_capacity_j > 0 or not recharge_w > 0:
            raise ValueError(
                f"battery_capacity_j and recharge_w must be > 0, got {battery_capacity_j!r} and "
                f"{recharge_w!r}"
            )
        self.network = network
        num_sats = network.num_sats
        single = isinstance(onboard, str | ComputeProfile)
        profiles = [onboard] * num_sats if single else list(onboard)
        if len(profiles) != num_sats:
            raise ValueError(
                f"give one on-board computer or one per satellite ({num_sats}), got {len(profiles)}"
            )
        self.sat_computers = [get_computer(p) for p in profiles]
        self.onboard = self.sat_computers[0]
        self.ground_computer = get_computer(ground)
        self.eclipse = eclipse
        self.battery_capacity_j = float(battery_capacity_j)
        self.recharge_w = float(recharge_w)
        self._cum_sun_s: np.ndarray | None = None
        if eclipse is not None:
            sunlit = network.sunlit()
            if sunlit is None:
                raise ValueError(
                    f"eclipse={eclipse!r} needs a plan built with eclipse=True (sunlit flags)"
                )
            steps = sunlit.astype(np.float64) * network.step_s
            self._sunlit = sunlit
            self._cum_sun_s = np.concatenate([np.zeros((num_sats, 1)), np.cumsum(steps, 1)], 1)
        self.link_free_s: dict[tuple[str, int, int], float] = {}
        self.sat_free_s = np.zeros(num_sats)
        self.battery_j = np.full(num_sats, self.battery_capacity_j)
        self.battery_time_s = np.zeros(num_sats)
        self.bytes = dict.fromkeys(BYTE_KINDS, 0)
        self.ledger = EnergyLedger()
        self.transfers: list[Transfer] = []

    # ------------------------------------------------------------------ transfers
    def _send(
        self,
        kind: str,
        link: tuple[str, int, int],
        segments: LinkSegments,
        sender: str,
        receiver: str,
        num_bytes: int,
        ready_s: float,
        round: int | None,
        tx_power_w: float,
    ) -> Transfer:
        timing = self._peek(link, segments, num_bytes, ready_s)
        if timing is None:
            raise SimulationHorizonError(
                f"the {kind} transfer of {num_bytes} B from {sender} to {receiver}, ready at "
                f"{ready_s / 3600:.2f} h, cannot finish before the contact plan ends at "
                f"{self.network.horizon_s / 3600:.2f} h: build a longer plan (horizon_h) or "
                "run fewer rounds"
            )
        start, tx_end, arrival, airtime = timing
        self.link_free_s[link] = tx_end
        self.bytes[kind] += int(num_bytes)
        if num_bytes > 0:
            self.ledger.add_transmission(
                sender,
                8.0 * num_bytes,
                8.0 * num_bytes / airtime,
                tx_power_w,
                round=round,
                link=kind,
            )
        transfer = Transfer(kind, sender, receiver, int(num_bytes), start, tx_end, arrival, airtime)
        self.transfers.append(transfer)
        return transfer

    def _peek(
        self, link: tuple[str, int, int], segments: LinkSegments, num_bytes: int, ready_s: float
    ) -> tuple[float, float, float, float] | None:
        return schedule_transfer(segments, num_bytes, max(ready_s, self.link_free_s.get(link, 0.0)))

    def _best_station(
        self, sat: int, num_bytes: int, ready_s: float, skip_windows: int
    ) -> tuple[int, float]:
        """Station giving the earliest arrival, and the ready time after ``skip_windows`` missed
        passes (each missed pass moves ``ready_s`` to the end of the window it would have used)."""
        for attempt in range(skip_windows + 1):
            best: tuple[float, int] | None = None
            for station in range(self.network.num_stations):
                link = (GROUND, sat, station)
                timing = self._peek(link, self.network.ground(sat, station), num_bytes, ready_s)
                if timing is not None and (best is None or timing[2] < best[0]):
                    best = (timing[2], station)
            if best is None:
                raise SimulationHorizonError(
                    f"sat-{sat} sees no ground station after {ready_s / 3600:.2f} h before the "
                    f"contact plan ends at {self.network.horizon_s / 3600:.2f} h: build a longer "
                    "plan (horizon_h) or run fewer rounds"
                )
            station = best[1]
            if attempt < skip_windows:
                segments = self.network.ground(sat, station)
                start = segments.next_available_s(
                    max(ready_s, self.link_free_s.get((GROUND, sat, station), 0.0))
                )
                ready_s = window_end_s(segments, start)
        return station, ready_s

    def upload(
        self,
        sat: int,
        num_bytes: int,
        ready_s: float,
        round: int | None = None,
        skip_windows: int = 0,
    ) -> Transfer:
        """Satellite ``sat`` -> the ground station giving the earliest arrival.

        ``skip_windows`` passes are missed first (a fault): the transfer starts only after
        the window it would have used has closed.
        """
        station, ready_s = self._best_station(sat, num_bytes, ready_s, skip_windows)
        return self._send(
            "ground_up",
            (GROUND, sat, station),
            self.network.ground(sat, station),
            f"sat-{sat}",
            f"gs-{station}",
            num_bytes,
            ready_s,
            round,
            self.network.ground_tx_power_w,
        )

    def download(
        self, sat: int, num_bytes: int, ready_s: float, round: int | None = None
    ) -> Transfer:
        """The ground station giving the earliest arrival -> satellite ``sat``."""
        station, ready_s = self._best_station(sat, num_bytes, ready_s, 0)
        return self._send(
            "ground_down",
            (GROUND, sat, station),
            self.network.ground(sat, station),
            f"gs-{station}",
            f"sat-{sat}",
            num_bytes,
            ready_s,
            round,
            self.network.ground_tx_power_w,
        )

    def isl_send(
        self, sat_a: int, sat_b: int, num_bytes: int, ready_s: float, round: int | None = None
    ) -> Transfer:
        """Satellite ``sat_a`` -> ``sat_b`` over their ISL."""
        a, b = sorted((int(sat_a), int(sat_b)))
        if not self.network.has_isl(a, b):
            raise ValueError(
                f"sat-{sat_a} and sat-{sat_b} have no ISL in the plan; route over neighbours "
                "(plus-grid: the previous and next satellite of the same plane)"
            )
        return self._send(
            "isl",
            (ISL, a, b),
            self.network.isl(a, b),
            f"sat-{sat_a}",
            f"sat-{sat_b}",
            num_bytes,
            ready_s,
            round,
            self.network.isl_tx_power_w,
        )

    def isl_path(
        self, path: list[int], num_bytes: int, ready_s: float, round: int | None = None
    ) -> float:
        """Store-and-forward ``num_bytes`` along ``path`` (satellite indices); returns arrival."""
        time_s = ready_s
        for a, b in itertools.pairwise(path):
            time_s = self.isl_send(a, b, num_bytes, time_s, round).arrival_s
        return time_s

    # ------------------------------------------------------------------ compute
    def compute(self, sat: int, macs: float, ready_s: float, round: int | None = None) -> float:
        """Run ``macs`` on satellite ``sat`` from ``ready_s``; returns the finish time [s]."""
        computer = self.sat_computers[sat]
        duration = computer.seconds(macs)
        energy = computer.power_w * duration
        start = max(float(ready_s), float(self.sat_free_s[sat]))
        if self.eclipse == "sunlit":
            finish = self._after_sunlit_s(sat, start, duration)
        elif self.eclipse == "battery":
            if energy > self.battery_capacity_j:
                raise ValueError(
                    f"a job of {energy:.1f} J exceeds battery_capacity_j={self.battery_capacity_j}"
                    "; raise the capacity or shrink the local work"
                )
            level = self._recharged_j(sat, start)
            if level < energy:
                start = self._after_sunlit_s(sat, start, (energy - level) / self.recharge_w)
                level = energy
            finish = start + duration
            self.battery_time_s[sat] = start
            self.battery_j[sat] = level - energy
            self.battery_j[sat] = self._recharged_j(sat, finish)
        else:
            finish = start + duration
        self.sat_free_s[sat] = finish
        self.ledger.add_compute_joules(
            f"sat-{sat}", energy, round=round, macs=float(macs), computer=computer.name
        )
        return finish

    def ground_compute(self, macs: float, ready_s: float, round: int | None = None) -> float:
        """Run ``macs`` on the ground server (no queue); returns the finish time [s]."""
        duration = self.ground_computer.seconds(macs)
        self.ledger.add_compute_joules(
            "ground-server",
            self.ground_computer.power_w * duration,
            round=round,
            macs=float(macs),
            computer=self.ground_computer.name,
        )
        return float(ready_s) + duration

    def onboard_names(self) -> str | list[str]:
        """The on-board computer's name, or one per satellite where they differ."""
        names = [c.name for c in self.sat_computers]
        return names[0] if len(set(names)) == 1 else names

    def sunlit_seconds(self, sat: int, t_s: float) -> float:
        """Sunlit seconds of ``sat`` from the plan start to ``t_s`` (eclipse modes only)."""
        if self._cum_sun_s is None:
            raise ValueError("sunlit_seconds needs a clock built with eclipse='sunlit'/'battery'")
        cum = self._cum_sun_s[sat]
        step = self.network.step_s
        k = min(int(t_s // step), cum.size - 2)
        if t_s >= self.network.horizon_s:
            return float(cum[-1])
        return float(cum[k] + (t_s - k * step) * self._sunlit[sat, k])

    def _after_sunlit_s(self, sat: int, start_s: float, sunlit_s: float) -> float:
        """Time at which ``sat`` has been sunlit for ``sunlit_s`` seconds since ``start_s``."""
        cum = self._cum_sun_s[sat]
        target = self.sunlit_seconds(sat, start_s) + sunlit_s
        if target > cum[-1]:
            raise SimulationHorizonError(
                f"sat-{sat} needs {sunlit_s:.0f} s of sunlight after {start_s / 3600:.2f} h but "
                "the contact plan ends first: build a longer plan (horizon_h)"
            )
        if sunlit_s <= 0:
            return start_s
        k = int(np.searchsorted(cum, target, side="left")) - 1
        return max(start_s, k * self.network.step_s + (target - cum[k]))

    def _recharged_j(self, sat: int, t_s: float) -> float:
        """Battery level of ``sat`` at ``t_s`` after charging from its last update."""
        gained = self.sunlit_seconds(sat, t_s) - self.sunlit_seconds(
            sat, float(self.battery_time_s[sat])
        )
        self.battery_time_s[sat] = t_s
        return min(self.battery_capacity_j, float(self.battery_j[sat]) + self.recharge_w * gained)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything that changes while the simulation runs (for checkpoints)."""
        return {
            "link_free_s": [[*k, v] for k, v in self.link_free_s.items()],
            "sat_free_s": self.sat_free_s.copy(),
            "battery_j": self.battery_j.copy(),
            "battery_time_s": self.battery_time_s.copy(),
            "bytes": dict(self.bytes),
            "ledger": [asdict(e) for e in self.ledger.entries],
            "transfers": [asdict(t) for t in self.transfers],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.link_free_s = {(k, int(a), int(b)): float(v) for k, a, b, v in state["link_free_s"]}
        self.sat_free_s = np.asarray(state["sat_free_s"], dtype=np.float64).copy()
        self.battery_j = np.asarray(state["battery_j"], dtype=np.float64).copy()
        self.battery_time_s = np.asarray(state["battery_time_s"], dtype=np.float64).copy()
        self.bytes = dict(state["bytes"])
        self.ledger = EnergyLedger()
        self.ledger.entries = [LedgerEntry(**e) for e in state["ledger"]]
        self.transfers = [Transfer(**t) for t in state["transfers"]]


def window_end_s(segments: LinkSegments, at_s: float | None) -> float:
    """End of the window (run of touching segments) holding or following ``at_s`` [s]."""
    if at_s is None:
        return math.inf
    for _start, end in segments.windows():
        if end >= at_s:
            return float(end)
    return math.inf
