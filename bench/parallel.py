"""What running trials in parallel buys: trials per hour on Ray, and what it costs in samples.

1. **Scheduling efficiency.** The project's runner drives a real local Ray instance with N
   logical workers (N = 1, 2, 4, 8). Each trial is a stand-in that trains nothing: it
   sleeps the seconds per epoch that the real CNN measured at that point (the learning-curve
   table of `make curves`, one of its training runs drawn at random), times 0.5, and
   reports that run's validation accuracies. Reported: trials per hour against N, and their
   ratio to N times the rate with one worker.
2. **What parallelism costs in samples.** The same stand-in durations in a simulated clock
   (no Ray, no sleeping): four asynchronous workers against one at a time, on the same seeds
   (paired: the k-th point asked gets the k-th duration and the k-th noise draw). Reported:
   the regret after 25 trials, and the wall-clock time to reach the regret that the
   sequential run reached after 25.

    .venv/bin/python bench/parallel.py --out docs/benchmarks/parallel
"""

from __future__ import annotations

import argparse
import functools
import heapq
import math
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import pruning
from bench.report import add_seed_arguments, publish, seed_range
from bench.stats import holm, wilcoxon
from bench.surfaces import Surface, builders
from core.executor import Parallel, TrialActor, make_pool
from core.optimizer import build_strategy
from core.status import TrialStatus
from core.trainer import STOP_CODES, Budget, EpochMetrics, TrialOutcome

ROOT = Path(__file__).resolve().parents[1]
CURVES = sorted((ROOT / "bench" / "curves").glob("cnn-mnist-5k-run*.json"))
INIT_POINTS = 5


@functools.cache
def _curves(paths: tuple[str, ...]) -> pruning.Curves:
    return pruning.load([Path(p) for p in paths])


class StandIn(TrialActor):
    """A Ray actor with :class:`~core.executor.TrialActor`'s methods that trains nothing: it
    sleeps the measured seconds of each epoch (times ``SCALE``) and reports the measured
    validation accuracy of one stored training run at the point."""

    SCALE = 0.5
    PATHS: tuple[str, ...] = tuple(str(p) for p in CURVES)

    def __init__(self, dataset: Any, threads: int, model: Any = None) -> None:
        self._epochs: list[EpochMetrics] = []
        self._stop_as = 0
        self._stopped = threading.Event()

    def trial(self, params: dict[str, Any], budget: dict[str, Any], seed: int) -> TrialOutcome:
        self._epochs = []
        self._stop_as = 0
        self._stopped.clear()

        def wait(seconds: float) -> Any:
            self._stopped.wait(seconds)
            return STOP_CODES[self._stop_as]

        return stand_in_trial(params, budget["epochs"], seed, self._epochs.append, wait, self.SCALE)

    def cancel(self, code: int = 1) -> None:
        self._stop_as = code
        self._stopped.set()


def stand_in_trial(
    params: dict[str, Any],
    epochs: int,
    seed: int,
    on_epoch: Callable[[EpochMetrics], None],
    wait: Callable[[float], Any],
    scale: float = StandIn.SCALE,
) -> TrialOutcome:
    """One stand-in trial: for each epoch, ``wait(seconds)`` the measured seconds (times
    ``scale``) of one stored training run at ``params`` (True: stopped there), then report
    that run's validation accuracy."""
    curves = _curves(StandIn.PATHS)
    run = int(np.random.default_rng(seed).integers(len(curves.accuracy)))
    accuracy, seconds = curves.accuracy[run](params), curves.seconds[run](params)
    started = time.perf_counter()
    history: list[EpochMetrics] = []
    for e in range(min(epochs, curves.epochs)):
        stop = wait(float(seconds[e]) * scale)
        if stop == TrialStatus.PRUNED and history:
            return TrialOutcome(TrialStatus.PRUNED, history[-1].val_accuracy, history, "pruned")
        if stop:
            return TrialOutcome(TrialStatus.CANCELLED, None, history, "stopped")
        value = float(accuracy[e])
        history.append(EpochMetrics(e + 1, value, 1 - value, value, 1 - value, float(seconds[e])))
        on_epoch(history[-1])
    return TrialOutcome(
        TrialStatus.COMPLETE, value, list(history), None, time.perf_counter() - started
    )


# -- 1. scheduling efficiency on Ray ---------------------------------------------------------
def trials_per_hour(workers: int, trials: int, seed: int, runs_dir: Path, epochs: int = 6) -> float:
    """Trials per hour of one study of ``trials`` stand-in trials of ``epochs`` epochs on
    ``workers`` Ray workers, from the first trial's start to the last one's end."""
    from core.runner import Registry, Runner
    from core.store import Store
    from core.study import StudyConfig

    config = StudyConfig(
        name=f"workers{workers}-seed{seed}",
        dataset="digits",
        init_points=min(INIT_POINTS, trials),
        n_iter=trials - min(INIT_POINTS, trials),
        budget=Budget(epochs, 64),
        seed=seed,
        parallel=Parallel(workers=workers, address="auto"),  # Ray even for one worker
    )
    from bench import parallel  # the importable class, also when this file runs as a script

    pool = functools.partial(make_pool, actor=parallel.StandIn)
    with Store(runs_dir / "studies.db") as store:
        registry = Registry(store, runs_dir=runs_dir)
        runner = registry.create(
            config, runner_factory=functools.partial(Runner, pool_factory=pool)
        )
        runner.join()
        study = store.load(config.name)
    done = [t for t in study.trials if t.status == TrialStatus.COMPLETE]
    if len(done) != trials:
        raise RuntimeError(
            f"{config.name}: {len(done)} of {trials} trials completed ({study.error})"
        )
    span = max(t.finished_at for t in done) - min(t.started_at for t in done)
    return 3600.0 * trials / span


def scheduling(worker_counts: list[int], per_worker: int, seeds: int, epochs: int = 6) -> list[str]:
    from core.executor import connect

    connect("", num_cpus=max(worker_counts))
    rates: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in worker_counts:
            trials = per_worker * n
            rates[n] = [
                trials_per_hour(n, trials, 20_000 + s, Path(tmp), epochs) for s in range(seeds)
            ]
            print(f"workers {n}: {np.median(rates[n]):.0f} trials/h", file=sys.stderr)
    one = float(np.median(rates[worker_counts[0]]))
    lines = [
        f"Stand-in trials (the measured CNN epoch times of bench/curves x {StandIn.SCALE:g}, "
        f"median {_median_trial_seconds(epochs) * StandIn.SCALE:.1f} s a trial of {epochs} "
        f"epochs), {per_worker} trials "
        "a worker in each study (the first five random, the rest asked of the GP with the "
        "running trials pending), the project's runner on a local Ray instance with as many "
        f"logical CPUs as the largest N; median of {seeds} studies.",
        "",
        "| workers | trials per hour | x the rate of 1 worker | / N (target >= 0.9) |",
        "| --- | --- | --- | --- |",
    ]
    for n, values in rates.items():
        rate = float(np.median(values))
        verdict = "met" if rate / (n * one) >= 0.9 else "missed"
        lines.append(f"| {n} | {rate:.0f} | {rate / one:.2f} | {rate / (n * one):.2f}: {verdict} |")
    return lines


def _median_trial_seconds(epochs: int) -> float:
    curves = _curves(StandIn.PATHS)
    grid = np.linspace(0.0, 1.0, 10)
    totals = [
        float(np.sum(run(curves.space.from_unit(np.array([a, b])))[:epochs]))
        for run in curves.seconds
        for a in grid
        for b in grid
    ]
    return float(np.median(totals))


# -- 3. real training on this machine -----------------------------------------------------------
def real_training(dataset: str, trials: int, epochs: int) -> list[str]:
    """Trials per hour of the real CNN: one trial at a time with every core, against one
    trial per core on Ray, each with one TensorFlow thread."""
    import os

    from core.data import load_dataset
    from core.runner import Registry
    from core.store import Store
    from core.study import StudyConfig

    cores = os.cpu_count() or 1
    data = load_dataset(dataset, seed=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "studies.db") as store:
        for workers, cpus in ((1, cores), (cores, 1)):
            config = StudyConfig(
                name=f"real-{workers}x{cpus}",
                dataset=dataset,
                optimizer="random",
                init_points=trials,
                n_iter=0,
                budget=Budget(epochs, 64),
                parallel=Parallel(workers=workers, cpus_per_trial=cpus),
            )
            Registry(store, runs_dir=tmp).create(config, dataset=data).join()
            done = [t for t in store.load(config.name).trials if t.finished_at]
            span = max(t.finished_at for t in done) - min(t.started_at for t in done)
            rows.append((workers, cpus, 3600.0 * len(done) / span))
            print(f"{workers} x {cpus}: {rows[-1][2]:.0f} trials/h", file=sys.stderr)
    best = max(rows, key=lambda r: r[2])
    lines = [
        f"The seed's CNN on {dataset}, {trials} random trials of {epochs} epochs, batch 64, on "
        f"this machine's {cores} cores: one trial at a time with {cores} TensorFlow threads "
        f"(no Ray), against {cores} trials at once on a local Ray instance with one thread "
        "each.",
        "",
        "| trials at once | threads each | trials per hour |",
        "| --- | --- | --- |",
        *(f"| {w} | {c} | {rate:.0f} |" for w, c, rate in rows),
        "",
        f"Faster: {best[0]} at once with {best[1]} thread(s) each.",
    ]
    return lines


# -- 2. what parallelism costs in samples -----------------------------------------------------
@dataclass
class Trace:
    """Trials in the order they finished: when, and the regret of the answer so far."""

    times: list[float]
    regret: list[float]

    def time_to(self, regret: float) -> float:
        return next((t for t, r in zip(self.times, self.regret, strict=True) if r <= regret),
                    math.inf)  # fmt: skip


def simulate(
    surface: Surface, seed: int, workers: int, budget: int, durations: np.ndarray
) -> Trace:
    """``budget`` trials of Bayesian optimization with ``workers`` asynchronous workers on a
    simulated clock. The k-th point asked takes the k-th duration drawn for the seed and the
    k-th noise draw, whatever the number of workers."""
    strategy = build_strategy("bayes", surface.space, seed=seed, init_points=INIT_POINTS)
    rng = np.random.default_rng([seed, 3])
    draws = rng.choice(durations, size=budget)
    pick = rng.integers(max(1, len(surface.runs)), size=budget)
    truth: Callable[[dict[str, float]], float] = surface.expected or surface.f
    optimum = surface.expected_optimum if surface.expected else surface.optimum
    running: list[tuple[float, int, dict[str, float], float]] = []
    clock, best, best_regret = 0.0, -math.inf, math.inf
    trace = Trace([], [])
    for k in range(budget + 1):
        while running and (len(running) == workers or k == budget):
            clock, _, params, value = heapq.heappop(running)
            strategy.tell(params, value)
            if value > best:
                best, best_regret = value, optimum - truth(params)
            trace.times.append(clock)
            trace.regret.append(best_regret)
        if k == budget:
            break
        p = strategy.ask([q for _, _, q, _ in running])
        query = surface.runs[pick[k]] if surface.runs else surface.f
        heapq.heappush(running, (clock + float(draws[k]), k, p, float(query(p))))
    return trace


def sample_cost(names: list[str], seeds: range, budget: int, workers: int) -> list[str]:
    curves = _curves(StandIn.PATHS)
    durations = np.array(
        [float(np.sum(run(curves.space.from_unit(u)))) for run in curves.seconds
         for u in np.random.default_rng(0).random((200, 2))]
    )  # fmt: skip
    every = builders()  # build only the surfaces asked for (a CNN one fits four GPs)
    chosen = [every[n]() for n in every if n in names]
    rows, ps = [], []
    for surface in chosen:
        started = time.time()
        seq = [simulate(surface, s, 1, budget, durations) for s in seeds]
        par = [simulate(surface, s, workers, budget, durations) for s in seeds]
        r_seq = np.array([t.regret[budget - 1] for t in seq])
        r_par = np.array([t.regret[budget - 1] for t in par])
        reach = np.array(
            [p.time_to(s.regret[budget - 1]) / s.times[budget - 1]
             for s, p in zip(seq, par, strict=True)]
        )  # fmt: skip
        rows.append((surface.name, r_seq, r_par, reach))
        ps.append(wilcoxon(r_par, r_seq))
        print(f"{surface.name:<24} {time.time() - started:6.1f}s", file=sys.stderr)
    lines = [
        f"{workers} asynchronous workers against one at a time, {budget} trials, {len(seeds)} "
        f"paired seeds (from {seeds[0]}): the same durations (measured CNN trial times) and the same "
        "noise draws in the order points were asked. Regret on the noise-free estimate where "
        "the surface has one. Time to reach: the simulated wall-clock time until the parallel "
        f"run's answer was as good as the sequential run's after {budget} trials, over the "
        "sequential run's time for those trials (infinite: never within the budget). p: "
        "two-sided Wilcoxon on the paired regrets, Holm-adjusted over the rows.",
        "",
        f"| surface | median regret, 1 worker | median regret, {workers} workers | x 1 worker "
        "(target <= 1.5) | p | median time to reach, x 1 worker (target <= 0.35) | reached |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (name, r_seq, r_par, reach), p in zip(rows, holm(ps), strict=True):
        ratio = float(np.median(r_par)) / max(float(np.median(r_seq)), 1e-12)
        time_ratio = float(np.median(reach))
        lines.append(
            f"| {name} | {np.median(r_seq):.4g} | {np.median(r_par):.4g} | {ratio:.2f}: "
            f"{'met' if ratio <= 1.5 else 'missed'} | {p:.3g} | {time_ratio:.2f}: "
            f"{'met' if time_ratio <= 0.35 else 'missed'} | "
            f"{int(np.sum(np.isfinite(reach)))}/{len(reach)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument(
        "--trials-per-worker", type=int, default=4, help="stand-in trials a study, per worker (4)"
    )
    parser.add_argument("--studies", type=int, default=1, help="studies per worker count (1)")
    parser.add_argument(
        "--stand-in-epochs", type=int, default=6, help="epochs of each stand-in trial (6)"
    )
    parser.add_argument(
        "--surfaces", nargs="*", default=["branin", "cnn mnist-5k", "cnn fashion-mnist"]
    )
    add_seed_arguments(parser)
    parser.add_argument("--budget", type=int, default=25)
    parser.add_argument(
        "--real", default="mnist-5k", help="dataset for the real-training comparison ('' skips)"
    )
    parser.add_argument("--real-trials", type=int, default=8)
    parser.add_argument("--real-epochs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    lines: list[str] = []
    if args.workers:
        lines += ["## Scheduling efficiency", ""]
        lines += scheduling(
            args.workers, args.trials_per_worker, args.studies, args.stand_in_epochs
        )
    if args.surfaces:
        lines += ["", "## What parallelism costs in samples", ""]
        lines += sample_cost(args.surfaces, seed_range(args), args.budget, 4)
    if args.real:
        lines += ["", "## Real training on this machine", ""]
        lines += real_training(args.real, args.real_trials, args.real_epochs)
    publish(lines, argv, "bench/parallel.py", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
