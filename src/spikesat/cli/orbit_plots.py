"""PNG figures of a contact plan: ground tracks with stations, and a contact Gantt chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikesat.orbits.constellation import Constellation
from spikesat.orbits.contact_plan import ContactPlan

PLOT_KINDS = ("tracks", "gantt")


def plot_ground_tracks(
    plan: ContactPlan, constellation: Constellation, path: str | Path, max_sats: int = 12
) -> Path:
    """Ground tracks of up to ``max_sats`` satellites (evenly chosen) with the stations.

    Tracks are drawn over the plan's time grid; segments are broken at the antimeridian.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = np.unique(np.linspace(0, constellation.num_sats - 1, max_sats).round().astype(int))
    r = constellation.states_ecef(plan.times, chosen)[0]
    lat = np.degrees(np.arctan2(r[..., 2], np.hypot(r[..., 0], r[..., 1])))
    lon = np.degrees(np.arctan2(r[..., 1], r[..., 0]))
    fig, ax = plt.subplots(figsize=(10, 5), dpi=110)
    for row, sat in enumerate(chosen):
        lon_s = lon[row].copy()
        lon_s[1:][np.abs(np.diff(lon[row])) > 180] = np.nan
        ax.plot(lon_s, lat[row], lw=0.7, label=plan.sat_names[sat] if row < 6 else None)
    for st in plan.stations:
        lon_st = st.lon_deg - 360.0 if st.lon_deg > 180 else st.lon_deg
        ax.plot(lon_st, st.lat_deg, "k^", ms=6)
        ax.annotate(
            st.name, (lon_st, st.lat_deg), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    ax.set(
        xlim=(-180, 180),
        ylim=(-90, 90),
        xlabel="longitude [deg]",
        ylabel="latitude [deg]",
        title=f"Ground tracks ({len(chosen)} of {plan.num_sats} satellites) and stations",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def plot_contact_gantt(plan: ContactPlan, path: str | Path, max_sats: int = 40) -> Path:
    """Contact windows as horizontal bars: one row per satellite, colour per station."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = plan.all_windows()
    sats = np.unique(w.sat)[:max_sats]
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.22 * len(sats) + 1.5)), dpi=110)
    colours = plt.get_cmap("tab10")
    for row, sat in enumerate(sats):
        sel = w.sat == sat
        for j in np.unique(w.station[sel]):
            both = sel & (w.station == j)
            bars = [
                (s / 3600.0, d / 3600.0)
                for s, d in zip(w.start_s[both], w.duration_s[both], strict=True)
            ]
            ax.broken_barh(bars, (row - 0.4, 0.8), color=colours(int(j) % 10))
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colours(j % 10), label=s.name)
        for j, s in enumerate(plan.stations[:10])
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper right")
    ax.set_yticks(range(len(sats)), [plan.sat_names[s] for s in sats], fontsize=6)
    ax.set(
        xlabel=f"hours from {plan.times.start:%Y-%m-%d %H:%M} UTC",
        title=f"Contact windows (elevation >= {plan.min_elevation_deg:g} deg)",
    )
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _save(fig: object, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
