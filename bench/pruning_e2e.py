"""The blog experiment's settings, trained for real, with a pruner and without one.

Each seed runs the seed experiment (10 random + 2 guided trials of 5 epochs, batch 64) twice
on the same data split: once without pruning and once with the pruner asked for. Reported:
the best validation accuracy each run hands over and the epochs (and seconds) it trained.

    .venv/bin/python bench/pruning_e2e.py --pruner asha --seeds 3 --out docs/benchmarks/pruning-e2e
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.report import publish
from core.data import load_dataset
from core.pruners import KINDS, Pruning
from core.runner import Registry
from core.store import Store
from core.study import StudyConfig
from core.trainer import Budget


def run_study(store: Store, runs: Path, config: StudyConfig, dataset: object) -> dict[str, float]:
    runner = Registry(store, runs_dir=runs).create(config, dataset=dataset)
    runner.join()
    study = store.load(config.name)
    best = study.best_trial
    return {
        "best": best.value if best else float("nan"),
        "epochs": sum(len(t.history) for t in study.finished_trials),
        "seconds": sum(t.seconds or 0.0 for t in study.finished_trials),
        "pruned": sum(1 for t in study.finished_trials if t.status == "pruned"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--pruner", choices=[k for k in KINDS if k != "none"], default="asha")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--init-points", type=int, default=10)
    parser.add_argument("--n-iter", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "studies.db")
        for k in range(args.seeds):
            seed = 10_000 + k
            dataset = load_dataset(args.dataset, seed=seed)
            for pruner in ("none", args.pruner):
                config = StudyConfig(
                    name=f"seed{seed}-{pruner}",
                    dataset=args.dataset,
                    init_points=args.init_points,
                    n_iter=args.n_iter,
                    budget=Budget(args.epochs, 64),
                    seed=seed,
                    data_seed=seed,  # the split the dataset above was drawn with
                    pruning=Pruning(pruner),
                )
                result = run_study(store, Path(tmp), config, dataset)
                rows.append({"seed": seed, "pruner": pruner, **result})
                print(rows[-1], file=sys.stderr)
        store.close()
    lines = [
        f"{args.dataset}, {args.init_points} random + {args.n_iter} guided trials of "
        f"{args.epochs} epochs, batch 64; each seed with and without the {args.pruner} pruner.",
        "",
        "| seed | pruner | best validation accuracy | epochs trained | seconds | pruned trials |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r['seed']} | {r['pruner']} | {r['best']:.4f} | {r['epochs']} | "
            f"{r['seconds']:.0f} | {r['pruned']} |"
            for r in rows
        ),
    ]
    for pruner in ("none", args.pruner):
        mine = [r for r in rows if r["pruner"] == pruner]
        lines.append(
            f"\n{pruner}: median best {statistics.median(r['best'] for r in mine):.4f}, "
            f"median epochs {statistics.median(r['epochs'] for r in mine):g}."
        )
    publish(lines, argv, "bench/pruning_e2e.py", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
