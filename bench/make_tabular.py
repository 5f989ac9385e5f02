"""Train the seed's CNN on a grid of (dropout2_rate, log10 lr) and store validation accuracy
and seconds per epoch for every cell: a tabular benchmark that optimizers (and pruners, which
need the whole learning curve) can query in seconds.

Regenerate (about 25 minutes each on 2 CPU cores):
    .venv/bin/python bench/make_tabular.py --dataset mnist-5k --out bench/data/cnn-mnist-5k.json
    .venv/bin/python bench/make_tabular.py --dataset fashion-mnist --max-train-samples 4000 \
        --val-fraction 0.05 --out bench/data/cnn-fashion-4k.json

Further training runs of every cell (same split, new seeds), which bench/optimizers.py uses
for its estimate of the noise-free surface and to answer queries as retraining would
(about 30 minutes each on 1 core; the same two commands again with --run 2 and --run 3):
    .venv/bin/python bench/make_tabular.py --dataset mnist-5k --run 1 \
        --out bench/replicates/cnn-mnist-5k-run1.json
    .venv/bin/python bench/make_tabular.py --dataset fashion-mnist --max-train-samples 4000 \
        --val-fraction 0.05 --run 1 --out bench/replicates/cnn-fashion-4k-run1.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from core.data import load_dataset
from core.space import default_space
from core.trainer import Budget, train_trial


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--size", type=int, default=12, help="cells per axis (12)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-train-samples", type=int, default=None)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1, help="data split and training seeds")
    parser.add_argument(
        "--run",
        type=int,
        default=0,
        help="another training run of every cell on the same split (new weights, new order)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="TensorFlow threads (default: all cores; 1 lets two runs share 2 cores)",
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    space = default_space()
    dropouts = space["dropout2_rate"].linspace(args.size)
    lrs = space["lr"].linspace(args.size)
    ds = load_dataset(args.dataset, val_fraction=args.val_fraction, seed=args.seed)
    budget = Budget(args.epochs, args.batch_size, args.max_train_samples)
    acc = np.full((args.size, args.size, args.epochs), np.nan)
    seconds = np.full((args.size, args.size, args.epochs), np.nan)
    started = time.time()
    for i, dropout in enumerate(dropouts):
        for j, lr in enumerate(lrs):
            out = train_trial(
                ds,
                {"dropout2_rate": float(dropout), "lr": float(lr)},
                budget,
                seed=args.seed * 1000 + i * args.size + j + args.run * 1_000_000,
            )
            for e, m in enumerate(out.history):
                acc[i, j, e] = m.val_accuracy
                seconds[i, j, e] = m.seconds
            done = i * args.size + j + 1
            print(
                f"\r{done}/{args.size**2} cells, {time.time() - started:.0f}s",
                end="",
                file=sys.stderr,
                flush=True,
            )
    print(file=sys.stderr)
    table = {
        "dataset": ds.name,
        "summary": ds.summary(),
        # what a run that learned nothing scores (core.trainer.learned_nothing)
        "baseline_accuracy": ds.baseline_accuracy(),
        "validation_samples": len(ds.y_val),
        "budget": budget.to_dict(),
        "dropout2_rate": [float(d) for d in dropouts],
        "log10_lr": [math.log10(float(lr)) for lr in lrs],
        "val_accuracy": [
            [[None if np.isnan(v) else float(v) for v in cell] for cell in row] for row in acc
        ],
        "epoch_seconds": [
            [[None if np.isnan(v) else round(float(v), 3) for v in cell] for cell in row]
            for row in seconds
        ],
        "seconds": round(time.time() - started, 1),
        "command": "python bench/make_tabular.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
