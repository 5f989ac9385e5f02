"""The benchmark protocol of docs/BENCHMARKS.md, section 3: every declared method on every
surface, paired by seed, scored in units of one training run's noise on the CNN surfaces.

Views:
- Branin, Hartmann-6 and the held-out functions (random bumps that nobody tuned on): regret
  is the optimum minus the best value so far.
- The CNN surfaces, with fresh noise: the stored runs are split in two halves; each query
  is answered by one half's noise-free estimate plus a residual drawn at random from that
  half's runs, and the trial a method would hand over (its best observed one) is scored on
  the other half's estimate: regret = that estimate's best minus its value there, in units
  of sigma. Even seeds query half 0 and are scored on half 1; odd seeds the other way round.
  Every method with the same seed gets the same residual draws in the same query order.

    OMP_NUM_THREADS=1 .venv/bin/python bench/protocol.py --jobs 2 --out docs/benchmarks/protocol
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bench.methods import DECLARED, GP_PEERS, METHODS, skopt_space
from bench.optimizers import recorded_run
from bench.report import add_seed_arguments, publish, seed_range
from bench.stats import bootstrap_mean, holm, wilcoxon, wilson
from bench.surfaces import ROOT, Surface, builders
from core import explain
from core.learn import simple_regret, trials_to_target
from core.optimizer import BayesStrategy, build_strategy, default_init_points
from core.space import Param, SearchSpace

OURS = "bayes (this project)"
#: Within this many sigma of the best counts as found (CNN surfaces).
NEAR = 0.5
#: Non-inferior: the upper end of the paired difference's interval at most this (sigma).
MARGIN_SIGMA = 0.1
#: On the synthetic functions, non-inferior: the geometric mean of ours / peer's regret at
#: most 1.5 (upper end of the interval of the mean log10 ratio at most log10 1.5).
MARGIN_RATIO = 1.5
#: Hartmann-6 at 50 trials: regret <= 0.1 in at least this share of seeds.
HARTMANN_SHARE = 0.8
#: Regrets below this count as zero on the log scale of the synthetic functions.
FLOOR = 1e-6


# -- held-out functions --------------------------------------------------------------------
@dataclass(frozen=True)
class Bumps:
    """A sum of Gaussian bumps in the unit cube, drawn from ``seed``: a function family
    nobody here tuned on. The optimum is found by local searches from every bump's centre."""

    dim: int
    seed: int
    count: int = 8

    @cached_property
    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.dim])
        centres = rng.random((self.count, self.dim))
        widths = rng.uniform(0.08, 0.3, (self.count, 1)) * math.sqrt(self.dim)
        heights = rng.uniform(0.3, 1.0, self.count)
        return centres, widths, heights

    def value(self, x: np.ndarray) -> float:
        centres, widths, heights = self.parts
        d2 = np.sum((np.asarray(x, dtype=float) - centres) ** 2, axis=1) / widths[:, 0] ** 2
        return float(np.sum(heights * np.exp(-0.5 * d2)))

    def optimum(self) -> float:
        from scipy.optimize import minimize

        best = -math.inf
        for start in self.parts[0]:
            res = minimize(lambda x: -self.value(x), start, bounds=[(0.0, 1.0)] * self.dim)
            best = max(best, -float(res.fun), self.value(start))
        return best

    def surface(self) -> Surface:
        space = SearchSpace([Param(f"x{i}", 0.0, 1.0) for i in range(1, self.dim + 1)])

        def f(p: dict[str, float]) -> float:
            return self.value(np.array([p[f"x{i}"] for i in range(1, self.dim + 1)]))

        return Surface(self.name, space, f, self.optimum(), 0.01 * self.optimum())

    @property
    def name(self) -> str:
        return f"bumps-{self.dim}d #{self.seed}"


#: The typed parameters of each family of typed bumps: the 5-D mix, and the CNN's nine
#: hyperparameters as the Tune page offers them (core/model.py), with (9-D) and without
#: (8-D) the optimizer's categorical.
TYPED_FAMILIES: dict[str, tuple[Param, ...]] = {
    "mixed-5d": (
        Param("x", 0.0, 1.0),
        Param("rate", 1e-4, 1e-1, log=True),
        Param("n", 1, 16, kind="int"),
        Param("units", 8, 256, log=True, kind="int"),
        Param("kind", kind="categorical", choices=("a", "b", "c")),
    ),
    "cnn-8d": (
        Param("dropout2_rate", 0.1, 0.5),
        Param("lr", 1e-4, 1e-2, log=True),
        Param("dropout1_rate", 0.0, 0.5),
        Param("batch_size", 16, 256, log=True, kind="int"),
        Param("dense_units", 32, 512, log=True, kind="int"),
        Param("filters1", 8, 64, log=True, kind="int"),
        Param("filters2", 16, 128, log=True, kind="int"),
        Param("epochs", 1, 10, kind="int"),
    ),
}
TYPED_FAMILIES["cnn-9d"] = (
    *TYPED_FAMILIES["cnn-8d"],
    Param("optimizer", kind="categorical", choices=("adam", "sgd", "rmsprop")),
)


@dataclass(frozen=True)
class MixedBumps:
    """Bumps over typed parameters (``family``, one of :data:`TYPED_FAMILIES`), drawn from
    ``seed``: floats (some on a log scale), ints (some powers of two) and at most one
    categorical. The bumps live in the unit cube of the numbers, an int at its own
    position among its values; each category weighs each bump differently, so the best
    category depends on where the numbers are. The optimum: every combination of the ints
    and the category on a grid of the floats, then local searches of the floats from the
    best 50 combinations."""

    seed: int
    count: int = 8
    family: str = "mixed-5d"

    @cached_property
    def space(self) -> SearchSpace:
        return SearchSpace(TYPED_FAMILIES[self.family])

    @cached_property
    def numbers(self) -> list[Param]:
        return [q for q in self.space.params if q.kind != "categorical"]

    @cached_property
    def choices(self) -> int:
        return 1 if self.category is None else len(self.category.choices)

    @cached_property
    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d = len(self.numbers)
        rng = np.random.default_rng([self.seed, self.space.dim])
        centres = rng.random((self.count, d))
        widths = rng.uniform(0.12, 0.35, self.count) * math.sqrt(d)
        heights = rng.uniform(0.3, 1.0, self.count) * rng.uniform(
            0.2, 1.0, (self.choices, self.count)
        )
        return centres, widths, heights

    def _position(self, q: Param, value: Any) -> float:
        if q.kind == "int":
            return q.levels.index(value) / (len(q.levels) - 1)
        return q.to_unit(value)

    def _at(self, z: np.ndarray, kind: int) -> np.ndarray:
        centres, widths, heights = self.parts
        d2 = np.sum((np.atleast_2d(z)[:, None, :] - centres) ** 2, axis=2) / widths**2
        return np.exp(-0.5 * d2) @ heights[kind]

    @cached_property
    def category(self) -> Param | None:
        return next((q for q in self.space.params if q.kind == "categorical"), None)

    def value(self, p: Mapping) -> float:
        category = self.category
        kind = 0 if category is None else category.choices.index(p[category.name])
        z = np.array([self._position(q, p[q.name]) for q in self.numbers])
        return float(self._at(z, kind)[0])

    def optimum(self) -> float:
        from scipy.optimize import minimize

        floats = [i for i, q in enumerate(self.numbers) if q.kind == "float"]
        ints = [i for i, q in enumerate(self.numbers) if q.kind == "int"]
        axis = np.linspace(0.0, 1.0, 41 if len(floats) <= 2 else 11)
        grid = np.array(list(itertools.product(axis, repeat=len(floats))))
        levels = [np.linspace(0.0, 1.0, len(self.numbers[i].levels)) for i in ints]
        combos = []  # (best value on the grid, its floats, the ints' positions, the category)
        for kind in range(self.choices):
            for fixed in itertools.product(*levels):
                z = np.empty((len(grid), len(self.numbers)))
                z[:, floats], z[:, ints] = grid, fixed
                values = self._at(z, kind)
                best = int(np.argmax(values))
                combos.append((float(values[best]), grid[best], np.array(fixed), kind))
        combos.sort(key=lambda c: -c[0])
        top = combos[0][0]

        def at(u: np.ndarray, fixed: np.ndarray, kind: int) -> float:
            z = np.empty(len(self.numbers))
            z[floats], z[ints] = u, fixed
            return float(self._at(z, kind)[0])

        for _, start, fixed, kind in combos[:50]:
            res = minimize(
                lambda u, f=fixed, k=kind: -at(u, f, k), start, bounds=[(0.0, 1.0)] * len(floats)
            )
            top = max(top, -float(res.fun))
        return top

    def surface(self) -> Surface:
        optimum = self.optimum()
        return Surface(self.name, self.space, self.value, optimum, 0.01 * optimum)

    @property
    def name(self) -> str:
        return f"{self.family} #{self.seed}"


#: Drawn from seeds 10000 and up only: never looked at while choosing defaults.
HELD_OUT_FUNCTIONS = (
    *(Bumps(dim, 10_000 + k) for dim in (2, 4, 6) for k in range(2)),
    *(MixedBumps(10_000 + k, family=f) for f in TYPED_FAMILIES for k in range(2)),
)
#: The same families drawn from seeds below 10000: where defaults are chosen.
DEVELOPMENT_FUNCTIONS = (
    *(Bumps(dim, k) for dim in (2, 4, 6) for k in range(2)),
    *(MixedBumps(k, family=f) for f in TYPED_FAMILIES for k in range(2)),
)


class Catalogue(Mapping[str, Surface]):
    """Every surface of the protocol by name, each built when first asked for."""

    def __init__(self, data: str) -> None:
        self._build = builders(Path(data))
        self._build.update(
            {b.name: b.surface for b in (*HELD_OUT_FUNCTIONS, *DEVELOPMENT_FUNCTIONS)}
        )
        self._built: dict[str, Surface] = {}

    def __getitem__(self, name: str) -> Surface:
        if name not in self._built:
            self._built[name] = self._build[name]()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build)

    def __len__(self) -> int:
        return len(self._build)


@cache
def catalogue(data: str) -> Catalogue:
    """The protocol's surfaces (one catalogue per process and data folder)."""
    return Catalogue(data)


# -- one run ---------------------------------------------------------------------------------
def fresh_noise(s: Surface, seed: int) -> tuple[Surface, Surface]:
    """The surface a method queries with ``seed`` and the one its answer is scored on."""
    asked, scored = s.halves[seed % 2], s.halves[1 - seed % 2]
    rng = np.random.default_rng([seed, 2])

    def f(p: dict[str, float]) -> float:
        return asked.smooth(p) + float(asked.residuals[rng.integers(asked.residuals.size)])

    yardstick = replace(s, f=scored.smooth, optimum=scored.optimum)
    return replace(s, f=f), yardstick


#: Where the protocol also scores the GP's hand-over rule on the CNN surfaces.
HANDOVER_TRIALS = (12, 25)


def regret_curve(name: str, method: str, seed: int, budget: int, data: str) -> list[float]:
    """Regret after each trial of one run; on a CNN surface in units of sigma."""
    return run_scores(name, method, seed, budget, data)[0]


def run_scores(
    name: str, method: str, seed: int, budget: int, data: str
) -> tuple[list[float], dict[int, float]]:
    """Regret after each trial of one run, handing over the best observed trial; and on a
    CNN surface, in sigma, the regret after each of :data:`HANDOVER_TRIALS` of the trial
    this project's GP rule recommends from the same trials (:func:`gp_handover`)."""
    s = catalogue(data)[name]
    if not s.halves:
        regret = simple_regret(s.optimum, METHODS[method](s, seed, budget))
        return [float(v) for v in regret], {}
    asked, yardstick = fresh_noise(s, seed)
    points, values = recorded_run(asked, method, seed, budget)
    at = np.array([yardstick.f(p) for p in points])
    incumbent = [int(np.argmax(values[: k + 1])) for k in range(budget)]
    regret = np.maximum(yardstick.optimum - at[incumbent], 0.0) / s.sigma
    handover = {
        k: float(max(yardstick.optimum - yardstick.f(gp_handover(s, points[:k], values[:k])),
                     0.0) / s.sigma)
        for k in HANDOVER_TRIALS
        if k <= budget
    }  # fmt: skip
    return [float(v) for v in regret], handover


def gp_handover(s: Surface, points: list[dict], values: np.ndarray) -> dict:
    """The trial this project hands over from ``points``: the one with the highest posterior
    mean of its GP (floored noise, as a study fits it) told those trials."""
    strategy = BayesStrategy(s.space, seed=0, binomial_n=s.binomial_n)
    for p, v in zip(points, values, strict=True):
        strategy.tell(p, float(v))
    rec = explain.recommend(strategy)
    return rec.params if rec is not None else points[int(np.argmax(values))]


def _map(fn: Callable, tasks: list, jobs: int) -> Iterator:
    """``fn`` over ``tasks`` in order: in ``jobs`` processes, or in this one."""
    if jobs <= 1:
        yield from map(fn, tasks)
        return
    with ProcessPoolExecutor(jobs) as pool:
        yield from pool.map(fn, tasks, chunksize=1)


def _task(args: tuple) -> tuple[tuple, tuple[list[float], dict[int, float]]]:
    return args[:3], run_scores(*args)


def evaluate(
    names: list[str], methods: list[str], seeds: range, budget: int, data: str, jobs: int
) -> tuple[dict[str, dict[str, list[list[float]]]], dict]:
    """Regret curves by surface and method, one per seed, in seed order; and on the CNN
    surfaces the GP rule's hand-over regrets, by surface, method and trials."""
    tasks = [(n, m, seed, budget, data) for n in names for m in methods for seed in seeds]
    results: dict = {n: {m: {} for m in methods} for n in names}
    handed: dict = {n: {m: {} for m in methods} for n in names}
    started = time.time()
    for k, ((n, m, seed), (curve, handover)) in enumerate(_map(_task, tasks, jobs), 1):
        results[n][m][seed] = curve
        handed[n][m][seed] = handover
        if k % 20 == 0 or k == len(tasks):
            print(f"{k}/{len(tasks)} runs, {time.time() - started:.0f} s", file=sys.stderr)
    curves = {n: {m: [by[s] for s in seeds] for m, by in r.items()} for n, r in results.items()}
    handovers = {
        n: {m: {str(t): [by[s][t] for s in seeds] for t in HANDOVER_TRIALS if t in by[seeds[0]]}
            for m, by in r.items()}
        for n, r in handed.items()
        if any(by[seeds[0]] for by in r.values())
    }  # fmt: skip
    return curves, handovers


def handover_report(handovers: dict, curves: dict) -> list[str]:
    """Each method's trials handed over by the best observed value (what the tables score)
    and by this project's GP rule, on the CNN surfaces."""
    if not handovers:
        return []
    lines = [
        "### The hand-over rule",
        "",
        "Each method's own trials, handed over two ways: its best observed trial (what the "
        "tables above score) and the trial this project's GP rule recommends from the same "
        f"trials (the highest posterior mean). Within {NEAR} sigma [Wilson 95%], mean regret "
        "in sigma.",
        "",
        "| surface | trials | method | best observed: within | mean | GP rule: within | mean |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    targets = []
    for name, by in handovers.items():
        for m, at in by.items():
            for t, gp in at.items():
                observed = np.array([c[int(t) - 1] for c in curves[name][m]])
                gp = np.array(gp)
                cells = []
                for r in (observed, gp):
                    near = int(np.sum(r <= NEAR))
                    lo, hi = wilson(near, len(r))
                    cells.append(f"{near}/{len(r)} [{lo:.0%}, {hi:.0%}] | {r.mean():.2f}")
                lines.append(f"| {name} | {t} | {m} | {cells[0]} | {cells[1]} |")
                if m == OURS and t == "25":
                    near = int(np.sum(gp <= NEAR))
                    lo, _ = wilson(near, len(gp))
                    ok = near / len(gp) >= 0.85 and lo >= 0.75
                    targets.append(
                        f"- {name}, 25 trials, the GP rule's hand-over: within {NEAR} sigma in "
                        f"{near}/{len(gp)} = {near / len(gp):.0%} (Wilson lower {lo:.0%}); "
                        f"target >= 85% with lower >= 75%: {_met(ok)}"
                    )
    return [*lines, "", *targets, ""]


# -- is the map right? ---------------------------------------------------------------------
MAP_RESOLUTION = 40  # the Live page's grid
MAP_REGION = 3.0  # sigma below the best: the region a person looks at


def optuna_map(units: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The mean Optuna's GPSampler's GP would draw over ``grid`` (unit cube) from these
    trials. Optuna has no public API for its GP's posterior: this is the one place that
    uses its private ``optuna._gp`` (checked by tests/test_protocol.py)."""
    import torch
    from optuna._gp import gp, prior

    mean, std = float(np.mean(values)), max(float(np.std(values)), 1e-12)
    fitted = gp.fit_kernel_params(
        X=np.asarray(units, dtype=float),
        Y=(np.asarray(values, dtype=float) - mean) / std,
        is_categorical=np.zeros(units.shape[1], dtype=bool),
        log_prior=prior.default_log_prior,
        minimum_noise=prior.DEFAULT_MINIMUM_NOISE_VAR,
        deterministic_objective=False,
    )
    with torch.no_grad():
        out, _ = fitted.posterior(torch.from_numpy(np.asarray(grid, dtype=float)))
    return out.numpy() * std + mean


def skopt_map(space: SearchSpace, points: list, values: np.ndarray, grid: list) -> np.ndarray:
    """The mean scikit-optimize's ``gp_minimize`` would draw over ``grid`` from these trials
    (its own GP, built by its public ``cook_estimator`` as ``gp_minimize`` builds it)."""
    from skopt.space import Space
    from skopt.utils import cook_estimator

    sk = Space(skopt_space(space))
    model = cook_estimator("GP", space=sk, random_state=0, noise="gaussian")
    rows = [[p[n] for n in space.names] for p in points]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(sk.transform(rows), -np.asarray(values, dtype=float))
    return -model.predict(sk.transform([[p[n] for n in space.names] for p in grid]))


def map_errors(name: str, seed: int, data: str, checkpoints: tuple[int, ...]) -> dict:
    """The RMSE, in sigma, between each GP's mean and the noise-free estimate of the other
    half, over the whole plane and over the region within 3 sigma of its best, after each
    checkpoint of this project's run (every GP sees the same trials)."""
    s = catalogue(data)[name]
    asked, yardstick = fresh_noise(s, seed)
    start = default_init_points(s.space.dim)
    strategy = build_strategy(
        "bayes", s.space, seed=seed, init_points=start, budget=max(checkpoints),
        binomial_n=s.binomial_n,
    )  # fmt: skip
    axis = np.linspace(0.0, 1.0, MAP_RESOLUTION)
    units = np.array([[x, y] for x in axis for y in axis])
    grid = [s.space.from_unit(u) for u in units]
    truth = np.array([yardstick.f(p) for p in grid])
    near = truth >= yardstick.optimum - MAP_REGION * s.sigma
    points, values, out = [], [], {}
    for k in range(1, max(checkpoints) + 1):
        p = strategy.ask()
        points.append(p)
        values.append(asked.f(p))
        strategy.tell(p, values[-1])
        if k not in checkpoints:
            continue
        tried = np.array([s.space.to_unit(q) for q in points])
        maps = {
            OURS: explain.posterior(strategy, units)[0],
            "skopt gp_minimize": skopt_map(s.space, points, np.array(values), grid),
            "optuna GP": optuna_map(tried, np.array(values), units),
        }
        for method, mean in maps.items():
            err = (mean - truth) / s.sigma
            out[(method, k)] = (float(np.sqrt(np.mean(err**2))),
                                float(np.sqrt(np.mean(err[near] ** 2))))  # fmt: skip
    return out


def _map_task(args: tuple) -> tuple[tuple, dict]:
    return args[:2], map_errors(*args)


def map_report(
    names: list[str], seeds: range, data: str, jobs: int, checkpoints: tuple[int, ...] = (12, 25)
) -> list[str]:
    tasks = [(n, seed, data, checkpoints) for n in names for seed in seeds]
    done = dict(_map(_map_task, tasks, jobs))
    lines = [
        "### Is the map right?",
        "",
        f"RMSE in sigma between each GP's mean over the dropout x log-lr plane "
        f"({MAP_RESOLUTION} x {MAP_RESOLUTION}) and the other half's noise-free estimate, "
        f'after this project\'s trials; "near the best": where the estimate is within '
        f"{MAP_REGION:g} sigma of its best. Median over {len(seeds)} seeds [95% CI of the "
        "mean paired difference, ours minus the other], Wilcoxon p (Holm over the two).",
        "",
        "| surface | trials | GP | whole plane | near the best | ours - GP, near the best | "
        "p (Holm) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    targets = []
    for n in names:
        for k in checkpoints:
            ours = np.array([done[(n, seed)][(OURS, k)] for seed in seeds])
            others = {m: np.array([done[(n, seed)][(m, k)] for seed in seeds])
                      for m in ("skopt gp_minimize", "optuna GP")}  # fmt: skip
            pvalues = holm([wilcoxon(ours[:, 1], o[:, 1]) for o in others.values()])
            lines.append(f"| {n} | {k} | {OURS} | {np.median(ours[:, 0]):.2f} | "
                         f"{np.median(ours[:, 1]):.2f} | — | — |")  # fmt: skip
            highs = {}
            for (m, o), p in zip(others.items(), pvalues, strict=True):
                low, high = bootstrap_mean(ours[:, 1] - o[:, 1])
                highs[m] = high
                lines.append(
                    f"| {n} | {k} | {m} | {np.median(o[:, 0]):.2f} | {np.median(o[:, 1]):.2f} "
                    f"| {np.mean(ours[:, 1] - o[:, 1]):+.2f} [{low:+.2f}, {high:+.2f}] | {_p(p)} |"
                )
            if k == 25 == checkpoints[-1]:
                better = min(others, key=lambda m: float(np.mean(others[m][:, 1])))
                under = float(np.median(ours[:, 1]))
                targets.append(
                    f"- {n}, 25 trials: near the best, ours - {better} (the better of the two) "
                    f"upper end {highs[better]:+.2f} sigma; no worse (upper <= "
                    f"+{MARGIN_SIGMA}): {_met(highs[better] <= MARGIN_SIGMA)}; ours {under:.2f} "
                    f"sigma (median), under 1 "
                    f"sigma: {_met(under < 1)}"
                )
    return [*lines, "", *targets, ""]


# -- the report ------------------------------------------------------------------------------
def _log(regret: np.ndarray) -> np.ndarray:
    return np.log10(np.maximum(regret, FLOOR))


def paired_rows(by_method: dict, budget: int, sigma_units: bool) -> list[dict]:
    """Ours against every other method at ``budget``: the paired difference (ours minus
    peer; in sigma, or of log10 regret on the synthetic functions), its bootstrap interval,
    and the Wilcoxon p-value with Holm's correction over the rows."""
    mine = np.array([c[budget - 1] for c in by_method[OURS]])
    rows = []
    for m, curves in by_method.items():
        if m == OURS:
            continue
        theirs = np.array([c[budget - 1] for c in curves])
        diff = mine - theirs if sigma_units else _log(mine) - _log(theirs)
        low, high = bootstrap_mean(diff)
        rows.append({"peer": m, "mean": float(diff.mean()), "low": low, "high": high,
                     "p": wilcoxon(mine, theirs)})  # fmt: skip
    for row, adjusted in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = adjusted
    return rows


def summary_table(name: str, by_method: dict, budget: int, sigma_units: bool) -> list[str]:
    n = len(by_method[OURS])
    rows = {r["peer"]: r for r in paired_rows(by_method, budget, sigma_units)}
    random = np.median([c[budget - 1] for c in by_method["random"]])
    if sigma_units:
        lines = [
            f"#### {name}, {budget} trials, {n} seeds (regret in sigma)",
            "",
            f"| method | within {NEAR} sigma [95% CI] | mean regret [95% CI] | median trials "
            f"to within {NEAR} sigma | ours - method, mean [95% CI] | p (Holm) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
    else:
        lines = [
            f"#### {name}, {budget} trials, {n} seeds",
            "",
            "| method | median regret (x random) | mean log10(ours / method) [95% CI] | p (Holm) |",
            "| --- | --- | --- | --- |",
        ]
    for m, curves in by_method.items():
        final = np.array([c[budget - 1] for c in curves])
        row = rows.get(m)
        versus = (
            f"{row['mean']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}] | {_p(row['p_holm'])}"
            if row else "— | —"
        )  # fmt: skip
        if sigma_units:
            near = int(np.sum(final <= NEAR))
            lo, hi = wilson(near, n)
            mlo, mhi = bootstrap_mean(final)
            ttt = trials_to_target(np.array(curves)[:, :budget], NEAR)
            lines.append(
                f"| {m} | {near}/{n} = {near / n:.0%} [{lo:.0%}, {hi:.0%}] | {final.mean():.2f} "
                f"[{mlo:.2f}, {mhi:.2f}] | {_trials(ttt)} | {versus} |"
            )
        else:
            med = float(np.median(final))
            ratio = f" ({med / random:.2f})" if random > 0 else ""
            lines.append(f"| {m} | {med:.4g}{ratio} | {versus} |")
    return [*lines, ""]


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _trials(t: float) -> str:
    return "not reached" if math.isinf(t) else f"{t:g}"


def target_lines(results: dict, cnn: list[str]) -> list[str]:
    """One line per target of the protocol, met or missed, with the figures."""
    lines = []
    if len(next(iter(next(iter(results.values())).values()))[0]) < 25:
        return ["- (the targets are at 25 trials and more: not reached by this run)"]
    for name in cnn:
        by = results[name]
        final = np.array([c[24] for c in by[OURS]])
        near, n = int(np.sum(final <= NEAR)), len(final)
        lo, _ = wilson(near, n)
        ok = near / n >= 0.85 and lo >= 0.75
        lines.append(
            f"- {name}, 25 trials: within {NEAR} sigma in {near}/{n} = {near / n:.0%} (Wilson "
            f"lower {lo:.0%}); target >= 85% with lower >= 75%: {_met(ok)}"
        )
        rows = {r["peer"]: r for r in paired_rows(by, 25, True)}
        for peer in (peer for peer in GP_PEERS if peer in rows):  # the peers this run had
            r = rows[peer]
            lines.append(
                f"- {name}, 25 trials: ours - {peer} = {r['mean']:+.3f} sigma, upper end "
                f"{r['high']:+.3f}; non-inferior (upper <= +{MARGIN_SIGMA}): "
                f"{_met(r['high'] <= MARGIN_SIGMA)}"
            )
        r = rows["random"]
        better = r["mean"] < 0 and r["p_holm"] < 0.01
        lines.append(
            f"- {name}, 25 trials: ours - random = {r['mean']:+.3f} sigma, p (Holm) "
            f"{_p(r['p_holm'])}; better than random with p < 0.01: {_met(better)}"
        )
    if "branin" in results:
        by = results["branin"]
        mine, rand = (np.median([c[24] for c in by[m]]) for m in (OURS, "random"))
        lines.append(
            f"- branin, 25 trials: median regret {mine:.4g} = {mine / rand:.3f} x random's; "
            f"target <= 1/3: {_met(mine <= rand / 3)}"
        )
        lines.append(_noninferior_line("branin", by, _best_peer(by, 25), 25))
    if "hartmann-6" in results:
        by = results["hartmann-6"]
        lines.append(_noninferior_line("hartmann-6", by, "skopt gp_minimize", 25))
        if len(by[OURS][0]) >= 50:
            final = np.array([c[49] for c in by[OURS]])
            share = float(np.mean(final <= 0.1))
            lines.append(
                f"- hartmann-6, 50 trials: regret <= 0.1 in {share:.0%} of seeds; target "
                f">= {HARTMANN_SHARE:.0%}: {_met(share >= HARTMANN_SHARE)}"
            )
    return lines or ["- (no target on these surfaces: reported against the other methods)"]


def _best_peer(by: dict, budget: int) -> str:
    peers = [m for m in by if m not in (OURS, "random")]
    return min(peers, key=lambda m: float(np.median([c[budget - 1] for c in by[m]])))


def _noninferior_line(name: str, by: dict, peer: str, budget: int) -> str:
    r = {row["peer"]: row for row in paired_rows(by, budget, False)}[peer]
    bound = math.log10(MARGIN_RATIO)
    return (
        f"- {name}, {budget} trials: against {peer}, mean log10(ours / peer) {r['mean']:+.3f}, "
        f"upper end {r['high']:+.3f}; non-inferior (upper <= log10 {MARGIN_RATIO} = "
        f"{bound:.3f}): {_met(r['high'] <= bound)}"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def oracle_regret(s: Surface, asked: int, resolution: int = 121) -> float:
    """In sigma: the best point of one half's estimate, scored on the other half's. The
    least regret a method that hands over its best estimated point could have."""
    axis = np.linspace(0.0, 1.0, resolution)
    grid = [s.space.from_unit(np.array([x, y])) for x in axis for y in axis]
    best = max(grid, key=s.halves[asked].smooth)
    other = s.halves[1 - asked]
    return (other.optimum - other.smooth(best)) / s.sigma


def report(results: dict, budgets: list[int], data: str) -> list[str]:
    every = catalogue(data)
    cnn = [n for n in results if every[n].halves]
    lines = ["### Targets", "", *target_lines(results, cnn), "", "### Tables", ""]
    for name, by in results.items():
        sigma = every[name].halves != ()
        if sigma:
            s = every[name]
            floor = ", ".join(f"{oracle_regret(s, k):.3f}" for k in (0, 1))
            lines.append(
                f"{name}: sigma = {s.sigma:.4f} (one run's noise, pooled). The best point of "
                f"each half's estimate, scored on the other half: regret {floor} sigma.\n"
            )
        for b in budgets:
            if b <= len(by[OURS][0]):
                lines += summary_table(name, by, b, sigma)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_seed_arguments(parser, seeds=40)
    parser.add_argument("--surfaces", nargs="+", default=None, help="names; default all")
    parser.add_argument("--methods", nargs="+", default=list(DECLARED), choices=list(METHODS))
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--tables", type=int, nargs="+", default=[12, 25, 50])
    parser.add_argument("--data", default=str(ROOT / "bench" / "data"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--maps", action="store_true", help="measure the GP maps' error instead (CNN surfaces)"
    )
    parser.add_argument("--map-trials", type=int, nargs="+", default=[12, 25])
    parser.add_argument(
        "--curves", default=None, metavar="JSON", help="report the curves.json of a run again"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.curves:
        results = json.loads(Path(args.curves).read_text())
        publish(report(results, args.tables, args.data), argv, "bench/protocol.py", args.out)
        return 0
    names = args.surfaces or list(catalogue(args.data))
    unknown = sorted(set(names) - set(catalogue(args.data)))
    if unknown:
        parser.error(f"unknown surfaces {unknown}; known: {sorted(catalogue(args.data))}")
    if OURS not in args.methods or "random" not in args.methods:
        parser.error(f"--methods must include {OURS!r} and 'random'")
    typed = [
        n for n in names if any(p.kind != "float" for p in catalogue(args.data)[n].space.params)
    ]
    if typed and "bayes_opt as in the seed" in args.methods:
        parser.error(f"'bayes_opt as in the seed' takes float bounds only; {typed[0]!r} has "
                     "int or categorical parameters")  # fmt: skip
    if args.maps:
        cnn = [n for n in names if catalogue(args.data)[n].halves]
        lines = map_report(cnn, seed_range(args), args.data, args.jobs, tuple(args.map_trials))
        publish(lines, argv, "bench/protocol.py", args.out)
        record_run(args.out, started, args.jobs)
        return 0
    results, handovers = evaluate(
        names, args.methods, seed_range(args), args.budget, args.data, args.jobs
    )
    lines = report(results, args.tables, args.data) + handover_report(handovers, results)
    publish(lines, argv, "bench/protocol.py", args.out)
    if args.out:
        (Path(args.out) / "curves.json").write_text(json.dumps(results))
        if handovers:
            (Path(args.out) / "handovers.json").write_text(json.dumps(handovers))
    record_run(args.out, started, args.jobs)
    return 0


def record_run(out: str | None, started: float, jobs: int) -> None:
    """How long the run took, beside its results (``run.json``): what ``make bench`` costs."""
    if out:
        took = {
            "seconds": round(time.perf_counter() - started, 1),
            "jobs": jobs,
            "cpus": os.cpu_count(),
        }
        (Path(out) / "run.json").write_text(json.dumps(took) + "\n")


if __name__ == "__main__":
    sys.exit(main())
