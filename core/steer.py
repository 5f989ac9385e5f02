"""A person's hand on the search: a point to try next, a result trained elsewhere, and a
warm start from an earlier study's trials.

A point or a result goes into the study's queue in the store (:meth:`Store.enqueue`),
which the process that runs the study takes from before each trial: so it reaches a study
run by the dashboard, by the command line or by another dashboard alike. A result told to
a study that nothing runs is stored at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from core import explain
from core.objective import Objective
from core.space import SearchSpace, show
from core.status import TrialOrigin, TrialStatus
from core.store import Store
from core.study import Study, StudyConfig, Trial


def _study_for(store: Store, name: str, values: Mapping[str, Any]) -> tuple[Study, dict]:
    study = store.load(name)
    return study, study.config.space.point(values)


def try_next(store: Store, name: str, values: Mapping[str, Any]) -> str:
    """Queue ``values`` as the study's next trial ("try here next"); ValueError when the
    point lies outside the study's space or the study has no trials left to train it.
    Returns a sentence for the person."""
    study, point = _study_for(store, name, values)
    waiting = sum(1 for q in store.queued(name) if q.value is None)
    training = sum(1 for t in study.trials if t.status == TrialStatus.RUNNING)
    if study.display_status.active:
        waiting += training  # trials started already take their places in the total
    if study.remaining - waiting <= 0:
        raise ValueError(
            f"study {name!r} has no trial left to train this point (its {study.config.total} "
            "are done, training or already chosen): start a new study from its trials (warm "
            "start) to try more"
        )
    count = store.enqueue(name, point)
    when = "next" if study.display_status.active else "when the study is resumed"
    return f"queued ({count} waiting): it trains {when}, marked 'chosen by you'"


def tell_result(store: Store, name: str, values: Mapping[str, Any], value: float) -> str:
    """Tell the study a result trained elsewhere: stored as its own kind of trial, told to
    the GP and not counted in the study's total. ValueError for a point outside the space
    or an accuracy outside [0, 1]. Returns a sentence for the person."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"the accuracy must be a number between 0 and 1, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"the accuracy must lie between 0 and 1, got {value:g}")
    study, point = _study_for(store, name, values)
    if study.display_status.active:  # its runner takes it from the queue and tells it
        store.enqueue(name, point, float(value))
        return "queued: the study running tells it to the GP before its next trial"
    number = max((t.number for t in study.trials), default=0) + 1
    store.add_results(name, [told_trial(number, point, float(value))])
    return f"stored as trial {number}, added by you: the GP is told it (it counts no budget)"


def told_trial(
    number: int, params: Mapping[str, Any], value: float, objective: Objective | None = None
) -> Trial:
    """A result a person typed in (the value of the study's ``objective``), as a finished
    trial of the study."""
    metric = (objective or Objective()).metric
    return Trial(number, dict(params), TrialStatus.COMPLETE, value=value, finished_at=time.time(),
                 seconds=0.0, origin=TrialOrigin.TOLD, metrics={metric: value})  # fmt: skip


def warm_start_trials(source: Study, space: SearchSpace) -> tuple[list[Trial], str]:
    """The finished trials of ``source`` that lie in ``space``, numbered from 1 as a new
    study's inherited trials, and a sentence saying how many were kept. ValueError when the
    two studies tune different parameters."""
    theirs, ours = source.config.space.names, space.names
    if sorted(theirs) != sorted(ours):
        raise ValueError(
            f"study {source.name!r} tunes {theirs}, this one {ours}: a warm start needs the "
            "same parameters"
        )
    kept: list[Trial] = []
    outside = 0
    for t in source.finished_trials:
        try:
            params = space.point(t.params)
        except ValueError:
            outside += 1
            continue
        kept.append(
            replace(t, number=len(kept) + 1, params=params, origin=TrialOrigin.INHERITED,
                    regret_bound=None, noise_std=None)
        )  # fmt: skip
    note = f"starts from {_trials(len(kept))} of {source.name!r}"
    if outside:
        note += f"; it leaves out {_trials(outside)} outside these bounds"
    return kept, note


def inherited(store: Store, config: StudyConfig) -> tuple[list[Trial], str | None]:
    """The trials a new study ``config`` inherits (none without a warm start), and the
    sentence saying so; ValueError names a missing source study or different parameters."""
    if not config.warm_start:
        return [], None
    if config.warm_start not in store.names():
        raise ValueError(f"warm start: no study named {config.warm_start!r} to start from")
    source = store.load(config.warm_start)
    trials, note = warm_start_trials(source, config.space)
    theirs = source.config
    if trials and not config.same_split(theirs):
        note += (
            f"; they were scored on {Path(theirs.dataset).name}'s {theirs.split}, this study "
            f"on {Path(config.dataset).name}'s {config.split}: the GP mixes two yardsticks"
        )
    return trials, note


def _trials(n: int) -> str:
    return f"{n} trial" + ("" if n == 1 else "s")


def expected_at(study: Study, point: Mapping[str, Any]) -> str:
    """What the study's GP expects at ``point`` (mean ± std and its acquisition), beside
    the same at the GP's own next point: a person's word before they commit a trial.
    ValueError names a point outside the space; a study without a GP says so."""
    from core.optimizer import BayesStrategy
    from core.replay import told_strategy

    point = study.config.space.point(point)
    strategy = told_strategy(study)
    if not isinstance(strategy, BayesStrategy) or not strategy.observations:
        return "The GP has no word yet: it appears after the first finished trial."
    mean, std, acq = explain.expected_at(strategy, point)
    theirs = strategy.ask()
    their_mean, their_std, their_acq = explain.expected_at(strategy, theirs)
    label = strategy.search.acquisition.upper()
    return (
        f"The GP expects {mean:.4f} ± {std:.4f} here ({label} {acq:.3g}); at its own next "
        f"point ({', '.join(f'{k} = {show(v)}' for k, v in theirs.items())}) it expects "
        f"{their_mean:.4f} ± {their_std:.4f} ({label} {their_acq:.3g})."
    )
