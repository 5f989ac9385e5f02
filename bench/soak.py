"""Memory across a long study: the resident memory of the process that trains, after each
of many short trials, in the dashboard's worker process, on a Ray actor, and in this
process (the CLI's way).

    .venv/bin/python bench/soak.py --trials 200 --out docs/benchmarks/soak

Each trial trains the CNN for one epoch on scikit-learn's digits at a new point of the
default space. The target: the training process grows by less than 100 MB from trial 20
to the last. Writes ``soak.json`` (every reading) and ``soak.md`` (the table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.data import Dataset, load_dataset
from core.space import default_space
from core.status import TrialStatus
from core.trainer import Budget, TrialOutcome
from core.worker import LocalTrainer, ProcessTrainer

ROOT = Path(__file__).resolve().parents[1]

MODES = ("process", "ray", "local")
TARGET_MB = 100.0
FROM_TRIAL = 20


def rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` in MB (VmRSS of /proc/pid/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def points(n: int, seed: int = 0) -> list[dict[str, float]]:
    """``n`` points of the default space, uniform in its unit cube."""
    space = default_space()
    rng = np.random.default_rng(seed)
    return [space.from_unit(rng.random(space.width)) for _ in range(n)]


def soak(
    run: Callable[[dict[str, float], int], TrialOutcome], pid: Callable[[], int], trials: int
) -> list[float]:
    """Train ``trials`` trials through ``run`` and read the memory of the process that
    trained it (``pid()``: a replaced training process has a new one) after each."""
    readings = []
    for i, params in enumerate(points(trials), start=1):
        outcome = run(params, i)
        if outcome.status not in (TrialStatus.COMPLETE, TrialStatus.FAILED):
            raise RuntimeError(f"trial {i}: {outcome.status} {outcome.error}")
        readings.append(rss_mb(pid()))
        if i % 20 == 0:
            print(f"  trial {i}: {readings[-1]:.0f} MB", flush=True)
    return readings


def run_mode(mode: str, ds: Dataset, budget: Budget, trials: int) -> list[float]:
    def quiet(trainer: object) -> Callable[[dict[str, float], int], TrialOutcome]:
        return lambda params, seed: trainer.trial(  # type: ignore[attr-defined]
            params, budget, seed=seed, on_epoch=lambda m: None, should_stop=lambda: False
        )

    if mode == "local":
        return soak(quiet(LocalTrainer(ds)), os.getpid, trials)
    if mode == "process":
        trainer = ProcessTrainer(ds)
        try:
            return soak(quiet(trainer), lambda: trainer.pid, trials)
        finally:
            trainer.close()
    import ray

    from core.executor import Parallel, RayTrainer, connect

    connect("", num_cpus=2)
    slot = RayTrainer(ray.put(ds), LocalTrainer(ds).info, Parallel(workers=2))
    try:
        return soak(quiet(slot), lambda: ray.get(slot.actor.pid.remote()), trials)
    finally:
        slot.close()
        ray.shutdown()


def summary(readings: list[float]) -> dict[str, float]:
    start = min(FROM_TRIAL, len(readings)) - 1
    tail = np.arange(start, len(readings))
    slope = float(np.polyfit(tail, np.asarray(readings)[tail], 1)[0]) if len(tail) > 1 else 0.0
    return {
        "first_mb": readings[0],
        "at_from_mb": readings[start],
        "last_mb": readings[-1],
        "growth_mb": readings[-1] - readings[start],
        "mb_per_trial": slope,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "soak")
    args = parser.parse_args(argv)
    ds = load_dataset("digits", seed=1)
    budget = Budget(epochs=1, batch_size=64)
    results: dict[str, dict] = {}
    for mode in args.modes:
        print(f"{mode}: {args.trials} trials", flush=True)
        started = time.perf_counter()
        readings = run_mode(mode, ds, budget, args.trials)
        results[mode] = {
            "readings_mb": readings,
            "seconds": time.perf_counter() - started,
            **summary(readings),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "bench/soak.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "trials": args.trials,
        "dataset": "digits",
        "budget": budget.to_dict(),
        "target": f"growth < {TARGET_MB:g} MB from trial {FROM_TRIAL} to trial {args.trials}",
    }
    (args.out / "soak.json").write_text(json.dumps({**meta, "modes": results}, indent=1))
    f, n = FROM_TRIAL, args.trials
    rows = [
        f"| where it trains | after trial 1 | after trial {f} | after trial {n} "
        f"| growth {f}-{n} | per trial | target < {TARGET_MB:g} MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    names = {
        "process": "dashboard's worker process",
        "ray": "Ray actor",
        "local": "in process (CLI)",
    }
    for mode, r in results.items():
        met = "met" if r["growth_mb"] < TARGET_MB else "**missed**"
        rows.append(
            f"| {names[mode]} | {r['first_mb']:.0f} MB | {r['at_from_mb']:.0f} MB | "
            f"{r['last_mb']:.0f} MB | {r['growth_mb']:+.0f} MB | {r['mb_per_trial']:+.2f} MB "
            f"| {met} |"
        )
    table = "\n".join(rows)
    (args.out / "soak.md").write_text(f"`{meta['command']}`\n\n{table}\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
