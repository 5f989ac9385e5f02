"""Write the CNN surface the Learn page compares optimizers on: the noise-free estimate of
the real CNN's validation accuracy on mnist-5k, from every stored training run of the
12 x 12 grid (bench/data and bench/replicates), as a small table the app ships.

    .venv/bin/python bench/learn_surface.py --out core/tables/cnn-mnist-5k.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bench.surfaces import ROOT, _collapsed, _final_accuracy, denoise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(ROOT / "bench" / "data" / "cnn-mnist-5k.json"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    path = Path(args.table)
    table = json.loads(path.read_text())
    runs = [path, *sorted((path.parent.parent / "replicates").glob(f"{path.stem}-run*.json"))]
    grids = []
    for run in runs:
        other = json.loads(run.read_text())
        acc = _final_accuracy(other)
        grids.append(np.where(_collapsed(acc, other), np.nan, acc))
    smooth, noise = denoise(grids)
    out = {
        "about": (
            f"Noise-free estimate of the seed's CNN's final validation accuracy on "
            f"{table['dataset']} ({table['budget']['epochs']} epochs, batch "
            f"{table['budget']['batch_size']}) from {len(runs)} training runs of every cell."
        ),
        "dropout2_rate": table["dropout2_rate"],
        "log10_lr": table["log10_lr"],
        "accuracy": [[round(float(v), 6) for v in row] for row in smooth],
        "noise": round(noise, 6),
        "command": "python bench/learn_surface.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(out["about"], f"best {smooth.max():.4f}, noise {noise:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
