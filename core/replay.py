"""A study's optimizer rebuilt from its stored trials: to resume it, export it, or replay it.

Each strategy is a pure function of its seed and of the history it was told, so the
strategy rebuilt here asks for exactly the points the study's own would have asked for.
"""

from __future__ import annotations

from typing import Any

from core import explain
from core.objective import Objective
from core.optimizer import Strategy, make_strategy
from core.study import Study, Trial
from core.views import Recommendation, Surrogate


def tell(strategy: Strategy, trial: Trial, objective: Objective | None = None) -> None:
    """Tell ``strategy`` one finished trial as the study's ``objective`` has it
    (:meth:`Objective.told`): a failure as None (the GP's penalty), a pruned one as
    partial, with its learning curve (projected to the whole budget by a GP)."""
    value, curve, partial = (objective or Objective()).told(
        trial.status, trial.value, trial.history
    )
    strategy.tell(trial.params, value, curve=curve, partial=partial)


def told_strategy(study: Study, upto: int | None = None) -> Strategy:
    """The study's optimizer, told its first ``upto`` finished trials (all by default)."""
    strategy = make_strategy(study.config, study.val_samples)
    for trial in study.finished_trials[:upto]:
        tell(strategy, trial, study.config.objective)
    return strategy


def recommendation(study: Study) -> tuple[Trial, Recommendation] | None:
    """The trial the study hands over as its best, and the optimizer's word on it: for a
    GP-guided study the complete trial with the highest posterior mean, else the best
    observed (None before any complete trial)."""
    rec = explain.recommend(told_strategy(study))
    if rec is None:
        return None
    return study.finished_trials[rec.index], rec


def surrogate_after(
    study: Study, k: int, resolution: int = 40, axes: tuple[str, str] | None = None
) -> Surrogate | None:
    """The surrogate as it was right after the study's k-th finished trial (the replay),
    over ``axes`` (the first two parameters by default)."""
    return explain.surrogate(told_strategy(study, k), resolution, axes)


def replay_steps(
    study: Study, resolution: int = 40, axes: tuple[str, str] | None = None
) -> list[Surrogate | None]:
    """The surrogate after each of the study's finished trials, first to last."""
    return [
        surrogate_after(study, k, resolution, axes)
        for k in range(1, len(study.finished_trials) + 1)
    ]


def explained(study: Study, what: str, k: int | None = None) -> Any:
    """What :mod:`core.explain`'s function ``what`` (``"importance"``, ``"calibration"``,
    ``"convergence"``...) says of the study's optimizer after its first ``k`` finished
    trials (all by default). A chart of something the GP knows reads it through here."""
    if what not in explain.EXPLANATIONS:
        raise ValueError(
            f"core.explain has no explanation {what!r}: ask one of {explain.EXPLANATIONS}"
        )
    return getattr(explain, what)(told_strategy(study, k))
