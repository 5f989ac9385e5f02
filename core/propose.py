"""Proposing the next point from a fitted GP: the acquisition's maximum, made a deliberate
repeat of a tried point when it lands that close, and, with trials still running, the
Kriging believer that keeps away from them.

Every function here reads a :class:`~core.fit.FittedGP` (or fits one through
:func:`core.fit.fit`); none keeps state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.acquisition import Acquisition
from core.fit import FittedGP, History, Observation, fit
from core.space import SearchSpace

#: An asynchronous proposal keeps at least this far (unit-cube distance) from running trials.
PENDING_RADIUS = 0.05
#: A guided proposal closer than this (unit-cube distance) to a tried point is that point:
#: it is proposed as a deliberate repeat of it, a second measurement where the acquisition
#: judged one worth more than any new point, and the charts say so.
REPEAT_RADIUS = 0.02
#: A proposal is made a repeat only where one value's fitted noise std is at least this
#: share of the spread of the values told (:func:`noisy`).
REPEAT_NOISE = 0.01


def acquisition_for(space: SearchSpace, search: Mapping[str, Any]) -> Acquisition:
    """The acquisition the settings name, with what its search needs of the space: which
    unit-cube coordinates are floats, and each int's or category's coordinates with every
    value's encoding."""
    continuous = np.zeros(space.width, bool)
    discrete = []
    for p in space.params:
        columns = space.slice_of(p.name)
        continuous[columns] = not p.discrete
        if p.discrete:
            discrete.append((columns, np.array([p.encode(v) for v in p.levels])))
    return Acquisition(
        search["acquisition"], kappa=search["kappa"], xi=search["xi"], continuous=continuous,
        discrete=tuple(discrete),
    )  # fmt: skip


def acquisition_at(fitted: FittedGP, acquisition: Acquisition, units: np.ndarray) -> np.ndarray:
    """The acquisition's value at unit-cube ``units`` (n x width), higher is better."""
    mean, std = fitted.gp.predict(units, return_std=True)
    if hasattr(acquisition, "y_max"):  # EI and PI measure improvement over the best target
        acquisition.y_max = float(np.max(fitted.space.target))
    return acquisition.base_acq(mean, std)


def noisy(fitted: FittedGP) -> bool:
    """Whether a second measurement of a point says something: one value's noise (as
    fitted) at least :data:`REPEAT_NOISE` of the spread of the values told. Of a nearly
    exact objective a repeat learns nothing, and a step shorter than :data:`REPEAT_RADIUS`
    is how its best point is refined."""
    values = fitted.space.target
    if len(values) < 2:
        return True
    return fitted.noise_std >= REPEAT_NOISE * float(np.std(values))


def as_repeat(history: History, unit: np.ndarray) -> np.ndarray:
    """``unit``, or the tried point within :data:`REPEAT_RADIUS` of it: a proposal that
    close is a repeat in all but name, so it is made one on purpose."""
    tried = [np.asarray(o.unit) for o in history.observations if not o.failed]
    if not tried:
        return unit
    distances = [float(np.linalg.norm(unit - t)) for t in tried]
    nearest = int(np.argmin(distances))
    return history.space.snap(tried[nearest]) if distances[nearest] < REPEAT_RADIUS else unit


def suggest(history: History, fitted: FittedGP, acquisition: Acquisition) -> np.ndarray:
    """The acquisition's maximum over the space (snapped), made a repeat where it lands on
    a tried point (:func:`as_repeat`) and a repeat says something (:func:`noisy`)."""
    x = acquisition.suggest(
        gp=fitted.gp,
        target_space=fitted.space,
        fit_gp=False,
        random_state=fitted.random_state(),
    )
    space = history.space
    suggestion = fitted.space.array_to_params(np.asarray(x))
    unit = space.snap(np.array([float(suggestion[name]) for name in space.columns]))
    return as_repeat(history, unit) if noisy(fitted) else unit


def believer(
    history: History,
    fitted: FittedGP,
    acquisition: Acquisition,
    pending: Sequence[np.ndarray],
    *,
    search: Mapping[str, Any],
    seed: int,
    index: int,
) -> np.ndarray:
    """A Kriging believer: each pending point is told to a copy of the GP (its
    hyperparameters kept, as fitted to the real results) as the value that GP predicts
    there, so its uncertainty there collapses and the acquisition looks elsewhere, while
    the fit stays consistent with the data (a constant lie such as the worst or the best
    value seen contradicts the neighbouring results and inflates the fitted noise). Should
    the suggestion still land within :data:`PENDING_RADIUS` of a pending point, the next of
    a few random candidates far enough from all of them is taken instead."""
    believed = fitted.gp.predict(np.asarray(pending))
    lies = tuple(
        Observation(tuple(float(u) for u in unit), float(value))
        for unit, value in zip(pending, believed, strict=True)
    )
    told = History(history.space, (*history.observations, *lies), history.binomial_n)
    # the lies condition the GP, they fit nothing
    conditioned = fit(told, search, seed=seed, index=index, kernel=fitted.gp.kernel_)
    unit = suggest(told, conditioned, acquisition)
    rng = np.random.default_rng([seed, index])
    space = history.space
    for _ in range(100):
        if min(float(np.linalg.norm(unit - q)) for q in pending) >= PENDING_RADIUS:
            return unit
        unit = space.snap(rng.random(space.width))
    return unit
