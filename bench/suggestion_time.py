"""Seconds per suggestion, this project's GP strategy against Optuna's GPSampler, after 10,
50 and 200 trials in 2, 6 and 9 dimensions (docs/BENCHMARKS.md, section 3).

Each row tells both the same history (random points of a held-out bumps function) and
times the next ask (after one untimed ask, so imports stay out; ours also says how much of
it was the fit): for ours the whole ask of a sequential study, the GP's MAP fit with its
restarts and the acquisition search; for Optuna ``study.ask()``, where GPSampler fits its
GP and searches its acquisition. The median of ``--repeats`` asks, each on a fresh strategy.

    OMP_NUM_THREADS=1 .venv/bin/python bench/suggestion_time.py --out docs/benchmarks/suggestion-time
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

from bench.protocol import Bumps
from bench.report import publish
from core.optimizer import BayesStrategy, default_init_points
from core.space import Param, SearchSpace

#: A study must not spend more time choosing than training: below this at 200 trials in 9-D.
TARGET_SECONDS = 1.0


def history(dim: int, n: int, seed: int) -> tuple[SearchSpace, list[dict[str, float]], list[float]]:
    space = SearchSpace([Param(f"x{i}", 0.0, 1.0) for i in range(dim)])
    f = Bumps(dim, 10_000)
    units = np.random.default_rng([seed, dim, n]).random((n, dim))
    points = [space.from_unit(u) for u in units]
    return space, points, [f.value(u) for u in units]


def ours(dim: int, n: int, seed: int) -> float:
    return ours_parts(dim, n, seed)[0]


def ours_parts(dim: int, n: int, seed: int) -> tuple[float, float]:
    """Our whole ask's seconds, and the part of them that is the GP's fit (the rest is
    the acquisition search: the ask reuses the fit made just before it)."""
    space, points, values = history(dim, n, seed)
    strategy = BayesStrategy(space, seed=seed, init_points=default_init_points(dim))
    for p, v in zip(points, values, strict=True):
        strategy.tell(p, v)
    start = time.perf_counter()
    strategy.fit()
    fitted = time.perf_counter()
    strategy.ask()
    return time.perf_counter() - start, fitted - start


def optuna_gp(dim: int, n: int, seed: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, points, values = history(dim, n, seed)
    distributions = {q.name: optuna.distributions.FloatDistribution(0.0, 1.0) for q in space.params}
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.GPSampler(seed=seed, n_startup_trials=5)
    )
    for p, v in zip(points, values, strict=True):
        study.add_trial(optuna.trial.create_trial(params=p, distributions=distributions, value=v))
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trial = study.ask()
        for name, dist in distributions.items():
            trial._suggest(name, dist)
    return time.perf_counter() - start


METHODS = {"bayes (this project)": ours, "optuna GP": optuna_gp}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 6, 9])
    parser.add_argument("--trials", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    lines = [
        "### Seconds per suggestion (median of "
        f"{args.repeats} asks; this machine, OMP_NUM_THREADS=1)",
        "",
        "| dims | trials told | " + " | ".join(args.methods) + " |",
        "| --- | --- | " + " | ".join("---" for _ in args.methods) + " |",
    ]
    worst = 0.0
    for method in args.methods:  # imports and first-call costs stay out of the table
        METHODS[method](2, 10, 99)
    for dim in args.dims:
        for n in args.trials:
            cells = []
            for method in args.methods:
                if method == "bayes (this project)":
                    parts = [ours_parts(dim, n, seed) for seed in range(args.repeats)]
                    whole = statistics.median(t for t, _ in parts)
                    fit = statistics.median(f for _, f in parts)
                    cells.append(f"{whole:.3f} (fit {fit:.3f})")
                    if dim == max(args.dims) and n == max(args.trials):
                        worst = whole
                    continue
                times = [METHODS[method](dim, n, seed) for seed in range(args.repeats)]
                cells.append(f"{statistics.median(times):.3f}")
            lines.append(f"| {dim} | {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Target: below {TARGET_SECONDS:g} s per suggestion at {max(args.trials)} trials in "
        f"{max(args.dims)}-D: {worst:.3f} s, " + ("met." if worst < TARGET_SECONDS else "missed."),
    ]
    publish(lines, argv, "bench/suggestion_time.py", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
