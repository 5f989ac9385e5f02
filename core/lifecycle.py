"""A trial's life, from the start of a study to its end, in one place.

In the spirit of KerasTuner's oracle (``create_trial``, ``update_trial``, ``end_trial``)
and Optuna's ``report``/``should_prune``: :func:`create_study` is the one place that checks
a new study and stores it; then, whenever a worker is free, the driver asks
:meth:`Lifecycle.start` for the next trial, hands each of its epochs to
:meth:`Lifecycle.report`, which answers :attr:`Decision.CONTINUE` or
:attr:`Decision.PRUNE`, and its outcome to :meth:`Lifecycle.end`. The lifecycle owns what
decides the study's course: the worker slots, the retries of a trial whose worker was
lost, the consecutive-error limit, the convergence check and the one :class:`StopReason`.
The runner (:mod:`core.runner`) keeps the thread, the trainers and the snapshots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from core import explain
from core.data import Dataset
from core.objective import Objective, trial_metrics
from core.replay import tell, told_strategy
from core.status import StudyStatus, TrialOrigin, TrialStatus
from core.steer import inherited, told_trial
from core.store import Queued, Store
from core.study import StudyConfig, Trial, convergence_note
from core.trainer import TrialOutcome, learned_nothing
from core.worker import DataInfo


class StopReason(StrEnum):
    """Why a study stopped starting trials: the first reason given is the one kept."""

    TOTAL = "total"  # every trial of its total trained
    USER = "user"  # a person pressed Stop (or cancelled the runner)
    CONVERGED = "converged"  # the stopping rule: more trials are unlikely to pay
    ERRORS = "errors"  # too many trials in a row raised an error
    NO_WORKERS = "no workers"  # every worker of the cluster was lost

    @property
    def cancels(self) -> bool:
        """The trials still training stop at their next batch."""
        return self != StopReason.TOTAL

    @property
    def status(self) -> StudyStatus:
        """The status the study ends with."""
        if self == StopReason.USER:
            return StudyStatus.STOPPED
        if self in (StopReason.ERRORS, StopReason.NO_WORKERS):
            return StudyStatus.FAILED
        return StudyStatus.COMPLETE


class Decision(StrEnum):
    """What :meth:`Lifecycle.report` answers after an epoch."""

    CONTINUE = "continue"
    PRUNE = "prune"  # the pruner stops it: it ends pruned, told as projected to the budget


class StudyAborted(RuntimeError):
    """The study cannot usefully go on; the message says why, for the person to read."""


def create_study(
    store: Store,
    config: StudyConfig,
    *,
    dataset: Dataset | None = None,
    model: Any = None,
) -> str | None:
    """Check everything about a new study, then store it; nothing is stored when a check
    fails (ValueError or :class:`~core.executor.ClusterUnreachable`, naming the problem).

    Checks, in this order: a user model's file and function, a warm start's source (its
    trials are stored with the study), the Ray cluster, and, given the ``dataset``, that
    every trial's budget fits it and that a user's model builds for it. Returns what a
    warm start inherits, in words (None without one).
    """
    from core.executor import prepare
    from core.model import builder_for, check_builder

    if config.model and model is None:
        builder_for(config.model)  # a missing file or function is told before anything else
    trials, note = inherited(store, config)
    prepare(config.parallel)
    if dataset is not None:
        config.check_dataset(dataset.split, dataset.val_fraction)
        config.check_data(len(dataset.y_train))
        if model is not None or config.model:
            check_builder(
                model or config.model, config.space, dataset.input_shape, dataset.num_classes
            )
    store.create_study(config, trials)
    return note or None


def pruned_outcome(outcome: TrialOutcome, curve: list[float], info: DataInfo | None,
                   rule: str) -> TrialOutcome:  # fmt: skip
    """A trial the pruner stopped: pruned at its last accuracy or, if that accuracy is no
    better than always answering the most common class, failed: a run that collapsed is a
    failure whatever stopped it, never a value that paints the map."""
    last, epoch = curve[-1], len(curve)
    if info is not None and learned_nothing(last, info.baseline, info.n_val):
        return replace(
            outcome,
            status=TrialStatus.FAILED,
            value=None,
            error=f"learned nothing: validation accuracy {last:.3f} after epoch {epoch} "
            f"is no better than always answering the most common class "
            f"({info.baseline:.3f})",
        )
    return replace(
        outcome,
        status=TrialStatus.PRUNED,
        value=last,
        error=f"pruned after epoch {epoch} by the {rule} rule",
    )


@dataclass
class _Training:
    """A started trial, until it ends."""

    trial: Trial
    slot: int
    attempt: int  # 0, or how many times its point was tried before on a lost worker
    history: list[dict[str, float]] = field(default_factory=list)
    pruned: bool = False  # the pruner stopped it: it ends pruned at its next batch


def _ended(current: _Training, outcome: TrialOutcome, objective: Objective) -> Trial:
    """The started trial with its outcome, the epochs it reported and the metrics it
    recorded; its value is the objective's (none for a failure or a cancelled trial)."""
    metrics = trial_metrics(current.history, outcome.seconds, outcome.param_count, outcome.value)
    told = TrialStatus(outcome.status).told and outcome.value is not None
    return replace(
        current.trial,
        status=outcome.status,
        value=objective.of(metrics) if told else None,
        history=tuple(current.history),
        error=outcome.error,
        finished_at=time.time(),
        seconds=outcome.seconds,
        metrics=metrics,
    )


class Lifecycle:
    """The trials of one stored study, from their start to their end.

    ``slots``: how many trials may train at once; ``revive(slot, in_use)``: after the
    worker of ``slot`` was lost, whether a new one took its place (else the study goes on
    with one slot fewer). :meth:`start` and :meth:`end` are the driver's (one thread);
    :meth:`report` and :meth:`should_stop` may be called from the threads that train.
    """

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        info: DataInfo | None = None,
        slots: int = 1,
        revive: Callable[[int, int], bool] = lambda slot, in_use: True,
    ) -> None:
        self.store = store
        self.name = name
        store.release_running_trials(name)
        study = store.load(name)
        self.config: StudyConfig = study.config
        self.strategy = told_strategy(study)
        # parallel trials: the GP's hyperparameters are refitted while trials train, so a
        # freed worker's ask conditions on every result instead of waiting for a fit
        self._refits = self.strategy.refit_in_background() if slots > 1 else None
        #: every trial that ended (or was told), by number
        self.trials: list[Trial] = list(study.trials)
        self.reason: StopReason | None = None
        #: the reason in words, for a study that ended before its total
        self.message: str | None = None
        self._info = info
        self._revive = revive
        self._number = max((t.number for t in study.trials), default=0)
        self._counted = len(study.counted_trials)
        self._free = list(range(slots))
        self._training: dict[int, _Training] = {}
        self._retries: list[tuple[dict[str, Any], int]] = []  # points, attempts so far
        self._errors = 0  # trials in a row whose own code raised
        self._lock = threading.Lock()

    # -- the study's course -------------------------------------------------
    @property
    def pending(self) -> list[dict[str, Any]]:
        """The points training now (the optimizer's asks and the map account for them)."""
        with self._lock:
            return [t.trial.params for t in self._training.values()]

    @property
    def training(self) -> int:
        with self._lock:
            return len(self._training)

    def left(self) -> int:
        """Trials still to start before the total is reached."""
        return self.config.total - self._counted - self.training

    def can_start(self) -> bool:
        """A slot is free, the total is not reached, and no reason to stop was given."""
        return bool(self._free) and self.reason is None and self.left() > 0

    def done(self) -> bool:
        """Nothing trains, and nothing more will start."""
        if self.training:
            return False
        if self.reason is None and self.left() <= 0:
            self.stop(StopReason.TOTAL)
        if self.reason is None and not self._free:
            self.stop(
                StopReason.NO_WORKERS,
                "the Ray cluster has no room left for a trial: every worker was lost",
            )
        return self.reason is not None

    def stop(self, reason: StopReason, message: str | None = None) -> None:
        """Stop starting trials (and, unless the total was reached, training them); the
        first reason given is the one kept."""
        with self._lock:
            if self.reason is None:
                self.reason, self.message = reason, message

    def close(self) -> None:
        """End the background work (the GP's refits of a parallel study)."""
        if self._refits is not None:
            self._refits.close()

    # -- a trial's life -----------------------------------------------------
    def start(self) -> tuple[Trial, int]:
        """Store and return the next trial, with the slot it trains in: a lost worker's
        point first, then the oldest point a person chose, else the optimizer's ask."""
        if not self.can_start():
            raise RuntimeError("no trial can start now")
        pending = self.pending
        self._number += 1
        params, attempt, chosen = None, 0, None
        if self._retries:
            params, attempt = self._retries.pop(0)
        else:
            chosen = self._next_chosen()
        origin = TrialOrigin.SEARCH if chosen is None else TrialOrigin.CHOSEN
        guided = params is None and chosen is None and self.strategy.is_guided(len(pending))
        if params is None:
            params = self.strategy.ask(pending) if chosen is None else chosen.params
        slot = self._free.pop(0)
        # a chosen point's queue entry is taken in the same write that starts its trial
        queued = None if chosen is None else chosen.id
        self.store.start_trial(self.name, self._number, params, guided, origin, queued)
        trial = Trial(self._number, params, TrialStatus.RUNNING, guided=guided,
                      started_at=time.time(), origin=origin)  # fmt: skip
        with self._lock:
            self._training[trial.number] = _Training(trial, slot, attempt)
        return trial, slot

    def report(self, number: int, metrics: dict[str, float]) -> Decision:
        """Store trial ``number``'s latest epoch; PRUNE when the pruner stops it there."""
        with self._lock:
            current = self._training[number]
            current.history.append(metrics)
            history = list(current.history)
            objective = self.config.objective
            others = [
                objective.curve(t.history)
                for t in (*self.trials, *self._training.values())
                if t.history and t is not current
            ]
        self.store.add_epoch(self.name, number, history)
        curve = objective.curve(history)
        epochs = self.config.budget.for_params(current.trial.params).epochs
        if len(curve) < epochs and self.config.pruning.should_prune(curve, others):
            current.pruned = True
            return Decision.PRUNE
        return Decision.CONTINUE

    def history(self, number: int) -> tuple[dict[str, float], ...]:
        with self._lock:
            return tuple(self._training[number].history)

    def stop_as(self, number: int) -> TrialStatus | None:
        """How trial ``number`` ends at its next batch, if it does: pruned (the pruner
        stopped it), cancelled (the study stops for any reason but reaching its total),
        or None: it trains on."""
        current = self._training.get(number)
        if current is not None and current.pruned:
            return TrialStatus.PRUNED
        reason = self.reason
        return TrialStatus.CANCELLED if reason is not None and reason.cancels else None

    @property
    def status(self) -> StudyStatus:
        """The status the study ends with, from the one :class:`StopReason` (complete when
        nothing stopped it but its total)."""
        return self.reason.status if self.reason is not None else StudyStatus.COMPLETE

    def end(self, number: int, outcome: TrialOutcome) -> Trial:
        """Store trial ``number``'s outcome and tell it to the optimizer; returns the
        trial as stored. A trial cancelled before its end is stored, not counted or told."""
        with self._lock:
            current = self._training.pop(number)
            in_use = len(self._free) + len(self._training)
        if outcome.status == TrialStatus.PRUNED:
            curve = [h["val_accuracy"] for h in current.history]
            outcome = pruned_outcome(outcome, curve, self._info, self.config.pruning.kind)
        if not outcome.lost or self._revive(current.slot, in_use):
            self._free.append(current.slot)
        trial = _ended(current, outcome, self.config.objective)
        if outcome.status == TrialStatus.CANCELLED:
            self.stop(StopReason.USER)  # kept only when nothing else stopped the study
            return self._store(trial)
        self._counted += 1
        self._errors = self._errors + 1 if outcome.errored else 0
        tell(self.strategy, trial, self.config.objective)
        convergence = explain.convergence(self.strategy)
        if convergence is not None:
            trial = replace(
                trial, regret_bound=convergence.regret_bound, noise_std=convergence.noise
            )
        self._store(trial)
        more = self.left() > 0
        if outcome.lost and current.attempt < self.config.max_retries and more:
            self._retries.append((trial.params, current.attempt + 1))
        limit = self.config.max_consecutive_errors
        if limit and self._errors >= limit and more:
            raised = "a trial" if self._errors == 1 else f"{self._errors} trials in a row"
            self.stop(
                StopReason.ERRORS,
                f"{raised} raised an error, so the study stopped there "
                f"(max_consecutive_errors = {limit}); the last: {trial.error}",
            )
        if self.config.stop_when_converged and convergence is not None and convergence.converged:
            self.stop(StopReason.CONVERGED, convergence_note(tuple(self.trials)))
        return trial

    def take_results(self) -> list[Trial]:
        """A person's typed-in results: each stored (taken from the queue in the same
        write) and told at once, numbered as they arrive, so a rebuilt optimizer tells them
        in the same order."""
        told = []
        for item in self.store.queued(self.name):
            if item.value is None:
                continue
            self._number += 1
            trial = told_trial(self._number, item.params, item.value, self.config.objective)
            self.store.add_results(self.name, [trial], queued=[item.id])
            tell(self.strategy, trial, self.config.objective)
            with self._lock:
                self.trials.append(trial)
            told.append(trial)
        return told

    def abandon(self, number: int, outcome: TrialOutcome) -> None:
        """Store a trial whose driver failed while it trained: it ended (cancelled, or
        finished just before), and it may not read "running" in the store afterwards."""
        with self._lock:
            current = self._training.pop(number, None)
        if current is not None:
            self._store(_ended(current, outcome, self.config.objective))

    def _next_chosen(self) -> Queued | None:
        """The oldest point a person queued to try next, if any."""
        return next((q for q in self.store.queued(self.name) if q.value is None), None)

    def _store(self, trial: Trial) -> Trial:
        self.store.finish_trial(
            self.name,
            trial.number,
            status=trial.status,
            value=trial.value,
            history=list(trial.history),
            error=trial.error,
            seconds=trial.seconds or 0.0,
            regret_bound=trial.regret_bound,
            noise_std=trial.noise_std,
            metrics=trial.metrics,
        )
        with self._lock:
            self.trials.append(trial)
            self.trials.sort(key=lambda t: t.number)
        return trial
