"""Helpers shared by the federated benchmarks: station sets, progress and time to target."""

from __future__ import annotations

from typing import Any

from spikesat.orbits import ground_stations

STATION_SETS = {1: ["Wallops"], 3: ["Wallops", "Hartebeesthoek", "Singapore"]}
"""Stations of the built-in network a 53 deg shell passes over (Svalbard it never sees)."""


def stations(count: int) -> list:
    """The first ``count`` (1 or 3) stations of :data:`STATION_SETS`."""
    by_name = {s.name: s for s in ground_stations("default")}
    return [by_name[name] for name in STATION_SETS[count]]


class Collect:
    """Progress callback keeping every round's entry (kept even if a later round fails)."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []

    def __call__(self, done: int, total: int, entry: dict[str, Any]) -> None:
        self.history.append(entry)
        print(
            f"    round {done}/{total}: {entry['sim_time_h']:.2f} h, accuracy "
            f"{entry['accuracy']:.3f}, wall {entry['wall_s']:.1f} s",
            flush=True,
        )


def time_to(history: list[dict[str, Any]], target: float) -> float | None:
    """Simulated hours of the first round at or above ``target``, or None."""
    for entry in history:
        if entry["accuracy"] >= target:
            return entry["sim_time_h"]
    return None
