"""Sample efficiency: this project's "bayes" against the seed's way of using bayes_opt,
random and grid search, Optuna's TPE and GP samplers, and scikit-optimize's gp_minimize.

Surfaces: Branin, Hartmann-6, and the tabular CNN surfaces in bench/data/ (validation
accuracy of the real CNN trained on a 12 x 12 grid, linearly interpolated over
dropout x log10 lr). Every method maximises; regret = optimum - best so far.

Each CNN cell is one training run, so its accuracy carries that run's noise. Besides the
regret on the table as stored ("observed"), the CNN surfaces are also scored on their
expected accuracy: a GP with a fitted noise term, fitted to every cell of every stored run
(the table, plus any further runs in bench/replicates/), estimates the noise-free surface,
and the regret is the gap between its best cell and its value at the method's incumbent
(the trial it would hand to a user: its best observed one). Reported as
"<surface> (expected)". Where a surface has several stored runs, "<surface> (retrained)"
scores the same way a run in which every query is answered by one of the runs drawn at
random, as training the point again would: the methods no longer see one fixed draw of
the noise.

    .venv/bin/python bench/optimizers.py --seeds 20 --out docs/benchmarks
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.methods import METHODS
from bench.report import chart, compare, final_regrets, report
from bench.surfaces import ROOT, Surface, builders, view_names
from core.learn import simple_regret

BUDGETS = (12, 25, 50)
#: Methods whose first k trials do not depend on the budget: one run of the largest
#: budget gives every smaller one. Grid search lays its points out by budget.
BUDGET_DEPENDENT = {"grid"}


def _recording(s: Surface) -> tuple[Surface, list[dict[str, float]]]:
    """``s`` with every point its ``f`` is asked about kept, in order, in the list."""
    points: list[dict[str, float]] = []

    def f(p: dict[str, float]) -> float:
        points.append(dict(p))
        return s.f(p)

    return replace(s, f=f), points


def retrained(s: Surface, seed: int) -> Surface:
    """``s`` answering each query from one of its stored runs, drawn at random (the same
    draws, in query order, for every method with this seed)."""
    rng = np.random.default_rng([seed, 1])
    return replace(s, f=lambda p: s.runs[int(rng.integers(len(s.runs)))](p))


def incumbent_regret(
    s: Surface,
    method: str,
    seed: int,
    budget: int,
    truth: Callable[[dict[str, float]], float],
    optimum: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One run of ``method`` on ``s``: the values it saw, and after each trial the regret
    of its incumbent (its best observed trial so far) on ``truth``, whose best is
    ``optimum``."""
    points, values = recorded_run(s, method, seed, budget)
    at = np.array([truth(p) for p in points])
    incumbent = [int(np.argmax(values[: k + 1])) for k in range(budget)]
    return values, np.maximum(optimum - at[incumbent], 0.0)


def recorded_run(
    s: Surface, method: str, seed: int, budget: int
) -> tuple[list[dict[str, float]], np.ndarray]:
    """One run of ``method`` on ``s``: the points it evaluated, in order, and their values."""
    recorded, points = _recording(s)
    values = np.asarray(METHODS[method](recorded, seed, budget), dtype=float)
    if len(points) != budget:
        raise RuntimeError(f"{method} evaluated {len(points)} points for {budget} trials")
    return points, values


def regret_curves(s: Surface, method: str, seeds: int, budget: int) -> dict[str, np.ndarray]:
    """Regret after each trial (seeds x budget): ``"observed"`` on ``s.f`` as the method saw
    it; where the surface has a noise-free estimate, ``"expected"``: the estimate's gap at the
    method's incumbent (its best observed trial so far); and where it has several stored
    runs, ``"retrained"``: the same, with every query answered by a run drawn at random."""
    run = METHODS[method]
    out = {key: np.empty((seeds, budget)) for key in view_names(s)}
    for seed in range(seeds):
        # what the method sees -> the view its incumbent is scored in on the estimate
        seen = {"observed": (s, "expected")}
        if "retrained" in out:
            seen["retrained"] = (retrained(s, seed), "retrained")
        for key, (surface, scored_in) in seen.items():
            if s.expected is None:
                out[key][seed] = simple_regret(s.optimum, run(surface, seed, budget))
                continue
            values, regret = incumbent_regret(
                surface, method, seed, budget, s.expected, s.expected_optimum
            )
            if key == "observed":
                out[key][seed] = simple_regret(s.optimum, values)
            out[scored_in][seed] = regret
    return out


def evaluate(
    surface_list: list[Surface], methods: list[str], seeds: int, budgets: tuple[int, ...]
) -> dict:
    results: dict = {}
    for s in surface_list:
        views = view_names(s)
        for view in views.values():
            results[view] = {}
        for m in methods:
            started = time.time()
            if m in BUDGET_DEPENDENT:
                runs = {b: regret_curves(s, m, seeds, b) for b in budgets}
            else:
                full = regret_curves(s, m, seeds, max(budgets))
                runs = {b: {k: c[:, :b] for k, c in full.items()} for b in budgets}
            seconds = time.time() - started
            for key, view in views.items():
                results[view][m] = {
                    "curves": {b: runs[b][key] for b in budgets},
                    "seconds": seconds,
                }
            print(f"{s.name:<22} {m:<26} {seconds:6.1f}s", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--surfaces", nargs="+", default=None, help="names; default all")
    parser.add_argument("--data", default=str(ROOT / "bench" / "data"))
    parser.add_argument("--out", default=None, help="folder for optimizers.md / .html / .json")
    parser.add_argument(
        "--compare",
        nargs="+",
        default=None,
        metavar="JSON",
        help="only print the comparison with the best peer from saved optimizers.json files",
    )
    args = parser.parse_args(argv)
    if args.compare:
        finals = {}
        for path in args.compare:
            finals.update(json.loads(Path(path).read_text()))
        print(compare(finals))
        return 0
    every = builders(Path(args.data))
    chosen = [build() for name, build in every.items() if name in (args.surfaces or every)]
    budgets = tuple(sorted(args.budgets))
    results = evaluate(chosen, args.methods, args.seeds, budgets)
    text = report(results, chosen, budgets) + "\n" + compare(final_regrets(results))
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "optimizers.md").write_text(text)
        (out / "optimizers.json").write_text(json.dumps(final_regrets(results), indent=1))
        chart(results, max(budgets), out / "optimizers.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
