"""The optimizer benchmark's report: tables per surface, ours against the best peer, each
seed's final regret, and a chart of the median regret per trial."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path

import numpy as np

from bench.surfaces import Surface, view_names
from core.learn import trials_to_target


def add_seed_arguments(parser: argparse.ArgumentParser, seeds: int = 40) -> None:
    """``--seeds`` and ``--first-seed``: held-out seeds (10000 and up) for reported figures,
    development seeds (below) while choosing defaults."""
    parser.add_argument("--seeds", type=int, default=seeds)
    parser.add_argument(
        "--first-seed",
        type=int,
        default=10_000,
        help="10000 and up: held-out seeds for reported figures; below: development seeds",
    )


def seed_range(args: argparse.Namespace) -> range:
    return range(args.first_seed, args.first_seed + args.seeds)


def publish(lines: list[str], argv: list[str] | None, script: str, out: str | None) -> str:
    """A result's text with the command that made it: printed, and written to
    ``out/results.md`` if ``out`` is given."""
    args = argv if argv is not None else sys.argv[1:]
    command = shlex.join([".venv/bin/python", script, *args])
    text = "\n".join([*lines, "", f"Command: `{command}`"]) + "\n"
    print(text)
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "results.md").write_text(text, encoding="utf-8")
    return text


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
