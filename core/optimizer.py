"""Optimizers behind one ask/tell protocol: Bayesian, random and grid.

Every strategy works in the unit cube of its :class:`~core.space.SearchSpace` and
speaks real-space values to its callers. Each strategy is a pure function of its
seed and of the history it was told, so a study resumed from its stored trials
asks for exactly the points an uninterrupted run would have asked for. (With parallel
trials, whose order of ends is the clock's anyway, the GP's hyperparameters are refitted
in the background: :class:`core.refits.Refits`.)

The Bayesian strategy holds its history and its fitted models; fitting is
:func:`core.fit.fit`, proposing :mod:`core.propose`, explaining :mod:`core.explain`.
The optimizer knows nothing about Keras: it sees parameter dicts and numbers.
"""

from __future__ import annotations

import abc
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.gaussian_process.kernels import Kernel

from core.acquisition import Acquisition
from core.fit import FittedGP, History, Observation, fit, has_signal_prior
from core.gp import LatentGP
from core.options import KINDS, default_init_points
from core.propose import acquisition_at, acquisition_for, believer, suggest
from core.refits import Refits
from core.settings import Search
from core.space import SearchSpace, Value

if TYPE_CHECKING:
    from core.study import StudyConfig

__all__ = ["Observation", "default_init_points"]


class Strategy(abc.ABC):
    """The ask/tell protocol shared by every optimizer."""

    def __init__(
        self, space: SearchSpace, *, seed: int = 1, observations: Iterable[Observation] = ()
    ) -> None:
        self.space = space
        self.seed = int(seed)
        #: the last ask's answer, by (values told, pending points): the chart's next point
        #: and the ask that follows it are one computation
        self._asked: tuple[tuple, dict[str, Value]] | None = None
        self.observations: list[Observation] = list(observations)

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
        if self.space.continuous:
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

    def is_guided(self, pending: int = 0) -> bool:
        """Whether the next ask, with ``pending`` trials still running, is GP-guided."""
        return False

    def frozen(self) -> Strategy:
        """A copy that later tells to this strategy do not reach: what another thread may
        compute a chart of this moment from while the study goes on."""
        return type(self)(self.space, seed=self.seed, observations=self.observations)

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

    def _next_unit(self, index: int) -> np.ndarray:
        return self._random_unit(index)


class GridStrategy(Strategy):
    """A regular grid over the unit cube, its size the nearest square (cube, ...) to the budget.

    Points beyond the grid, if the budget asks for more, are random.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 1,
        budget: int = 9,
        observations: Iterable[Observation] = (),
    ) -> None:
        super().__init__(space, seed=seed, observations=observations)
        self.budget = budget
        side = max(1, round(budget ** (1.0 / space.width)))
        axes = [np.linspace(0.0, 1.0, side) if side > 1 else np.array([0.5])] * space.width
        mesh = np.meshgrid(*axes, indexing="ij")
        self.points = np.stack([m.ravel() for m in mesh], axis=1)

    def _next_unit(self, index: int) -> np.ndarray:
        if index < len(self.points):
            return self.points[index]
        return self._random_unit(index)

    def frozen(self) -> GridStrategy:
        return GridStrategy(
            self.space, seed=self.seed, budget=self.budget, observations=self.observations
        )


class BayesStrategy(Strategy):
    """Bayesian optimization: a GP fitted to the history (:func:`core.fit.fit`) and the
    acquisition's maximum over it (:mod:`core.propose`).

    The first ``init_points`` points are random (by default :func:`default_init_points`
    of the space's dimension); after that each point maximises the
    acquisition function. A failed trial is told to the GP as the worst value seen so far
    (:func:`core.fit.failure_penalty`), so the GP learns to avoid its region; it is never
    NaN. ``search`` holds the optimizer's settings (:class:`~core.settings.Search`; any
    given as keywords join it); ``binomial_n``: the objective is a share of that many
    samples (a validation accuracy over n images), which floors one value's noise.
    ``kernel``: condition on that kernel instead of fitting one (a frozen copy's).
    """

    def __init__(
        self,
        space: SearchSpace,
        search: Mapping[str, Any] | None = None,
        *,
        seed: int = 1,
        init_points: int | None = None,
        binomial_n: int | None = None,
        observations: Iterable[Observation] = (),
        kernel: Kernel | None = None,
        **values: Any,
    ) -> None:
        super().__init__(space, seed=seed, observations=observations)
        if binomial_n is not None and not (
            isinstance(binomial_n, int) and not isinstance(binomial_n, bool) and binomial_n > 0
        ):
            raise ValueError(f"binomial_n must be an integer > 0 or None, got {binomial_n!r}")
        if init_points is None:
            init_points = default_init_points(space.dim)
        if not (isinstance(init_points, int) and init_points >= 0):
            raise ValueError(f"init_points must be an integer >= 0, got {init_points!r}")
        self.search = Search({**dict(search or {}), **values})
        self.init_points = init_points
        self.binomial_n = binomial_n
        self._kernel = kernel
        self._fitted: tuple[tuple[int, int], FittedGP] | None = None
        self._picture: tuple[int, LatentGP] | None = None
        self._refits: Refits | None = None

    @property
    def history(self) -> History:
        """What the GP is fitted to: the space, the observations told, what they measure."""
        return History(self.space, tuple(self.observations), self.binomial_n)

    def acquisition_function(self) -> Acquisition:
        """A fresh acquisition of the settings' kind (it keeps the best value of its last
        use, so each use has its own)."""
        return acquisition_for(self.space, self.search)

    def fit(self, index: int | None = None) -> FittedGP:
        """The GP fitted to the told history for the ``index``-th ask (the next by
        default), kept until the history grows: the map, the verdicts and the ask of one
        moment read one fit."""
        index = len(self.observations) if index is None else index
        key = (len(self.observations), index)
        if self._fitted is None or self._fitted[0] != key:
            kernel = self._latest_kernel()
            fitted = fit(self.history, self.search, seed=self.seed, index=index, kernel=kernel)
            self._fitted = (key, fitted)
            if self._refits is not None:
                self._refits.after_fit(self, fitted.gp)
        return self._fitted[1]

    def picture(self) -> LatentGP:
        """The GP a person is shown (the mean and std maps, the leave-one-out check, the
        word at a point): for an accuracy, fitted with the amplitude's prior
        (:func:`~core.gp.signal_prior`), which keeps its band at an accuracy's usual range
        while the values are few; else the search's (:meth:`fit`).

        The search and the verdicts (the next point, stop when converged, the recommended
        trial) keep the trials' word alone. With the prior, the search explored more and
        found less on the CNN surface's development seeds; on a plane of pure noise the
        regret bound never fell to the noise; and a lucky single run was believed more than
        a region of six (``tests/test_what_is_seen.py``)."""
        history = self.history
        if not has_signal_prior(history, self.search):
            return self.fit().gp
        n = len(self.observations)
        if self._picture is None or self._picture[0] != n:
            fitted = fit(history, self.search, seed=self.seed, index=n, signal=True)
            self._picture = (n, fitted.gp)
        return self._picture[1]

    def frozen(self) -> BayesStrategy:
        """The copy keeps the hyperparameters in use now instead of the background refits."""
        return BayesStrategy(
            self.space,
            self.search,
            seed=self.seed,
            init_points=self.init_points,
            binomial_n=self.binomial_n,
            observations=self.observations,
            kernel=self._latest_kernel(),
        )

    def _latest_kernel(self) -> Kernel | None:
        """The kernel to condition on instead of fitting one: a frozen copy's, or the last
        one refitted in the background; None: fit the hyperparameters here."""
        if self._kernel is not None:
            return self._kernel
        return None if self._refits is None else self._refits.latest()

    def refit_in_background(self) -> Refits | None:
        """From now on, fit the GP's hyperparameters in a background thread after each
        tell, and let every fit read here (the ask, the convergence check, the map)
        condition on all results told with the latest hyperparameters: exact given them, a
        Cholesky instead of an optimisation with restarts. For parallel trials, whose asks
        must not queue behind fits; :meth:`Refits.close` ends it. A sequential study fits in
        line, as a pure function of its history."""
        if self._refits is None:
            self._refits = Refits()
        return self._refits

    def _random_start(self, index: int) -> bool:
        return index < self.init_points or not self.observations

    def _preferred(self, candidates: np.ndarray, index: int) -> np.ndarray:
        if self._random_start(index):
            return candidates[0]
        scores = acquisition_at(self.fit(index), self.acquisition_function(), candidates)
        return candidates[int(np.argmax(scores))]

    def _next_unit(self, index: int) -> np.ndarray:
        if self._random_start(index):
            return self._random_unit(index)
        return suggest(self.history, self.fit(index), self.acquisition_function())

    def _next_unit_pending(self, index: int, pending: list[np.ndarray]) -> np.ndarray:
        """The Kriging believer (:func:`core.propose.believer`) on the search's GP."""
        if self._random_start(index):
            return self._random_unit(index)
        return believer(
            self.history, self.fit(), self.acquisition_function(), pending,
            search=self.search, seed=self.seed, index=index,
        )  # fmt: skip

    @property
    def guided(self) -> bool:
        """Whether the next ask is GP-guided (True) or part of the random start."""
        return self.is_guided()

    def is_guided(self, pending: int = 0) -> bool:
        return not self._random_start(len(self.observations) + pending)


def build_strategy(
    kind: str,
    space: SearchSpace,
    search: Mapping[str, Any] | None = None,
    *,
    seed: int = 1,
    init_points: int | None = None,
    budget: int | None = None,
    binomial_n: int | None = None,
    **values: Any,
) -> Strategy:
    """An optimizer by name: ``"bayes"``, ``"random"`` or ``"grid"``. ``search`` and any
    keyword ``values`` are the GP's settings (:class:`~core.settings.Search`);
    ``init_points`` defaults to the one rule (:func:`default_init_points`); ``budget``
    (the total number of trials) sizes the grid, ``init_points`` by default."""
    if kind == "bayes":
        return BayesStrategy(
            space, search, seed=seed, init_points=init_points, binomial_n=binomial_n, **values
        )
    if kind == "random":
        return RandomStrategy(space, seed=seed)
    if kind == "grid":
        start = default_init_points(space.dim) if init_points is None else init_points
        return GridStrategy(space, seed=seed, budget=budget if budget else max(1, start))
    raise ValueError(f"optimizer must be one of {KINDS}, got {kind!r}")


def make_strategy(config: StudyConfig, val_samples: int | None = None) -> Strategy:
    """The optimizer a study's configuration describes, told nothing yet: its kind, seed,
    random start and search settings (``config.search``), a grid sized to its total;
    ``val_samples`` (how many validation samples score a trial) floors a GP's noise where
    the objective is a share of them (an accuracy)."""
    share = val_samples if config.objective.is_share else None
    return build_strategy(
        config.optimizer, config.space, config.search, seed=config.seed,
        init_points=config.init_points, budget=config.total, binomial_n=share,
    )  # fmt: skip
