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
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.learn import BENCHMARKS, run_strategy, simple_regret, trials_to_target
from core.space import Param, SearchSpace
from core.trainer import learned_nothing

ROOT = Path(__file__).resolve().parents[1]

BUDGETS = (12, 25, 50)
INIT_POINTS = 5


@dataclass(frozen=True)
class Surface:
    name: str
    space: SearchSpace
    f: Callable[[dict[str, float]], float]
    optimum: float
    target: float
    #: The noise-free estimate of ``f`` and its optimum, where ``f`` is one noisy draw.
    expected: Callable[[dict[str, float]], float] | None = None
    expected_optimum: float = math.nan
    #: How the estimate was made and how well it holds (markdown, for the report).
    note: str = ""
    #: Every stored run of the surface (``f`` is the first): with two or more, each query can
    #: be answered by one of them at random, as retraining the same point would.
    runs: tuple[Callable[[dict[str, float]], float], ...] = ()


_H6_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
)  # fmt: skip
_H6_P = 1e-4 * np.array(
    [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
)  # fmt: skip
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: dict[str, float]) -> float:
    x = np.array([p[f"x{i}"] for i in range(1, 7)])
    return float(np.sum(_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def denoise(runs: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """A noise-free estimate of a grid of accuracies from one or more runs of every cell,
    and the std of one run's noise that it finds.

    A GP (amplitude x Matern 5/2 with one length scale per axis, plus white noise, every
    hyperparameter by maximum likelihood) on all the cells of all the runs, over the unit
    square. NaN cells (collapsed runs) are left out.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    rows, cols = runs[0].shape
    grid = np.array([[i, j] for i in np.linspace(0, 1, rows) for j in np.linspace(0, 1, cols)])
    x = np.tile(grid, (len(runs), 1))
    y = np.concatenate([r.ravel() for r in runs])
    kept = ~np.isnan(y)
    x, y = x[kept], y[kept]
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        [0.3, 0.3], (0.02, 100.0), nu=2.5
    ) + WhiteKernel(1e-2, (1e-6, 1.0))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=5, random_state=0)
    with warnings.catch_warnings():  # length scales at their ceiling: a flat axis
        warnings.simplefilter("ignore")
        gp.fit(x, y)
    noise = math.sqrt(gp.kernel_.k2.noise_level) * float(np.std(y))
    return gp.predict(grid).reshape(rows, cols), noise


def _final_accuracy(table: dict) -> np.ndarray:
    return np.array(
        [
            [cell[-1] if cell[-1] is not None else 0.0 for cell in row]
            for row in table["val_accuracy"]
        ]
    )


def _rms(a: np.ndarray) -> float:
    """Root mean square over the entries that are not NaN."""
    return float(np.sqrt(np.nanmean(np.square(a))))


def _collapsed(acc: np.ndarray, table: dict) -> np.ndarray:
    """Cells whose run learned nothing, by the trainer's own rule (or a failed run, stored as
    0). That is a collapse, not noise about the cell's accuracy."""
    return learned_nothing(acc, table["baseline_accuracy"], table["validation_samples"])


def tabular(path: Path, replicates: Path | None = None) -> Surface:
    """A CNN surface from bench/data: final-epoch validation accuracy, interpolated.

    Further runs of the same grid in ``replicates`` (``<stem>-run*.json``, from
    ``make_tabular.py --run N``) only sharpen the noise-free estimate; the optimizers see
    the table in ``path``.
    """
    from scipy.interpolate import RegularGridInterpolator

    table = json.loads(path.read_text())
    d = np.array(table["dropout2_rate"])
    lg = np.array(table["log10_lr"])
    acc = _final_accuracy(table)
    runs = [acc]
    folder = replicates if replicates is not None else path.parent.parent / "replicates"
    for extra in sorted(folder.glob(f"{path.stem}-run*.json")):
        other = json.loads(extra.read_text())
        same = ("dataset", "summary", "budget", "dropout2_rate", "log10_lr")
        if any(other[k] != table[k] for k in same):
            raise ValueError(f"{extra} is not another run of {path}: it differs in {same}")
        runs.append(_final_accuracy(other))
    space = SearchSpace(
        [Param("dropout2_rate", float(d[0]), float(d[-1])),
         Param("lr", float(10 ** lg[0]), float(10 ** lg[-1]), log=True)]
    )  # fmt: skip

    def lookup(values: np.ndarray) -> Callable[[dict[str, float]], float]:
        interp = RegularGridInterpolator((d, lg), values)

        def f(p: dict[str, float]) -> float:
            x = (
                min(max(p["dropout2_rate"], d[0]), d[-1]),
                min(max(math.log10(p["lr"]), lg[0]), lg[-1]),
            )
            return float(np.ravel(interp(x))[0])

        return f

    # collapsed runs (chance accuracy) are left out of the estimate and the noise figures;
    # the views still serve them, as retraining would
    clean = [np.where(_collapsed(r, table), np.nan, r) for r in runs]
    smooth, noise = denoise(clean)
    note = (
        f"Noise-free estimate from {len(runs)} run(s) of every cell; one run's noise, as it "
        f"finds it: std {noise:.4f}. Best cell: {acc.max():.4f} as stored, "
        f"{smooth.max():.4f} noise-free."
    )
    lost = [(k, i, j) for k, r in enumerate(clean) for i, j in np.argwhere(np.isnan(r))]
    if lost:
        where = "; ".join(
            f"run {k}, dropout {d[i]:.2f}, lr {10 ** lg[j]:.1e}: {runs[k][i, j]:.2f}"
            for k, i, j in lost
        )
        note += (
            f" {len(lost)} of {len(runs) * acc.size} trainings collapsed to chance accuracy "
            f"({where}): left out of the estimate and the noise figures, still answered as "
            f"stored."
        )
    if len(runs) > 1:
        every = np.stack(clean)
        rest = every[1:]
        spread = float(np.sqrt(np.nanmean(np.nanvar(every, axis=0, ddof=1))))
        note += (
            f" Over the {len(runs)} runs, one run's noise (each cell's spread about its own "
            f"mean, pooled): std {spread:.4f}. The other {len(runs) - 1} run(s) are predicted "
            f"with RMS error {_rms(rest - denoise([clean[0]])[0]):.4f} by the estimate from "
            f"the stored run alone, {_rms(rest - clean[0]):.4f} by the stored values themselves."
        )
    # half a point of accuracy counts as reached
    lookups = tuple(lookup(r) for r in runs)
    return Surface(
        f"cnn {table['dataset']}", space, lookups[0], float(acc.max()), 0.005,
        expected=lookup(smooth), expected_optimum=float(smooth.max()), note=note, runs=lookups,
    )  # fmt: skip


def surfaces(data_dir: Path = ROOT / "bench" / "data") -> list[Surface]:
    b = BENCHMARKS["branin"]
    out = [Surface("branin", b.space, b.f, b.optimum, b.target)]
    h6 = SearchSpace([Param(f"x{i}", 0.0, 1.0) for i in range(1, 7)])
    out.append(Surface("hartmann-6", h6, hartmann6, 3.32237, 0.1))
    out += [tabular(p) for p in sorted(data_dir.glob("cnn-*.json"))]
    return out


# -- methods: each returns the values of `budget` sequential trials -----------------------


def ours(kind: str) -> Callable[[Surface, int, int], list[float]]:
    def run(s: Surface, seed: int, budget: int) -> list[float]:
        return run_strategy(kind, s.space, s.f, seed=seed, budget=budget, init_points=INIT_POINTS)

    return run


def seed_style(s: Surface, seed: int, budget: int) -> list[float]:
    """bayes_opt as the blog used it: raw (linear) bounds, default GP and UCB, maximize()."""
    from bayes_opt import BayesianOptimization

    names = s.space.names
    values: list[float] = []

    def f(**kw: float) -> float:
        values.append(s.f(kw))
        return values[-1]

    opt = BayesianOptimization(
        f, {p.name: (p.low, p.high) for p in s.space.params}, random_state=seed, verbose=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.maximize(init_points=min(INIT_POINTS, budget), n_iter=max(0, budget - INIT_POINTS))
    assert len(values) == budget and names
    return values


def optuna_sampler(kind: str) -> Callable[[Surface, int, int], list[float]]:
    def run(s: Surface, seed: int, budget: int) -> list[float]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if kind == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=INIT_POINTS)
        study = optuna.create_study(direction="maximize", sampler=sampler)

        def objective(trial: optuna.Trial) -> float:
            p = {
                q.name: trial.suggest_float(q.name, q.low, q.high, log=q.log)
                for q in s.space.params
            }
            return s.f(p)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(objective, n_trials=budget)
        return [t.value for t in study.trials]

    return run


def skopt_gp(s: Surface, seed: int, budget: int) -> list[float]:
    from skopt import gp_minimize
    from skopt.space import Real

    dims = [Real(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name)
            for p in s.space.params]  # fmt: skip
    names = s.space.names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gp_minimize(
            lambda x: -s.f(dict(zip(names, x, strict=True))),
            dims,
            n_calls=budget,
            n_initial_points=min(INIT_POINTS, budget),
            random_state=seed,
        )
    return [-v for v in res.func_vals]


METHODS: dict[str, Callable[[Surface, int, int], list[float]]] = {
    "bayes (this project)": ours("bayes"),
    "bayes_opt as in the seed": seed_style,
    "random": ours("random"),
    "grid": ours("grid"),
    "optuna TPE": optuna_sampler("tpe"),
    "optuna GP": optuna_sampler("gp"),
    "skopt gp_minimize": skopt_gp,
}
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
            recorded, points = _recording(surface)
            values = np.asarray(run(recorded, seed, budget), dtype=float)
            if key == "observed":
                out[key][seed] = simple_regret(s.optimum, values)
            if s.expected is None:
                continue
            if len(points) != budget:
                raise RuntimeError(f"{method} evaluated {len(points)} points for {budget} trials")
            truth = np.array([s.expected(p) for p in points])
            incumbent = [int(np.argmax(values[: k + 1])) for k in range(budget)]
            out[scored_in][seed] = np.maximum(s.expected_optimum - truth[incumbent], 0.0)
    return out


def view_names(s: Surface) -> dict[str, str]:
    """The report's name of each view of ``s``, by ``regret_curves``' key."""
    views = {"observed": s.name}
    if s.expected:
        views["expected"] = f"{s.name} (expected)"
        if len(s.runs) > 1:
            views["retrained"] = f"{s.name} (retrained)"
    return views


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


def report(results: dict, surface_list: list[Surface], budgets: tuple[int, ...]) -> str:
    targets = {view: s.target for s in surface_list for view in view_names(s).values()}
    notes = {}
    for s in surface_list:
        views = view_names(s)
        if "expected" in views:
            notes[views["expected"]] = (
                f"Regret on the noise-free estimate at each method's incumbent. {s.note}\n\n"
            )
        if "retrained" in views:
            notes[views["retrained"]] = (
                f"As the expected view, but every query is answered by one of the "
                f"{len(s.runs)} stored runs, drawn at random (the same draws for every "
                f"method), as training the point again would.\n\n"
            )
    lines = []
    for name, by_method in results.items():
        lines.append(f"\n### {name} (target: regret <= {targets[name]:g})\n")
        if name in notes:
            lines.append(notes[name])
        header = (
            "| method | "
            + " | ".join(f"median regret @{b} (x random)" for b in budgets)
            + f" | trials to target (of {max(budgets)}) |"
        )
        lines += [header, "|" + " --- |" * (len(budgets) + 2)]
        random = by_method.get("random")
        for m, r in by_method.items():
            cells = []
            for b in budgets:
                med = float(np.median(r["curves"][b][:, -1]))
                ratio = ""
                if random is not None:
                    base = float(np.median(random["curves"][b][:, -1]))
                    ratio = f" ({med / base:.2f})" if base > 0 else ""
                cells.append(f"{med:.4g}{ratio}")
            ttt = trials_to_target(r["curves"][max(budgets)], targets[name])
            cells.append("not reached" if math.isinf(ttt) else f"{ttt:g}")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def compare(finals: dict, ours: str = "bayes (this project)") -> str:
    """Ours against the best other method (lowest median) at each budget, with the two-sided
    Mann-Whitney U p-value over seeds: is the gap more than seed-to-seed scatter?"""
    from scipy.stats import mannwhitneyu

    lines = [
        "| surface | budget | ours (median) | best peer (median) | ours / peer | p (Mann-Whitney) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, by_method in finals.items():
        if ours not in by_method:
            continue
        for b in by_method[ours]:
            mine = by_method[ours][b]
            peers = {m: r[b] for m, r in by_method.items() if m not in (ours, "random", "grid")}
            if not peers:
                continue
            peer = min(peers, key=lambda m: float(np.median(peers[m])))
            a, c = float(np.median(mine)), float(np.median(peers[peer]))
            pvalue = mannwhitneyu(mine, peers[peer], alternative="two-sided").pvalue
            ratio = f"{a / c:.2f}" if c > 0 else "-"
            lines.append(f"| {name} | {b} | {a:.4g} | {peer}: {c:.4g} | {ratio} | {pvalue:.2f} |")
    return "\n".join(lines) + "\n"


def final_regrets(results: dict) -> dict:
    """Each seed's final regret, per surface, method and budget (JSON-ready)."""
    return {
        name: {
            m: {str(b): [float(v) for v in curves[:, -1]] for b, curves in r["curves"].items()}
            for m, r in by_method.items()
        }
        for name, by_method in results.items()
    }


def chart(results: dict, budget: int, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(results)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for col, name in enumerate(names, start=1):
        for m, r in results[name].items():
            curves = r["curves"][budget]
            med = np.maximum(np.median(curves, axis=0), 1e-6)
            fig.add_trace(
                go.Scatter(x=list(range(1, budget + 1)), y=list(med), name=m,
                           legendgroup=m, showlegend=col == 1, mode="lines"),
                row=1, col=col,
            )  # fmt: skip
        fig.update_yaxes(type="log", row=1, col=col)
    fig.update_layout(title=f"Median simple regret per trial (budget {budget})", height=450)
    fig.write_html(path, include_plotlyjs="cdn")


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
    chosen = surfaces(Path(args.data))
    if args.surfaces:
        chosen = [s for s in chosen if s.name in args.surfaces]
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
