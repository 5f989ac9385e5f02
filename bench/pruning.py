"""Compute to target, with and without pruning, on learning curves of the real CNN.

A query trains nothing: it reads the learning curve (validation accuracy and seconds per
epoch) of one of the stored training runs at that point, drawn at random as retraining
would give, interpolated over the grid (`make curves` builds the table). The curve is fed
one epoch at a time, so a pruner can stop it early, exactly as the runner does. Compute is
counted in epochs trained (and seconds, from the table).

The yardstick is a noise-free estimate of the final-epoch accuracy (a GP over every run's
final epochs, `bench.surfaces.denoise`). A method reaches the target when the trial it
would hand over (its best complete trial) is within half of one run's noise of the
estimate's best. Reported: the epochs spent until then, per method, over the same seeds
(paired: the same seed draws the same runs in the same query order for every method).

    .venv/bin/python bench/pruning.py --seeds 40 --out docs/benchmarks/pruning
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.methods import optuna_suggest
from bench.report import add_seed_arguments, seed_range
from bench.stats import holm, wilcoxon, wilson
from bench.surfaces import denoise
from core import explain
from core.optimizer import build_strategy
from core.pruners import Pruning
from core.space import Param, SearchSpace

ROOT = Path(__file__).resolve().parents[1]
INIT_POINTS = 5


@dataclass(frozen=True)
class Curves:
    """Every stored run's learning curves over one grid, and the noise-free yardstick."""

    space: SearchSpace
    epochs: int
    accuracy: tuple[Callable[[dict[str, float]], np.ndarray], ...]  # per run: p -> (epochs,)
    seconds: tuple[Callable[[dict[str, float]], np.ndarray], ...]
    expected: Callable[[dict[str, float]], float]
    best: float
    noise: float
    #: validation samples behind each accuracy: what a study tells its GP (its noise floor)
    binomial_n: int | None = None

    @property
    def target(self) -> float:
        """The regret (on the noise-free estimate) that counts as reached."""
        return 0.5 * self.noise


def load(paths: list[Path]) -> Curves:
    from scipy.interpolate import RegularGridInterpolator

    tables = [json.loads(p.read_text()) for p in paths]
    first = tables[0]
    for other, path in zip(tables[1:], paths[1:], strict=True):
        if any(other[k] != first[k] for k in ("summary", "budget", "dropout2_rate", "log10_lr")):
            raise ValueError(f"{path} is not another run of {paths[0]}")
    d, lg = np.array(first["dropout2_rate"]), np.array(first["log10_lr"])
    space = SearchSpace(
        [Param("dropout2_rate", float(d[0]), float(d[-1])),
         Param("lr", float(10 ** lg[0]), float(10 ** lg[-1]), log=True)]
    )  # fmt: skip

    def lookup(values: np.ndarray) -> Callable[[dict[str, float]], np.ndarray]:
        interp = RegularGridInterpolator((d, lg), values)

        def f(p: dict[str, float]) -> np.ndarray:
            x = (
                min(max(p["dropout2_rate"], d[0]), d[-1]),
                min(max(math.log10(p["lr"]), lg[0]), lg[-1]),
            )
            return np.asarray(interp([x]))[0]

        return f

    acc = [np.nan_to_num(np.array(t["val_accuracy"], dtype=float)) for t in tables]
    secs = [np.nan_to_num(np.array(t["epoch_seconds"], dtype=float)) for t in tables]
    smooth, noise = denoise([a[..., -1] for a in acc])
    final = lookup(smooth[..., None])
    return Curves(
        space=space,
        epochs=acc[0].shape[-1],
        accuracy=tuple(lookup(a) for a in acc),
        seconds=tuple(lookup(s) for s in secs),
        expected=lambda p: float(final(p)[0]),
        best=float(smooth.max()),
        noise=noise,
        binomial_n=first.get("validation_samples"),
    )


@dataclass
class Run:
    """One seed of one method run to its whole trial budget: the epochs and seconds spent
    until the target was reached (infinite: never), and after each trial the cumulative
    epochs and the handed-over trial's regret on the noise-free estimate."""

    epochs: float = math.inf
    seconds: float = math.inf
    trials: int = 0
    pruned: int = 0
    spent: list[int] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)

    def epochs_to(self, regret: float) -> float:
        """Epochs spent until the handed-over trial's regret was at most ``regret``."""
        return next((e for e, r in zip(self.spent, self.regret, strict=True) if r <= regret),
                    math.inf)  # fmt: skip


class Bookkeeper:
    """Feeds curves epoch by epoch, counts compute and tracks the handed-over trial."""

    def __init__(self, curves: Curves, seed: int) -> None:
        self.curves = curves
        self.rng = np.random.default_rng([seed, 1])
        self.run = Run()
        self.spent = 0
        self.seconds = 0.0
        self.best_value = -math.inf
        self.incumbent_regret = math.inf
        self.others: list[list[float]] = []

    def draw(self, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        k = int(self.rng.integers(len(self.curves.accuracy)))
        return self.curves.accuracy[k](p), self.curves.seconds[k](p)

    def finish(self, p: dict[str, float], trained: list[float], secs: np.ndarray) -> bool:
        """Count a trial that trained ``trained``; True when it reaches the target first."""
        self.run.trials += 1
        self.spent += len(trained)
        self.seconds += float(np.sum(secs[: len(trained)]))
        self.others.append(trained)
        complete = len(trained) == self.curves.epochs
        self.run.pruned += not complete
        if complete and trained[-1] > self.best_value:
            self.best_value = trained[-1]
            self.incumbent_regret = self.curves.best - self.curves.expected(p)
        self.run.spent.append(self.spent)
        self.run.regret.append(self.incumbent_regret)
        if math.isinf(self.run.epochs) and self.incumbent_regret <= self.curves.target:
            self.run.epochs, self.run.seconds = self.spent, self.seconds
            return True
        return False


def ours(kind: str, pruner: str, tell_pruned: str = "partial") -> Callable[[Curves, int, int], Run]:
    """This project's strategy ``kind`` with ``pruner``. A pruned trial is told to the
    optimizer as partial, with its curve (``"partial"``, what the runner does: a GP
    projects it to the whole budget) or as a failure (``"failure"``: the worst value
    seen)."""

    def run(curves: Curves, seed: int, max_trials: int) -> Run:
        strategy = build_strategy(
            kind, curves.space, seed=seed, init_points=INIT_POINTS, budget=max_trials,
            binomial_n=curves.binomial_n if kind == "bayes" else None,
        )  # fmt: skip
        pruning = Pruning(pruner)
        book = Bookkeeper(curves, seed)
        for _ in range(max_trials):
            p = strategy.ask()
            accuracy, secs = book.draw(p)
            trained: list[float] = []
            for e in range(curves.epochs):
                trained.append(float(accuracy[e]))
                if e + 1 < curves.epochs and pruning.should_prune(trained, book.others):
                    break
            pruned = len(trained) < curves.epochs
            if pruned and tell_pruned == "failure":
                strategy.tell(p, None)
            else:
                strategy.tell(p, trained[-1], curve=trained, partial=pruned)
            book.finish(p, trained, secs)
        return book.run

    return run


def optuna_tpe(pruner: str) -> Callable[[Curves, int, int], Run]:
    def run(curves: Curves, seed: int, max_trials: int) -> Run:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if pruner == "median":
            chosen = optuna.pruners.MedianPruner(n_startup_trials=INIT_POINTS, n_warmup_steps=1)
        else:
            chosen = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, n_startup_trials=INIT_POINTS
        )
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=chosen)
        book = Bookkeeper(curves, seed)

        def objective(trial: optuna.Trial) -> float:
            p = {q.name: optuna_suggest(trial, q) for q in curves.space.params}
            accuracy, secs = book.draw(p)
            trained: list[float] = []
            for e in range(curves.epochs):
                trained.append(float(accuracy[e]))
                trial.report(trained[-1], e + 1)
                if e + 1 < curves.epochs and trial.should_prune():
                    book.finish(p, trained, secs)
                    raise optuna.TrialPruned()
            book.finish(p, trained, secs)
            return trained[-1]

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(objective, n_trials=max_trials)
        return book.run

    return run


@dataclass
class Hint:
    """One seed of Bayesian optimization run to its whole budget: the trial after which the
    handed-over trial was really within the target, and the one after which the stopping
    hint first said "converged" (infinite: never)."""

    reached: float = math.inf
    fired: float = math.inf


def stopping_hint(curves: Curves, seed: int, budget: int) -> Hint:
    strategy = build_strategy(
        "bayes", curves.space, seed=seed, init_points=INIT_POINTS, binomial_n=curves.binomial_n
    )
    book = Bookkeeper(curves, seed)
    hint = Hint()
    for trial in range(1, budget + 1):
        p = strategy.ask()
        accuracy, secs = book.draw(p)
        trained = [float(v) for v in accuracy]
        strategy.tell(p, trained[-1])
        if book.finish(p, trained, secs) and math.isinf(hint.reached):
            hint.reached = trial
        convergence = explain.convergence(strategy)
        if convergence is not None and convergence.converged and math.isinf(hint.fired):
            hint.fired = trial
    return hint


def hint_report(hints: list[Hint], budget: int, seeds: range) -> str:
    fired = [h for h in hints if math.isfinite(h.fired)]
    late = sum(1 for h in fired if h.fired >= h.reached)
    saved = [(budget - h.fired) / budget if math.isfinite(h.fired) else 0.0 for h in hints]
    low, high = wilson(late, len(hints))
    return (
        "\n".join(
            [
                f"The stopping hint, Bayesian optimization without pruning, {len(hints)} seeds of "
                f"{budget} trials: it fired in {len(fired)} seeds, after the incumbent was really "
                f"within the target in {late} of {len(hints)} ({late / len(hints):.0%}, Wilson "
                f"95% {low:.0%}-{high:.0%}; target >= 80%). Budget it saves, median over seeds "
                f"(0 where it never fired): {float(np.median(saved)):.0%} (target >= 30%).",
                "",
                "| seed | trial within the target | trial the hint fired |",
                "| --- | --- | --- |",
                *(
                    f"| {s} | {h.reached:g} | {h.fired:g} |"
                    for s, h in zip(seeds, hints, strict=True)
                ),
            ]
        )
        + "\n"
    )


METHODS: dict[str, Callable[[Curves, int, int], Run]] = {
    "bayes, no pruner": ours("bayes", "none"),
    "bayes + median": ours("bayes", "median"),
    "bayes + asha": ours("bayes", "asha"),
    "bayes + median, pruned told as failures": ours("bayes", "median", "failure"),
    "bayes + asha, pruned told as failures": ours("bayes", "asha", "failure"),
    "random + asha": ours("random", "asha"),
    "optuna TPE + MedianPruner": optuna_tpe("median"),
    "optuna TPE + SuccessiveHalvingPruner": optuna_tpe("asha"),
}


def censored(*samples: np.ndarray) -> list[np.ndarray]:
    """Paired samples with a target never reached counted as more than any reached."""
    joined = np.concatenate(samples)
    cap = float(np.max(joined[np.isfinite(joined)], initial=0.0)) + 1.0
    return [np.where(np.isinf(s), cap, s) for s in samples]


def evaluate(
    curves: Curves, seeds: range, max_trials: int, methods: list[str] | None = None
) -> dict[str, list[Run]]:
    out = {}
    for name in methods or list(METHODS):
        started = time.time()
        out[name] = [METHODS[name](curves, seed, max_trials) for seed in seeds]
        print(f"{name:<40} {time.time() - started:6.1f}s", file=sys.stderr)
    return out


def at_budget(curves: Curves, results: dict[str, list[Run]], max_trials: int) -> list[str]:
    """Whole budgets: the compute each method spent, how good its answer was, and the
    compute it needed to do as well as Bayesian optimization without pruning did with its
    whole budget (the same best accuracy for fewer epochs is what pruning is for)."""
    base_name = "bayes, no pruner"
    reference = [r.regret[-1] for r in results[base_name]]
    matched = {
        name: np.array([r.epochs_to(ref) for r, ref in zip(runs, reference, strict=True)])
        for name, runs in results.items()
    }
    regret = {name: np.array([r.regret[-1] for r in runs]) / curves.noise
              for name, runs in results.items()}  # fmt: skip
    others = [name for name in results if name != base_name]
    p_regret = dict(zip(others, holm([wilcoxon(regret[n], regret[base_name]) for n in others]),
                        strict=True))  # fmt: skip
    base_matched = float(np.median(matched[base_name]))
    lines = [
        f"After the whole budget of {max_trials} trials, same seeds. Regret in units of one "
        f"run's noise ({curves.noise:.4f}); p: Wilcoxon on the paired regrets against "
        "Bayesian optimization without pruning, Holm-adjusted. Epochs to match: the epochs "
        "a method spent until its handed-over trial was as good as the one Bayesian "
        "optimization without pruning handed over after its whole budget (infinite: never).",
        "",
        "| method | epochs spent (median) | pruned trials (median) | regret in noise units "
        "(median) | within half a noise | p (regret) | epochs to match (median) | "
        "x bayes without pruning | matched |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in results.items():
        within = int(np.sum(regret[name] <= 0.5))
        low, high = wilson(within, len(runs))
        median = float(np.median(censored(matched[name])[0]))
        shown = f"{median:g}" if np.sum(np.isfinite(matched[name])) * 2 > len(runs) else "inf"
        ratio = median / base_matched if shown != "inf" else math.inf
        p = f"{p_regret[name]:.3g}" if name in p_regret else ""
        lines.append(
            f"| {name} | {float(np.median([r.spent[-1] for r in runs])):g} | "
            f"{float(np.median([r.pruned for r in runs])):g} | "
            f"{float(np.median(regret[name])):.2f} | {within}/{len(runs)} "
            f"({low:.0%}-{high:.0%}) | {p} | {shown} | {ratio:.2f} | "
            f"{int(np.sum(np.isfinite(matched[name])))}/{len(runs)} |"
        )
    return lines


def report(
    curves: Curves, results: dict[str, list[Run]], max_trials: int, first_seed: int, command: str
) -> str:
    seeds = len(next(iter(results.values())))
    epochs = {name: np.array([r.epochs for r in runs]) for name, runs in results.items()}
    base_name = "bayes, no pruner"
    base = epochs[base_name]
    others = [name for name in results if name != base_name]
    adjusted = dict(
        zip(others, holm([wilcoxon(*censored(epochs[n], base)) for n in others]), strict=True)
    )
    lines = [
        f"Epochs trained until the handed-over trial is within half of one run's noise "
        f"({curves.target:.4f}) of the noise-free best ({curves.best:.4f}); {seeds} seeds "
        f"(from {first_seed}), at most {max_trials} trials of {curves.epochs} epochs each. "
        "Paired: every method gets the same seeds and the same draws of the training runs. "
        "p: two-sided Wilcoxon signed-rank against Bayesian optimization without pruning, "
        "Holm-adjusted over the rows (a target never reached counts as more than any).",
        "",
        "| method | reached | median epochs to target | x bayes without pruning | "
        "median seconds | pruned trials (median) | p |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in results.items():
        median = float(np.median(epochs[name]))
        ratio = median / float(np.median(base))
        seconds = float(np.median([r.seconds for r in runs]))
        pruned = float(np.median([r.pruned for r in runs]))
        reached = int(np.sum(np.isfinite(epochs[name])))
        p = f"{adjusted[name]:.3g}" if name in adjusted else ""
        lines.append(
            f"| {name} | {reached}/{seeds} | {median:g} | {ratio:.2f} | {seconds:.0f} | "
            f"{pruned:g} | {p} |"
        )
    ours = ["bayes + median", "bayes + asha"]
    tpe = ["optuna TPE + MedianPruner", "optuna TPE + SuccessiveHalvingPruner"]
    best_tpe = min(tpe, key=lambda n: float(np.median(censored(epochs[n])[0])))
    lines += ["", "| pruner | x bayes without pruning (target <= 0.33) | against "
              f"{best_tpe} (paired, Holm over the two) |", "| --- | --- | --- |"]  # fmt: skip
    versus = holm([wilcoxon(*censored(epochs[n], epochs[best_tpe])) for n in ours])
    for name, p in zip(ours, versus, strict=True):
        mine, theirs = censored(epochs[name], epochs[best_tpe])
        ratio = float(np.median(epochs[name])) / float(np.median(base))
        verdict = "met" if ratio <= 1 / 3 else f"missed by {ratio * 3 - 1:.0%}"
        gap = float(np.median(mine - theirs))
        lines.append(
            f"| {name} | {ratio:.2f}: {verdict} | median paired difference {gap:+g} epochs, "
            f"p = {p:.3g} |"
        )
    lines += ["", *at_budget(curves, results, max_trials), "", f"Command: `{command}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--curves",
        nargs="+",
        default=sorted(str(p) for p in (ROOT / "bench" / "curves").glob("cnn-*-run*.json")),
        help="the runs of one learning-curve table (bench/curves/)",
    )
    add_seed_arguments(parser)
    parser.add_argument("--max-trials", type=int, default=20)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=None)
    parser.add_argument(
        "--hint-budget",
        type=int,
        default=50,
        help="trials per seed for the stopping hint's check (0: skip it)",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if not args.curves:
        parser.error("no learning-curve tables: run `make curves` first")
    curves = load([Path(p) for p in args.curves])
    seeds = seed_range(args)
    results = evaluate(curves, seeds, args.max_trials, args.methods)
    command = "python bench/pruning.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(curves, results, args.max_trials, args.first_seed, command)
    if args.hint_budget:
        started = time.time()
        hints = [stopping_hint(curves, s, args.hint_budget) for s in seeds]
        print(f"{'stopping hint':<40} {time.time() - started:6.1f}s", file=sys.stderr)
        text += "\n" + hint_report(hints, args.hint_budget, seeds)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pruning.md").write_text(text, encoding="utf-8")
        raw = {name: [r.__dict__ for r in runs] for name, runs in results.items()}
        (out / "pruning.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
