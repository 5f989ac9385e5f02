"""Stop hopeless trials early: each rule answers one question at an epoch's end.

A pruner looks at the running trial's validation accuracy per epoch so far and at the
per-epoch accuracies of the study's other trials (finished, pruned or still running), and
says whether to stop it now. It knows nothing of Keras, of the optimizer or of threads, so
it works the same with one trial at a time or many.

- ``none``: never.
- ``median``: after a warm-up, stop a trial at epoch e if its accuracy is below the median
  of the other trials' accuracies at epoch e (Optuna's ``MedianPruner``).
- ``asha``: asynchronous successive halving. Rungs at ``min_epochs x reduction_factor^k``
  epochs; at a rung a trial goes on only if its accuracy is among the top
  ``1 / reduction_factor`` of all the accuracies recorded at that rung so far, its own
  included (Optuna's ``SuccessiveHalvingPruner``, Ray Tune's ASHA).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

KINDS = ("none", "median", "asha")
#: What the CLI and the Tune page choose unless told otherwise: on the learning-curve table it
#: spent 0.44 of the epochs of no pruning for the same answer within the noise
#: (docs/BENCHMARKS.md). A StudyConfig made in Python prunes only when asked.
DEFAULT = "asha"
#: One line each, for the Tune page and the CLI's help.
EXPLAINED = {
    "none": "Every trial trains its whole budget.",
    "median": "After a warm-up, stop a trial at an epoch where it is below the median of "
    "the other trials at that epoch.",
    "asha": "Successive halving: at 1, 3, 9... epochs (by default) only the top third of "
    "the trials that got there go on.",
}


@dataclass(frozen=True)
class Pruning:
    """Which pruner a study uses, and its settings."""

    kind: str = "none"
    #: median: trials that must have reached an epoch before it prunes there.
    warmup_trials: int = 4
    #: median: epochs every trial trains before it can be pruned.
    warmup_epochs: int = 1
    #: asha: the first rung, in epochs.
    min_epochs: int = 1
    #: asha: the share that goes on at each rung is 1 / reduction_factor.
    reduction_factor: int = 3

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"pruner must be one of {KINDS}, got {self.kind!r}")
        for name, low in (
            ("warmup_trials", 1),
            ("warmup_epochs", 0),
            ("min_epochs", 1),
            ("reduction_factor", 2),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Pruning:
        return cls(**dict(data or {}))

    def should_prune(self, curve: Sequence[float], others: Sequence[Sequence[float]]) -> bool:
        """Whether to stop a trial whose validation accuracy after each epoch so far is
        ``curve``, given the other trials' curves."""
        if self.kind == "median":
            return median_prunes(curve, others, self.warmup_trials, self.warmup_epochs)
        if self.kind == "asha":
            return asha_prunes(curve, others, self.min_epochs, self.reduction_factor)
        return False


def _at(curves: Sequence[Sequence[float]], epoch: int) -> list[float]:
    """The finite accuracies of the curves that reached ``epoch`` (1-based)."""
    values = (c[epoch - 1] for c in curves if len(c) >= epoch)
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def median_prunes(
    curve: Sequence[float],
    others: Sequence[Sequence[float]],
    warmup_trials: int,
    warmup_epochs: int,
) -> bool:
    epoch = len(curve)
    if epoch <= warmup_epochs or not curve:
        return False
    peers = _at(others, epoch)
    if len(peers) < warmup_trials:
        return False
    return float(curve[-1]) < float(np.median(peers))


def rungs(min_epochs: int, reduction_factor: int, epochs: int) -> list[int]:
    """The epochs at which ASHA decides, below a budget of ``epochs``."""
    out, rung = [], min_epochs
    while rung < epochs:
        out.append(rung)
        rung *= reduction_factor
    return out


def asha_prunes(
    curve: Sequence[float],
    others: Sequence[Sequence[float]],
    min_epochs: int,
    reduction_factor: int,
) -> bool:
    epoch = len(curve)
    if not curve or epoch < min_epochs:
        return False
    step = math.log(epoch / min_epochs, reduction_factor)
    if abs(step - round(step)) > 1e-9:  # not a rung
        return False
    values = [*_at(others, epoch), float(curve[-1])]
    keep = max(1, len(values) // reduction_factor)
    threshold = sorted(values, reverse=True)[keep - 1]
    return float(curve[-1]) < threshold
