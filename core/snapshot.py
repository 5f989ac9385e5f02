"""What a page reads of a study while it runs: immutable snapshots, and the board a runner
publishes them on. Readers (the dashboard, the CLI) only ever see :class:`Snapshot`s."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from core.eta import measured_rate, seconds_left
from core.objective import Objective
from core.status import StudyStatus
from core.study import Study, StudyConfig, Trial, best_of
from core.views import OnDemand, Surrogate
from core.worker import DataInfo


@dataclass(frozen=True)
class Snapshot:
    """A consistent, immutable view of a study at one moment."""

    study: str
    status: StudyStatus
    total: int
    trials: tuple[Trial, ...]
    #: the trials training now, by number (one at a time unless the study runs in parallel)
    running: tuple[Trial, ...]
    epochs_per_trial: int
    #: the GP map, or what makes it when a page first reads :attr:`surrogate`
    grid: Surrogate | OnDemand | None
    started_at: float | None
    elapsed: float
    eta: float | None
    message: str | None
    error: str | None
    final: dict[str, Any] | None
    warnings: tuple[str, ...] = ()
    objective: Objective = field(default_factory=Objective)

    @property
    def finished(self) -> int:
        """The trials counted towards the total (a typed-in or inherited one is not)."""
        return sum(1 for t in self.trials if t.counted)

    @property
    def best(self) -> Trial | None:
        return best_of(self.trials, self.objective)

    @property
    def surrogate(self) -> Surrogate | None:
        """The GP map over the first two parameters, its next point the next trial's (made
        here, in the reader's thread, the first time a snapshot's map is read)."""
        return self.grid.get() if isinstance(self.grid, OnDemand) else self.grid

    @property
    def current(self) -> Trial | None:
        """The first of the running trials, if any."""
        return self.running[0] if self.running else None

    @property
    def current_epoch(self) -> int:
        return len(self.current.history) if self.current else 0

    @property
    def version(self) -> tuple:
        """Changes whenever a chart would: a trial or an epoch ends, or the status moves."""
        return (
            self.study,
            self.status,
            len(self.trials),
            self.finished,
            tuple((t.number, len(t.history)) for t in self.running),
            self.grid.n_observations if self.grid else None,
        )

    @property
    def active(self) -> bool:
        return StudyStatus(self.status).active

    @classmethod
    def of_study(cls, study: Study, surrogate: Surrogate | None = None) -> Snapshot:
        """A still snapshot of a stored study that no runner in this process drives."""
        finished = [t.finished_at for t in study.trials if t.finished_at]
        started = [t.started_at for t in study.trials if t.started_at]
        return cls(
            study=study.name,
            status=study.display_status,
            total=study.config.total,
            trials=study.trials,
            running=(),
            epochs_per_trial=study.config.largest_budget.epochs,
            grid=surrogate,
            started_at=min(started) if started else None,
            elapsed=(max(finished) - min(started)) if finished and started else 0.0,
            eta=None,
            message=None,
            error=study.error,
            final=study.final,
            objective=study.config.objective,
        )


class Board:
    """Where a runner publishes its study's snapshots (from its driver and trial threads)
    and readers take the latest: one lock, one immutable :class:`Snapshot` at a time, with
    the time left estimated at each publication."""

    def __init__(self, first: Snapshot, config: StudyConfig) -> None:
        self._lock = threading.Lock()
        self._snapshot = first
        self._config = config
        #: what the pool's data holds, once known (the time left is estimated from it)
        self.data: DataInfo | None = None
        self.slots = 1

    def read(self) -> Snapshot:
        with self._lock:
            snap = self._snapshot
        if snap.started_at is not None and snap.active:
            snap = replace(snap, elapsed=time.time() - snap.started_at)
        return snap

    def publish(self, **changes: Any) -> None:
        with self._lock:
            snap = replace(self._snapshot, **changes)
            self._snapshot = replace(snap, eta=self._eta(snap))

    def _eta(self, snap: Snapshot) -> float | None:
        """Seconds left at the throughput this study's epochs measured (None before any)."""
        if self.data is None:
            return None
        rate = measured_rate(t.history for t in (*snap.trials, *snap.running))
        if rate is None:
            return None
        return seconds_left(
            self._config.largest_budget,
            self.data.n_train,
            self.data.n_val,
            rate,
            trials=max(0, snap.total - snap.finished),
            epochs_done=sum(len(t.history) for t in snap.running),
            final=self._config.final_test and not snap.final,
            workers=self.slots,
        )

    def add_running(self, trial: Trial) -> None:
        with self._lock:
            running = tuple(sorted((*self._snapshot.running, trial), key=lambda t: t.number))
        self.publish(running=running, message=training_message(running))

    def update_running(self, trial: Trial) -> None:
        with self._lock:
            running = tuple(
                t if t.number != trial.number else trial for t in self._snapshot.running
            )
        self.publish(running=running)

    def record(self, trial: Trial, **changes: Any) -> None:
        """A finished (or cancelled) trial leaves the running ones and joins the study's."""
        with self._lock:
            snap = self._snapshot
            running = tuple(t for t in snap.running if t.number != trial.number)
            trials = tuple(sorted((*snap.trials, trial), key=lambda t: t.number))
        self.publish(
            trials=trials,
            running=running,
            message=training_message(running) if running else snap.message,
            **changes,
        )


def training_message(running: tuple[Trial, ...]) -> str:
    """What the study is doing, in words: "training trial 3" or "training trials 3 and 4"."""
    numbers = [str(t.number) for t in running]
    if len(numbers) == 1:
        return f"training trial {numbers[0]}"
    return f"training trials {', '.join(numbers[:-1])} and {numbers[-1]}"
