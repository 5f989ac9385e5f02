"""Where trials train: in this process, or in a child process of their own.

The dashboard trains in a child process. Keras' training loop runs Python for every
batch; in the web server's own process it would hold the GIL so much that pages took
seconds to answer and clicks (Stop!) waited behind it. A child process keeps the
server responsive and dies with it. The CLI, which has nothing else to serve,
trains in-process and starts faster.

Both follow the :class:`Trainer` protocol, so the runner does not care which it has. Each
is handed the :class:`~core.data.Dataset` that the caller loaded and validated, and trains
on exactly that: the child process receives the arrays, it never reloads them by name.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.data import Dataset
from core.status import TrialStatus
from core.trainer import (
    Budget,
    EpochCallback,
    EpochMetrics,
    StopCheck,
    TrialCancelled,
    TrialDiverged,
    TrialOutcome,
    quiet_tensorflow,
    train_final,
    train_trial,
)


@dataclass(frozen=True)
class DataInfo:
    """What the runner needs to know of the data, without holding it."""

    summary: str
    source: str
    warnings: tuple[str, ...]
    n_train: int
    n_val: int
    n_test: int
    #: validation accuracy of always answering the most common class (a collapsed run's)
    baseline: float = 0.0


def _info(ds: Dataset) -> DataInfo:
    return DataInfo(
        ds.summary(),
        ds.source,
        ds.warnings,
        len(ds.y_train),
        len(ds.y_val),
        len(ds.y_test),
        ds.baseline_accuracy(),
    )


def _save_final(
    ds: Dataset,
    params: Mapping[str, Any],
    budget: Budget,
    seed: int,
    path: Path,
    should_stop: StopCheck,
    model: Any = None,
) -> dict[str, Any]:
    result = train_final(ds, params, budget, seed=seed, should_stop=should_stop, model=model)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.keras")
    try:  # written under another name, then renamed: never a half-written model.keras
        result.model.save(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return {
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "model_path": str(path),
        "retrain_seconds": result.seconds,
        "test_samples": len(ds.y_test),
    }


class Trainer(Protocol):
    """Where a study's trials train: one trial at a time, reported epoch by epoch."""

    info: DataInfo

    def trial(
        self,
        params: Mapping[str, Any],
        budget: Budget,
        *,
        seed: int,
        on_epoch: EpochCallback,
        should_stop: StopCheck,
    ) -> TrialOutcome:
        """Train one trial; never raises for what happens during training."""
        ...

    def final(
        self,
        params: Mapping[str, Any],
        budget: Budget,
        *,
        seed: int,
        path: Path,
        should_stop: StopCheck,
    ) -> dict[str, Any]:
        """Retrain on train+validation, test once, save the model to ``path``.

        Raises TrialCancelled or TrialDiverged like :func:`core.trainer.train_final`.
        """
        ...

    def close(self) -> None:
        """Free what the trainer holds (a child process, the data)."""
        ...


class LocalTrainer:
    """Trains in the calling process; ``model`` as :func:`core.trainer.train_trial` takes it."""

    def __init__(self, dataset: Dataset, model: Any = None) -> None:
        self.dataset = dataset
        self.model = model
        self.info = _info(dataset)

    def trial(
        self,
        params: Mapping[str, Any],
        budget: Budget,
        *,
        seed: int,
        on_epoch: EpochCallback,
        should_stop: StopCheck,
    ) -> TrialOutcome:
        return train_trial(
            self.dataset,
            params,
            budget,
            seed=seed,
            on_epoch=on_epoch,
            should_stop=should_stop,
            model=self.model,
        )

    def final(
        self,
        params: Mapping[str, Any],
        budget: Budget,
        *,
        seed: int,
        path: Path,
        should_stop: StopCheck,
    ) -> dict[str, Any]:
        """Raises TrialCancelled or TrialDiverged like :func:`core.trainer.train_final`."""
        return _save_final(self.dataset, params, budget, seed, path, should_stop, self.model)

    def close(self) -> None:
        self.dataset = None


def _watch_parent(parent: int) -> None:
    """Exit when the parent process is gone (a killed server must not leave training behind)."""
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(0.5)


def _serve(conn: Any, cancel: Any, dataset: Dataset, parent: int, model: Any = None) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    quiet_tensorflow()  # one start-up, silent: a study of many trials replaces this process
    # Ctrl-C in a terminal reaches the whole process group: the parent decides what it
    # means (stop at the next batch), and this process is told through ``cancel``
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    local = LocalTrainer(dataset, model)
    conn.send(("ready", local.info))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        kind, payload = message[0], message[1:]
        if kind == "close":
            return
        params, budget, run_seed = payload[0], Budget(**payload[1]), payload[2]
        if kind == "trial":
            outcome = local.trial(
                params,
                budget,
                seed=run_seed,
                on_epoch=lambda m: conn.send(("epoch", m)),
                should_stop=cancel.is_set,
            )
            conn.send(("trial", outcome))
        elif kind == "final":
            try:
                conn.send(
                    (
                        "final",
                        local.final(
                            params,
                            budget,
                            seed=run_seed,
                            path=Path(payload[3]),
                            should_stop=cancel.is_set,
                        ),
                    )
                )
            except TrialCancelled as exc:
                conn.send(("cancelled", str(exc)))
            except TrialDiverged as exc:
                conn.send(("diverged", str(exc)))
            except Exception as exc:
                conn.send(("failed", f"{type(exc).__name__}: {exc}"))


class WorkerDied(RuntimeError):
    pass


#: TensorFlow keeps about 9 MB of every model a process has trained, whatever
#: ``clear_session`` and the garbage collector free (tensorflow#61791, keras-team/tf-keras#286;
#: a model's traced training function outlives it). A training process is therefore
#: replaced after this many trials, which holds it within ~100 MB of its start however long
#: the study runs (``bench/soak.py``).
RECYCLE_AFTER = 10


class ProcessTrainer:
    """Trains in a child process that is handed the data once and serves trial after trial.

    A child that dies (killed, out of memory) fails the trial it was running; the next
    trial starts a new child. After ``recycle_after`` trials the next trial starts a new
    child too (:data:`RECYCLE_AFTER`).
    """

    POLL = 0.1

    def __init__(
        self, dataset: Dataset, model: str | None = None, *, recycle_after: int = RECYCLE_AFTER
    ) -> None:
        self._dataset = dataset
        self._model = model  # a spec: the child process loads the builder it names
        self._recycle_after = recycle_after
        self._start()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._cancel = ctx.Event()
        self._process = ctx.Process(
            target=_serve,
            args=(child, self._cancel, self._dataset, os.getpid(), self._model),
            name=f"trainer-{Path(self._dataset.name).name}"[:40],
            daemon=True,
        )
        self._process.start()
        self._served = 0
        child.close()
        try:
            kind, payload = self._receive(lambda: False)
        except WorkerDied:
            self.close()
            raise
        self.info: DataInfo = payload

    @property
    def pid(self) -> int | None:
        """The training process's id (a new one after a restart)."""
        return self._process.pid

    def _receive(self, should_stop: StopCheck) -> tuple[str, Any]:
        while True:
            if should_stop():
                self._cancel.set()
            if self._conn.poll(self.POLL):
                try:
                    return self._conn.recv()
                except EOFError:
                    pass
            if not self._process.is_alive():
                raise WorkerDied(f"the training process ended (exit code {self._process.exitcode})")

    def trial(
        self,
        params: Mapping[str, Any],
        budget: Budget,
        *,
        seed: int,
        on_epoch: EpochCallback,
        should_stop: StopCheck,
    ) -> TrialOutcome:
        started = time.perf_counter()
        history: list[EpochMetrics] = []
        try:
            if not self._process.is_alive():
                self._conn.close()
                self._start()
            elif self._served >= self._recycle_after:
                self.close()
                self._start()
            self._cancel.clear()
            self._conn.send(("trial", dict(params), budget.to_dict(), seed))
            self._served += 1
            while True:
                kind, payload = self._receive(should_stop)
                if kind == "epoch":
                    history.append(payload)
                    on_epoch(payload)
                elif kind == "trial":
                    return payload
        except (WorkerDied, OSError) as exc:
            return TrialOutcome(
                TrialStatus.FAILED,
                None,
                history,
                str(exc),
                time.perf_counter() - started,
                lost=True,
            )

    def final(
        self,
        params: Mapping[str, Any],
        budget: Budget,
        *,
        seed: int,
        path: Path,
        should_stop: StopCheck,
    ) -> dict[str, Any]:
        self._conn.send(("final", dict(params), budget.to_dict(), seed, str(path)))
        kind, payload = self._receive(should_stop)
        if kind == "final":
            return payload
        if kind == "cancelled":
            raise TrialCancelled(payload)
        if kind == "diverged":
            raise TrialDiverged(payload)
        raise RuntimeError(payload)

    def close(self) -> None:
        try:
            self._conn.send(("close",))
        except (OSError, ValueError):
            pass
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()


def make_trainer(dataset: Dataset, *, isolate: bool, model: Any = None) -> Trainer:
    """A trainer for ``dataset``: in a child process if ``isolate``, else in this one."""
    return ProcessTrainer(dataset, model) if isolate else LocalTrainer(dataset, model)
