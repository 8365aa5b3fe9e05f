"""Seeded faults: permanent satellite failures, drop-outs, missed windows, corrupted uploads.

Every draw is a pure function of ``(seed, kind, round, satellite, attempt)`` (a
``numpy.random.SeedSequence``), so a run, its resume from a checkpoint and the same run on
another backend see the same faults. Failures are of the payload computer, while its bus keeps
relaying ISL traffic. With ``failure_point="round-start"`` a satellite failing in round ``r``
neither trains nor contributes from ``r`` on; with ``"mid-round"`` it trains in round ``r``
(the compute and its energy are spent) and dies before its update leaves it, so that update is
lost with it and it is down from ``r + 1`` on. A corrupted upload fails the checks of
:mod:`spikesat.federated.payload` at the station and is retransmitted in the satellite's next
window: it is never lost and never counted twice (the server keeps a per-round set of
contributors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from spikesat.federated.clock import Clock, Transfer, window_end_s
from spikesat.federated.payload import (
    CorruptUpdateError,
    UpdateId,
    decode_update,
    flip_random_byte,
)

_KINDS = {"fail": 1, "drop": 2, "miss": 3, "corrupt": 4, "flip": 5}
FAILURE_POINTS = ("round-start", "mid-round")
MAX_ATTEMPTS = 64


@dataclass
class FaultModel:
    """Fault probabilities and explicit failures.

    Attributes
    ----------
    failure_prob : float
        Probability that a working satellite fails permanently in a given round.
    failures : dict of int to int
        Explicit permanent failures: satellite -> the round in which it fails.
    failure_point : {"round-start", "mid-round"}
        When in its failure round a satellite fails: before it trains, or after it trained
        and before its update leaves it (the update is lost; it is down from the next round).
    dropout_prob : float
        Probability that a satellite sits out a round (recovers the next one).
    missed_window_prob : float
        Probability that an upload misses the pass it was scheduled in (each pass
        independently), e.g. a station outage or a pointing failure.
    corruption_prob : float
        Probability that an upload arrives corrupted (fails its digest check) and is resent.
    seed : int
        Seed of every draw.
    """

    failure_prob: float = 0.0
    failures: dict[int, int] = field(default_factory=dict)
    failure_point: str = "round-start"
    dropout_prob: float = 0.0
    missed_window_prob: float = 0.0
    corruption_prob: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("failure_prob", "dropout_prob", "missed_window_prob", "corruption_prob"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value < 1.0):
                raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
        if not isinstance(self.failures, Mapping):
            raise TypeError(f"failures must map satellite -> round, got {self.failures!r}")
        self.failures = {int(k): int(v) for k, v in self.failures.items()}
        if self.failure_point not in FAILURE_POINTS:
            raise ValueError(
                f"unknown failure_point {self.failure_point!r}; choose one of "
                f"{', '.join(FAILURE_POINTS)}"
            )

    @property
    def active(self) -> bool:
        """Whether any fault can happen."""
        return bool(
            self.failures
            or self.failure_prob
            or self.dropout_prob
            or self.missed_window_prob
            or self.corruption_prob
        )

    def rng(self, kind: str, round: int, sat: int, attempt: int = 0) -> np.random.Generator:
        """The generator of one draw (``kind``: fail, drop, miss, corrupt or flip)."""
        return np.random.default_rng([self.seed, _KINDS[kind], round, sat, attempt])

    def failure_round(self, sat: int, horizon: int) -> int | None:
        """The round in which ``sat`` fails, if it fails before round ``horizon``."""
        explicit = self.failures.get(sat)
        end = horizon if explicit is None else min(horizon, explicit)
        if self.failure_prob > 0.0:
            for r in range(end):
                if self.rng("fail", r, sat).random() < self.failure_prob:
                    return r
        return explicit if explicit is not None and explicit < horizon else None

    def failed(self, sat: int, round: int) -> bool:
        """Whether ``sat`` is permanently down at the start of ``round``."""
        failure = self.failure_round(sat, round + 1)
        if failure is None:
            return False
        return failure < round or (failure == round and self.failure_point == "round-start")

    def fails_mid_round(self, sat: int, round: int) -> bool:
        """Whether ``sat`` trains in ``round`` and dies before its update leaves it."""
        return self.failure_point == "mid-round" and self.failure_round(sat, round + 1) == round

    def dropped(self, sat: int, round: int) -> bool:
        """Whether ``sat`` sits out ``round``."""
        return self.dropout_prob > 0 and self.rng("drop", round, sat).random() < self.dropout_prob

    def participates(self, sat: int, round: int) -> bool:
        """Neither failed nor dropped out."""
        return not self.failed(sat, round) and not self.dropped(sat, round)

    def missed_windows(self, sat: int, round: int, attempt: int) -> int:
        """How many passes in a row the upload misses before one works."""
        if self.missed_window_prob == 0.0:
            return 0
        return (
            int(self.rng("miss", round, sat, attempt).geometric(1.0 - self.missed_window_prob)) - 1
        )

    def corrupted(self, sat: int, round: int, attempt: int) -> bool:
        """Whether the ``attempt``-th transmission of this upload arrives corrupted."""
        return (
            self.corruption_prob > 0
            and self.rng("corrupt", round, sat, attempt).random() < self.corruption_prob
        )

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a plain dict."""
        return {
            "failure_prob": self.failure_prob,
            "failures": dict(self.failures),
            "failure_point": self.failure_point,
            "dropout_prob": self.dropout_prob,
            "missed_window_prob": self.missed_window_prob,
            "corruption_prob": self.corruption_prob,
            "seed": self.seed,
        }


@dataclass
class Delivery:
    """A verified upload: the decoded update and what it took."""

    sat: int
    state: dict[str, torch.Tensor]
    meta: dict[str, Any]
    arrival_s: float
    attempts: int
    missed_windows: int
    transfers: list[Transfer]


def deliver_update(
    clock: Clock,
    faults: FaultModel,
    sat: int,
    payload: bytes,
    ready_s: float,
    round: int,
    key: int = 0,
    *,
    expect: UpdateId | None = None,
    like: Mapping[str, torch.Tensor] | None = None,
    num_bytes: int | None = None,
) -> Delivery:
    """Upload ``payload`` from ``sat`` to the ground until the station accepts it.

    The station checks the digest, and ``expect`` and ``like`` when given; a received copy that
    fails is NACKed and resent in the satellite's next window with that station.

    Parameters
    ----------
    clock : Clock
        Schedules the transfers (and books their energy).
    faults : FaultModel
        Missed windows and corruption.
    sat : int
        Sender.
    payload : bytes
        From :func:`~spikesat.federated.payload.encode_update`.
    ready_s : float
        When the update is ready [s].
    round : int
        Round index (ledger tag and fault draws).
    key : int
        Distinguishes several uploads of one satellite in one round (fault draws).
    expect : UpdateId, optional
        The identity the station checks (:func:`~spikesat.federated.payload.decode_update`).
    like : mapping of str to Tensor, optional
        Expected tensor names, shapes and dtypes.
    num_bytes : int, optional
        Bytes the clock moves per attempt (default ``len(payload)``; a run priced as another
        LAM moves that LAM's update size, :mod:`~spikesat.federated.pricing`).

    Returns
    -------
    Delivery
    """
    transfers: list[Transfer] = []
    missed = 0
    for attempt in range(MAX_ATTEMPTS):
        draw = attempt + MAX_ATTEMPTS * key
        skip = faults.missed_windows(sat, round, draw)
        missed += skip
        transfer = clock.upload(
            sat, len(payload) if num_bytes is None else num_bytes, ready_s, round, skip_windows=skip
        )
        transfers.append(transfer)
        received = payload
        if faults.corrupted(sat, round, draw):
            received = flip_random_byte(payload, faults.rng("flip", round, sat, draw))
        try:
            state, meta = decode_update(received, expect, like)
        except CorruptUpdateError as error:
            if received is payload:
                raise ValueError(
                    f"sat-{sat}'s update, as sent, fails the station's check: {error}"
                ) from error
            # The station NACKs; the satellite resends in its next window with that station.
            station = int(transfer.receiver.split("-")[1])
            segments = clock.network.ground(sat, station)
            ready_s = max(transfer.arrival_s, window_end_s(segments, transfer.tx_end_s))
            continue
        return Delivery(sat, state, meta, transfer.arrival_s, attempt + 1, missed, transfers)
    raise RuntimeError(
        f"sat-{sat}'s upload arrived corrupted {MAX_ATTEMPTS} times in round {round}: "
        "corruption_prob is too close to 1"
    )
