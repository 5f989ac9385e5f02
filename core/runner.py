"""Drive one study in a background thread and publish immutable snapshots of it.

The runner wires the optimizer (which knows no Keras) to the trainer (which knows
no Gaussian process), owns the worker thread, and writes every state change to
the store. Readers (the dashboard, the CLI) only ever see :class:`Snapshot`s.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.data import Dataset, load_dataset
from core.eta import measured_rate, seconds_left
from core.executor import Pool, make_pool, prepare
from core.model import Builder
from core.optimizer import Strategy, Surrogate
from core.replay import recommendation, tell, told_strategy
from core.status import StudyStatus, TrialOrigin, TrialStatus
from core.steer import inherited, told_trial
from core.store import Queued, Store
from core.study import Study, StudyConfig, Trial, best_of, convergence_note
from core.trainer import (
    EpochMetrics,
    TrialCancelled,
    TrialDiverged,
    TrialOutcome,
    learned_nothing,
)
from core.worker import RECYCLE_AFTER, DataInfo, Trainer

SURROGATE_RESOLUTION = 40


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
    surrogate: Surrogate | None
    started_at: float | None
    elapsed: float
    eta: float | None
    message: str | None
    error: str | None
    final: dict[str, Any] | None
    warnings: tuple[str, ...] = ()

    @property
    def finished(self) -> int:
        """The trials counted towards the total (a typed-in or inherited one is not)."""
        return sum(1 for t in self.trials if t.counted)

    @property
    def best(self) -> Trial | None:
        return best_of(self.trials)

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
            self.surrogate.n_observations if self.surrogate else None,
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
            surrogate=surrogate,
            started_at=min(started) if started else None,
            elapsed=(max(finished) - min(started)) if finished and started else 0.0,
            eta=None,
            message=None,
            error=study.error,
            final=study.final,
        )


class Runner:
    """One study, one worker thread. Create through :class:`Registry`."""

    def __init__(
        self,
        store: Store,
        name: str,
        *,
        runs_dir: str | os.PathLike = "runs",
        dataset: Dataset | None = None,
        surrogate_resolution: int = SURROGATE_RESOLUTION,
        isolate: bool = False,
        pool_factory: Callable[..., Pool] = make_pool,
        model: Builder | None = None,
    ) -> None:
        self.store = store
        self._model = model  # a builder given from Python; else the config's spec
        self._isolate = isolate
        self._pool_factory = pool_factory
        self.name = name
        self.runs_dir = Path(runs_dir)
        self._dataset = dataset
        self._resolution = surrogate_resolution
        self._stop = threading.Event()
        self._cancel_running = threading.Event()  # the study converged: stop what still trains
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._data: DataInfo | None = None
        self._ended_early: str | None = None  # why the study ended before its total
        self._slots = 1
        study = store.load(name)
        self._config: StudyConfig = study.config
        self._snapshot = Snapshot(
            study=name,
            status=StudyStatus.CREATED,
            total=study.config.total,
            trials=study.trials,
            running=(),
            epochs_per_trial=study.config.largest_budget.epochs,
            surrogate=None,
            started_at=None,
            elapsed=0.0,
            eta=None,
            message="waiting to start",
            error=None,
            final=study.final,
        )

    # -- control ------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"study {self.name!r} was already started by this runner")
        self._thread = threading.Thread(target=self._run, name=f"study-{self.name}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the worker to stop; training stops at the next batch."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        with self._lock:
            snap = self._snapshot
        if snap.started_at is not None and snap.active:
            snap = replace(snap, elapsed=time.time() - snap.started_at)
        return snap

    # -- worker -------------------------------------------------------------
    def _publish(self, **changes: Any) -> None:
        with self._lock:
            snap = replace(self._snapshot, **changes)
            self._snapshot = replace(snap, eta=self._eta(snap))

    def _eta(self, snap: Snapshot) -> float | None:
        """Seconds left at the throughput this study's epochs measured (None before any)."""
        if self._data is None:
            return None
        rate = measured_rate(t.history for t in (*snap.trials, *snap.running))
        if rate is None:
            return None
        return seconds_left(
            self._config.largest_budget,
            self._data.n_train,
            self._data.n_val,
            rate,
            trials=max(0, snap.total - snap.finished),
            epochs_done=sum(len(t.history) for t in snap.running),
            final=self._config.final_test and not snap.final,
            workers=self._slots,
        )

    def _run(self) -> None:
        started = time.time()
        self._publish(status=StudyStatus.LOADING, started_at=started, message="loading the dataset")
        self.store.set_status(self.name, StudyStatus.RUNNING, owner_pid=os.getpid())
        try:
            final_status = self._search()
        except Exception as exc:  # never let the thread die silently
            reason = str(exc) if isinstance(exc, StudyAborted) else f"{type(exc).__name__}: {exc}"
            self.store.set_status(self.name, StudyStatus.FAILED, error=reason)
            self._publish(status=StudyStatus.FAILED, error=reason, running=(), message=None)
            return
        self.store.set_status(self.name, final_status)
        self._publish(
            status=final_status,
            running=(),
            message="stopped by the user"
            if final_status == StudyStatus.STOPPED
            else self._ended_early or "done",
            elapsed=time.time() - started,
        )

    def _search(self) -> StudyStatus:
        cfg = self._config
        dataset = self._dataset or load_dataset(
            cfg.dataset, val_fraction=cfg.val_fraction, seed=cfg.seed
        )
        model = self._model or cfg.model or None
        # TensorFlow keeps memory of every model a process trains: a study longer than
        # RECYCLE_AFTER trials trains in a child process replaced that often (a builder
        # handed over as a Python function cannot cross to one, and trains here)
        isolate = self._isolate or (cfg.total > RECYCLE_AFTER and not callable(model))
        pool = self._pool_factory(dataset, cfg.parallel, isolate=isolate, model=model)
        try:
            return self._search_with(pool)
        finally:
            pool.close()

    def _search_with(self, pool: Pool) -> StudyStatus:
        cfg = self._config
        info = pool.info
        cfg.check_data(info.n_train)
        self._data = info
        self._slots = pool.slots
        self.store.set_val_samples(self.name, info.n_val)
        self.store.release_running_trials(self.name)
        study = self.store.load(self.name)
        strategy = told_strategy(study)
        self._publish(
            status=StudyStatus.RUNNING,
            trials=study.trials,
            warnings=info.warnings,
            surrogate=self._surrogate(strategy),
            message=info.summary,
        )
        number = max((t.number for t in study.trials), default=0)
        finished = len(study.counted_trials)
        free = list(range(pool.slots))
        running: dict[Future, tuple[int, dict[str, float], bool]] = {}  # slot, params, retry
        retries: list[dict[str, float]] = []  # points whose worker was lost, to train again

        def take_results() -> None:
            """A person's typed-in results are stored (taken from the queue in the same
            write) and told at once, numbered as they arrive, so a rebuilt optimizer tells
            them in the same order."""
            nonlocal number
            for item in self.store.queued(self.name):
                if item.value is None:
                    continue
                number += 1
                trial = told_trial(number, item.params, item.value)
                self.store.add_results(self.name, [trial], queued=[item.id])
                tell(strategy, trial)
                pending = [params for _, params, _ in running.values()]
                self._record(trial, surrogate=self._surrogate(strategy, pending))

        stopped = False
        errors = 0  # trials in a row whose own code raised
        threads = ThreadPoolExecutor(pool.slots, thread_name_prefix=f"trial-{self.name}")
        try:
            while True:
                take_results()
                while (
                    free
                    and not (stopped or self._stop.is_set() or self._ended_early)
                    and finished + len(running) < cfg.total
                ):
                    number += 1
                    pending = [params for _, params, _ in running.values()]
                    retry = bool(retries)
                    # a point a person chose trains before the optimizer's next; its queue
                    # entry is taken as the trial starts, in one write
                    chosen = None if retry else self._next_chosen()
                    origin = TrialOrigin.SEARCH if chosen is None else TrialOrigin.CHOSEN
                    guided = strategy.is_guided(len(pending)) and not retry and chosen is None
                    if retry:
                        params = retries.pop(0)
                    else:
                        params = strategy.ask(pending) if chosen is None else chosen.params
                    slot = free.pop(0)
                    trial = self._start_trial(
                        number, params, guided, origin, None if chosen is None else chosen.id
                    )
                    future = threads.submit(self._train, pool.trainers[slot], trial)
                    running[future] = (slot, params, retry)
                if not running:
                    if free or stopped or self._stop.is_set() or self._ended_early:
                        break
                    if finished < cfg.total:
                        raise RuntimeError(
                            "the Ray cluster has no room left for a trial: every worker was lost"
                        )
                    break
                done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f][0]):
                    slot, params, retry = running.pop(future)
                    outcome, trial = future.result()
                    in_use = len(free) + len(running)
                    if not outcome.lost or pool.revive(slot, in_use, cfg.parallel):
                        free.append(slot)  # else its node left: fewer trials at once
                    if outcome.status == TrialStatus.CANCELLED:
                        stopped = stopped or not self._ended_early  # not: converged meanwhile
                        self._finish(trial)
                        self._record(trial)
                        continue
                    finished += 1
                    errors = errors + 1 if outcome.errored else 0
                    tell(strategy, trial)
                    convergence = strategy.convergence()
                    if convergence is not None:
                        trial = replace(
                            trial,
                            regret_bound=convergence.regret_bound,
                            noise_std=convergence.noise,
                        )
                    self._finish(trial)
                    pending = [params for _, params, _ in running.values()]
                    self._record(trial, surrogate=self._surrogate(strategy, pending))
                    if outcome.lost and not retry and finished + len(running) < cfg.total:
                        retries.append(trial.params)
                    limit = cfg.max_consecutive_errors
                    if limit and errors >= limit and finished + len(running) < cfg.total:
                        raised = "a trial" if errors == 1 else f"{errors} trials in a row"
                        raise StudyAborted(
                            f"{raised} raised an error, so the study stopped there "
                            f"(max_consecutive_errors = {limit}); the last: {trial.error}"
                        )
                    if cfg.stop_when_converged and convergence is not None:
                        if convergence.converged and not self._ended_early:
                            self._ended_early = convergence_note(self.snapshot().trials)
                            self._cancel_running.set()
        except BaseException:
            self._cancel_running.set()  # no trial trains on after the study failed
            raise
        finally:
            threads.shutdown(wait=True)
            self._store_ended(running)  # none when the loop ended normally
        if stopped or self._stop.is_set():
            return StudyStatus.STOPPED
        trials = self.snapshot().trials
        if cfg.final_test and not study.final:
            return self._final(trials, pool.trainers[0])
        return StudyStatus.COMPLETE

    def _store_ended(self, running: dict[Future, Any]) -> None:
        """Store the trials that were training when the driver failed: they ended (cancelled,
        or finished just before), and none may read "running" in the store afterwards."""
        for future in running:
            try:
                _, trial = future.result()
            except BaseException:  # the study's own error is the one raised
                continue
            self._finish(trial)
            self._record(trial)

    def _next_chosen(self) -> Queued | None:
        """The oldest point a person queued to try next, if any."""
        return next((q for q in self.store.queued(self.name) if q.value is None), None)

    def _start_trial(
        self,
        number: int,
        params: dict[str, float],
        guided: bool,
        origin: TrialOrigin = TrialOrigin.SEARCH,
        queued: int | None = None,
    ) -> Trial:
        self.store.start_trial(self.name, number, params, guided, origin, queued)
        trial = Trial(number, params, TrialStatus.RUNNING, guided=guided,
                      started_at=time.time(), origin=origin)  # fmt: skip
        with self._lock:
            running = tuple(sorted((*self._snapshot.running, trial), key=lambda t: t.number))
        self._publish(running=running, message=_training(running))
        return trial

    def _update_running(self, trial: Trial) -> None:
        with self._lock:
            running = tuple(
                t if t.number != trial.number else trial for t in self._snapshot.running
            )
        self._publish(running=running)

    def _record(self, trial: Trial, **changes: Any) -> None:
        """A finished (or cancelled) trial leaves the running ones and joins the study's."""
        with self._lock:
            snap = self._snapshot
            running = tuple(t for t in snap.running if t.number != trial.number)
            trials = tuple(sorted((*snap.trials, trial), key=lambda t: t.number))
        self._publish(
            trials=trials,
            running=running,
            message=_training(running) if running else snap.message,
            **changes,
        )

    def _surrogate(
        self, strategy: Strategy, pending: Sequence[dict[str, Any]] = ()
    ) -> Surrogate | None:
        """The map, whose next point is the next trial's, with ``pending`` still running."""
        return strategy.surrogate(self._resolution, pending=pending)

    def _train(self, trainer: Trainer, current: Trial) -> tuple[TrialOutcome, Trial]:
        """Train one started trial on ``trainer`` (from a thread of the runner's pool)."""
        cfg = self._config
        number = current.number
        pruned = threading.Event()
        history: list[dict[str, float]] = []

        def others() -> list[list[float]]:
            snap = self.snapshot()
            return [
                [h["val_accuracy"] for h in t.history]
                for t in (*snap.trials, *snap.running)
                if t.history and t.number != number
            ]

        def on_epoch(metrics: EpochMetrics) -> None:
            history.append(metrics.to_dict())
            self.store.add_epoch(self.name, number, history)
            self._update_running(replace(current, history=tuple(history)))
            curve = [h["val_accuracy"] for h in history]
            if len(curve) < cfg.budget.for_params(
                current.params
            ).epochs and cfg.pruning.should_prune(curve, others()):
                pruned.set()  # the trainer stops at its next batch

        outcome = trainer.trial(
            current.params,
            cfg.budget,
            seed=cfg.seed * 1000 + number,
            on_epoch=on_epoch,
            should_stop=lambda: (
                self._stop.is_set() or self._cancel_running.is_set() or pruned.is_set()
            ),
        )
        if pruned.is_set() and not self._stop.is_set() and history:
            if outcome.status == TrialStatus.CANCELLED:  # stopped by the pruner, not the user
                outcome = self._pruned(outcome, history)
        trial = replace(
            current,
            status=outcome.status,
            value=outcome.value,
            history=tuple(history),
            error=outcome.error,
            finished_at=time.time(),
            seconds=outcome.seconds,
        )
        return outcome, trial

    def _finish(self, trial: Trial) -> None:
        """Store a trial's outcome, with the convergence estimate made once it was told."""
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
        )

    def _pruned(self, outcome: TrialOutcome, history: list[dict[str, float]]) -> TrialOutcome:
        """A trial the pruner stopped: pruned at its last accuracy, or, if that accuracy is
        no better than always answering the most common class, failed: a run that collapsed
        is a failure whatever stopped it, never a value that paints the map."""
        last, epoch = history[-1]["val_accuracy"], len(history)
        info = self._data
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
            error=f"pruned after epoch {epoch} by the {self._config.pruning.kind} rule",
        )

    def _final(self, trials: tuple[Trial, ...], trainer: Trainer) -> StudyStatus:
        """Retrain the recommended trial's params: the complete trial with the highest GP
        posterior mean (a pruned trial's accuracy is partial)."""
        picked = recommendation(self.store.load(self.name))
        if picked is None:
            self._publish(message="no trial completed: nothing to retrain")
            return StudyStatus.COMPLETE
        best, _ = picked
        params, value = best.params, best.value
        cfg = self._config
        self._publish(
            status=StudyStatus.RETRAINING, message="retraining the best params on train+validation"
        )
        try:
            result = trainer.final(
                params,
                cfg.budget,
                seed=cfg.seed,
                path=self.runs_dir / self.name / "model.keras",
                should_stop=self._stop.is_set,
            )
        except TrialCancelled:
            return StudyStatus.STOPPED
        except TrialDiverged as exc:
            final = {"params": params, "val_accuracy": value, "error": str(exc)}
            self.store.set_final(self.name, final)
            self._publish(final=final)
            return StudyStatus.COMPLETE
        final = {"params": params, "val_accuracy": value, **result}
        self.store.set_final(self.name, final)
        self._publish(final=final)
        return StudyStatus.COMPLETE


class StudyAborted(RuntimeError):
    """The study cannot usefully go on; the message says why, for the person to read."""


def user_model_refusal(name: str) -> str:
    """Why a process that does not run users' code (the dashboard) will not resume ``name``."""
    return (
        "This study tunes the user's own model: resume it from the command line, "
        f"`python -m core resume {name}`."
    )


class Registry:
    """The runners of this process: at most one live worker per study."""

    def __init__(
        self,
        store: Store,
        *,
        runs_dir: str | os.PathLike = "runs",
        isolate: bool = False,
        user_models: bool = True,
    ) -> None:
        """``user_models``: whether this process may run a study of a user's own model (the
        command line and the Python API do; the dashboard never runs a user's code)."""
        self.store = store
        self.runs_dir = runs_dir
        self.isolate = isolate
        self.user_models = user_models
        self._runners: dict[str, Runner] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Runner | None:
        with self._lock:
            return self._runners.get(name)

    def running(self) -> list[str]:
        with self._lock:
            return [n for n, r in self._runners.items() if r.alive]

    def create(
        self,
        config: StudyConfig,
        *,
        dataset: Dataset | None = None,
        runner_factory: Callable[..., Runner] = Runner,
    ) -> Runner:
        """Store a new study and start it; refused, storing nothing, while one runs.

        The check and the insert happen under one lock, so of two Starts at the same moment
        one runs and the other is refused with nothing stored.
        """
        if config.model and not self.user_models:
            raise ValueError("this process does not run a user's own model: use the command line")
        with self._lock:
            self._refuse_while_busy(config.name)
            prepare(config.parallel)  # an unreachable cluster stores nothing
            trials, _ = inherited(self.store, config)  # a warm start's, checked first
            self.store.create_study(config, trials)
            return self._start(config.name, dataset, runner_factory)

    def resume(
        self,
        name: str,
        *,
        dataset: Dataset | None = None,
        runner_factory: Callable[..., Runner] = Runner,
    ) -> Runner:
        """Start (or continue) a stored study.

        Refused while any study runs in this process: training shares the CPU cores,
        and two at once would each run at half speed.
        """
        with self._lock:
            current = self._runners.get(name)
            if current is not None and current.alive:
                raise RuntimeError(f"study {name!r} is already running: stop it first")
            self._refuse_while_busy(name)
            study: Study = self.store.load(name)
            if study.config.model and not self.user_models:
                raise ValueError(user_model_refusal(name))
            if study.display_status == StudyStatus.RUNNING:
                raise RuntimeError(
                    f"study {name!r} is running in another process (pid {study.owner_pid})"
                )
            return self._start(name, dataset, runner_factory)

    def _refuse_while_busy(self, name: str) -> None:
        busy = [n for n, r in self._runners.items() if r.alive]
        if busy:
            raise RuntimeError(
                f"study {busy[0]!r} is running: stop it or let it finish before starting {name!r}"
            )

    def _start(
        self, name: str, dataset: Dataset | None, runner_factory: Callable[..., Runner]
    ) -> Runner:
        runner = runner_factory(
            self.store, name, runs_dir=self.runs_dir, dataset=dataset, isolate=self.isolate
        )
        self._runners[name] = runner
        runner.start()
        return runner


def _training(running: tuple[Trial, ...]) -> str:
    numbers = [str(t.number) for t in running]
    if len(numbers) == 1:
        return f"training trial {numbers[0]}"
    return f"training trials {', '.join(numbers[:-1])} and {numbers[-1]}"
