"""Drive one study in a background thread and publish immutable snapshots of it.

The runner wires the optimizer (which knows no Keras) to the trainer (which knows
no Gaussian process), owns the worker thread, and writes every state change to
the store. Readers (the dashboard, the CLI) only ever see :class:`Snapshot`s, which it
publishes on its :class:`~core.snapshot.Board`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from core import explain
from core.data import Dataset, load_dataset
from core.executor import Pool, make_pool
from core.lifecycle import Lifecycle, StopReason, StudyAborted, create_study
from core.model import Builder
from core.replay import recommendation
from core.snapshot import Board, Snapshot
from core.status import StudyStatus, TrialStatus
from core.store import Store
from core.study import Study, StudyConfig, Trial
from core.trainer import EpochMetrics, TrialCancelled, TrialDiverged, TrialOutcome
from core.views import OnDemand
from core.worker import RECYCLE_AFTER, Trainer

SURROGATE_RESOLUTION = 40


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
        #: a person's stop, asked before (or while) the lifecycle holds the study's course
        self._stop = threading.Event()
        self._life: Lifecycle | None = None
        self._thread: threading.Thread | None = None
        #: what a warm start inherited, in words (set by :meth:`Registry.create`)
        self.inherits: str | None = None
        study = store.load(name)
        self._config: StudyConfig = study.config
        first = replace(
            Snapshot.of_study(study),
            status=StudyStatus.CREATED,
            started_at=None,
            elapsed=0.0,
            message="waiting to start",
            error=None,
        )
        self._board = Board(first, study.config)

    # -- control ------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"study {self.name!r} was already started by this runner")
        self._thread = threading.Thread(target=self._run, name=f"study-{self.name}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the worker to stop; training stops at the next batch."""
        self._stop.set()
        life = self._life
        if life is not None:
            life.stop(StopReason.USER)

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> Snapshot:
        return self._board.read()

    # -- worker -------------------------------------------------------------
    def _run(self) -> None:
        started = time.time()
        self._board.publish(
            status=StudyStatus.LOADING, started_at=started, message="loading the dataset"
        )
        self.store.set_status(self.name, StudyStatus.RUNNING, owner_pid=os.getpid())
        try:
            final_status, message = self._search()
        except Exception as exc:  # never let the thread die silently
            reason = str(exc) if isinstance(exc, StudyAborted) else f"{type(exc).__name__}: {exc}"
            self.store.set_status(self.name, StudyStatus.FAILED, error=reason)
            self._board.publish(status=StudyStatus.FAILED, error=reason, running=(), message=None)
            return
        self.store.set_status(self.name, final_status)
        self._board.publish(
            status=final_status,
            running=(),
            message=message,
            elapsed=time.time() - started,
        )

    def _search(self) -> tuple[StudyStatus, str]:
        cfg = self._config
        if self._dataset is not None:
            cfg.check_dataset(self._dataset.split, self._dataset.val_fraction)
        dataset = self._dataset or load_dataset(
            cfg.dataset, val_fraction=cfg.val_fraction, seed=cfg.data_seed
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

    def _search_with(self, pool: Pool) -> tuple[StudyStatus, str]:
        """The study's search on ``pool``: its end status and what to say of it."""
        cfg = self._config
        info = pool.info
        cfg.check_data(info.n_train)
        self._board.data, self._board.slots = info, pool.slots
        self.store.set_val_samples(self.name, info.n_val)
        life = Lifecycle(
            self.store,
            self.name,
            info=info,
            slots=pool.slots,
            revive=lambda slot, in_use: pool.revive(slot, in_use, cfg.parallel),
        )
        self._life = life
        if self._stop.is_set():
            life.stop(StopReason.USER)
        self._board.publish(
            status=StudyStatus.RUNNING,
            trials=tuple(life.trials),
            warnings=info.warnings,
            grid=self._surrogate(life, life.pending) if life.strategy.observations else None,
            message=info.summary,
        )
        running: dict[Future, int] = {}  # the trials training, by their future
        told = False  # a result reached the GP since the map was last handed out
        threads = ThreadPoolExecutor(pool.slots, thread_name_prefix=f"trial-{self.name}")
        try:
            while True:
                for trial in life.take_results():
                    self._board.record(trial)
                    told = True
                pending = life.pending  # what the next ask sees: the map's next point
                while life.can_start():
                    trial, slot = life.start()
                    self._board.add_running(trial)
                    future = threads.submit(self._train, life, pool.trainers[slot], trial)
                    running[future] = trial.number
                if told:  # after the starts, whose ask (and fit) the map reuses
                    self._board.publish(grid=self._surrogate(life, pending))
                    told = False
                if life.done():
                    break
                done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f]):
                    number = running.pop(future)
                    trial = life.end(number, future.result())
                    self._board.record(trial)
                    told |= trial.status != TrialStatus.CANCELLED  # a cancelled one is not
        except BaseException:
            life.stop(StopReason.USER)  # no trial trains on after the driver failed
            raise
        finally:
            threads.shutdown(wait=True)
            life.close()
            for future, number in running.items():  # none when the loop ended normally
                if future.exception() is None:
                    life.abandon(number, future.result())
        if life.status == StudyStatus.FAILED:
            raise StudyAborted(life.message)
        if life.status == StudyStatus.STOPPED:
            return StudyStatus.STOPPED, "stopped by the user"
        if cfg.final_test and not self.store.load(self.name).final:
            status = self._final(pool.trainers[0])
            return status, "stopped by the user" if status == StudyStatus.STOPPED else "done"
        return StudyStatus.COMPLETE, life.message or "done"

    def _surrogate(self, life: Lifecycle, pending: list[dict[str, Any]]) -> OnDemand:
        """The map of this moment, made when a page first draws it: its next point is the
        next trial's, asked with ``pending`` running. It reads a frozen copy of the
        strategy, so the driver tells on while a page draws."""
        strategy = life.strategy.frozen()
        return OnDemand(
            len(strategy.observations),
            lambda: explain.surrogate(strategy, self._resolution, pending=pending),
        )

    def _train(self, life: Lifecycle, trainer: Trainer, current: Trial) -> TrialOutcome:
        """Train one started trial on ``trainer`` (from a thread of the runner's pool): each
        epoch is reported to the lifecycle, whose PRUNE stops it at the next batch."""
        cfg = self._config
        number = current.number

        def on_epoch(metrics: EpochMetrics) -> None:
            life.report(number, metrics.to_dict())
            self._board.update_running(replace(current, history=life.history(number)))

        return trainer.trial(
            current.params,
            cfg.budget,
            seed=cfg.seed * 1000 + number,
            on_epoch=on_epoch,
            should_stop=lambda: life.stop_as(number),
        )

    def _final(self, trainer: Trainer) -> StudyStatus:
        """Retrain the recommended trial's params: the complete trial with the highest GP
        posterior mean (a pruned trial's accuracy is partial)."""
        picked = recommendation(self.store.load(self.name))
        if picked is None:
            self._board.publish(message="no trial completed: nothing to retrain")
            return StudyStatus.COMPLETE
        best, _ = picked
        params, value = best.params, best.value
        cfg = self._config
        self._board.publish(
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
            self._board.publish(final=final)
            return StudyStatus.COMPLETE
        final = {"params": params, "val_accuracy": value, **result}
        self.store.set_final(self.name, final)
        self._board.publish(final=final)
        return StudyStatus.COMPLETE


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
        model: Builder | None = None,
        runner_factory: Callable[..., Runner] = Runner,
    ) -> Runner:
        """Check a new study, store it and start it (:func:`core.lifecycle.create_study`);
        refused, storing nothing, while one runs or when a check fails. The runner's
        ``inherits`` says what a warm start inherited (None without one).

        The checks and the insert happen under one lock, so of two Starts at the same moment
        one runs and the other is refused with nothing stored.
        """
        if config.model and not self.user_models:
            raise ValueError("this process does not run a user's own model: use the command line")
        with self._lock:
            self._refuse_while_busy(config.name)
            note = create_study(self.store, config, dataset=dataset, model=model)
            runner = self._start(config.name, dataset, runner_factory)
            runner.inherits = note
            return runner

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
