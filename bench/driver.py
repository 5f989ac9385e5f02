"""The driver's time per finished trial: what the runner's one thread computes between a
trial's end and the next trial's start, at a given number of trials told.

    .venv/bin/python bench/driver.py --trials 50 200 500 --out docs/benchmarks/driver

For each size, a GP strategy of the study's kind (the default settings, the noise floored
at a 500-image validation split) is told that many trials of a noisy smooth objective at
random points; then, ``--repeats`` times, one more trial is told and the lifecycle's and
the runner's work is timed: ``tell``, ``convergence()`` (the stopping hint) and
``ask(pending)``, with no trial running and with ``--pending`` running (a parallel study:
the next worker's ask, the Kriging believer conditioning on the running points; its
lifecycle refits the GP's hyperparameters in a background thread, which is given time
between two ends, as trials train, and is not timed). Timed apart: the 40 x 40 map
(``surrogate(40, pending)`` of a frozen copy, whose next point is that ask), which a page
computes when it draws the map, off the driver's thread. Writes ``driver.json`` (every
timing) and ``driver.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from core import explain
from core.optimizer import BayesStrategy
from core.space import SearchSpace, default_space, parse_param

ROOT = Path(__file__).resolve().parents[1]
NOISE = 0.01


def space_of(dim: int) -> SearchSpace:
    """The default 2-D space, or ``dim`` floats in [0, 1]."""
    if dim == 2:
        return default_space()
    return SearchSpace(parse_param(f"x{k}=float:0:1") for k in range(dim))


def objective(unit: np.ndarray, rng: np.random.Generator) -> float:
    """An accuracy-like value: a smooth bump at 0.3 in every coordinate, plus noise."""
    return float(0.9 - 0.2 * np.mean((unit - 0.3) ** 2) + rng.normal(0, NOISE))


def step_seconds(dim: int, told: int, pending: int, repeats: int,
                 seed: int) -> tuple[list[float], list[float]]:  # fmt: skip
    """Seconds of driver work for each of ``repeats`` finished trials after ``told``, and
    of a page's map of each."""
    space = space_of(dim)
    rng = np.random.default_rng([seed, told, pending])
    strategy = BayesStrategy(space, seed=seed, init_points=5, binomial_n=500)
    for _ in range(told):
        unit = rng.random(space.width)
        strategy.tell(space.from_unit(unit), objective(unit, rng))
    running = [space.from_unit(rng.random(space.width)) for _ in range(pending)]
    # trials running: a parallel study, whose lifecycle refits the GP in the background
    refits = strategy.refit_in_background() if pending else None
    if refits is not None:
        strategy.fit()  # the fits so far
    seconds, maps = [], []
    for _ in range(repeats):
        unit = rng.random(space.width)
        started = time.perf_counter()
        strategy.tell(space.from_unit(unit), objective(unit, rng))
        explain.convergence(strategy)
        strategy.ask(running)
        seconds.append(time.perf_counter() - started)
        frozen = strategy.frozen()
        started = time.perf_counter()
        explain.surrogate(frozen, 40, pending=running)
        maps.append(time.perf_counter() - started)
        if refits is not None:  # trials train a while between two ends: the refit's time
            refits.wait(len(strategy.observations))
    if refits is not None:
        refits.close()
    return seconds, maps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--dims", type=int, nargs="+", default=[2])
    parser.add_argument("--pending", type=int, nargs="+", default=[0, 7])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    for dim in args.dims:
        for told in args.trials:
            for pending in args.pending:
                seconds, maps = step_seconds(dim, told, pending, args.repeats, args.seed)
                rows.append({"dim": dim, "trials": told, "pending": pending,
                             "seconds": seconds, "map_seconds": maps})  # fmt: skip
                print(rows[-1], file=sys.stderr)
    command = "bench/driver.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        f"`{command}` ({os.cpu_count()} cores). Median seconds of the driver's work per "
        f"finished trial over {args.repeats} trials: tell, convergence and the next ask; "
        "and of the 40 x 40 map a page draws of it, off the driver's thread.",
        "",
        "| parameters | trials told | trials running | driver seconds per finished trial "
        "| map seconds (a page) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['dim']} | {r['trials']} | {r['pending']} | "
                     f"{statistics.median(r['seconds']):.2f} | "
                     f"{statistics.median(r['map_seconds']):.2f} |")  # fmt: skip
    print("\n".join(lines))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "driver.json").write_text(
            json.dumps({"command": command, "rows": rows}, indent=2) + "\n"
        )
        (args.out / "driver.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
