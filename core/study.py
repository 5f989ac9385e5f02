"""A study: its configuration and its trials, as plain immutable values."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from core import options as opt
from core.executor import Parallel
from core.objective import Objective
from core.pruners import Pruning
from core.settings import EXTRA, SEARCH_SETTINGS, SETTINGS, Search, defaults
from core.space import SearchSpace, default_space
from core.status import StudyStatus, TrialOrigin, TrialStatus
from core.trainer import Budget

_DEFAULT = defaults()
NAME_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_TRIALS = 500


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RULE.match(name):
        raise ValueError(
            f"study name {name!r} is invalid: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def default_name(dataset: str, kind: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", os.path.basename(dataset))[:24].strip("-.") or "data"
    return f"{stem}-{kind}-{time.strftime('%Y%m%d-%H%M%S')}"


@dataclass(frozen=True)
class StudyConfig:
    """Everything needed to run, repeat or resume a study."""

    name: str
    dataset: str = "mnist-5k"
    space: SearchSpace = field(default_factory=default_space)
    # the defaults are the settings' (core.settings), but for the pruner: a stored study
    # without one was run without one
    optimizer: str = _DEFAULT["optimizer"]
    #: None: one more than the parameters, at least 5 (:func:`core.options.default_init_points`)
    init_points: int | None = _DEFAULT["init_points"]
    n_iter: int = _DEFAULT["n_iter"]
    #: the optimizer's settings (acquisition, kappa, xi, noise...): :class:`Search`
    search: Search = field(default_factory=Search)
    budget: Budget = field(
        default_factory=lambda: Budget(
            _DEFAULT["epochs"], _DEFAULT["batch_size"], _DEFAULT["max_train_samples"]
        )
    )
    seed: int = _DEFAULT["seed"]
    #: what draws the dataset's train/validation/test split (:func:`core.data.load_dataset`):
    #: one yardstick for every study on a dataset, whatever its own seed
    data_seed: int = _DEFAULT["data_seed"]
    val_fraction: float = 0.1
    final_test: bool = _DEFAULT["final_test"]
    pruning: Pruning = field(default_factory=Pruning)
    stop_when_converged: bool = _DEFAULT["stop_when_converged"]
    #: the study fails after this many trials in a row raised an error (0: never)
    max_consecutive_errors: int = _DEFAULT["max_consecutive_errors"]
    #: a trial whose worker was lost (a killed process, a node gone) trains again on a new
    #: one up to this many times; each try is a trial of the total
    max_retries: int = _DEFAULT["max_retries"]
    parallel: Parallel = field(default_factory=Parallel)
    #: "" for the seed's CNN, else the user's builder: "path/to/file.py:build" (made
    #: absolute) or "package.module:build" (:mod:`core.model`)
    model: str = ""
    #: "" or the study whose trials this one starts from, told first and not counted
    #: (:func:`core.steer.warm_start_trials`)
    warm_start: str = ""
    #: what the search optimizes: a metric the trials record and its direction
    objective: Objective = field(default_factory=Objective)

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.init_points is None:
            object.__setattr__(self, "init_points", opt.default_init_points(self.space.dim))
        if self.optimizer not in opt.KINDS:
            raise ValueError(f"optimizer must be one of {opt.KINDS}, got {self.optimizer!r}")
        if not isinstance(self.search, Search):
            object.__setattr__(self, "search", Search(self.search))
        if not isinstance(self.objective, Objective):
            object.__setattr__(self, "objective", Objective.from_dict(self.objective))
        for key in (
            "init_points",
            "n_iter",
            "seed",
            "data_seed",
            "max_consecutive_errors",
            "max_retries",
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be an integer >= 0, got {value!r}")
        if self.total < 1:
            raise ValueError("init_points + n_iter must be at least 1 trial, got 0")
        if self.total > MAX_TRIALS:
            raise ValueError(
                f"init_points + n_iter must be at most {MAX_TRIALS} trials, got {self.total}"
            )
        if not (0 < self.val_fraction < 1):
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction!r}")
        if not isinstance(self.warm_start, str):
            raise ValueError(f"warm_start must be a study's name, got {self.warm_start!r}")
        if self.warm_start == self.name:
            raise ValueError(f"study {self.name!r} cannot start from its own trials")
        if not isinstance(self.model, str):
            raise ValueError(f"model must be a spec such as file.py:build, got {self.model!r}")
        if self.model:
            from core.model import normalize_spec

            object.__setattr__(self, "model", normalize_spec(self.model))
        else:
            from core.model import check_cnn_space

            check_cnn_space(self.space)

    @property
    def largest_budget(self) -> Budget:
        """The budget of the costliest trial: tuned epochs and batch size at their highest."""
        return self.budget.for_params(
            {n: self.space[n].high for n in ("epochs", "batch_size") if n in self.space.names}
        )

    def check_data(self, n_train: int) -> None:
        """Raise ValueError if some trial's budget cannot run on ``n_train`` samples."""
        budget = self.largest_budget
        try:
            budget.check(n_train)
        except ValueError as exc:
            if "batch_size" in self.space.names:
                raise ValueError(
                    f"{exc} (the tuned batch_size reaches {budget.batch_size})"
                ) from None
            raise

    def same_split(self, other: StudyConfig) -> bool:
        """Whether the two studies score their trials on the same validation images."""
        return (self.dataset, self.data_seed, self.val_fraction) == (
            other.dataset, other.data_seed, other.val_fraction
        )  # fmt: skip

    def check_dataset(self, split: int, val_fraction: float | None) -> None:
        """Raise ValueError if data drawn with seed ``split`` and ``val_fraction`` (None: not
        known) is not this study's split: a dataset loaded for a preview with other settings
        would train every trial on the wrong validation images."""
        if split != self.data_seed or (
            val_fraction is not None and abs(val_fraction - self.val_fraction) > 1e-12
        ):
            shown = "?" if val_fraction is None else f"{val_fraction:g}"
            raise ValueError(
                f"the dataset given was split with data seed {split} and validation fraction "
                f"{shown}, but the study's is data seed {self.data_seed} and validation "
                f"fraction {self.val_fraction:g}: load it with the study's split"
            )

    @property
    def split(self) -> str:
        """The data split as a person reads it: "split 1" (its seed)."""
        return f"split {self.data_seed}"

    @property
    def total(self) -> int:
        return self.init_points + self.n_iter

    def to_dict(self) -> dict[str, Any]:
        """Every field, a nested value (the space, budget, pruning, parallel) as its own."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in values.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudyConfig:
        data = dict(data)
        data["space"] = SearchSpace.from_dict(data["space"])
        data["budget"] = Budget(**data["budget"])
        data["pruning"] = Pruning.from_dict(data.get("pruning"))  # none in older studies
        data["parallel"] = Parallel.from_dict(data.get("parallel"))  # one at a time in older
        data["objective"] = Objective.from_dict(data.get("objective"))  # val_accuracy before
        # an older study kept the search's settings beside the others
        search = {k: data.pop(k) for k in SEARCH_SETTINGS if k in data}
        data["search"] = Search({**search, **(data.get("search") or {})})
        # an older study drew its split from its own seed: it keeps the split it ran on
        data.setdefault("data_seed", data.get("seed", _DEFAULT["seed"]))
        return cls(**data)


def study_config(name: str, dataset: str, space: SearchSpace, **values: Any) -> StudyConfig:
    """A :class:`StudyConfig` from settings' values (:data:`core.settings.SETTINGS`); the
    ones not given take their defaults, the search's travel as one :class:`Search`.

    Besides the settings: ``pruning`` (a :class:`~core.pruners.Pruning`, else one of
    ``pruner``), ``parallel``, ``model``, ``warm_start``, ``val_fraction``.
    """
    unknown = sorted(set(values) - set(SETTINGS) - EXTRA)
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}: the settings are {', '.join(SETTINGS)}")
    given = {**_DEFAULT, **values}
    budget = Budget(given.pop("epochs"), given.pop("batch_size"), given.pop("max_train_samples"))
    pruner = given.pop("pruner")
    pruning = given.pop("pruning", None) or Pruning(pruner)
    search = Search({k: given.pop(k) for k in SEARCH_SETTINGS})
    return StudyConfig(
        name=name, dataset=dataset, space=space, budget=budget, pruning=pruning,
        search=search, **given,
    )  # fmt: skip


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict[str, Any]
    status: TrialStatus
    value: float | None = None
    history: tuple[dict[str, float], ...] = ()
    error: str | None = None
    guided: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    seconds: float | None = None
    #: After this trial: how much better than the best the search could still get, and one
    #: trial's noise, as the GP estimates them (GP-guided studies, after the random start).
    regret_bound: float | None = None
    noise_std: float | None = None
    #: where its point came from: the search, a person's choice, a typed-in result, a warm
    #: start (:class:`core.status.TrialOrigin`)
    origin: TrialOrigin = TrialOrigin.SEARCH
    #: every metric it recorded: its last epoch's and what it cost (``train_seconds``,
    #: ``params``: the model's parameter count); ``value`` is the study's objective among them
    #: (:func:`core.objective.trial_metrics`)
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """It has an outcome (complete, pruned or failed; not cancelled), told to the GP."""
        return TrialStatus(self.status).finished

    @property
    def counted(self) -> bool:
        """Finished and trained by this study: counted towards its total (a typed-in result
        or a warm start's trial is told, not counted)."""
        return self.finished and TrialOrigin(self.origin).counted

    @property
    def label(self) -> str:
        """How the table and the charts name its origin: random, guided, chosen by you..."""
        label = TrialOrigin(self.origin).label
        return label or ("guided" if self.guided else "random")


def convergence_note(trials: tuple[Trial, ...]) -> str | None:
    """A plain sentence on whether more trials are likely to pay, from the last estimate;
    None before one, and while no trial has completed (a bound over failures says nothing
    about what training can reach)."""
    if not any(t.status == TrialStatus.COMPLETE for t in trials):
        return None
    last = next((t for t in reversed(trials) if t.regret_bound is not None), None)
    if last is None:
        return None
    bound, noise = last.regret_bound, last.noise_std or 0.0
    if bound <= noise:
        return (
            f"After trial {last.number}, more trials are unlikely to beat the best by more "
            f"than the noise: the GP's bound on the possible gain ({bound:.4f}) is within one "
            f"trial's noise ({noise:.4f})."
        )
    return (
        f"After trial {last.number}, more trials could still beat the best by up to "
        f"{bound:.4f}, more than one trial's noise ({noise:.4f})."
    )


def repeats(trials: tuple[Trial, ...]) -> dict[int, int]:
    """Each trial at exactly the params of an earlier finished one: its number, and the
    earlier one's (the optimizer's deliberate second measurements of a point)."""
    first: dict[str, int] = {}
    out: dict[int, int] = {}
    for t in sorted(trials, key=lambda t: t.number):
        # to ten significant digits: a point mapped to the unit cube and back (a log
        # parameter through log10) comes back a few ulps off
        key = repr(sorted((k, f"{v:.10g}" if isinstance(v, float) else v)
                          for k, v in t.params.items()))  # fmt: skip
        if key in first:
            out[t.number] = first[key]
        elif t.finished:
            first[key] = t.number
    return out


def best_of(trials: tuple[Trial, ...], objective: Objective | None = None) -> Trial | None:
    """The completed trial with the best value of ``objective`` (the highest validation
    accuracy by default; the earliest among equals)."""
    sign = (objective or Objective()).sign
    done = [t for t in trials if t.status == TrialStatus.COMPLETE and t.value is not None]
    return max(done, key=lambda t: (sign * t.value, -t.number)) if done else None


@dataclass(frozen=True)
class Study:
    id: int
    config: StudyConfig
    status: StudyStatus
    trials: tuple[Trial, ...]
    created_at: float
    updated_at: float
    error: str | None = None
    final: dict[str, Any] | None = None
    owner_pid: int | None = None
    #: how many validation samples score each trial (None before its first run)
    val_samples: int | None = None
    #: a person's free-text note on the study
    note: str = ""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def finished_trials(self) -> tuple[Trial, ...]:
        return tuple(t for t in self.trials if t.finished)

    @property
    def counted_trials(self) -> tuple[Trial, ...]:
        """The finished trials this study trained: what its total counts."""
        return tuple(t for t in self.trials if t.counted)

    @property
    def remaining(self) -> int:
        return max(0, self.config.total - len(self.counted_trials))

    @property
    def best_trial(self) -> Trial | None:
        return best_of(self.trials, self.config.objective)

    @property
    def display_status(self) -> StudyStatus:
        """The stored status, or "interrupted" for a run whose process is gone."""
        if self.status == StudyStatus.RUNNING and not pid_alive(self.owner_pid):
            return StudyStatus.INTERRUPTED
        return StudyStatus(self.status)

    @property
    def resumable(self) -> bool:
        resumable = (
            StudyStatus.INTERRUPTED,
            StudyStatus.STOPPED,
            StudyStatus.CREATED,
            StudyStatus.FAILED,
        )
        return self.display_status in resumable and (
            self.remaining > 0 or (self.config.final_test and not self.final)
        )


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
