"""A GP fitted to a history of observations, as a value: :func:`fit` is a pure function of
the space, the history, the optimizer's settings and the fit's index.

What the GP is told of a history (:func:`weighted_targets`): repeats averaged, a failure as
the worst value seen, a pruned trial at its value projected to the whole budget. Proposing
(:mod:`core.propose`) and explaining (:mod:`core.explain`) read the :class:`FittedGP` this
returns; nothing here chooses a point or draws one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bayes_opt import TargetSpace
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel

from core.gp import (
    AMPLITUDE_BOUNDS,
    LENGTH_SCALE_BOUNDS,
    NOISE_BOUNDS,
    LatentGP,
    Priors,
    heavy_tail_variance,
    project_partial,
    rescaled,
    signal_prior,
    standard_scale,
)
from core.space import SearchSpace


def fit_restarts(told: int) -> int:
    """Random restarts of the GP's hyperparameter fit on ``told`` values: 5 up to 50, 1 up
    to 100, none beyond. Few values leave the likelihood with several modes (noise or
    signal); many pin it down, while each restart costs a Cholesky of the whole history
    per step, which is most of an ask's time at 200 trials (docs/BENCHMARKS.md, section 3:
    seconds per suggestion)."""
    return 5 if told <= 50 else 1 if told <= 100 else 0


@dataclass(frozen=True)
class Observation:
    """One told trial: where it was (unit cube), its value, and whether it failed.

    ``curve`` is its value after each epoch, where known. A ``partial`` trial was stopped
    before its budget (pruned): ``value`` is its last epoch's, a lower fidelity than a
    complete trial's, which the fit projects to the whole budget (:func:`project_partial`)
    instead of taking it as final.
    """

    unit: tuple[float, ...]
    value: float | None
    curve: tuple[float, ...] = ()
    partial: bool = False

    @property
    def failed(self) -> bool:
        return self.value is None

    @property
    def complete(self) -> bool:
        return not self.failed and not self.partial


@dataclass(frozen=True)
class History:
    """What a GP is fitted to: a space, the observations told in it, and what the values
    are (``binomial_n``: a share of that many samples, a validation accuracy, which floors
    one value's noise; None: any number)."""

    space: SearchSpace
    observations: tuple[Observation, ...]
    binomial_n: int | None = None

    def key(self, unit: Sequence[float]) -> tuple[float, ...]:
        """A point's place as the GP sees it: snapped, to twelve decimals (repeats merge)."""
        return tuple(round(float(u), 12) for u in self.space.snap(np.asarray(unit)))

    def weighted_targets(self) -> list[tuple[tuple[float, ...], float, float]]:
        """What the GP is fitted on, each with the variance its value carries beyond one
        observation's noise: 0 for a complete trial or a failure (told as
        :func:`failure_penalty`), the projection's for a pruned one; repeats averaged."""
        complete = [o.curve for o in self.observations if o.complete and o.curve]
        seen = [o.value for o in self.observations if not o.failed]
        spread = float(np.std(seen)) if len(seen) > 1 else 0.05
        told: list[tuple[Observation, float, float]] = []
        for o in self.observations:
            if o.partial:
                value, extra = project_partial(o.curve or (o.value,), complete, spread)
                told.append((o, value, extra))
            elif not o.failed:
                told.append((o, float(o.value), 0.0))
        penalty = failure_penalty([v for _, v, _ in told])
        told += [(o, penalty, 0.0) for o in self.observations if o.failed]
        merged: dict[tuple[float, ...], list[tuple[float, float]]] = {}
        for o, value, extra in told:
            merged.setdefault(self.key(o.unit), []).append((value, extra))
        return [
            (k, float(np.mean([v for v, _ in vs])), float(np.mean([e for _, e in vs])) / len(vs))
            for k, vs in merged.items()
        ]

    def noise_floor(self) -> float | None:
        """The least noise std one value can carry, in the objective's units: the binomial
        standard error of an accuracy over ``binomial_n`` samples at the best complete
        value (where p (1 - p) is smallest); None when ``binomial_n`` is not known."""
        values = [o.value for o in self.observations if o.complete]
        if self.binomial_n is None or not values:
            return None
        p = min(max(max(values), 0.0), 1.0)
        return math.sqrt(max(p * (1 - p), 0.25 / self.binomial_n) / self.binomial_n)


def failure_penalty(values: list[float]) -> float:
    """The value a failed trial is told as: the worst value seen (0.0 before any). The
    optimizer maximises what it is told (a minimised objective is told negated:
    :meth:`core.objective.Objective.told`), so the worst is the least for either
    direction."""
    return min(values) if values else 0.0


@dataclass(frozen=True)
class FittedGP:
    """The GP fitted to a history, with what proposing from it needs: the values told (in
    bayes_opt's target space, the acquisition's protocol) and the random state the fit
    left, from which every use draws the same suggestion."""

    gp: LatentGP
    space: TargetSpace
    state: tuple

    def random_state(self) -> np.random.RandomState:
        """A fresh generator in the state the fit left: the same suggestion however often
        the fitted GP is used (the surrogate, the convergence check, then the ask)."""
        random_state = np.random.RandomState()
        random_state.set_state(self.state)
        return random_state

    @property
    def noise_std(self) -> float:
        return self.gp.observation_noise_std


def base_kernel(width: int, search: Mapping[str, Any]) -> Kernel:
    """The GP's kernel before fitting: Matern 5/2, plus amplitude and noise if fitted
    (``search["noise"]`` None), its length scales fitted unless ``length_scale`` fixes them."""
    length_scale = search.get("length_scale")
    if length_scale is None:  # fitted, per parameter, within bounds
        kernel = Matern(nu=2.5, length_scale=[0.3] * width, length_scale_bounds=LENGTH_SCALE_BOUNDS)
    else:
        kernel = Matern(nu=2.5, length_scale=length_scale, length_scale_bounds="fixed")
    if search.get("noise") is None:  # amplitude and noise fitted with the length scales
        kernel = ConstantKernel(1.0, AMPLITUDE_BOUNDS) * kernel + WhiteKernel(1e-2, NOISE_BOUNDS)
    return kernel


def has_signal_prior(history: History, search: Mapping[str, Any]) -> bool:
    """Whether the picture's fit puts :func:`signal_prior` on the amplitude: a fitted GP of
    an accuracy (``binomial_n`` known)."""
    return search.get("noise") is None and history.binomial_n is not None


def _kernel_for(history: History, search: Mapping[str, Any], scale: float) -> Kernel:
    """:func:`base_kernel`, its noise bounded below by :meth:`History.noise_floor` in the
    units of the standardised values the GP is fitted on (``scale``: their std). For an
    accuracy the amplitude's bounds span signal stds of 1e-4 to 1 in accuracy units as
    well, which a few close values standardised by their own small spread would cut off."""
    kernel = base_kernel(history.space.width, search)
    floor = history.noise_floor()
    if search.get("noise") is not None or floor is None:
        return kernel
    low = max(floor**2 / scale**2, NOISE_BOUNDS[0])
    high = max(NOISE_BOUNDS[1], 10 * low)
    matern = kernel.k1.k2
    bounds = (min(AMPLITUDE_BOUNDS[0], (1e-4 / scale) ** 2),
              max(AMPLITUDE_BOUNDS[1], (1.0 / scale) ** 2))  # fmt: skip
    signal = ConstantKernel(math.exp(signal_prior(scale)[0]), bounds)
    return signal * matern + WhiteKernel(max(1e-2, 2 * low), (low, high))


def fit(
    history: History,
    search: Mapping[str, Any],
    *,
    seed: int,
    index: int,
    kernel: Kernel | None = None,
    signal: bool = False,
) -> FittedGP:
    """The GP on ``history``: its hyperparameters fitted (with restarts, from the random
    state of ``seed`` and the ``index``-th ask), or, with ``kernel``, that kernel kept as it
    is and the GP conditioned on the history. ``signal``: the amplitude's prior for an
    accuracy (the picture's fit: :meth:`core.optimizer.BayesStrategy.picture`).

    For an accuracy, a value that the GP fitted without it finds more than
    :data:`~core.gp.OUTLIER_Z` of its stds off is weighed as a Student-t draw
    (:func:`heavy_tail_variance`): one unstable training run does not bend the map.
    """
    random_state = np.random.RandomState([seed, index])
    columns = history.space.columns
    space = TargetSpace(None, {name: (0.0, 1.0) for name in columns}, allow_duplicate_points=True)
    targets = history.weighted_targets()
    for unit, value, _ in targets:
        space.register(dict(zip(columns, unit, strict=True)), value)
    gp = _gp_on(history, search, targets, kernel, signal, random_state)
    if has_signal_prior(history, search) and kernel is None and len(targets) >= 4:
        failed = {history.key(o.unit) for o in history.observations if o.failed}
        exempt = [history.key(unit) in failed for unit, _, _ in targets]
        extra = heavy_tail_variance(
            gp,
            exempt,
            lambda i: _gp_on(
                history, search, targets[:i] + targets[i + 1 :], None, signal, random_state
            ),  # fmt: skip
        )
        if extra is not None:  # told with its weight, on the others' hyperparameters
            i, variance, other = extra
            unit, value, before = targets[i]
            targets = [*targets[:i], (unit, value, before + variance), *targets[i + 1 :]]
            factor = (other.y_scale_ / standard_scale([v for _, v, _ in targets])) ** 2
            gp = _gp_on(
                history, search, targets, rescaled(other.kernel_, factor), signal, random_state
            )
    return FittedGP(gp, space, random_state.get_state())


def _gp_on(
    history: History,
    search: Mapping[str, Any],
    targets: list[tuple[tuple[float, ...], float, float]],
    kernel: Kernel | None,
    signal: bool,
    random_state: np.random.RandomState,
) -> LatentGP:
    """The project's GP on ``targets`` (where, value, extra variance in the objective's
    units): its hyperparameters fitted, or ``kernel`` kept as it is."""
    values = [v for _, v, _ in targets]
    scale = standard_scale(values)
    noise = search.get("noise")
    base = 1e-6 if noise is None else noise
    # a pruned trial's projection adds its own variance (standardised, as sklearn's
    # alpha is) to the one observation's noise that every trial carries
    extras = np.array([extra for _, _, extra in targets])
    alpha = base + extras / scale**2 if np.any(extras > 0) else base
    if kernel is None:
        kernel = _kernel_for(history, search, scale)
        prior = signal_prior(scale) if signal and has_signal_prior(history, search) else None
        optimizer, restarts = Priors.for_kernel(kernel, prior), fit_restarts(len(targets))
    else:
        optimizer, restarts = None, 0
    gp = LatentGP(
        kernel=kernel,
        alpha=alpha,
        normalize_y=True,
        n_restarts_optimizer=restarts,
        random_state=random_state,
        optimizer=optimizer,
    )
    space = history.space
    gp.transform = None if space.continuous else space.snap
    if targets:
        gp.fit(np.array([u for u, _, _ in targets]), np.array(values))  # warnings: core.gp
    return gp
