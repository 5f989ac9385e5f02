"""Scheduling efficiency at many workers: how much of N workers' time the driver keeps busy.

    .venv/bin/python bench/scheduling.py --workers 1 2 8 32 64 --studies 5 \\
        --out docs/benchmarks/scheduling

Each study is the project's runner and lifecycle, with the default GP strategy and the
default pruner, driving N stand-in workers: threads of the driver's process that train
nothing and sleep the seconds per epoch the real CNN measured at the asked point (the
learning-curve table of ``make curves``, one of its training runs drawn per trial, times
``--scale``), reporting that run's validation accuracies. No Ray: its per-trial overhead is
BENCHMARKS.md section 6's; this measures the driver's own work (tell, convergence check, the
map, the ask) on a real clock, which is what grows with N and with the trials told.

A worker's *utilization* is the share of the time, from the first trial's start until the
last trial was handed out (after that nothing is left to schedule), that it spent training.
A study's efficiency is its utilization over that of the one-worker studies, which make the
same GP-guided asks one at a time (``--baseline-trials`` trials each). Writes
``scheduling.json`` (every study) and ``scheduling.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.parallel import StandIn, stand_in_trial
from core.data import load_dataset
from core.executor import Parallel, Pool
from core.runner import Runner
from core.space import default_space
from core.store import Store
from core.study import study_config
from core.trainer import Budget, TrialOutcome
from core.worker import LocalTrainer

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 6


class SleepingTrainer:
    """A trainer in a thread of the driver's process that sleeps a stand-in trial; it
    records when each trial trained."""

    def __init__(self, info: Any, scale: float, spans: list[tuple[float, float]]) -> None:
        self.info = info
        self.scale = scale
        self.spans = spans

    def trial(self, params: dict[str, Any], budget: Budget, *, seed: int, on_epoch: Any,
              should_stop: Any) -> TrialOutcome:  # fmt: skip
        started = time.monotonic()

        def wait(seconds: float) -> Any:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if stop := should_stop():
                    return stop
                time.sleep(min(0.02, max(0.0, end - time.monotonic())))
            return should_stop()

        try:
            return stand_in_trial(params, budget.epochs, seed, on_epoch, wait, self.scale)
        finally:
            self.spans.append((started, time.monotonic()))


def study(workers: int, trials: int, seed: int, scale: float, tmp: Path, info: Any) -> dict:
    """One study of ``trials`` stand-in trials on ``workers`` stand-in workers."""
    name = f"w{workers}-s{seed}"
    init = min(5, trials)
    config = study_config(
        name, "digits", default_space(), init_points=init, n_iter=trials - init, seed=seed,
        epochs=EPOCHS, parallel=Parallel(workers=workers),
    )  # fmt: skip
    spans: list[tuple[float, float]] = []

    def pool(*_: Any, **__: Any) -> Pool:
        trainer = SleepingTrainer(info, scale, spans)
        return Pool([trainer] * workers, kind="stand-in")

    with Store(tmp / f"{name}.db") as store:
        store.create_study(config, ())
        runner = Runner(store, name, runs_dir=tmp, pool_factory=pool)
        started = time.monotonic()
        runner.start()
        runner.join()
        wall = time.monotonic() - started
        done = store.load(name)
    finished = [t for t in done.trials if t.finished_at]
    if len(finished) != trials:
        raise RuntimeError(f"{name}: {len(finished)} of {trials} trials finished ({done.error})")
    first = min(s for s, _ in spans)
    last_start = max(s for s, _ in spans)
    window = last_start - first
    busy = sum(max(0.0, min(e, last_start) - max(s, first)) for s, e in spans)
    return {
        "workers": workers,
        "trials": trials,
        "seed": seed,
        "utilization": busy / (workers * window) if window > 0 else 1.0,
        "trials_per_hour": 3600.0 * trials / (max(e for _, e in spans) - first),
        "wall_seconds": wall,
        "trained_seconds": sum(e - s for s, e in spans),
        "pruned": sum(1 for t in done.trials if t.status == "pruned"),
    }


def run(workers: list[int], per_worker: int, baseline_trials: int, studies: int,
        scale: float, seed: int = 30_000) -> list[dict]:  # fmt: skip
    info = LocalTrainer(load_dataset("digits", seed=1)).info
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in workers:
            trials = baseline_trials if n == 1 else per_worker * n
            for k in range(studies):
                rows.append(study(n, trials, seed + k, scale, Path(tmp), info))
                r = rows[-1]
                print(f"workers {n} study {k}: utilization {r['utilization']:.3f}, "
                      f"{r['trials_per_hour']:.0f} trials/h, {r['wall_seconds']:.0f} s",
                      file=sys.stderr)  # fmt: skip
    return rows


def table(rows: list[dict], scale: float, per_worker: int, baseline_trials: int) -> list[str]:
    base = [r["utilization"] for r in rows if r["workers"] == 1]
    one = statistics.mean(base)
    lines = [
        f"Stand-in trials of {EPOCHS} epochs (the measured CNN epoch times x {scale:g}), the "
        f"default GP strategy and pruner, {per_worker} trials a worker ({baseline_trials} for "
        f"one worker); {len(base)} studies per row. Efficiency: a study's utilization over "
        f"the one-worker studies' mean ({one:.3f}); median and range over the studies.",
        "",
        "| workers | trials | trials per hour (median) | efficiency, median [range] | "
        "target >= 0.9 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n in sorted({r["workers"] for r in rows}):
        mine = [r for r in rows if r["workers"] == n]
        eff = [r["utilization"] / one for r in mine]
        rate = statistics.median(r["trials_per_hour"] for r in mine)
        verdict = "met" if statistics.median(eff) >= 0.9 else "missed"
        if n == 1:
            verdict = "baseline"
        lines.append(
            f"| {n} | {mine[0]['trials']} | {rate:.0f} | {statistics.median(eff):.2f} "
            f"[{min(eff):.2f}, {max(eff):.2f}] | {verdict} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 8, 32, 64])
    parser.add_argument("--trials-per-worker", type=int, default=4)
    parser.add_argument("--baseline-trials", type=int, default=12)
    parser.add_argument("--studies", type=int, default=5)
    parser.add_argument("--scale", type=float, default=StandIn.SCALE)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "scheduling")
    args = parser.parse_args(argv)
    if 1 not in args.workers:
        parser.error("--workers must include 1: the baseline")
    rows = run(args.workers, args.trials_per_worker, args.baseline_trials, args.studies,
               args.scale)  # fmt: skip
    lines = table(rows, args.scale, args.trials_per_worker, args.baseline_trials)
    command = "bench/scheduling.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scheduling.json").write_text(
        json.dumps({"command": command, "rows": rows}, indent=1) + "\n"
    )
    (args.out / "scheduling.md").write_text(
        "# Scheduling efficiency\n\n```sh\n.venv/bin/python " + command + "\n```\n\n"
        + "\n".join(lines) + "\n"
    )  # fmt: skip
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
