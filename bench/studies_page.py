"""Server time of one rerun of the Studies page with a large stored study.

Stores a study of N finished trials (synthetic values, real histories' shape; no training)
with a retrained model file of the seed's CNN beside it, opens the Studies page in
Streamlit's AppTest, and times plain reruns and reruns that move the replay slider.

    .venv/bin/python bench/studies_page.py --trials 150 --out docs/benchmarks/studies-page
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.report import publish

ROOT = Path(__file__).resolve().parents[1]


def fill(db: Path, trials: int) -> None:
    """A complete bayes study of ``trials`` trials of 5 epochs, and its model file."""
    from core.model import build_model
    from core.optimizer import make_strategy
    from core.status import TrialStatus
    from core.store import Store
    from core.study import StudyConfig
    from core.trainer import Budget

    store = Store(db)
    config = StudyConfig(name="big", init_points=10, n_iter=trials - 10, budget=Budget(5, 64))
    store.create_study(config)
    strategy, rng = make_strategy(config), np.random.default_rng(0)
    for number in range(1, trials + 1):
        params = strategy.ask() if number <= 10 else strategy.space.from_unit(rng.random(2))
        value = 0.95 - 0.02 * (np.log10(params["lr"]) + 2.7) ** 2 + rng.normal(0, 0.01)
        history = [
            {"epoch": e, "accuracy": value, "loss": 0.2, "val_accuracy": value,
             "val_loss": 0.2, "seconds": 3.0, "samples_per_second": 1500.0, "ended_at": 0.0}
            for e in range(1, 6)
        ]  # fmt: skip
        strategy.tell(params, value)
        store.start_trial("big", number, params, guided=number > 10)
        store.finish_trial("big", number, status=TrialStatus.COMPLETE, value=float(value),
                           history=history, error=None, seconds=15.0)  # fmt: skip
    path = db.parent / "big" / "model.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    build_model((28, 28, 1), 10, 0.3, 1e-3).save(path)
    store.set_final("big", {"params": params, "val_accuracy": float(value),
                            "test_accuracy": 0.95, "model_path": str(path)})  # fmt: skip
    store.set_status("big", "complete")
    store.close()


def time_reruns(db: Path, trials: int, reruns: int) -> dict[str, list[float]]:
    """Seconds of each kind of rerun of the Studies page, as AppTest measures a run."""
    from streamlit.testing.v1 import AppTest

    os.environ["TUNER_DB"] = str(db)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("pages/studies.py")
    times: dict[str, list[float]] = {"first run": [], "rerun": [], "replay, new position": [],
                                     "replay, visited position": []}  # fmt: skip

    def run(kind: str) -> None:
        started = time.perf_counter()
        at.run()
        times[kind].append(time.perf_counter() - started)
        assert not at.exception, at.exception

    run("first run")
    for _ in range(reruns):
        run("rerun")
    positions = (trials, trials * 2 // 3, trials // 3)
    for k in positions[1:]:
        at.slider(key="replay").set_value(k)
        run("replay, new position")
    for i in range(reruns):
        at.slider(key="replay").set_value(positions[i % 3])
        run("replay, visited position")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=150)
    parser.add_argument("--reruns", type=int, default=12)
    parser.add_argument("--out", default=None, help="write results.md here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "studies.db"
        fill(db, args.trials)
        times = time_reruns(db, args.trials, args.reruns)
    lines = [
        f"Studies page, one stored study of {args.trials} trials with a retrained model file; "
        "seconds per run of the page in Streamlit's AppTest (the script and AppTest's own "
        "handling of what it drew).",
        "",
        "| run | count | median (s) | max (s) |",
        "| --- | --- | --- | --- |",
        *(
            f"| {kind} | {len(v)} | {statistics.median(v):.3f} | {max(v):.3f} |"
            for kind, v in times.items()
        ),
        "",
        "A new replay position fits the GP to that many trials once; it is cached after.",
    ]
    publish(lines, argv, "bench/studies_page.py", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
