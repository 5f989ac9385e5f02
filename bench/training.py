"""Does the tuner slow training down? Throughput of one trial through the project's
trainer (and the dashboard's worker process) against a plain ``model.fit`` on the same
model, data and batch size, alternating, several repeats in rotating order; what a trial
costs besides its epochs (model build, compile, tracing: trials of 1, 2 and 3 epochs on a
small dataset, the intercept of a line through their times); and the delay from an epoch's end to that epoch
appearing in the runner's snapshot.

    .venv/bin/python bench/training.py --dataset mnist-5k --epochs 2 --repeats 6 --out docs/benchmarks/training
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np

from bench.report import publish
from core.data import Dataset, load_dataset
from core.model import build_model
from core.runner import Registry
from core.status import TrialStatus
from core.store import Store
from core.study import StudyConfig
from core.trainer import Budget, train_trial
from core.worker import ProcessTrainer

ROOT = Path(__file__).resolve().parents[1]

PARAMS = {"dropout2_rate": 0.3, "lr": 1e-3}


def plain_fit(ds, budget: Budget, seed: int) -> float:  # noqa: ANN001
    """Seconds of a bare model.fit (model built and compiled inside the timing)."""
    import keras

    started = time.perf_counter()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build_model(ds.input_shape, ds.num_classes, **PARAMS)
    n = budget.train_size(len(ds.y_train))
    model.fit(ds.x_train[:n], ds.y_train[:n], batch_size=budget.batch_size, epochs=budget.epochs,
              validation_data=(ds.x_val, ds.y_val), shuffle=True, verbose=0)  # fmt: skip
    return time.perf_counter() - started


def trainer(ds, budget: Budget, seed: int) -> float:  # noqa: ANN001
    """Seconds of one trial through the trainer, in this process (the CLI's way)."""
    started = time.perf_counter()
    out = train_trial(ds, PARAMS, budget, seed=seed, on_epoch=lambda m: None)
    assert out.status == TrialStatus.COMPLETE, out.error
    return time.perf_counter() - started


def worker(proc: ProcessTrainer, ds, budget: Budget, seed: int) -> float:  # noqa: ANN001
    """Seconds of one trial in the dashboard's worker process."""
    started = time.perf_counter()
    out = proc.trial(PARAMS, budget, seed=seed, on_epoch=lambda m: None, should_stop=lambda: False)
    assert out.status == TrialStatus.COMPLETE, out.error
    return time.perf_counter() - started


def paths_for(
    ds: Dataset, proc: ProcessTrainer, warm_up: Budget
) -> dict[str, Callable[[Budget, int], float]]:
    """The three ways to train a trial on ``ds``, each run once at ``warm_up`` first (graph
    tracing and caches a process pays once)."""
    paths: dict[str, Callable[[Budget, int], float]] = {
        "plain model.fit": lambda b, seed: plain_fit(ds, b, seed),
        "trainer": lambda b, seed: trainer(ds, b, seed),
        "worker process": lambda b, seed: worker(proc, ds, b, seed),
    }
    for run in paths.values():
        run(warm_up, 0)
    return paths


def turned(items: list, r: int) -> list:
    """``items`` rotated left by ``r`` places."""
    k = r % len(items)
    return items[k:] + items[:k]


def rotated(names: list[str], repeats: int) -> list[tuple[int, str]]:
    """Each name once a repeat, the order rotated each repeat so that no path always runs
    first or after another: (repeat, name) pairs."""
    return [(r, n) for r in range(repeats) for n in turned(names, r)]


def fixed_cost(
    paths: dict[str, Callable[[Budget, int], float]],
    epochs: list[int],
    batch_size: int,
    repeats: int,
) -> dict[str, tuple[float, float, int]]:
    """Each path's trial seconds as ``fixed + per_epoch * epochs`` (least squares over trials
    of each epoch count, ``repeats`` times in rotating order): (fixed, per_epoch, trials)."""
    times: dict[str, list[tuple[int, float]]] = {name: [] for name in paths}
    for r, name in rotated(list(paths), repeats):
        for e in turned(epochs, r):
            times[name].append((e, paths[name](Budget(e, batch_size), 100 + r)))
    out = {}
    for name, points in times.items():
        per_epoch, fixed = np.polyfit([e for e, _ in points], [t for _, t in points], 1)
        out[name] = (float(fixed), float(per_epoch), len(points))
    return out


def snapshot_delays(dataset: str, budget: Budget, isolate: bool) -> list[float]:
    """Seconds from each epoch's end to its first appearance in a polled snapshot."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.db")
        config = StudyConfig(name="bench", dataset=dataset, init_points=2, n_iter=0,
                             budget=budget)  # fmt: skip
        runner = Registry(store, runs_dir=tmp, isolate=isolate).create(config)
        seen: dict[tuple[int, int], float] = {}
        ended: dict[tuple[int, int], float] = {}
        while runner.alive:
            snap = runner.snapshot()
            now = time.time()
            trials = [*snap.trials, *([snap.current] if snap.current else [])]
            for t in trials:
                for h in t.history:
                    key = (t.number, int(h["epoch"]))
                    seen.setdefault(key, now)
                    ended[key] = h["ended_at"]
            time.sleep(0.01)
        store.close()
    return [seen[k] - ended[k] for k in seen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fixed-epochs", type=int, nargs="+", default=[1, 2, 3],
                        help="the epoch counts of the trials that time a trial's fixed cost")  # fmt: skip
    parser.add_argument("--fixed-repeats", type=int, default=5)
    parser.add_argument("--fixed-dataset", default="digits",
                        help="the dataset of those trials: a small one, whose epochs are short "
                        "enough that the fixed part stands above their scatter")  # fmt: skip
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    ds = load_dataset(args.dataset)
    budget = Budget(args.epochs, args.batch_size)
    with closing(ProcessTrainer(ds)) as proc:
        paths = paths_for(ds, proc, budget)
        samples = budget.train_size(len(ds.y_train)) * budget.epochs
        rates: dict[str, list[float]] = {name: [] for name in paths}
        for r, name in rotated(list(paths), args.repeats):
            rates[name].append(samples / paths[name](budget, r + 1))
    small = load_dataset(args.fixed_dataset)
    with closing(ProcessTrainer(small)) as proc:
        paths = paths_for(small, proc, Budget(args.fixed_epochs[0], args.batch_size))
        fixed = fixed_cost(paths, args.fixed_epochs, args.batch_size, args.fixed_repeats)
    plain = statistics.median(rates["plain model.fit"])
    lines = [
        f"{ds.summary()}; {args.epochs} epochs, batch {args.batch_size}, "
        f"{args.repeats} repeats in rotating order after a warm-up",
        "",
        "| path | samples/s (median) | min - max | ratio to plain fit (median) |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in rates.items():
        med = statistics.median(values)
        spread = f"{min(values):,.0f} - {max(values):,.0f}"
        lines.append(f"| {name} | {med:,.0f} | {spread} | {med / plain:.3f} |")
    counts = ", ".join(str(e) for e in args.fixed_epochs)
    lines += [
        "",
        f"A trial's seconds as fixed + per epoch x epochs: a least-squares line through "
        f"trials of {counts} epochs on {args.fixed_dataset}, {args.fixed_repeats} of each a "
        "path, in rotating order. "
        "The fixed part is what a trial costs besides its epochs (the model built and "
        "compiled, the training step traced, the evaluation); a trial the pruner stops "
        "after its first epoch pays all of it.",
        "",
        "| path | fixed (s) | per epoch (s) | trials |",
        "| --- | --- | --- | --- |",
    ]
    for name, (cost, per_epoch, n) in fixed.items():
        lines.append(f"| {name} | {cost:.2f} | {per_epoch:.2f} | {n} |")
    lines += [
        "",
        "| runner | epochs seen | median delay (s) | max delay (s) |",
        "| --- | --- | --- | --- |",
    ]
    for isolate in (False, True):
        delays = snapshot_delays(args.dataset, budget, isolate)
        name = "worker process (dashboard)" if isolate else "in-process (CLI)"
        lines.append(
            f"| {name} | {len(delays)} | {statistics.median(delays):.3f} | {max(delays):.3f} |"
        )
    publish(lines, argv, "bench/training.py", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
