"""Optimizers behind one ask/tell protocol: Bayesian (bayes_opt), random and grid.

Every strategy works in the unit cube of its :class:`~core.space.SearchSpace` and
speaks real-space values to its callers. Each strategy is a pure function of its
seed and of the history it was told, so a study resumed from its stored trials
asks for exactly the points an uninterrupted run would have asked for. (With parallel
trials, whose order of ends is the clock's anyway, the GP's hyperparameters are refitted
in the background: :meth:`BayesStrategy.refit_in_background`.)

The optimizer knows nothing about Keras: it sees parameter dicts and numbers.
"""

from __future__ import annotations

import abc
import copy
import functools
import itertools
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from bayes_opt import TargetSpace
from sklearn.gaussian_process.kernels import (
    ConstantKernel,
    Kernel,
    Matern,
    WhiteKernel,
)

from core.acquisition import Acquisition
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
from core.options import (
    ACQUISITIONS,
    DEFAULT_ACQUISITION,
    DEFAULT_KAPPA,
    DEFAULT_NOISE,
    DEFAULT_XI,
    KINDS,
    default_init_points,
)
from core.space import SearchSpace, Value
from core.views import Calibration, Convergence, Importance, Recommendation, Surrogate

#: An asynchronous proposal keeps at least this far (unit-cube distance) from running trials.
PENDING_RADIUS = 0.05
#: Standard deviations either side in the regret bound of :meth:`BayesStrategy.convergence`.
CONVERGENCE_BETA = 2.0
#: A guided proposal closer than this (unit-cube distance) to a tried point is that point:
#: it is proposed as a deliberate repeat of it, a second measurement where the acquisition
#: judged one worth more than any new point, and the charts say so.
REPEAT_RADIUS = 0.02
#: A proposal is made a repeat only where one value's fitted noise std is at least this
#: share of the spread of the values told (:meth:`BayesStrategy._noisy`).
REPEAT_NOISE = 0.01


def fit_restarts(told: int) -> int:
    """Random restarts of the GP's hyperparameter fit on ``told`` values: 5 up to 50, 1 up
    to 100, none beyond. Few values leave the likelihood with several modes (noise or
    signal); many pin it down, while each restart costs a Cholesky of the whole history
    per step, which is most of an ask's time at 200 trials (docs/BENCHMARKS.md, section 3:
    seconds per suggestion)."""
    return 5 if told <= 50 else 1 if told <= 100 else 0


@dataclass(frozen=True)
class FittedGP:
    """The project's GP fitted to a strategy's history, with what proposed points from it."""

    gp: LatentGP
    space: TargetSpace
    acquisition: Acquisition
    random_state: np.random.RandomState


@dataclass(frozen=True)
class Observation:
    """One told trial: where it was (unit cube), its value, and whether it failed.

    ``curve`` is its value after each epoch, where known. A ``partial`` trial was stopped
    before its budget (pruned): ``value`` is its last epoch's, a lower fidelity than a
    complete trial's, which a GP strategy projects to the whole budget
    (:func:`project_partial`) instead of taking it as final.
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


def failure_penalty(values: list[float]) -> float:
    """The value a failed trial is told as: the worst value seen (0.0 before any)."""
    return min(values) if values else 0.0


class Strategy(abc.ABC):
    """The ask/tell protocol shared by every optimizer."""

    kind = "base"

    def __init__(self, space: SearchSpace, *, seed: int = 1) -> None:
        self.space = space
        self.seed = int(seed)
        #: the last ask's answer, by (values told, pending points): the chart's next point
        #: and the ask that follows it are one computation
        self._asked: tuple[tuple, dict[str, Value]] | None = None
        self.observations: list[Observation] = []

    # -- protocol ---------------------------------------------------------
    def ask(self, pending: Sequence[Mapping[str, Value]] = ()) -> dict[str, Value]:
        """The next point to evaluate, in real-space values.

        ``pending``: the points of trials still running, whose values are not known yet.
        The ask is the ``len(observations) + len(pending)``-th, so two asks in a row hand out
        two different points; a GP strategy also keeps away from the pending points. With
        integer or categorical parameters, a point already tried or running is not handed
        out again while untried ones are left (:meth:`_untried`).
        """
        key = (len(self.observations), tuple(tuple(sorted(p.items())) for p in pending))
        if self._asked is not None and self._asked[0] == key:
            return dict(self._asked[1])
        index = len(self.observations) + len(pending)
        if not pending:
            unit = self._next_unit(index)
        else:
            units = [np.asarray(self.space.to_unit(p), dtype=float) for p in pending]
            unit = self._next_unit_pending(index, units)
        point = self.space.from_unit(self._untried(unit, index, pending))
        self._asked = (key, dict(point))
        return point

    def _untried(
        self, unit: np.ndarray, index: int, pending: Sequence[Mapping[str, Value]]
    ) -> np.ndarray:
        """``unit``, or, if its values were tried or are running, the best untried candidate.

        Only a space with a discrete parameter can propose the same values twice (two
        floats never coincide). Once every point of a fully discrete space was tried, a
        repeat is all there is."""
        if all(p.kind == "float" for p in self.space.params):
            return unit
        key = self.space.key
        taken = {key(self.space.from_unit(o.unit)) for o in self.observations}
        taken |= {key(p) for p in pending}
        if key(self.space.from_unit(unit)) not in taken or len(taken) >= self.space.size:
            return unit
        if self.space.size <= 4096:  # small enough to list: every point, in a random order
            every = itertools.product(*(p.levels for p in self.space.params))
            points = [dict(zip(self.space.names, v, strict=True)) for v in every]
            order = self._rng(index).permutation(len(points))
            candidates = np.array([self.space.to_unit(points[i]) for i in order])
        else:
            candidates = self.space.snap(self._rng(index).random((2048, self.space.width)))
        fresh = [c for c in candidates if key(self.space.from_unit(c)) not in taken]
        return self._preferred(np.asarray(fresh), index) if fresh else unit

    def _preferred(self, candidates: np.ndarray, index: int) -> np.ndarray:
        """The candidate this strategy would rather try (a model-free one: the first)."""
        return candidates[0]

    def _next_unit_pending(self, index: int, pending: list[np.ndarray]) -> np.ndarray:
        """The ``index``-th point while ``pending`` points are still being evaluated."""
        return self._next_unit(index)

    def tell(
        self,
        params: Mapping[str, Value],
        value: float | None,
        *,
        curve: Sequence[float] = (),
        partial: bool = False,
    ) -> None:
        """Record a result; ``None`` (or a non-finite value) marks a failed trial.

        ``curve``: the value after each epoch, where known; ``partial``: the trial was
        stopped before its budget (pruned), so ``value`` is not its final one."""
        if value is not None and not math.isfinite(float(value)):
            value = None
        unit = tuple(float(u) for u in self.space.to_unit(params))
        finite = tuple(float(v) for v in curve if v is not None and math.isfinite(float(v)))
        self.observations.append(
            Observation(
                unit,
                None if value is None else float(value),
                finite if len(finite) == len(curve) else (),
                bool(partial) and value is not None,
            )
        )

    @property
    def best(self) -> tuple[dict[str, Value], float] | None:
        """The best complete point and its value, or None before any (a pruned trial's
        value is partial: never the best)."""
        done = [o for o in self.observations if o.complete]
        if not done:
            return None
        top = max(done, key=lambda o: o.value)
        return self.space.from_unit(top.unit), float(top.value)

    def recommend(self) -> Recommendation | None:
        """The trial to hand over: for a model-free strategy the best observed one."""
        done = [(i, o) for i, o in enumerate(self.observations) if o.complete]
        if not done:
            return None
        index, top = max(done, key=lambda p: (p[1].value, -p[0]))
        return Recommendation(
            index, self.space.from_unit(top.unit), float(top.value), None, None, "best observed"
        )

    def surrogate(
        self,
        resolution: int = 40,
        axes: tuple[str, str] | None = None,
        pending: Sequence[Mapping[str, Value]] = (),
    ) -> Surrogate | None:
        """The GP surrogate over two parameters (the first two by default), the others held
        at the best trial's values; None for model-free strategies. Its next point is what
        :meth:`ask` hands out with ``pending`` still running: the next trial."""
        return None

    def importance(self) -> Importance | None:
        """Each parameter's share of the GP mean's main effects; None without a GP."""
        return None

    def calibration(self) -> Calibration | None:
        """Each complete trial's leave-one-out prediction against its value; None without
        a GP."""
        return None

    def convergence(self) -> Convergence | None:
        """How much more the search could gain, against the noise; None without a GP."""
        return None

    def is_guided(self, pending: int = 0) -> bool:
        """Whether the next ask, with ``pending`` trials still running, is GP-guided."""
        return False

    def frozen(self) -> Strategy:
        """A copy that later tells to this strategy do not reach: what another thread may
        compute a chart of this moment from while the study goes on."""
        out = copy.copy(self)
        out.observations = list(self.observations)
        return out

    # -- helpers -----------------------------------------------------------
    def refit_in_background(self) -> Refits | None:
        """Fit the model off the asking thread, where the strategy has one (None: it has no
        model to fit, or fits nothing worth moving)."""
        return None

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, index])

    def _random_unit(self, index: int) -> np.ndarray:
        return self._rng(index).random(self.space.width)

    @abc.abstractmethod
    def _next_unit(self, index: int) -> np.ndarray:
        """The unit-cube point of the ``index``-th ask, given the history told so far."""


class RandomStrategy(Strategy):
    """Uniform random points in the unit cube (so log parameters are log-uniform)."""

    kind = "random"

    def _next_unit(self, index: int) -> np.ndarray:
        return self._random_unit(index)


class GridStrategy(Strategy):
    """A regular grid over the unit cube, its size the nearest square (cube, ...) to the budget.

    Points beyond the grid, if the budget asks for more, are random.
    """

    kind = "grid"

    def __init__(self, space: SearchSpace, *, seed: int = 1, budget: int = 9) -> None:
        super().__init__(space, seed=seed)
        side = max(1, round(budget ** (1.0 / space.width)))
        axes = [np.linspace(0.0, 1.0, side) if side > 1 else np.array([0.5])] * space.width
        mesh = np.meshgrid(*axes, indexing="ij")
        self.points = np.stack([m.ravel() for m in mesh], axis=1)

    def _next_unit(self, index: int) -> np.ndarray:
        if index < len(self.points):
            return self.points[index]
        return self._random_unit(index)


class BayesStrategy(Strategy):
    """Bayesian optimization with bayes_opt's GP, through ``suggest`` and ``register``.

    The first ``init_points`` points are random; after that each point maximises
    the acquisition function. A failed trial is told to the GP as the worst value
    seen so far, so the GP learns to avoid its region; it is never NaN.
    """

    kind = "bayes"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 1,
        init_points: int = 5,
        acquisition: str = DEFAULT_ACQUISITION,
        kappa: float = DEFAULT_KAPPA,
        xi: float = DEFAULT_XI,
        noise: float | None = DEFAULT_NOISE,
        length_scale: float | None = None,
        binomial_n: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        if binomial_n is not None and not (isinstance(binomial_n, int) and binomial_n > 0):
            raise ValueError(f"binomial_n must be an integer > 0 or None, got {binomial_n!r}")
        #: the objective is a share of this many samples (a validation accuracy over n
        #: images): one value's noise is at least sqrt(p (1 - p) / n) (:meth:`noise_floor`)
        self.binomial_n = binomial_n
        if length_scale is not None and not (math.isfinite(length_scale) and length_scale > 0):
            raise ValueError(f"length_scale must be a number > 0 or None, got {length_scale!r}")
        self.length_scale = length_scale
        if acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {ACQUISITIONS}, got {acquisition!r}")
        if not (isinstance(init_points, int) and init_points >= 0):
            raise ValueError(f"init_points must be an integer >= 0, got {init_points!r}")
        for name, value in (("kappa", kappa), ("xi", xi)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if noise is not None and not (math.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be None (fitted) or a finite number >= 0, got {noise!r}")
        self.init_points = init_points
        self._fitted: tuple[tuple[int, int], LatentGP, TargetSpace, tuple] | None = None
        #: the kernel a fit keeps as it is (conditioning only): the Kriging believer's
        self._fixed_kernel: Kernel | None = None
        #: hyperparameters refitted in the background (:meth:`refit_in_background`)
        self._refits: Refits | None = None
        #: the picture's GP for a history of this many values (:meth:`picture`)
        self._picture: tuple[int, LatentGP] | None = None
        self.acquisition = acquisition
        self.kappa = float(kappa)
        self.xi = float(xi)
        self.noise = None if noise is None else float(noise)

    @functools.cached_property
    def _coordinates(self) -> tuple[np.ndarray, tuple[tuple[slice, np.ndarray], ...]]:
        """Which unit-cube coordinates are floats, and each int's or category's coordinates
        with every value's encoding: what the acquisition's search needs of the space (made
        once; every fit hands it on)."""
        continuous = np.zeros(self.space.width, bool)
        discrete = []
        for p in self.space.params:
            columns = self.space.slice_of(p.name)
            continuous[columns] = p.kind == "float"
            if p.kind != "float":
                discrete.append((columns, np.array([p.encode(v) for v in p.levels])))
        return continuous, tuple(discrete)

    def _acquisition_function(self) -> Acquisition:
        continuous, discrete = self._coordinates
        return Acquisition(
            self.acquisition, kappa=self.kappa, xi=self.xi, continuous=continuous,
            discrete=discrete,
        )  # fmt: skip

    def targets(self) -> list[tuple[tuple[float, ...], float]]:
        """What the GP is fitted on: duplicates averaged, failures told as a penalty, a
        pruned trial at its projected whole-budget value (:func:`project_partial`)."""
        return [(unit, value) for unit, value, _ in self.weighted_targets()]

    def weighted_targets(self) -> list[tuple[tuple[float, ...], float, float]]:
        """:meth:`targets`, each with the variance its value carries beyond one observation's
        noise: 0 for a complete trial or a failure, the projection's for a pruned one."""
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
            key = self._key(o.unit)
            merged.setdefault(key, []).append((value, extra))
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

    def kernel(self) -> Kernel:
        """The GP's kernel before fitting: Matern 5/2, plus amplitude and noise if fitted."""
        dim = self.space.width
        if self.length_scale is None:  # fitted, per parameter, within bounds
            kernel = Matern(
                nu=2.5, length_scale=[0.3] * dim, length_scale_bounds=LENGTH_SCALE_BOUNDS
            )
        else:
            kernel = Matern(nu=2.5, length_scale=self.length_scale, length_scale_bounds="fixed")
        if self.noise is None:  # amplitude and noise fitted with the length scales
            kernel = ConstantKernel(1.0, AMPLITUDE_BOUNDS) * kernel + WhiteKernel(
                1e-2, NOISE_BOUNDS
            )
        return kernel

    def _kernel_for(self, scale: float) -> Kernel:
        """:meth:`kernel`, its noise bounded below by :meth:`noise_floor` in the units of the
        standardised values the GP is fitted on (``scale``: their std). For an accuracy the
        amplitude's bounds span signal stds of 1e-4 to 1 in accuracy units as well, which
        a few close values standardised by their own small spread would cut off."""
        kernel = self.kernel()
        floor = self.noise_floor()
        if self.noise is not None or floor is None:
            return kernel
        low = max(floor**2 / scale**2, NOISE_BOUNDS[0])
        high = max(NOISE_BOUNDS[1], 10 * low)
        matern = kernel.k1.k2
        bounds = (min(AMPLITUDE_BOUNDS[0], (1e-4 / scale) ** 2),
                  max(AMPLITUDE_BOUNDS[1], (1.0 / scale) ** 2))  # fmt: skip
        signal = ConstantKernel(math.exp(signal_prior(scale)[0]), bounds)
        return signal * matern + WhiteKernel(max(1e-2, 2 * low), (low, high))

    @property
    def _signal_prior(self) -> bool:
        """Whether the fit puts :func:`signal_prior` on the amplitude: a fitted GP of an
        accuracy (``binomial_n`` known)."""
        return self.noise is None and self.binomial_n is not None

    def _priors(self, kernel: Kernel, scale: float, signal: bool = False) -> Priors:
        """The MAP fit's priors; with ``signal``, an accuracy's amplitude gets
        :func:`signal_prior` (:meth:`picture`'s fit)."""
        use = signal and self._signal_prior
        return Priors.for_kernel(kernel, signal_prior(scale) if use else None)

    def fit(self, index: int | None = None) -> FittedGP:
        """The project's GP fitted to the told history (not fitted when nothing was told).

        bayes_opt supplies the target space and the acquisition's maximiser, through its
        public ``TargetSpace.register`` and ``AcquisitionFunction.suggest(gp=...)``; the GP
        is this project's own object, so no bayes_opt default can stand in for it.
        """
        index = len(self.observations) if index is None else index
        key = (len(self.observations), index)
        if self._fitted is None or self._fitted[0] != key:
            self._fitted = (key, *self._fit(index, self._latest_kernel()))
            if self._refits is not None:
                self._refits.after_fit(self, self._fitted[1])
        _, gp, space, state = self._fitted
        # a fresh generator in the state the fit left: the same suggestion however often
        # the fitted GP is used (the surrogate, the convergence check, then ask())
        random_state = np.random.RandomState()
        random_state.set_state(state)
        return FittedGP(gp, space, self._acquisition_function(), random_state)

    def frozen(self) -> BayesStrategy:
        """The copy keeps the fit already made for this history, and the hyperparameters
        in use now instead of the background refits."""
        out = super().frozen()
        out._fixed_kernel, out._refits = self._latest_kernel(), None
        return out

    def _latest_kernel(self) -> Kernel | None:
        """The kernel to condition on instead of fitting one: the believer's, or the last
        one refitted in the background; None: fit the hyperparameters here."""
        if self._fixed_kernel is not None:
            return self._fixed_kernel
        return None if self._refits is None else self._refits.latest()

    def refit_in_background(self) -> Refits | None:
        """From now on, fit the GP's hyperparameters in a background thread after each
        tell, and let every fit read here (the ask, the convergence check, the map) condition
        on all results told with the latest hyperparameters: exact given them, a Cholesky
        instead of an optimisation with restarts. For parallel trials, whose asks must not
        queue behind fits; :meth:`Refits.close` ends it. A sequential study fits in line,
        as a pure function of its history."""
        if self._refits is None:
            self._refits = Refits()
        return self._refits

    def _fit(
        self, index: int, kernel: Kernel | None = None, signal: bool = False
    ) -> tuple[LatentGP, TargetSpace, tuple]:
        """The GP on the told history: its hyperparameters fitted (with restarts), or, with
        ``kernel``, that kernel kept as it is and the GP conditioned on the history.
        ``signal``: the amplitude's prior for an accuracy (:meth:`picture`'s fit).

        For an accuracy, a value that the GP fitted without it finds more than
        :data:`OUTLIER_Z` of its stds off is weighed as a Student-t draw
        (:func:`heavy_tail_variance`): one unstable training run does not bend the map."""
        random_state = np.random.RandomState([self.seed, index])
        columns = self.space.columns
        space = TargetSpace(
            None, {name: (0.0, 1.0) for name in columns}, allow_duplicate_points=True
        )
        targets = self.weighted_targets()
        for unit, value, _ in targets:
            space.register(dict(zip(columns, unit, strict=True)), value)
        gp = self._gp_on(targets, kernel, signal, random_state)
        if self._signal_prior and kernel is None and len(targets) >= 4:
            failed = {self._key(o.unit) for o in self.observations if o.failed}
            exempt = [self._key(unit) in failed for unit, _, _ in targets]
            extra = heavy_tail_variance(
                gp,
                exempt,
                lambda i: self._gp_on(
                    targets[:i] + targets[i + 1 :], None, signal, random_state
                ),  # fmt: skip
            )
            if extra is not None:  # told with its weight, on the others' hyperparameters
                i, variance, other = extra
                unit, value, before = targets[i]
                targets = [*targets[:i], (unit, value, before + variance), *targets[i + 1 :]]
                factor = (other.y_scale_ / standard_scale([v for _, v, _ in targets])) ** 2
                gp = self._gp_on(targets, rescaled(other.kernel_, factor), signal, random_state)
        return gp, space, random_state.get_state()

    def _gp_on(
        self,
        targets: list[tuple[tuple[float, ...], float, float]],
        kernel: Kernel | None,
        signal: bool,
        random_state: np.random.RandomState,
    ) -> LatentGP:
        """The project's GP on ``targets`` (where, value, extra variance in the objective's
        units): its hyperparameters fitted, or ``kernel`` kept as it is."""
        values = [v for _, v, _ in targets]
        scale = standard_scale(values)
        base = 1e-6 if self.noise is None else self.noise
        # a pruned trial's projection adds its own variance (standardised, as sklearn's
        # alpha is) to the one observation's noise that every trial carries
        extras = np.array([extra for _, _, extra in targets])
        alpha = base + extras / scale**2 if np.any(extras > 0) else base
        if kernel is None:
            kernel = self._kernel_for(scale)
            optimizer = self._priors(kernel, scale, signal)
            restarts = fit_restarts(len(targets))
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
        gp.transform = (
            None if all(p.kind == "float" for p in self.space.params) else self.space.snap
        )
        if targets:
            gp.fit(np.array([u for u, _, _ in targets]), np.array(values))  # warnings: core.gp
        return gp

    def picture(self) -> LatentGP:
        """The GP a person is shown (the mean and std maps, the leave-one-out check, the
        word at a point): for an accuracy, fitted with the amplitude's prior
        (:func:`signal_prior`), which keeps its band at an accuracy's usual range while the
        values are few; else the search's (:meth:`fit`).

        The search and the verdicts (the next point, stop when converged, the recommended
        trial) keep the trials' word alone. With the prior, the search explored more and
        found less on the CNN surface's development seeds; on a plane of pure noise the
        regret bound never fell to the noise; and a lucky single run was believed more than
        a region of six (``tests/test_what_is_seen.py``)."""
        if not self._signal_prior:
            return self.fit().gp
        n = len(self.observations)
        if self._picture is None or self._picture[0] != n:
            self._picture = (n, self._fit(n, signal=True)[0])
        return self._picture[1]

    def _key(self, unit: Sequence[float]) -> tuple[float, ...]:
        """A point's place as the GP sees it: snapped, to twelve decimals (repeats merge)."""
        return tuple(round(float(u), 12) for u in self.space.snap(np.asarray(unit)))

    def _suggest_unit(self, fitted: FittedGP) -> np.ndarray:
        x = fitted.acquisition.suggest(
            gp=fitted.gp,
            target_space=fitted.space,
            fit_gp=False,
            random_state=fitted.random_state,
        )
        suggestion = fitted.space.array_to_params(np.asarray(x))
        unit = self.space.snap(np.array([float(suggestion[name]) for name in self.space.columns]))
        return self._as_repeat(unit) if self._noisy(fitted) else unit

    @staticmethod
    def _noisy(fitted: FittedGP) -> bool:
        """Whether a second measurement of a point says something: one value's noise (as
        fitted) at least :data:`REPEAT_NOISE` of the spread of the values told. Of a nearly
        exact objective a repeat learns nothing, and a step shorter than
        :data:`REPEAT_RADIUS` is how its best point is refined."""
        values = fitted.space.target
        if len(values) < 2:
            return True
        return fitted.gp.observation_noise_std >= REPEAT_NOISE * float(np.std(values))

    def _as_repeat(self, unit: np.ndarray) -> np.ndarray:
        """``unit``, or the tried point within :data:`REPEAT_RADIUS` of it: a proposal that
        close is a repeat in all but name, so it is made one on purpose."""
        tried = [np.asarray(o.unit) for o in self.observations if not o.failed]
        if not tried:
            return unit
        distances = [float(np.linalg.norm(unit - t)) for t in tried]
        nearest = int(np.argmin(distances))
        return self.space.snap(tried[nearest]) if distances[nearest] < REPEAT_RADIUS else unit

    def _acquisition_at(self, fitted: FittedGP, units: np.ndarray) -> np.ndarray:
        """The acquisition's value at unit-cube ``units`` (n x width), higher is better."""
        mean, std = fitted.gp.predict(units, return_std=True)
        acq_fn = fitted.acquisition
        if hasattr(acq_fn, "y_max"):  # EI and PI measure improvement over the best target
            acq_fn.y_max = float(np.max(fitted.space.target))
        return acq_fn.base_acq(mean, std)

    def _preferred(self, candidates: np.ndarray, index: int) -> np.ndarray:
        if index < self.init_points or not self.observations:
            return candidates[0]
        return candidates[int(np.argmax(self._acquisition_at(self.fit(index), candidates)))]

    def _next_unit(self, index: int) -> np.ndarray:
        if index < self.init_points or not self.observations:
            return self._random_unit(index)
        return self._suggest_unit(self.fit(index))

    def _next_unit_pending(self, index: int, pending: list[np.ndarray]) -> np.ndarray:
        """A Kriging believer: each pending point is told to a copy of the GP (its
        hyperparameters kept, as fitted to the real results) as the value that GP predicts
        there, so its uncertainty there collapses and
        the acquisition looks elsewhere, while the fit stays consistent with the data (a
        constant lie such as the worst or the best value seen contradicts the neighbouring
        results and inflates the fitted noise). Should the suggestion
        still land within ``PENDING_RADIUS`` of a pending point, the next of a few random
        candidates far enough from all of them is taken instead."""
        if index < self.init_points or not self.observations:
            return self._random_unit(index)
        fitted = self.fit().gp
        believed = fitted.predict(np.asarray(pending))
        liar = copy.copy(self)
        liar._fitted = None
        liar._refits = None
        liar._fixed_kernel = fitted.kernel_  # the lies condition the GP, they fit nothing
        liar.observations = [
            *self.observations,
            *(
                Observation(tuple(float(u) for u in unit), float(value))
                for unit, value in zip(pending, believed, strict=True)
            ),
        ]
        unit = liar._suggest_unit(liar.fit(index))
        rng = self._rng(index)
        for _ in range(100):
            if min(float(np.linalg.norm(unit - q)) for q in pending) >= PENDING_RADIUS:
                return unit
            unit = self.space.snap(rng.random(self.space.width))
        return unit

    @property
    def guided(self) -> bool:
        """Whether the next ask is GP-guided (True) or part of the random start."""
        return self.is_guided()

    def is_guided(self, pending: int = 0) -> bool:
        return len(self.observations) + pending >= self.init_points and bool(self.observations)

    def posterior(
        self,
        units: np.ndarray,
        n_samples: int = 0,
        pending: Sequence[Mapping[str, Value]] = (),
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The GP at unit-cube ``units`` (shape n x dim), as a person is shown it.

        Returns the picture's mean and std (:meth:`picture`), the search's acquisition,
        ``n_samples`` posterior sample paths (n_samples x n), and the unit-cube point the
        next ``ask(pending)`` returns: the next trial.
        """
        next_unit = np.asarray(self.space.to_unit(self.ask(pending)), dtype=float)
        fitted = self.fit()
        units = np.asarray(units, dtype=float).reshape(-1, self.space.width)
        gp = self.picture()
        mean, std = gp.predict(units, return_std=True)
        acq = self._acquisition_at(fitted, units)
        samples = (
            gp.sample_y(units, n_samples, random_state=self.seed).T
            if n_samples
            else np.empty((0, len(units)))
        )
        return mean, std, acq, samples, next_unit

    def convergence(
        self, beta: float = CONVERGENCE_BETA, candidates: int = 2048
    ) -> Convergence | None:
        """The regret bound against the noise; None during the random start, and until the
        GP has seen as many values as the default random start of this space has
        (:func:`default_init_points`): a bound from a GP fitted to two points is no verdict.
        The search's GP, on the trials' word alone (:meth:`picture`)."""
        seen = sum(1 for o in self.observations if not o.failed)
        if not self.guided or seen < default_init_points(self.space.dim):
            return None
        if not any(o.complete for o in self.observations):
            return None  # only failures and partial values: no verdict on what can be reached
        fitted = self.fit()
        tried = fitted.space.params
        rng = np.random.default_rng([self.seed, len(self.observations), 3])
        everywhere = np.vstack([tried, rng.random((candidates, self.space.width))])
        mean, std = fitted.gp.predict(everywhere, return_std=True)
        at_tried_mean, at_tried_std = mean[: len(tried)], std[: len(tried)]
        bound = float(np.max(mean + beta * std) - np.max(at_tried_mean - beta * at_tried_std))
        return Convergence(len(self.observations), max(bound, 0.0), fitted.gp.observation_noise_std)

    def surrogate(
        self,
        resolution: int = 40,
        axes: tuple[str, str] | None = None,
        pending: Sequence[Mapping[str, Value]] = (),
    ) -> Surrogate | None:
        if not self.observations or self.space.dim < 2:
            return None
        x_name, y_name = axes or (self.space.names[0], self.space.names[1])
        for name in (x_name, y_name):
            if name not in self.space.names:
                raise ValueError(f"unknown parameter {name!r}: the space has {self.space.names}")
        if x_name == y_name:
            raise ValueError(f"the two axes must differ, got {x_name!r} twice")
        px, py = self.space[x_name], self.space[y_name]
        xs, ys = px.axis(resolution), py.axis(resolution)
        best = self.best
        fixed = (
            self.space.to_unit(best[0]) if best else self.space.snap(np.full(self.space.width, 0.5))
        )
        held = {n: v for n, v in self.space.from_unit(fixed).items() if n not in (x_name, y_name)}
        grid = np.tile(fixed, (len(xs) * len(ys), 1))
        sx, sy = self.space.slice_of(x_name), self.space.slice_of(y_name)
        for row, y in enumerate(ys):  # rows follow y, columns follow x
            for col, x in enumerate(xs):
                grid[row * len(xs) + col, sx] = px.encode(x)
                grid[row * len(xs) + col, sy] = py.encode(y)
        mean, std, acq, _, next_unit = self.posterior(grid, pending=pending)
        shape = (len(ys), len(xs))

        def rows(a: np.ndarray) -> tuple[tuple[float, ...], ...]:
            return tuple(tuple(float(v) for v in r) for r in np.asarray(a).reshape(shape))

        return Surrogate(
            x_name=x_name,
            y_name=y_name,
            x=tuple(xs),
            y=tuple(ys),
            mean=rows(mean),
            std=rows(std),
            acq=rows(acq),
            acquisition=self.acquisition,
            next_point=self.space.from_unit(next_unit),
            n_observations=len(self.observations),
            fixed=held,
            noise=self.picture().observation_noise_std,
        )

    def recommend(self) -> Recommendation | None:
        """The complete trial whose posterior mean is highest, with that mean and its std:
        of two trials a noise apart, the one the GP believes better, not the luckier draw.

        Until the GP has seen as many values as a verdict needs (:meth:`convergence`), its
        fit cannot tell signal from noise (on three values it reads them as noise about one
        mean), so the best observed trial is recommended, with the GP's estimate there.

        The trial and the estimate are the search's GP's, on the trials' word alone; the std
        shown with it is the picture's (:meth:`picture`), as the std map shows it there: a
        fit that reads a few values as one flat mean would claim to know it to 0.0001."""
        done = [(i, o) for i, o in enumerate(self.observations) if o.complete]
        if not done:
            return None
        units = np.array([self.space.snap(np.asarray(o.unit)) for _, o in done])
        mean = self.fit().gp.predict(units)
        std = self.picture().predict(units, return_std=True)[1]
        seen = sum(1 for o in self.observations if not o.failed)
        if seen >= default_init_points(self.space.dim):
            j, rule = int(np.argmax(mean)), "highest GP posterior mean among the complete trials"
        else:
            j = max(range(len(done)), key=lambda k: (done[k][1].value, -k))
            rule = "best observed (too few trials for the GP to choose)"
        index, top = done[j]
        return Recommendation(
            index, self.space.from_unit(top.unit), float(top.value), float(mean[j]),
            float(std[j]), rule,
        )  # fmt: skip

    def expected_at(self, params: Mapping[str, Value]) -> tuple[float, float, float]:
        """What the GP expects at ``params`` before anything trains there: the picture's mean
        and std (of the function, the noise left out) and the search's acquisition there."""
        unit = self.space.snap(np.asarray(self.space.to_unit(params), dtype=float))[None, :]
        fitted = self.fit()
        mean, std = self.picture().predict(unit, return_std=True)
        return float(mean[0]), float(std[0]), float(self._acquisition_at(fitted, unit)[0])

    def calibration(self) -> Calibration | None:
        """Each complete trial's leave-one-out prediction against what it observed: how far
        to trust the map (:class:`Calibration`), of the picture's GP. A trial measured twice is one point, its
        values averaged, as the GP sees it; None before two complete trials."""
        complete: dict[tuple[float, ...], list[int]] = {}
        partial: set[tuple[float, ...]] = set()
        for i, o in enumerate(self.observations):
            key = self._key(o.unit)
            if o.complete:
                complete.setdefault(key, []).append(i)
            else:
                partial.add(key)  # a projection or a penalty: not an observed accuracy
        keys = [k for k in complete if k not in partial]
        if len(keys) < 2:
            return None
        fitted = self.fit()  # the told values, in the order both GPs hold them
        mean, std = self.picture().leave_one_out()
        where = {self._key(x): j for j, x in enumerate(fitted.space.params)}
        rows = [(complete[k][0], where[k], float(np.mean(fitted.space.target[where[k]])))
                for k in keys if k in where]  # fmt: skip
        return Calibration(
            trials=tuple(i for i, _, _ in rows),
            observed=tuple(v for _, _, v in rows),
            predicted=tuple(float(mean[j]) for _, j, _ in rows),
            std=tuple(float(std[j]) for _, j, _ in rows),
            n_observations=len(self.observations),
        )

    def importance(self, base_points: int = 256, resolution: int = 16) -> Importance | None:
        """Main-effect variance of the GP mean for each parameter, as shares of their sum.

        The GP mean is averaged over ``base_points`` random settings of the other
        parameters at each of ``resolution`` values of the parameter (each value of a
        discrete one with at most that many); the variance of those averages is the
        parameter's main effect. None before any trial.
        """
        if not self.observations:
            return None
        gp = self.fit().gp
        rng = np.random.default_rng([self.seed, len(self.observations), 5])
        base = self.space.snap(rng.random((base_points, self.space.width)))
        variances = []
        for p in self.space.params:
            s = self.space.slice_of(p.name)
            effects = []
            for value in p.axis(resolution):
                units = base.copy()
                units[:, s] = p.encode(value)
                effects.append(float(np.mean(gp.predict(units))))
            variances.append(float(np.var(effects)))
        total = sum(variances)
        shares = [v / total if total > 0 else 1.0 / len(variances) for v in variances]
        return Importance(
            tuple(self.space.names), tuple(shares), tuple(variances), len(self.observations)
        )


class Refits:
    """A strategy's GP hyperparameters, refitted in one background thread while trials
    train (:meth:`BayesStrategy.refit_in_background`). Only the newest history waits to be
    fitted: a request replaces an older one not yet started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refitted = threading.Condition(self._lock)  # a newer kernel was kept
        self._wake = threading.Event()
        self._kernel: tuple[int, Kernel] | None = None  # observations fitted, kernel
        self._wanted: BayesStrategy | None = None
        self._closed = False
        self.fits = 0  # hyperparameter fits made in the background
        self._thread = threading.Thread(target=self._work, name="gp-refits", daemon=True)
        self._thread.start()

    def latest(self) -> Kernel | None:
        with self._lock:
            return None if self._kernel is None else self._kernel[1]

    def fitted_on(self) -> int:
        """How many observations the latest hyperparameters were fitted to (0: none yet)."""
        with self._lock:
            return 0 if self._kernel is None else self._kernel[0]

    def after_fit(self, strategy: BayesStrategy, gp: LatentGP) -> None:
        """``strategy`` just fitted (or conditioned) ``gp``: keep a first fit's kernel, and
        ask for the hyperparameters of this history unless they are the ones in use."""
        n = len(strategy.observations)
        with self._lock:
            if self._kernel is None:
                self._kernel = (n, gp.kernel_)
                self._refitted.notify_all()
                return
            if self._kernel[0] >= n:
                return
            frozen = copy.copy(strategy)
            frozen.observations = list(strategy.observations)
            frozen._fitted, frozen._refits, frozen._fixed_kernel = None, None, None
            self._wanted = frozen
        self._wake.set()

    def wait(self, observations: int, timeout: float = 120.0) -> bool:
        """Block until the hyperparameters of ``observations`` results are fitted."""
        with self._refitted:
            return self._refitted.wait_for(
                lambda: self._kernel is not None and self._kernel[0] >= observations, timeout
            )

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=30)

    def _work(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                if self._closed:
                    return
                wanted, self._wanted = self._wanted, None
            if wanted is None:
                continue
            n = len(wanted.observations)
            gp = wanted._fit(n)[0]
            with self._lock:
                self.fits += 1
                if self._kernel is None or self._kernel[0] < n:
                    self._kernel = (n, gp.kernel_)
                    self._refitted.notify_all()


def make_strategy(
    kind: str,
    space: SearchSpace,
    *,
    seed: int = 1,
    init_points: int = 5,
    acquisition: str = DEFAULT_ACQUISITION,
    kappa: float = DEFAULT_KAPPA,
    xi: float = DEFAULT_XI,
    noise: float = DEFAULT_NOISE,
    budget: int | None = None,
    binomial_n: int | None = None,
) -> Strategy:
    """Build an optimizer by name: ``"bayes"``, ``"random"`` or ``"grid"``.

    ``budget`` (the total number of trials) sizes the grid; it defaults to
    ``init_points`` plus nothing, so pass it for ``"grid"``. ``binomial_n``: the objective
    is a share of that many samples (a validation accuracy), which floors the GP's noise.
    """
    if kind == "bayes":
        return BayesStrategy(
            space,
            seed=seed,
            init_points=init_points,
            acquisition=acquisition,
            kappa=kappa,
            xi=xi,
            noise=noise,
            binomial_n=binomial_n,
        )
    if kind == "random":
        return RandomStrategy(space, seed=seed)
    if kind == "grid":
        return GridStrategy(space, seed=seed, budget=budget if budget else max(1, init_points))
    raise ValueError(f"optimizer must be one of {KINDS}, got {kind!r}")
