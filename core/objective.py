"""What a study optimizes, as data: a metric its trials record and a direction.

A trial records a mapping of metrics (the last epoch's, plus what it cost: training
seconds and the model's parameter count); the objective names the one the search is
about. :meth:`Objective.told` is the one place that turns a trial into what the optimizer
is told. The optimizer always maximises: a minimised metric is told negated, so "worst"
(the failure penalty, :func:`core.fit.failure_penalty`) and "better" (the pruner, the
best trial) read the same for either direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.status import TrialStatus

DIRECTIONS = ("maximize", "minimize")
#: How the metrics a trial can record are named on screen.
LABELS = {
    "val_accuracy": "validation accuracy",
    "val_loss": "validation loss",
    "accuracy": "training accuracy",
    "loss": "training loss",
    "train_seconds": "training seconds",
    "params": "model parameters",
}


@dataclass(frozen=True)
class Objective:
    """A metric the trials record (``val_accuracy``, ``val_loss``...) and its direction."""

    metric: str = "val_accuracy"
    direction: str = "maximize"

    def __post_init__(self) -> None:
        if self.metric not in LABELS:
            raise ValueError(
                f"objective metric must be one of {tuple(LABELS)}, got {self.metric!r}"
            )
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"objective direction must be one of {DIRECTIONS}, got {self.direction!r}"
            )

    @property
    def sign(self) -> float:
        """+1 maximised, -1 minimised: what a value is multiplied by to be told."""
        return 1.0 if self.direction == "maximize" else -1.0

    @property
    def label(self) -> str:
        return LABELS[self.metric]

    @property
    def is_share(self) -> bool:
        """Whether its values are a share of the validation samples (an accuracy), whose
        binomial error floors the GP's noise."""
        return self.metric == "val_accuracy"

    def of(self, metrics: Mapping[str, Any]) -> float | None:
        """The objective's value in ``metrics`` (None when missing or not finite)."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(float(value)):
            return None
        return float(value)

    def curve(self, history: Iterable[Mapping[str, Any]]) -> list[float | None]:
        """The objective after each epoch of ``history``, told (signed): higher is better."""
        return [None if (v := self.of(h)) is None else self.sign * v for h in history]

    def told(self, status: TrialStatus, value: float | None,
             history: Sequence[Mapping[str, Any]]) -> tuple[float | None, list, bool]:  # fmt: skip
        """What the optimizer is told of a finished trial: its value (signed; None for a
        failure, which the GP takes as the worst value seen), its curve, and whether it is
        partial (pruned: projected to the whole budget)."""
        status = TrialStatus(status)
        told = self.sign * value if status.told and value is not None else None
        return told, self.curve(history), status == TrialStatus.PRUNED

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b``."""
        return self.sign * a > self.sign * b

    def to_dict(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": self.direction}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Objective:
        """A stored objective; a study stored before objectives were data maximised its
        validation accuracy."""
        return cls(**data) if data else cls()


def trial_metrics(
    history: Sequence[Mapping[str, Any]],
    seconds: float | None,
    param_count: int | None,
    val_accuracy: float | None = None,
) -> dict[str, float]:
    """What a trial records: its last epoch's metrics (``val_accuracy``: the trainer's own
    word on it, where it gave one) and what it cost."""
    last = dict(history[-1]) if history else {}
    out = {k: float(last[k]) for k in ("val_accuracy", "val_loss", "accuracy", "loss") if k in last}
    if val_accuracy is not None:
        out["val_accuracy"] = float(val_accuracy)
    if seconds is not None:
        out["train_seconds"] = float(seconds)
    if param_count is not None:
        out["params"] = float(param_count)
    return out
