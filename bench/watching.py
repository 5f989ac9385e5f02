"""What watching costs: one study run from the CLI, and the same study started from Tune and
watched on Live in Chromium for its whole run.

Each repeat runs the Quick look preset (mnist-5k, 5 random + 7 guided trials of 2 epochs,
batch 64; no pruner, so both runs train the same epochs) once each way, with 1 and with 2
parallel trials, alternating which way goes first. Reported: trials per hour of wall-clock
time (first trial's start to last trial's end), the median training samples per second of
the epochs, and the CPU seconds the Streamlit server's own process and Chromium spent.

    .venv/bin/python bench/watching.py --repeats 2 --out docs/benchmarks/watching
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.browser import ROOT, Server, launch, set_number
from bench.report import publish
from core.store import Store


@dataclass(frozen=True)
class Settings:
    """The study both ways run: the Quick look preset's, with no pruner so both train the
    same epochs. Smaller ones only for a smoke run."""

    init_points: int = 5
    n_iter: int = 7
    epochs: int = 2
    #: Extra options for ``streamlit run`` (``--runner.postScriptGC=true``, ...).
    streamlit: tuple[str, ...] = ()

    @property
    def trials(self) -> int:
        return self.init_points + self.n_iter


TARGET = 0.9  # of the CLI's trials per hour
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one live process (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found += children
        frontier += children
    return found


def chromium_cpu() -> float:
    """CPU seconds of every Chromium process this benchmark started."""
    total = 0.0
    for pid in descendants(os.getpid()):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                total += cpu_seconds(pid)
        except OSError:
            continue
    return total


def measure(db: Path, name: str, expected: int) -> dict[str, float]:
    with Store(db) as store:
        study = store.load(name)
    trials = [t for t in study.trials if t.finished]
    if len(trials) != expected:
        raise RuntimeError(f"{name}: {len(trials)} trials finished, expected {expected}")
    wall = max(t.finished_at for t in trials) - min(t.started_at for t in trials)
    rates = [e["samples_per_second"] for t in trials for e in t.history]
    return {
        "trials_per_hour": len(trials) * 3600 / wall,
        "samples_per_second": statistics.median(rates),
        "trial_seconds": statistics.median(t.seconds for t in trials),
    }


def run_cli(tmp: Path, name: str, workers: int, seed: int, s: Settings) -> dict[str, float]:
    db = tmp / f"{name}.db"
    cmd = [
        sys.executable, "-m", "core", "tune", "--dataset", "mnist-5k", "--pruner", "none",
        "--init-points", str(s.init_points), "--n-iter", str(s.n_iter),
        "--epochs", str(s.epochs), "--batch-size", "64",
        "--seed", str(seed), "--workers", str(workers), "--db", str(db), "--name", name,
    ]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    return measure(db, name, s.trials)


def choose(page: Any, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox ``label``; again if a rerun closed its list first."""
    box = page.get_by_role("combobox", name=label)
    for _ in range(10):
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=3_000)
        except PlaywrightTimeout:
            continue
        if box.input_value() == option:
            return
    raise AssertionError(f"could not choose {option!r} in {label!r}")


def run_browser(
    browser: Any, tmp: Path, name: str, workers: int, seed: int, s: Settings
) -> dict[str, float]:
    """Tune as a person fills it in, Start, and Live left open until the study completes."""
    db = tmp / f"{name}.db"
    server = Server(db, *s.streamlit).start()
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(server.url)
        page.get_by_role("button", name="Start", exact=True).wait_for()
        choose(page, "Preset", "Quick look")
        page.get_by_text("12 trials x 2 epochs").wait_for()
        choose(page, "Pruner", "none")
        set_number(page, "init_points (random trials first)", s.init_points)
        set_number(page, "n_iter (GP-guided trials)", s.n_iter)
        set_number(page, "epochs", s.epochs)
        set_number(page, "seed", seed)
        set_number(page, "parallel trials", workers)
        field = page.get_by_label("Study name (optional)")
        field.fill(name)
        field.press("Enter")
        page.get_by_text(f"{s.trials} trials x {s.epochs} epochs").wait_for()
        server_cpu, browser_cpu = cpu_seconds(server.proc.pid), chromium_cpu()
        page.get_by_role("button", name="Start", exact=True).click()
        page.wait_for_url("**/live")
        page.get_by_text(f"{name} — complete").wait_for(timeout=1_800_000)
        server_cpu = cpu_seconds(server.proc.pid) - server_cpu
        browser_cpu = chromium_cpu() - browser_cpu
    finally:
        context.close()
        server.stop()
    cpu = {"server_cpu": server_cpu, "browser_cpu": browser_cpu}
    return {**measure(db, name, s.trials), **cpu}


def collect(
    browser: Any, tmp: Path, repeats: int, workers: list[int], s: Settings
) -> list[dict[str, Any]]:
    """Each repeat, for each number of workers: the CLI and the browser, alternating which
    goes first, on the same held-out seed."""
    rows: list[dict[str, Any]] = []
    for r in range(repeats):
        for n in workers:
            seed = 10_000 + r
            ways = [("cli", run_cli), ("live", partial(run_browser, browser))]
            for way, run in ways if r % 2 == 0 else ways[::-1]:
                result = run(tmp, f"{way}-w{n}-r{r}", n, seed, s)
                rows.append({"way": way, "workers": n, "seed": seed, **result})
                print(rows[-1], file=sys.stderr)
    return rows


def ratios(rows: list[dict[str, Any]], workers: int) -> dict[str, float]:
    """Live over CLI, the median over seeds, of trials per hour and of samples per second."""
    out = {}
    for key in ("trials_per_hour", "samples_per_second"):
        pairs = [
            live[key] / cli[key]
            for live in rows
            for cli in rows
            if live["way"] == "live" and cli["way"] == "cli"
            and live["workers"] == cli["workers"] == workers and live["seed"] == cli["seed"]
        ]  # fmt: skip
        out[key] = statistics.median(pairs)
    return out


def report(rows: list[dict[str, Any]], workers: list[int], s: Settings) -> list[str]:
    lines = [
        f"mnist-5k, {s.init_points} + {s.n_iter} trials of {s.epochs} epochs, batch 64, no "
        "pruner (the Quick look preset's study, every trial trained whole), run from the CLI "
        "and from Tune with Live open in Chromium for the whole run; the same seed each way. "
        "Server CPU: the Streamlit process's own threads (script reruns, the runner; "
        "training is in a child process or Ray's workers)."
        + (f" Streamlit run with {' '.join(s.streamlit)}." if s.streamlit else ""),
        "",
        "| workers | way | seed | trials per hour | median samples/s | median trial (s) | "
        "server CPU (s) | Chromium CPU (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        live = row["way"] == "live"
        cpu = f"{row['server_cpu']:.0f} | {row['browser_cpu']:.0f}" if live else "— | —"
        lines.append(
            f"| {row['workers']} | {row['way']} | {row['seed']} | {row['trials_per_hour']:.0f} | "
            f"{row['samples_per_second']:.0f} | {row['trial_seconds']:.1f} | {cpu} |"
        )
    lines += ["", "| workers | Live / CLI, trials per hour | Live / CLI, samples/s | target |",
              "| --- | --- | --- | --- |"]  # fmt: skip
    for n in workers:
        ratio = ratios(rows, n)
        met = "met" if ratio["trials_per_hour"] >= TARGET else "missed"
        lines.append(
            f"| {n} | {ratio['trials_per_hour']:.2f} | {ratio['samples_per_second']:.2f} | "
            f">= {TARGET}: {met} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--init-points", type=int, default=Settings.init_points)
    parser.add_argument("--n-iter", type=int, default=Settings.n_iter)
    parser.add_argument("--epochs", type=int, default=Settings.epochs)
    parser.add_argument(
        "--streamlit-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="passed to streamlit run, e.g. --streamlit-option=--runner.postScriptGC=true",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    s = Settings(args.init_points, args.n_iter, args.epochs, tuple(args.streamlit_option))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = launch(p)
        rows = collect(browser, Path(tmp), args.repeats, args.workers, s)
        browser.close()
    publish(report(rows, args.workers, s), argv, "bench/watching.py", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
