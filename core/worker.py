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

import abc
import functools
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.data import Dataset
from core.status import TrialStatus
from core.tensorflow_setup import quiet_tensorflow
from core.trainer import (
    STOP_CODES,
    Budget,
    EpochCallback,
    EpochMetrics,
    StopCheck,
    TrialCancelled,
    TrialDiverged,
    TrialOutcome,
    stop_code,
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


def final_message(retrain: Callable[[], dict[str, Any]]) -> tuple[str, Any]:
    """The final retrain's result as a message that crosses to the driver (from a child
    process or a Ray actor): ("final", result), or ("cancelled" | "diverged" | "failed",
    why). :func:`final_result` reads it back."""
    try:
        return "final", retrain()
    except TrialCancelled as exc:
        return "cancelled", str(exc)
    except TrialDiverged as exc:
        return "diverged", str(exc)
    except Exception as exc:
        return "failed", f"{type(exc).__name__}: {exc}"


def final_result(message: tuple[str, Any]) -> dict[str, Any]:
    """The result a :func:`final_message` carries, or the error it reports raised again."""
    kind, payload = message
    if kind == "final":
        return payload
    if kind == "cancelled":
        raise TrialCancelled(payload)
    if kind == "diverged":
        raise TrialDiverged(payload)
    raise RuntimeError(payload)


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


def _watch_parent(lifeline: Any) -> None:
    """Exit when the parent process is gone (a killed server must not leave training
    behind): ``lifeline`` is a pipe whose only writer is the parent, so reading it ends,
    at end of file, when the parent ends however it ends (a zombie's pipes are closed too)."""
    try:
        lifeline.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _serve(conn: Any, lifeline: Any, cancel: Any, dataset: Dataset, model: Any = None) -> None:
    threading.Thread(target=_watch_parent, args=(lifeline,), daemon=True).start()
    quiet_tensorflow()  # its devices started silently, once for all the trials it serves
    # Ctrl-C in a terminal reaches the whole process group: the parent decides what it
    # means (stop at the next batch), and this process is told through ``cancel`` (a shared
    # integer: one of STOP_CODES)
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
                should_stop=lambda: STOP_CODES[cancel.value],
            )
            conn.send(("trial", outcome))
        elif kind == "final":
            path = Path(payload[3])
            retrain = functools.partial(local.final, params, budget, seed=run_seed, path=path,
                                        should_stop=lambda: bool(cancel.value))  # fmt: skip
            conn.send(final_message(retrain))


class WorkerDied(RuntimeError):
    pass


#: TensorFlow keeps about 9 MB of every model a process has trained, whatever
#: ``clear_session`` and the garbage collector free (tensorflow#61791, keras-team/tf-keras#286;
#: a model's traced training function outlives it). A training process is therefore
#: replaced after this many trials, which holds it within ~100 MB of its start however long
#: the study runs (``bench/soak.py``).
RECYCLE_AFTER = 10


class RemoteTrainer(abc.ABC):
    """The loop of a trainer whose trials run elsewhere (a child process, a Ray actor),
    written once: submit the trial, poll it, forward each epoch as it ends, pass a stop on,
    and turn a lost worker into a lost outcome; the worker is replaced after
    ``recycle_after`` trials (:data:`RECYCLE_AFTER`). A subclass says how to reach its
    worker: :meth:`_ready`, :meth:`_submit`, :meth:`_stop`, :meth:`_poll`, :meth:`_failure`.
    """

    POLL = 0.1
    info: DataInfo

    def __init__(self, recycle_after: int = RECYCLE_AFTER) -> None:
        self._recycle_after = recycle_after
        self._served = 0  # trials the current worker has trained

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
            self._ready(replace=self._served >= self._recycle_after)
            job = self._submit(dict(params), budget.to_dict(), seed)
            self._served += 1
            while True:
                stop = should_stop()
                if stop:  # said again at each poll: a trial that starts clears it
                    self._stop(job, stop)
                epochs, outcome = self._poll(job, len(history))
                for metrics in epochs:
                    history.append(metrics)
                    on_epoch(metrics)
                if outcome is not None:
                    return outcome
        except Exception as exc:
            failure = self._failure(exc)
            if failure is None:
                raise
            message, lost = failure
            return TrialOutcome(TrialStatus.FAILED, None, history, message,
                                time.perf_counter() - started, lost=lost, errored=not lost)  # fmt: skip

    @abc.abstractmethod
    def _ready(self, replace: bool) -> None:
        """A worker that answers: a new one if ``replace`` or the last one is gone (which
        resets the count of trials served)."""
        ...

    @abc.abstractmethod
    def _submit(self, params: dict[str, Any], budget: dict[str, Any], seed: int) -> Any:
        """Start a trial on the worker; returns what :meth:`_poll` follows it by."""
        ...

    @abc.abstractmethod
    def _stop(self, job: Any, stop: TrialStatus | bool) -> None:
        """Ask the worker to stop the trial at its next batch, to end as ``stop``
        (pruned, or cancelled)."""
        ...

    @abc.abstractmethod
    def _poll(self, job: Any, seen: int) -> tuple[list[EpochMetrics], TrialOutcome | None]:
        """Wait up to :attr:`POLL` seconds: the epochs after the first ``seen``, and the
        outcome once the trial ended."""
        ...

    @abc.abstractmethod
    def _failure(self, exc: Exception) -> tuple[str, bool] | None:
        """What a raised error means: the failure's message and whether the worker was lost
        (else the trial's own code raised); None for an error that is not a trial's."""
        ...


def _context() -> Any:  # a multiprocessing context
    """Training processes fork from one server process of their own, started (by spawn,
    clean of the caller's threads) at the first one, which has imported what training
    needs (:mod:`core.preload`): the first study of a dashboard waits for TensorFlow's
    import, later studies and replaced processes start at once."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["core.preload"])  # read when the fork server starts
    return ctx


class ProcessTrainer(RemoteTrainer):
    """Trains in a child process that is handed the data once and serves trial after trial.

    A child that dies (killed, out of memory) fails the trial it was running; the next
    trial starts a new child. After ``recycle_after`` trials the next trial starts a new
    child too (:data:`RECYCLE_AFTER`).
    """

    def __init__(
        self, dataset: Dataset, model: str | None = None, *, recycle_after: int = RECYCLE_AFTER
    ) -> None:
        super().__init__(recycle_after)
        self._dataset = dataset
        self._model = model  # a spec: the child process loads the builder it names
        self._start()

    def _start(self) -> None:
        ctx = _context()
        self._conn, child = ctx.Pipe()
        lifeline, self._lifeline = ctx.Pipe(duplex=False)  # never written: closed at the end
        self._cancel = ctx.Value("i", 0)  # a stop request, as one of STOP_CODES
        self._process = ctx.Process(
            target=_serve,
            args=(child, lifeline, self._cancel, self._dataset, self._model),
            name=f"trainer-{Path(self._dataset.name).name}"[:40],
            daemon=True,
        )
        self._process.start()
        self._served = 0
        child.close()
        lifeline.close()
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
                self._cancel.value = 1
            message = self._message()
            if message is not None:
                return message

    def _message(self) -> tuple[str, Any] | None:
        """The child's next message within :attr:`POLL` seconds, if any."""
        if self._conn.poll(self.POLL):
            try:
                return self._conn.recv()
            except EOFError:
                pass
        if not self._process.is_alive():
            raise WorkerDied(f"the training process ended (exit code {self._process.exitcode})")
        return None

    def _ready(self, replace: bool) -> None:
        if not self._process.is_alive():
            self._conn.close()
            self._lifeline.close()
            self._start()
        elif replace:
            self.close()
            self._start()
        self._cancel.value = 0

    def _submit(self, params: dict[str, Any], budget: dict[str, Any], seed: int) -> None:
        self._conn.send(("trial", params, budget, seed))

    def _stop(self, job: Any, stop: TrialStatus | bool) -> None:
        self._cancel.value = stop_code(stop)

    def _poll(self, job: Any, seen: int) -> tuple[list[EpochMetrics], TrialOutcome | None]:
        message = self._message()
        if message is None:
            return [], None
        kind, payload = message
        return ([payload], None) if kind == "epoch" else ([], payload)

    def _failure(self, exc: Exception) -> tuple[str, bool] | None:
        return (str(exc), True) if isinstance(exc, WorkerDied | OSError) else None

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
        return final_result(self._receive(should_stop))

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
        self._lifeline.close()


def make_trainer(dataset: Dataset, *, isolate: bool, model: Any = None) -> Trainer:
    """A trainer for ``dataset``: in a child process if ``isolate``, else in this one."""
    return ProcessTrainer(dataset, model) if isolate else LocalTrainer(dataset, model)
