"""Train one trial of the CNN and report it epoch by epoch.

The trainer knows nothing about Gaussian processes: it takes parameters and a
budget, and returns what happened. The score is the accuracy on the *whole*
validation split after the last epoch (the seed scored 10 batches of its test set).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from core.data import Dataset
from core.status import TrialStatus
from core.tensorflow_setup import freeze_heap


class TrialCancelled(Exception):
    """Raised inside training when a stop was requested; caught by the trainer."""


class TrialPruned(Exception):
    """Raised inside training when the pruner stopped the trial; caught by the trainer,
    which ends it pruned at its last epoch's value."""


class TrialDiverged(Exception):
    """Raised inside training when the loss stops being a finite number."""


@dataclass(frozen=True)
class Budget:
    """How much training one trial gets."""

    epochs: int = 5
    batch_size: int = 64
    max_train_samples: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.epochs > 1000:
            raise ValueError(f"epochs must be at most 1000, got {self.epochs}")
        cap = self.max_train_samples
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"max_train_samples must be an integer >= 1 or empty, got {cap!r}")

    def train_size(self, available: int) -> int:
        """How many training samples a trial uses."""
        return min(available, self.max_train_samples or available)

    def check(self, available: int) -> None:
        """Raise ValueError if this budget cannot run on ``available`` training samples."""
        n = self.train_size(available)
        if self.batch_size > n:
            raise ValueError(
                f"batch_size ({self.batch_size}) is larger than the training data "
                f"({n} samples): choose a batch size of at most {n}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def for_params(self, params: Mapping[str, Any]) -> Budget:
        """This budget with a trial's tuned ``epochs`` and ``batch_size``, where tuned."""
        return replace(
            self,
            epochs=int(params.get("epochs", self.epochs)),
            batch_size=int(params.get("batch_size", self.batch_size)),
        )


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    accuracy: float
    loss: float
    val_accuracy: float
    val_loss: float
    seconds: float
    samples_per_second: float = math.nan  # training samples / epoch time (validation included)
    ended_at: float = math.nan  # wall clock (time.time()) when the epoch ended

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class TrialOutcome:
    status: TrialStatus  # complete, failed or cancelled
    value: float | None
    history: list[EpochMetrics] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    #: the worker training it was lost (a killed process, a node gone), not the trial's fault
    lost: bool = False
    #: the trial's own code raised (not a bad result such as a diverged run)
    errored: bool = False
    #: how many weights its model has (None when no model was built)
    param_count: int | None = None


EpochCallback = Callable[[EpochMetrics], None]
#: What a running trial is asked at each batch: how it should end now, if it should
#: (:data:`TrialStatus.PRUNED`: the pruner stopped it; :data:`TrialStatus.CANCELLED` or
#: True: the study stops), or None / False: go on.
StopCheck = Callable[[], "TrialStatus | bool | None"]
#: The codes a stop request crosses a process boundary as (a shared integer), and back.
STOP_CODES: tuple[TrialStatus | None, ...] = (None, TrialStatus.CANCELLED, TrialStatus.PRUNED)


def stop_code(stop: TrialStatus | bool | None) -> int:
    """A :data:`StopCheck` answer as one of :data:`STOP_CODES`' indices."""
    if not stop:
        return 0
    return STOP_CODES.index(stop) if stop in STOP_CODES else 1


def _raise_stop(should_stop: StopCheck | None) -> None:
    stop = should_stop() if should_stop is not None else None
    if stop == TrialStatus.PRUNED:
        raise TrialPruned("pruned")
    if stop:
        raise TrialCancelled("stopped by the user")


def _callback(
    on_epoch: EpochCallback | None, should_stop: StopCheck | None, samples: int
) -> Any:  # a keras.callbacks.Callback
    import keras

    class Watch(keras.callbacks.Callback):
        # Batch-end hooks may run on Keras' dispatch thread: the loss is read there, so
        # the training loop never waits for it (a synchronous per-batch read slows
        # training). The checks that act run at the next batch's start.
        async_safe = True

        def __init__(self) -> None:
            super().__init__()
            self.started = time.perf_counter()
            self.diverged: str | None = None

        def _check(self) -> None:
            _raise_stop(should_stop)
            if self.diverged:
                raise TrialDiverged(self.diverged)

        def on_train_batch_begin(self, batch: int, logs: Mapping | None = None) -> None:
            self._check()

        def on_test_batch_begin(self, batch: int, logs: Mapping | None = None) -> None:
            self._check()

        def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.diverged = f"the training loss became {float(loss)} (diverged)"

        def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
            logs = dict(logs or {})
            seconds = time.perf_counter() - self.started
            metrics = EpochMetrics(
                epoch=epoch + 1,
                accuracy=float(logs.get("accuracy", math.nan)),
                loss=float(logs.get("loss", math.nan)),
                val_accuracy=float(logs.get("val_accuracy", math.nan)),
                val_loss=float(logs.get("val_loss", math.nan)),
                seconds=seconds,
                samples_per_second=samples / seconds if seconds > 0 else math.nan,
                ended_at=time.time(),
            )
            if not math.isfinite(metrics.loss):
                raise TrialDiverged(f"the training loss became {metrics.loss} (diverged)")
            if on_epoch is not None:
                on_epoch(metrics)

    return Watch()


def _fresh_model(dataset: Dataset, params: Mapping[str, Any], seed: int, model: Any) -> Any:
    import keras

    from core.model import fresh_model

    freeze_heap()
    keras.backend.clear_session()  # its full collection frees the last trial's model
    keras.utils.set_random_seed(int(seed))
    return fresh_model(model, params, dataset.input_shape, dataset.num_classes)


def train_trial(
    dataset: Dataset,
    params: Mapping[str, Any],
    budget: Budget,
    *,
    seed: int = 1,
    on_epoch: EpochCallback | None = None,
    should_stop: StopCheck | None = None,
    model: Any = None,
) -> TrialOutcome:
    """Train the model with ``params``; the value is the final validation accuracy.

    ``model``: None for the seed's CNN, else a user's builder or its spec
    (:func:`core.model.builder_for`). Tuned ``epochs`` and ``batch_size`` params override
    the budget's.

    Never raises for what happens during training: a stop request gives
    ``cancelled``, a non-finite loss or any other error gives ``failed`` with its reason.
    So does a run that learned nothing (a final validation accuracy no better than always
    answering the most common class): at high learning rates the seed's CNN now and then
    collapses to chance with a finite loss, and one such value told to the GP as an
    observation bends its whole surface into a pit (docs/BENCHMARKS.md, section 2).
    """
    budget = budget.for_params(params)
    budget.check(len(dataset.y_train))
    n = budget.train_size(len(dataset.y_train))
    history: list[EpochMetrics] = []

    def record(metrics: EpochMetrics) -> None:
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)

    started = time.perf_counter()
    built: dict[str, int] = {}
    try:
        net = _fresh_model(dataset, params, seed, model)
        built["param_count"] = int(net.count_params())
        net.fit(
            dataset.x_train[:n],
            dataset.y_train[:n],
            batch_size=budget.batch_size,
            epochs=budget.epochs,
            validation_data=(dataset.x_val, dataset.y_val),
            callbacks=[_callback(record, should_stop, n)],
            shuffle=True,
            verbose=0,
        )
    except TrialCancelled as exc:
        return TrialOutcome(
            TrialStatus.CANCELLED, None, history, str(exc), time.perf_counter() - started,
            **built,
        )  # fmt: skip
    except TrialPruned:
        last = history[-1].val_accuracy if history else None
        return TrialOutcome(
            TrialStatus.PRUNED if last is not None else TrialStatus.CANCELLED,
            last,
            history,
            f"pruned after epoch {len(history)}",
            time.perf_counter() - started,
            **built,
        )
    except TrialDiverged as exc:
        return TrialOutcome(
            TrialStatus.FAILED, None, history, str(exc), time.perf_counter() - started, **built
        )
    except Exception as exc:  # a trial's crash must not end the study
        reason = plain(f"{type(exc).__name__}: {exc}")
        return TrialOutcome(
            TrialStatus.FAILED, None, history, reason, time.perf_counter() - started, errored=True
        )
    value = history[-1].val_accuracy if history else None
    if value is None or not math.isfinite(value):
        return TrialOutcome(
            TrialStatus.FAILED,
            None,
            history,
            "no finite validation accuracy",
            time.perf_counter() - started,
            **built,
        )
    baseline = dataset.baseline_accuracy()
    if learned_nothing(value, baseline, len(dataset.y_val)):
        reason = (
            f"learned nothing: validation accuracy {value:.3f} is no better than always "
            f"answering the most common class ({baseline:.3f})"
        )
        return TrialOutcome(
            TrialStatus.FAILED, None, history, reason, time.perf_counter() - started, **built
        )
    seconds = time.perf_counter() - started
    return TrialOutcome(TrialStatus.COMPLETE, value, history, None, seconds, **built)


#: A terminal's control sequences (Keras colours its messages): kept out of stored errors.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def plain(text: str) -> str:
    """``text`` without terminal escape codes, as stored, shown and exported."""
    return _ESCAPES.sub("", text)


def learned_nothing(accuracy: float, baseline: float, n_val: int) -> bool:
    """Whether a final validation accuracy is no better than ``baseline``, the share of the
    most common validation class (half a sample of slack: Keras reports accuracy in
    float32). Such a run collapsed; it is told to the optimizer as a failure, not a value.
    Without validation data nothing can be judged: False."""
    return n_val > 0 and accuracy < baseline + 0.5 / n_val


@dataclass
class FinalModel:
    model: Any  # keras.Model
    test_accuracy: float
    test_loss: float
    history: list[EpochMetrics]
    seconds: float


def train_final(
    dataset: Dataset,
    params: Mapping[str, Any],
    budget: Budget,
    *,
    seed: int = 1,
    on_epoch: EpochCallback | None = None,
    should_stop: StopCheck | None = None,
    model: Any = None,
) -> FinalModel:
    """Retrain ``params`` on train + validation, then evaluate once on the test split.

    Raises :class:`TrialCancelled` on a stop request and :class:`TrialDiverged` on divergence.
    """
    started = time.perf_counter()
    budget = budget.for_params(params)
    x = np.concatenate([dataset.x_train, dataset.x_val])
    y = np.concatenate([dataset.y_train, dataset.y_val])
    n = budget.train_size(len(y))
    history: list[EpochMetrics] = []

    def record(metrics: EpochMetrics) -> None:
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)

    net = _fresh_model(dataset, params, seed, model)
    net.fit(
        x[:n],
        y[:n],
        batch_size=min(budget.batch_size, n),
        epochs=budget.epochs,
        callbacks=[_callback(record, should_stop, n)],
        shuffle=True,
        verbose=0,
    )
    _raise_stop(should_stop)
    loss, accuracy = net.evaluate(dataset.x_test, dataset.y_test, verbose=0)
    return FinalModel(net, float(accuracy), float(loss), history, time.perf_counter() - started)
