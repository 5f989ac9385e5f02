"""Bayesian optimization shown by doing: a 1-D playground and a measured comparison.

Both run the tuner's own strategies from :mod:`core.optimizer`, so what the Learn
page shows is what the tuner does. Nothing here trains a network.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import Sum

from core import explain
from core.fit import base_kernel
from core.optimizer import BayesStrategy, build_strategy
from core.options import DEFAULT_NOISE, DEFAULT_XI, KINDS
from core.space import Param, SearchSpace

# -- the 1-D playground -------------------------------------------------------------


def _smooth(x: float) -> float:
    return math.sin(3 * x) + 0.5 * x


def _multimodal(x: float) -> float:
    return math.sin(2.5 * x) + 0.6 * math.sin(7 * x)


ONE_D = {
    "smooth": ("One broad hill: easy.", _smooth, 0.0),
    "multi-modal": ("Several peaks of different heights: easy to get stuck.", _multimodal, 0.0),
    "noisy": ("The multi-modal function, each observation with noise (std 0.1).", _multimodal, 0.1),
}
X_RANGE = (0.0, 3.0)


def _one_d_space() -> SearchSpace:
    return SearchSpace([Param("x", *X_RANGE)])


@dataclass(frozen=True)
class PlaygroundView:
    """What the playground draws: the GP over a grid of x, and the next point."""

    x: tuple[float, ...]
    truth: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    acq: tuple[float, ...]
    samples: tuple[tuple[float, ...], ...]
    observed_x: tuple[float, ...]
    observed_y: tuple[float, ...]
    next_x: float
    guided: bool
    acquisition: str


@dataclass
class Playground:
    """A hidden 1-D function, explored one observation at a time."""

    function: str = "multi-modal"
    acquisition: str = "ei"
    kappa: float = 2.576
    xi: float = DEFAULT_XI
    noise: float | None = DEFAULT_NOISE
    length_scale: float | None = None
    init_points: int = 2
    seed: int = 0
    observed: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.function not in ONE_D:
            raise ValueError(f"function must be one of {sorted(ONE_D)}, got {self.function!r}")

    def strategy(self) -> BayesStrategy:
        s = BayesStrategy(
            _one_d_space(),
            seed=self.seed,
            init_points=self.init_points,
            acquisition=self.acquisition,
            kappa=self.kappa,
            xi=self.xi,
            noise=self.noise,
            length_scale=self.length_scale,
        )
        for x, y in self.observed:
            s.tell({"x": x}, y)
        return s

    def evaluate(self, x: float) -> float:
        _, f, noise = ONE_D[self.function]
        y = f(x)
        if noise:
            y += float(np.random.default_rng([self.seed, len(self.observed), 7]).normal(0, noise))
        return y

    def step(self, n: int = 1) -> None:
        """Observe the next ``n`` points the strategy asks for."""
        for _ in range(n):
            x = self.strategy().ask()["x"]
            self.observed.append((x, self.evaluate(x)))

    def reset(self) -> None:
        self.observed.clear()

    def prior(
        self, units: np.ndarray, n_samples: int = 3
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The GP's prior at ``units``: mean 0 and the kernel's amplitude (1) as its std, in
        the standardised units it is fitted in, and ``n_samples`` functions drawn from it
        (with the strategy's kernel, so as smooth as its length scale makes them)."""
        strategy = self.strategy()
        kernel = base_kernel(strategy.space.width, strategy.search)
        if isinstance(kernel, Sum):  # amplitude x Matern + noise: a function, not its noise
            kernel = kernel.k1
        prior = GaussianProcessRegressor(kernel=kernel, optimizer=None)
        grid = np.asarray(units, dtype=float).reshape(-1, 1)
        mean, std = prior.predict(grid, return_std=True)
        samples = prior.sample_y(grid, n_samples, random_state=self.seed).T
        return mean, std, samples

    def view(self, resolution: int = 200, n_samples: int = 3) -> PlaygroundView:
        s = self.strategy()
        units = np.linspace(0.0, 1.0, resolution)
        xs = [s.space.params[0].from_unit(u) for u in units]
        truth = tuple(ONE_D[self.function][1](x) for x in xs)
        if not self.observed:  # the prior: what the GP believes before any observation
            mean, std, samples = self.prior(units, n_samples)
            return PlaygroundView(
                x=tuple(xs),
                truth=truth,
                mean=tuple(map(float, mean)),
                std=tuple(map(float, std)),
                acq=tuple(math.nan for _ in xs),
                samples=tuple(tuple(map(float, row)) for row in samples),
                observed_x=(),
                observed_y=(),
                next_x=s.ask()["x"],
                guided=False,
                acquisition=self.acquisition,
            )
        guided = s.guided
        mean, std, acq, samples, next_unit = explain.posterior(s, units[:, None], n_samples)
        return PlaygroundView(
            x=tuple(xs),
            truth=truth,
            mean=tuple(map(float, mean)),
            std=tuple(map(float, std)),
            acq=tuple(map(float, acq)),
            samples=tuple(tuple(map(float, row)) for row in samples),
            observed_x=tuple(x for x, _ in self.observed),
            observed_y=tuple(y for _, y in self.observed),
            next_x=s.space.params[0].from_unit(float(next_unit[0])),
            guided=guided,
            acquisition=self.acquisition,
        )


# -- benchmark functions (maximised; optimum known) -----------------------------------


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    space: SearchSpace
    f: Callable[[dict[str, float]], float]
    optimum: float
    target: float  # the regret that counts as "reached" in the trials-to-target table


def _branin(p: dict[str, float]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return -((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


def _camel(p: dict[str, float]) -> float:
    x, y = p["x"], p["y"]
    return -((4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2)


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H3_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann3(p: dict[str, float]) -> float:
    x = np.array([p["x1"], p["x2"], p["x3"]])
    return float(np.sum(_H3_ALPHA * np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1))))


#: The real CNN's surface (bench/learn_surface.py writes it from the benchmark's tables).
CNN_TABLE = Path(__file__).with_name("tables") / "cnn-mnist-5k.json"


@lru_cache(maxsize=1)
def _cnn_table() -> tuple[Callable[[tuple[float, float]], np.ndarray], float, float, str]:
    from scipy.interpolate import RegularGridInterpolator

    table = json.loads(CNN_TABLE.read_text(encoding="utf-8"))
    d, lg = np.array(table["dropout2_rate"]), np.array(table["log10_lr"])
    grid = np.array(table["accuracy"])
    interp = RegularGridInterpolator((d, lg), grid)
    return interp, float(grid.max()), float(table["noise"]), table["about"]


def cnn_surface(p: dict[str, float]) -> float:
    """The seed CNN's validation accuracy over dropout x log10 lr: the noise-free estimate
    from repeated training runs of a grid (linear between its cells)."""
    interp = _cnn_table()[0]
    return float(interp([(p["dropout2_rate"], math.log10(p["lr"]))])[0])


BENCHMARKS = {
    "branin": Benchmark(
        "branin",
        "Branin: three equal global maxima in a smooth valley (2-D).",
        SearchSpace([Param("x1", -5.0, 10.0), Param("x2", 0.0, 15.0)]),
        _branin,
        -0.397887,
        0.5,
    ),
    "six-hump camel": Benchmark(
        "six-hump camel",
        "Six-hump camel: two global maxima among six local ones (2-D).",
        SearchSpace([Param("x", -3.0, 3.0), Param("y", -2.0, 2.0)]),
        _camel,
        1.031628,
        0.1,
    ),
    "hartmann-3": Benchmark(
        "hartmann-3",
        "Hartmann-3: four bumps in a cube, one much higher (3-D).",
        SearchSpace([Param("x1", 0.0, 1.0), Param("x2", 0.0, 1.0), Param("x3", 0.0, 1.0)]),
        _hartmann3,
        3.86278,
        0.1,
    ),
    "cnn surface": Benchmark(
        "cnn surface",
        "The real CNN's validation accuracy on mnist-5k over dropout x log learning rate, "
        "estimated without its training noise from four runs of a 12 x 12 grid (2-D).",
        SearchSpace([Param("dropout2_rate", 0.1, 0.5), Param("lr", 1e-4, 1e-2, log=True)]),
        cnn_surface,
        _cnn_table()[1],
        0.005,
    ),
}


@dataclass(frozen=True)
class Comparison:
    """Simple regret (optimum minus best so far) per method, seed and trial."""

    benchmark: str
    budget: int
    seeds: int
    regret: dict[str, np.ndarray]  # method -> array (seeds, budget)

    def quantiles(self, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """25th, 50th and 75th percentile of regret after each trial."""
        q = np.percentile(self.regret[method], [25, 50, 75], axis=0)
        return q[0], q[1], q[2]

    @property
    def target(self) -> float:
        return BENCHMARKS[self.benchmark].target

    def trials_to_target(self, method: str, target: float | None = None) -> float | None:
        """Median over seeds of the first trial whose regret is <= target (None: most never)."""
        median = trials_to_target(self.regret[method], self.target if target is None else target)
        return None if math.isinf(median) else median


# -- the comparison harness (also bench/optimizers.py's) --------------------------------


def run_strategy(
    kind: str,
    space: SearchSpace,
    f: Callable[[dict[str, float]], float],
    *,
    seed: int,
    budget: int,
    init_points: int | None = None,
    binomial_n: int | None = None,
) -> list[float]:
    """The values of ``budget`` sequential trials of one of the tuner's strategies on ``f``
    (``binomial_n``: ``f`` is an accuracy over that many samples, as a study tells it)."""
    strategy = build_strategy(
        kind, space, seed=seed, init_points=init_points, budget=budget, binomial_n=binomial_n
    )
    values = []
    for _ in range(budget):
        p = strategy.ask()
        values.append(f(p))
        strategy.tell(p, values[-1])
    return values


def simple_regret(optimum: float, values: Sequence[float]) -> np.ndarray:
    """Regret after each trial: the optimum minus the best value so far (never below 0)."""
    return np.maximum(optimum - np.maximum.accumulate(np.asarray(values, dtype=float)), 0.0)


def trials_to_target(regret: np.ndarray, target: float) -> float:
    """Median over rows (seeds) of the first trial whose regret is <= ``target``; infinite
    when most rows never get there."""
    hits = [np.flatnonzero(row <= target) for row in regret]
    return float(np.median([h[0] + 1 if h.size else math.inf for h in hits]))


def run_method(
    bench: Benchmark, method: str, seed: int, budget: int, init_points: int | None = None
) -> np.ndarray:
    """Regret after each trial of one run."""
    values = run_strategy(
        method, bench.space, bench.f, seed=seed, budget=budget, init_points=init_points
    )
    return simple_regret(bench.optimum, values)


def compare(
    name: str,
    *,
    budget: int = 25,
    seeds: int = 10,
    methods: tuple[str, ...] = KINDS,
    progress: Callable[[float], None] | None = None,
) -> Comparison:
    """Run every method on benchmark ``name`` with the same budget over ``seeds`` seeds."""
    bench = BENCHMARKS[name]
    regret = {m: np.empty((seeds, budget)) for m in methods}
    total, done = len(methods) * seeds, 0
    for seed in range(seeds):
        for m in methods:
            regret[m][seed] = run_method(bench, m, seed, budget)
            done += 1
            if progress is not None:
                progress(done / total)
    return Comparison(name, budget, seeds, regret)


class ComparisonJob:
    """A comparison running in a background thread, with progress, then a result."""

    def __init__(self, name: str, budget: int, seeds: int) -> None:
        self.name, self.budget, self.seeds = name, budget, seeds
        self.progress = 0.0
        self.result: Comparison | None = None
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"compare-{name}")
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = compare(
                self.name,
                budget=self.budget,
                seeds=self.seeds,
                progress=lambda f: setattr(self, "progress", f),
            )
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.done
