"""The protocol's figures across functions, from the curves `make bench` stored: each
held-out function of 4-9 parameters (ours against the best GP peer, Optuna's GP alone and
random search, by median regret at its budget), their geometric means, and Branin's median
regret against every peer.

    .venv/bin/python bench/summary.py --out docs/benchmarks/protocol/summary
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from bench.report import publish

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "docs" / "benchmarks" / "protocol"
OURS = "bayes (this project)"
GP_PEERS = ("optuna GP", "skopt gp_minimize", "botorch")
#: The held-out functions of 4-9 parameters: each folder's curves, at its budget.
HELD_OUT = (("held-out-functions", 25), ("mixed", 25), ("held-out-8-9d", 50))


def medians(folder: str, budget: int) -> dict[str, dict[str, float]]:
    """Each function's median regret after ``budget`` trials, per method."""
    curves = json.loads((PROTOCOL / folder / "curves.json").read_text(encoding="utf-8"))
    return {
        name: {m: float(np.median([run[budget - 1] for run in runs])) for m, runs in by.items()}
        for name, by in curves.items()
    }


def geometric_mean(values: list[float]) -> float:
    return math.exp(float(np.mean(np.log(values))))


def held_out_lines() -> list[str]:
    rows = []
    for folder, budget in HELD_OUT:
        for name, med in medians(folder, budget).items():
            if name.startswith("bumps-2d"):
                continue  # 2-D: not past two knobs
            ours = med[OURS]
            peer = min(GP_PEERS, key=lambda m: med[m])
            rows.append((name, budget, ours, peer, med[peer], med["optuna GP"], med["random"]))
    lines = [
        "## Held-out functions of 4-9 parameters",
        "",
        "| function | trials | ours | best GP peer | ours / it | ours / Optuna GP | "
        "random / ours |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, budget, ours, peer, best, optuna, rand in rows:
        lines.append(
            f"| {name} | {budget} | {ours:.3g} | {peer} {best:.3g} | {ours / best:.2f} | "
            f"{ours / optuna:.2f} | {rand / ours:,.1f} |"
        )
    to_best = geometric_mean([r[2] / r[4] for r in rows])
    to_optuna = geometric_mean([r[2] / r[5] for r in rows])
    against_random = [r[6] / r[2] for r in rows]
    lines += [
        "",
        f"- Geometric mean over the {len(rows)} functions, ours / best GP peer: {to_best:.2f}",
        f"- Geometric mean, ours / Optuna GP: {to_optuna:.2f}",
        f"- Random search's median regret over ours: {min(against_random):,.1f}x to "
        f"{max(against_random):,.0f}x",
        "",
    ]
    return lines


def branin_lines() -> list[str]:
    med = medians("branin", 25)["branin"]
    ours = med[OURS]
    lines = [
        "## Branin, 25 trials: ours over each method, by median regret",
        "",
        "| method | median regret | ours / it |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {m} | {v:.3g} | {ours / v:.2f} |" for m, v in med.items() if m != OURS]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    publish([*held_out_lines(), *branin_lines()], argv, "bench/summary.py", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
