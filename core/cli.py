"""Command line: ``python -m core tune | list | export | resume``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from core.eta import format_duration
from core.export import estimate_text, handed_over
from core.pruners import Pruning
from core.runner import Registry, Runner
from core.settings import PRESETS, SETTINGS, preset_values
from core.snapshot import Snapshot
from core.space import show
from core.status import StudyStatus, TrialOrigin
from core.store import DEFAULT_DB, Store, StudyNotFound
from core.study import Study, convergence_note, repeats, study_config
from core.tensorflow_setup import quiet_tensorflow

if TYPE_CHECKING:
    from core.executor import Parallel
    from core.space import SearchSpace

TUNE_HELP = """\
Tune the seed's CNN (dropout2_rate in [0.1, 0.5], lr in [1e-4, 1e-2] on a log scale)
with Bayesian optimization, scoring each trial on a validation split.

Tune more of the CNN with --param (repeat it) or --space FILE (TOML or JSON), e.g.
  --param lr=float:1e-4:1e-2:log --param batch_size=int:16:256:log2
  --param dense_units=int:32:512 --param optimizer=cat:adam,sgd,rmsprop
The CNN's hyperparameters: dropout1_rate, dropout2_rate, lr, batch_size, dense_units,
filters1, filters2, optimizer (adam, sgd, rmsprop) and epochs; the others keep the
blog's values. Tune your own model with --model path/to/file.py:build, where
build(params, input_shape, n_classes) returns a Keras model.

The defaults are the Tune page's (the Quick look preset: mnist-5k, 5 random + 7 guided
trials of 2 epochs, ASHA pruning); --preset seed runs the blog's experiment (10 + 2
trials of 5 epochs on full MNIST, then one test evaluation), and any option given beside
a preset overrides it. Rough durations on a 2-core laptop CPU: the defaults take about 2-3
minutes; the seed experiment about an hour (5 minutes with --dataset mnist-5k); --dataset
digits with --epochs 1 a few seconds a trial.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    tune = sub.add_parser(
        "tune",
        help="start a new study",
        description=TUNE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tune.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="start from named values, shared with the Tune page: "
        + "; ".join(f"{p.key}: {p.label}, {p.help}" for p in PRESETS.values()),
    )
    # given ones only (SUPPRESS): a preset fills in the rest, then each setting's default
    tune.add_argument(
        "--dataset",
        default=argparse.SUPPRESS,
        help="mnist-5k (default, offline), digits, mnist, fashion-mnist, or a .npz path",
    )
    for setting in SETTINGS.values():
        if setting.parse is bool:
            tune.add_argument(setting.flag, action="store_true", default=argparse.SUPPRESS,
                              help=setting.shown())  # fmt: skip
        else:
            tune.add_argument(
                setting.flag,
                type=setting.parse,
                choices=setting.choices or None,
                default=argparse.SUPPRESS,
                metavar=setting.metavar,
                help=setting.shown(),
            )
    tune.add_argument(
        "--dropout",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=(0.1, 0.5),
        help="dropout2_rate bounds (0.1 0.5)",
    )
    tune.add_argument(
        "--lr",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=(1e-4, 1e-2),
        help="learning-rate bounds (1e-4 1e-2)",
    )
    tune.add_argument(
        "--lr-linear",
        action="store_true",
        help="search lr on a linear axis, as the seed did (not advised)",
    )
    tune.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a parameter to tune, replacing --dropout/--lr: NAME=float:LOW:HIGH[:log], "
        "NAME=int:LOW:HIGH[:log2] or NAME=cat:A,B,C (repeat for each)",
    )
    tune.add_argument(
        "--space", default=None, metavar="FILE", help="the parameters to tune, from TOML or JSON"
    )
    tune.add_argument(
        "--model",
        default="",
        metavar="FILE.py:FUNCTION",
        help="your own model: FUNCTION(params, input_shape, n_classes) returns a Keras model",
    )
    tune.add_argument(
        "--warm-start",
        default="",
        metavar="STUDY",
        help="start from the finished trials of STUDY (same parameters; those outside these "
        "bounds are left out): told to the GP first, not counted in this study's total",
    )
    tune.add_argument("--note", default="", metavar="TEXT", help="a note stored with the study")
    tune.add_argument("--db", default=str(DEFAULT_DB), help=f"SQLite file ({DEFAULT_DB})")
    tune.add_argument("--name", default=None, help="study name (default: dataset-optimizer-time)")
    tune.add_argument("--export", default=None, metavar="FILE", help="write best params JSON here")
    tune.add_argument(
        "--prune-warmup-trials",
        type=int,
        default=Pruning.warmup_trials,
        metavar="N",
        help=f"median: trials that must reach an epoch before it prunes there ({Pruning.warmup_trials})",
    )
    tune.add_argument(
        "--prune-warmup-epochs",
        type=int,
        default=Pruning.warmup_epochs,
        metavar="N",
        help=f"median: epochs every trial trains first ({Pruning.warmup_epochs})",
    )
    tune.add_argument(
        "--asha-min-epochs",
        type=int,
        default=Pruning.min_epochs,
        metavar="N",
        help=f"asha: the first rung, in epochs ({Pruning.min_epochs})",
    )
    tune.add_argument(
        "--asha-reduction-factor",
        type=int,
        default=Pruning.reduction_factor,
        metavar="N",
        help=f"asha: 1/N of the trials at a rung go on ({Pruning.reduction_factor})",
    )

    tune.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N|auto",
        help="trials at once (1: one at a time on this machine; more: on Ray; auto: one per "
        "--cpus-per-trial cores of this machine)",
    )
    tune.add_argument(
        "--ray-address",
        default="",
        metavar="ADDR",
        help="join this Ray cluster (auto, host:6379, ray://host:10001; default: RAY_ADDRESS, "
        "else a local Ray instance when --workers > 1)",
    )
    tune.add_argument(
        "--cpus-per-trial",
        type=int,
        default=1,
        metavar="N",
        help="CPUs (and threads) per trial (1)",
    )
    tune.add_argument(
        "--gpus-per-trial", type=float, default=0.0, metavar="N", help="GPUs per trial (0)"
    )

    lst = sub.add_parser("list", help="list stored studies")
    lst.add_argument("--db", default=str(DEFAULT_DB))

    exp = sub.add_parser(
        "export",
        help="print a study's best params (json), trials (csv), optimizer state (state) or "
        "replay (replay: one HTML file that plays offline)",
    )
    exp.add_argument("study")
    exp.add_argument("--format", choices=("json", "csv", "state", "replay"), default="json")
    exp.add_argument("--db", default=str(DEFAULT_DB))
    exp.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")

    for command, said in (
        ("enqueue", "train this point next (try here next): the study takes it before its "
         "next trial"),
        ("tell", "add a result trained elsewhere: told to the GP, not counted in the total"),
    ):  # fmt: skip
        point = sub.add_parser(command, help=said)
        point.add_argument("study")
        point.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                           required=True, help="a value for each parameter (repeat it)")  # fmt: skip
        if command == "tell":
            point.add_argument("--value", type=float, required=True, metavar="ACC",
                               help="its validation accuracy, between 0 and 1")  # fmt: skip
        point.add_argument("--db", default=str(DEFAULT_DB))

    note = sub.add_parser("note", help="set a study's note (shown on Studies, in the exports)")
    note.add_argument("study")
    note.add_argument("text", help="the note; '' clears it")
    note.add_argument("--db", default=str(DEFAULT_DB))

    res = sub.add_parser("resume", help="continue an interrupted study to its configured total")
    res.add_argument("study")
    res.add_argument("--db", default=str(DEFAULT_DB))
    res.add_argument("--export", default=None, metavar="FILE")
    return parser


def _workers(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or an integer >= 1, got {text!r}")
    return value


def _watch(runner: Runner, out: TextIO) -> None:
    """Show progress until the runner ends; Ctrl-C stops it cleanly.

    On a terminal, one progress bar redrawn in place; otherwise (a log file, a pipe) one
    line per finished trial, never a repeated one.
    """
    report = _Bar(out) if out.isatty() else _Log(out)
    try:
        while runner.alive:
            report(runner.snapshot())
            time.sleep(0.5)
    except KeyboardInterrupt:
        report.close()
        out.write("stopping: running trials end at their next batch...\n")
        runner.cancel()
        runner.join()
    report(runner.snapshot())
    report.close()


def _state(snap: Snapshot, running: bool = True) -> str:
    """The ETA and the best so far, after the running trials' epochs when ``running`` (a
    finished trial's line leaves out the next trial's epoch 0)."""
    epochs = snap.epochs_per_trial
    if not running:
        text = ""
    elif len(snap.running) > 1:
        text = "running " + ", ".join(
            f"#{t.number} epoch {len(t.history)}/{epochs}" for t in snap.running
        )
        text += ", "
    else:
        text = f"epoch {snap.current_epoch}/{epochs}, " if snap.current else ""
    text += f"eta {format_duration(snap.eta)}"
    best = snap.best
    return text + (f", best {best.value:.4f}" if best is not None else "")


class _Bar:
    """tqdm's bar over trials, with the runner's own ETA and the best accuracy beside it."""

    def __init__(self, out: TextIO) -> None:
        self._bar = tqdm(
            file=out,
            unit="trial",
            bar_format="{desc} {percentage:3.0f}%|{bar:20}| {n}/{total} [{elapsed}] {postfix}",
        )

    def __call__(self, snap: Snapshot) -> None:
        self._bar.total = snap.total
        self._bar.n = snap.finished
        self._bar.set_description_str(snap.status, refresh=False)
        self._bar.set_postfix_str(_state(snap), refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


class _Log:
    """One line per finished trial and per change of status, for output that is not a
    terminal."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._trials: set[int] = set()
        self._done = 0
        self._status: str | None = None

    def __call__(self, snap: Snapshot) -> None:
        for trial in snap.trials:
            if trial.number in self._trials:
                continue
            self._trials.add(trial.number)
            result = f"{trial.value:.4f}" if trial.value is not None else trial.error or ""
            if not TrialOrigin(trial.origin).counted:  # told, or a warm start's: no budget
                self._write(f"trial #{trial.number} {trial.label}: {result}")
                continue
            self._done += trial.finished
            epochs = len(trial.history)
            self._write(
                f"trial {self._done}/{snap.total} (#{trial.number}) {trial.status}: {result} "
                f"after {epochs} epoch{'' if epochs == 1 else 's'} ({_state(snap, False)})"
            )
        if snap.status != self._status:
            self._status = snap.status
            self._write(f"study {snap.status}" + (f": {snap.message}" if snap.message else ""))

    def _write(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.flush()


def _table(study: Study, out: TextIO, picked: dict | None) -> None:
    """Every trial, a line each; ``picked`` is the recommendation (:func:`handed_over`)."""
    names = study.config.space.names
    width = max([6, *(len(t.label) for t in study.trials)])
    header = f"{'#':>3}  {'kind':<{width}}" + "".join(f"{n:>15}" for n in names)
    header += f"  {'status':<10}{'val_acc':>9}{'secs':>8}"
    out.write(header + "\n" + "-" * len(header) + "\n")
    best = study.best_trial
    chosen = picked["trial"] if picked else None
    again = repeats(study.trials)
    for t in study.trials:
        row = f"{t.number:>3}  {t.label:<{width}}"
        row += "".join(f"{show(t.params.get(n), 6):>15}" for n in names)
        value = "" if t.value is None else f"{t.value:.4f}"
        row += f"  {t.status:<10}{value:>9}{(t.seconds or 0):>8.1f}"
        if t.number == chosen:
            row += "  <- recommended"
        if best is not None and t.number == best.number and t.number != chosen:
            row += "  <- best observed"
        if t.number in again:
            row += f"  (repeat of trial {again[t.number]})"
        if t.error:
            row += f"  ({t.error})"
        out.write(row + "\n")


def _summary(study: Study, out: TextIO) -> None:
    picked = handed_over(study)  # one GP fit serves the table and the summary
    _table(study, out, picked)
    if picked is None:
        out.write("no trial completed\n")
    else:
        params = ", ".join(f"{k}={show(v, 6)}" for k, v in picked["params"].items())
        out.write(
            f"recommended: trial {picked['trial']}: {params}  validation accuracy "
            f"{estimate_text(picked)}\n"
        )
        other = picked["best_observed"]
        if other["trial"] != picked["trial"]:
            out.write(
                f"best observed: trial {other['trial']} at {other['value']:.4f}, "
                "a draw the GP believes the noise flattered\n"
            )
    final = study.final or {}
    if "test_accuracy" in final:
        out.write(
            f"final: retrained on train+validation, test accuracy {final['test_accuracy']:.4f} "
            f"on {final.get('test_samples', '?')} held-out images; model saved to "
            f"{final['model_path']}\n"
        )
    elif final.get("error"):
        out.write(f"final retrain failed: {final['error']}\n")
    note = convergence_note(study.trials)
    if note:
        out.write(note + "\n")
    if study.error:
        out.write(f"study failed: {study.error}\n")


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    try:
        store = Store(args.db)
    except Exception as exc:
        err.write(f"error: cannot open the study database {args.db}: {exc}\n")
        return 2
    try:
        if args.command == "list":
            studies = store.list()
            if not studies:
                out.write(f"no studies in {args.db}\n")
            for s in studies:
                best = s.best_trial
                value = f"{best.value:.4f}" if best else "-"
                out.write(
                    f"{s.name:<40} {s.display_status:<12} "
                    f"{len(s.counted_trials):>3}/{s.config.total:<3} best {value}  "
                    f"{s.config.dataset} ({s.config.split})\n"
                )
            return 0
        if args.command == "export":
            from core import export

            study = store.load(args.study)
            if args.format == "json":
                text = export.best_params_json(study)
            elif args.format == "csv":
                text = export.trials_csv(study)
            elif args.format == "replay":
                text = export.replay_html(study)
            else:
                text = export.optimizer_state_json(study)
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
            else:
                out.write(text + ("" if text.endswith("\n") else "\n"))
            return 0
        if args.command == "note":
            store.set_note(args.study, args.text)
            out.write(f"{args.study}: note {'set' if args.text.strip() else 'cleared'}\n")
            return 0
        if args.command in ("enqueue", "tell"):
            from core import steer

            point = store.load(args.study).config.space.parse_point(args.param)
            if args.command == "enqueue":
                said = steer.try_next(store, args.study, point)
            else:
                said = steer.tell_result(store, args.study, point, args.value)
            out.write(f"{args.study}: {said}\n")
            return 0
        if args.command == "resume":
            study = store.load(args.study)
            if study.remaining == 0 and (study.final or not study.config.final_test):
                out.write(f"study {args.study!r} is already complete\n")
                return 0
            _start_tensorflow_here(study.config.parallel)
            runner = Registry(store, runs_dir=Path(args.db).parent).resume(args.study)
            _watch(runner, err)
            return _finish(store, runner, args.study, args.export, out, err)
        return _tune(args, store, out, err)
    except StudyNotFound as exc:
        err.write(f"error: {exc}; see `python -m core list --db {args.db}`\n")
        return 2
    except (ValueError, RuntimeError) as exc:
        err.write(f"error: {exc}\n")
        return 2
    finally:
        store.close()


def _tune(args: argparse.Namespace, store: Store, out: TextIO, err: TextIO) -> int:
    from core.data import DEFAULT_DATASET
    from core.executor import Parallel, auto_workers
    from core.study import default_name

    given = vars(args)
    values = {**(preset_values(args.preset) if args.preset else {}),
              **{k: v for k, v in given.items() if k in SETTINGS or k == "dataset"}}  # fmt: skip
    dataset = values.pop("dataset", DEFAULT_DATASET)
    pruning = Pruning(
        values.pop("pruner", SETTINGS["pruner"].default),
        warmup_trials=args.prune_warmup_trials,
        warmup_epochs=args.prune_warmup_epochs,
        min_epochs=args.asha_min_epochs,
        reduction_factor=args.asha_reduction_factor,
    )
    config = study_config(
        args.name or default_name(dataset, values.get("optimizer", SETTINGS["optimizer"].default)),
        dataset,
        _space(args),
        model=args.model,
        warm_start=args.warm_start,
        pruning=pruning,
        parallel=Parallel(
            auto_workers(args.cpus_per_trial) if args.workers == "auto" else args.workers,
            args.ray_address,
            args.cpus_per_trial,
            args.gpus_per_trial,
        ),
        **values,
    )
    if args.export:
        _check_export(Path(args.export))
    _start_tensorflow_here(config.parallel)
    from core.api import start

    runner = start(config, store, runs_dir=Path(args.db).parent, log=err)
    if args.note:
        store.set_note(config.name, args.note)
    _watch(runner, err)
    return _finish(store, runner, config.name, args.export, out, err)


def _start_tensorflow_here(parallel: Parallel) -> None:
    """TensorFlow imported and started, its start-up lines silenced, once for the whole
    study, when its trials train in this process; a study on Ray trains on its actors, and
    this process never loads it (some 10 s of CPU and 500 MB)."""
    if not parallel.uses_ray:
        quiet_tensorflow()


def _check_export(path: Path) -> None:
    """Make ``path``'s folder (as runs/ is made), before anything trains: a study must not
    train to its end and then fail to write its result."""
    if path.is_dir():
        raise ValueError(f"--export {path} is a folder: give a file name such as {path}/best.json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--export {path}: cannot make its folder ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"--export {path}: its folder {path.parent} is not writable")


def _space(args: argparse.Namespace) -> SearchSpace:
    """The search space the arguments give: --space, --param, or the seed's with --dropout,
    --lr and --lr-linear."""
    from core.space import SearchSpace, default_space, load_space_file, parse_param

    if args.space and args.param:
        raise ValueError("give the parameters with --space or with --param, not both")
    if args.space:
        return load_space_file(args.space)
    if args.param:
        return SearchSpace(parse_param(spec) for spec in args.param)
    if args.model:
        raise ValueError(
            "--model needs the parameters to tune: --param NAME=SPEC (repeat) or --space FILE"
        )
    return default_space(tuple(args.dropout), tuple(args.lr), lr_log=not args.lr_linear)


def _finish(
    store: Store, runner: Runner, name: str, export: str | None, out: TextIO, err: TextIO
) -> int:
    snap = runner.snapshot()
    for warning in snap.warnings:
        err.write(f"warning: {warning}\n")
    study = store.load(name)
    _summary(study, out)
    if export:
        from core.export import best_params_json

        Path(export).write_text(best_params_json(study), encoding="utf-8")
        out.write(f"best params written to {export}\n")
    if snap.status == StudyStatus.FAILED:
        err.write(f"error: {snap.error}\n")
        return 1
    return 0 if snap.status == StudyStatus.COMPLETE else 130
