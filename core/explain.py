"""What a strategy's GP says, as plain values the charts and tables read: the surrogate over
two parameters, each parameter's importance, the regret bound against the noise, the
recommended trial, the leave-one-out check and the word at one point.

Each function reads a strategy's fitted models (the search's :meth:`BayesStrategy.fit` and
the picture's :meth:`BayesStrategy.picture`) and changes nothing; a strategy without a GP
gets None (or, for the recommendation, its best observed trial). A new chart of something
the GP knows is a function here, a builder in :mod:`core.charts` and a page's call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.optimizer import BayesStrategy, Strategy
from core.options import default_init_points
from core.propose import acquisition_at
from core.space import Value
from core.views import Calibration, Convergence, Importance, Recommendation, Surrogate

#: What the GP can be asked (:func:`core.replay.explained` reads them by name).
EXPLANATIONS = (
    "surrogate", "importance", "convergence", "recommend", "best_observed", "calibration",
)  # fmt: skip
#: Standard deviations either side in the regret bound of :func:`convergence`.
CONVERGENCE_BETA = 2.0


def _gp(strategy: Strategy) -> BayesStrategy | None:
    return strategy if isinstance(strategy, BayesStrategy) else None


def posterior(
    strategy: BayesStrategy,
    units: np.ndarray,
    n_samples: int = 0,
    pending: Sequence[Mapping[str, Value]] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The GP at unit-cube ``units`` (shape n x dim), as a person is shown it.

    Returns the picture's mean and std (:meth:`BayesStrategy.picture`), the search's
    acquisition, ``n_samples`` posterior sample paths (n_samples x n), and the unit-cube
    point the next ``ask(pending)`` returns: the next trial.
    """
    space = strategy.space
    next_unit = np.asarray(space.to_unit(strategy.ask(pending)), dtype=float)
    fitted = strategy.fit()
    units = np.asarray(units, dtype=float).reshape(-1, space.width)
    gp = strategy.picture()
    mean, std = gp.predict(units, return_std=True)
    acq = acquisition_at(fitted, strategy.acquisition_function(), units)
    samples = (
        gp.sample_y(units, n_samples, random_state=strategy.seed).T
        if n_samples
        else np.empty((0, len(units)))
    )
    return mean, std, acq, samples, next_unit


def surrogate(
    strategy: Strategy,
    resolution: int = 40,
    axes: tuple[str, str] | None = None,
    pending: Sequence[Mapping[str, Value]] = (),
) -> Surrogate | None:
    """The GP surrogate over two parameters (the first two by default), the others held at
    the best trial's values; None without a GP, before any trial, or in one dimension. Its
    next point is what ``ask(pending)`` hands out with ``pending`` still running: the next
    trial."""
    gp = _gp(strategy)
    space = strategy.space
    if gp is None or not gp.observations or space.dim < 2:
        return None
    x_name, y_name = axes or (space.names[0], space.names[1])
    for name in (x_name, y_name):
        if name not in space.names:
            raise ValueError(f"unknown parameter {name!r}: the space has {space.names}")
    if x_name == y_name:
        raise ValueError(f"the two axes must differ, got {x_name!r} twice")
    px, py = space[x_name], space[y_name]
    xs, ys = px.axis(resolution), py.axis(resolution)
    best = gp.best
    fixed = space.to_unit(best[0]) if best else space.snap(np.full(space.width, 0.5))
    held = {n: v for n, v in space.from_unit(fixed).items() if n not in (x_name, y_name)}
    grid = np.tile(fixed, (len(xs) * len(ys), 1))
    sx, sy = space.slice_of(x_name), space.slice_of(y_name)
    for row, y in enumerate(ys):  # rows follow y, columns follow x
        for col, x in enumerate(xs):
            grid[row * len(xs) + col, sx] = px.encode(x)
            grid[row * len(xs) + col, sy] = py.encode(y)
    mean, std, acq, _, next_unit = posterior(gp, grid, pending=pending)
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
        acquisition=gp.search["acquisition"],
        next_point=space.from_unit(next_unit),
        n_observations=len(gp.observations),
        fixed=held,
        noise=gp.picture().observation_noise_std,
    )


def _enough(strategy: BayesStrategy) -> bool:
    """Whether the GP has seen as many values as the default random start of the space
    has (:func:`default_init_points`): a verdict from a GP fitted to two points is none."""
    seen = sum(1 for o in strategy.observations if not o.failed)
    return seen >= default_init_points(strategy.space.dim)


def convergence(
    strategy: Strategy, beta: float = CONVERGENCE_BETA, candidates: int = 2048
) -> Convergence | None:
    """The regret bound against the noise; None without a GP, during the random start, and
    until the GP has seen enough values (:func:`_enough`). The search's GP, on the trials'
    word alone (:meth:`BayesStrategy.picture`)."""
    gp = _gp(strategy)
    if gp is None or not gp.guided or not _enough(gp):
        return None
    if not any(o.complete for o in gp.observations):
        return None  # only failures and partial values: no verdict on what can be reached
    fitted = gp.fit()
    tried = fitted.space.params
    rng = np.random.default_rng([gp.seed, len(gp.observations), 3])
    everywhere = np.vstack([tried, rng.random((candidates, gp.space.width))])
    mean, std = fitted.gp.predict(everywhere, return_std=True)
    at_tried_mean, at_tried_std = mean[: len(tried)], std[: len(tried)]
    bound = float(np.max(mean + beta * std) - np.max(at_tried_mean - beta * at_tried_std))
    return Convergence(len(gp.observations), max(bound, 0.0), fitted.noise_std)


def best_observed(strategy: Strategy) -> Recommendation | None:
    """The complete trial with the best value (the earliest among equals), with no GP's
    word on it; None before any complete trial."""
    done = [(i, o) for i, o in enumerate(strategy.observations) if o.complete]
    if not done:
        return None
    index, top = max(done, key=lambda p: (p[1].value, -p[0]))
    return Recommendation(
        index, strategy.space.from_unit(top.unit), float(top.value), None, None, "best observed"
    )


def recommend(strategy: Strategy) -> Recommendation | None:
    """The trial to hand over. With a GP: the complete trial whose posterior mean is
    highest, with that mean and its std; of two trials a noise apart, the one the GP
    believes better, not the luckier draw. Without one, or until the GP has seen enough
    values to tell signal from noise (on three values it reads them as noise about one
    mean), the best observed trial.

    The trial and the estimate are the search's GP's, on the trials' word alone; the std
    shown with it is the picture's, as the std map shows it there: a fit that reads a few
    values as one flat mean would claim to know it to 0.0001."""
    gp = _gp(strategy)
    if gp is None:
        return best_observed(strategy)
    done = [(i, o) for i, o in enumerate(strategy.observations) if o.complete]
    if not done:
        return None
    space = strategy.space
    units = np.array([space.snap(np.asarray(o.unit)) for _, o in done])
    mean = gp.fit().gp.predict(units)
    std = gp.picture().predict(units, return_std=True)[1]
    if _enough(gp):
        j, rule = int(np.argmax(mean)), "highest GP posterior mean among the complete trials"
    else:
        j = max(range(len(done)), key=lambda k: (done[k][1].value, -k))
        rule = "best observed (too few trials for the GP to choose)"
    index, top = done[j]
    return Recommendation(
        index, space.from_unit(top.unit), float(top.value), float(mean[j]), float(std[j]), rule
    )


def expected_at(strategy: BayesStrategy, params: Mapping[str, Value]) -> tuple[float, float, float]:
    """What the GP expects at ``params`` before anything trains there: the picture's mean
    and std (of the function, the noise left out) and the search's acquisition there."""
    space = strategy.space
    unit = space.snap(np.asarray(space.to_unit(params), dtype=float))[None, :]
    fitted = strategy.fit()
    mean, std = strategy.picture().predict(unit, return_std=True)
    return (
        float(mean[0]),
        float(std[0]),
        float(acquisition_at(fitted, strategy.acquisition_function(), unit)[0]),
    )


def calibration(strategy: Strategy) -> Calibration | None:
    """Each complete trial's leave-one-out prediction against what it observed: how far to
    trust the map (:class:`Calibration`), of the picture's GP. A trial measured twice is
    one point, its values averaged, as the GP sees it; None without a GP or before two
    complete trials."""
    gp = _gp(strategy)
    if gp is None:
        return None
    history = gp.history
    complete: dict[tuple[float, ...], list[int]] = {}
    partial: set[tuple[float, ...]] = set()
    for i, o in enumerate(gp.observations):
        key = history.key(o.unit)
        if o.complete:
            complete.setdefault(key, []).append(i)
        else:
            partial.add(key)  # a projection or a penalty: not an observed accuracy
    keys = [k for k in complete if k not in partial]
    if len(keys) < 2:
        return None
    fitted = gp.fit()  # the told values, in the order both GPs hold them
    mean, std = gp.picture().leave_one_out()
    where = {history.key(x): j for j, x in enumerate(fitted.space.params)}
    rows = [(complete[k][0], where[k], float(np.mean(fitted.space.target[where[k]])))
            for k in keys if k in where]  # fmt: skip
    return Calibration(
        trials=tuple(i for i, _, _ in rows),
        observed=tuple(v for _, _, v in rows),
        predicted=tuple(float(mean[j]) for _, j, _ in rows),
        std=tuple(float(std[j]) for _, j, _ in rows),
        n_observations=len(gp.observations),
    )


def importance(
    strategy: Strategy, base_points: int = 256, resolution: int = 16
) -> Importance | None:
    """Main-effect variance of the GP mean for each parameter, as shares of their sum.

    The GP mean is averaged over ``base_points`` random settings of the other parameters
    at each of ``resolution`` values of the parameter (each value of a discrete one with
    at most that many); the variance of those averages is the parameter's main effect. A
    strategy without a GP of its own (random, grid) gets one with the default settings,
    fitted to its trials. None before any trial.
    """
    if not strategy.observations:
        return None
    gp = _gp(strategy) or BayesStrategy(
        strategy.space, seed=strategy.seed, observations=strategy.observations
    )
    space = gp.space
    model = gp.fit().gp
    rng = np.random.default_rng([gp.seed, len(gp.observations), 5])
    base = space.snap(rng.random((base_points, space.width)))
    variances = []
    for p in space.params:
        s = space.slice_of(p.name)
        effects = []
        for value in p.axis(resolution):
            units = base.copy()
            units[:, s] = p.encode(value)
            effects.append(float(np.mean(model.predict(units))))
        variances.append(float(np.var(effects)))
    total = sum(variances)
    shares = [v / total if total > 0 else 1.0 / len(variances) for v in variances]
    return Importance(tuple(space.names), tuple(shares), tuple(variances), len(gp.observations))
