"""The settings a person chooses for a study, each declared once with its default and
what it does, and the named presets.

The command line builds its options and their help from :data:`SETTINGS`, the Tune page
takes its defaults and its presets from here, and :func:`study_config` turns the values
(a preset's, then a person's) into one :class:`~core.study.StudyConfig` for all three and
for the Python API. A new setting is one :class:`Setting` here, the optimizer that reads
it, and its widget on the Tune page.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.options import (
    ACQUISITIONS,
    DEFAULT_ACQUISITION,
    DEFAULT_KAPPA,
    DEFAULT_NOISE,
    DEFAULT_XI,
    KINDS,
    MAX_CONSECUTIVE_ERRORS,
    MAX_RETRIES,
)
from core.pruners import DEFAULT as DEFAULT_PRUNER
from core.pruners import EXPLAINED
from core.pruners import KINDS as PRUNERS


def parse_noise(text: str) -> float | None:
    """``fitted`` (None: fitted with the GP) or a fixed alpha >= 0."""
    if text.strip().lower() == "fitted":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected 'fitted' or a number >= 0, got {text!r}")
    return value


@dataclass(frozen=True)
class Setting:
    """One setting: its name (a :func:`study_config` keyword), default and help."""

    name: str
    default: Any
    help: str
    #: how the command line reads it; ``bool`` makes a flag that switches it on
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def coerce(self, value: Any) -> Any:
        """A form's value as the setting's type (None stays None: the setting's "none")."""
        if value is None:
            return None
        if self.parse is bool:
            return bool(value)
        if self.parse is parse_noise:
            return float(value)
        return self.parse(value)

    def shown(self) -> str:
        """The help text with the default, as the command line prints it."""
        if self.parse is bool or self.default is None:  # its help says what none means
            return self.help
        return f"{self.help} (default: {self.default})"


#: Every setting of a study but its name, data and search space, with the one default each.
SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("optimizer", "bayes", "how the next point is chosen", choices=KINDS),
        Setting(
            "init_points",
            None,
            "random trials first (default: one more than the tuned parameters, at least 5)",
            int,
            metavar="N",
        ),
        Setting("n_iter", 7, "GP-guided trials after the random ones", int, metavar="N"),
        Setting(
            "acquisition",
            DEFAULT_ACQUISITION,
            "acquisition function: ei, ucb or poi",
            choices=ACQUISITIONS,
        ),
        Setting("kappa", DEFAULT_KAPPA, "UCB's exploration: mean + K x std", float, metavar="K"),
        Setting("xi", DEFAULT_XI, "EI's and PI's margin over the best, in accuracy units", float),
        Setting(
            "noise",
            DEFAULT_NOISE,
            "GP observation noise: fitted with the GP (default) or a fixed alpha >= 0",
            parse_noise,
            metavar="fitted|ALPHA",
        ),
        Setting(
            "pruner",
            DEFAULT_PRUNER,
            "stop hopeless trials early. " + " ".join(f"{k}: {v}" for k, v in EXPLAINED.items()),
            choices=PRUNERS,
        ),
        Setting("epochs", 2, "epochs per trial", int, metavar="N"),
        Setting("batch_size", 64, "batch size", int, metavar="N"),
        Setting(
            "max_train_samples",
            None,
            "cap on training samples per trial (default: all)",
            int,
            metavar="N",
        ),
        Setting("seed", 1, "the study's seed: its random start and each trial's", int, metavar="N"),
        Setting(
            "data_seed",
            1,
            "the dataset's train/validation/test split: the same for every study on a dataset "
            "unless you give another (the study's seed never moves it)",
            int,
            metavar="N",
        ),
        Setting(
            "final_test",
            False,
            "retrain the best params on train+validation, test once, save .keras",
            bool,
        ),
        Setting(
            "stop_when_converged",
            False,
            "end the study once more trials are unlikely to beat the best by more than the "
            "noise (GP estimate; never during the random start)",
            bool,
        ),
        Setting(
            "max_consecutive_errors",
            MAX_CONSECUTIVE_ERRORS,
            "fail the study after N trials in a row raised an error, not a bad result "
            "(a crash in the model's code, say); 0: never",
            int,
            metavar="N",
        ),
        Setting(
            "max_retries",
            MAX_RETRIES,
            "train a trial whose worker was lost (a killed process, a Ray node gone) again "
            "up to N times, each a trial of the total",
            int,
            metavar="N",
        ),
    )
}


@dataclass(frozen=True)
class Preset:
    """Named values for some settings (and the dataset), shared by the Tune page and the
    command line's ``--preset``."""

    key: str
    label: str
    help: str
    values: Mapping[str, Any]


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in (
        Preset(
            "quick",
            "Quick look",
            "a couple of minutes on a laptop CPU: 5 random + 7 guided trials of 2 epochs on "
            "mnist-5k (the defaults)",
            {
                "dataset": "mnist-5k",
                "init_points": 5,
                "n_iter": 7,
                "epochs": 2,
                "batch_size": 64,
                "max_train_samples": None,
                "final_test": False,
            },
        ),  # fmt: skip
        Preset(
            "seed",
            "The seed experiment",
            "the blog's 10 random + 2 guided trials of 5 epochs, batch 64, then one test "
            "evaluation (about an hour on full MNIST on a laptop CPU)",
            {
                "dataset": "mnist",
                "init_points": 10,
                "n_iter": 2,
                "epochs": 5,
                "batch_size": 64,
                "max_train_samples": None,
                "final_test": True,
            },
        ),  # fmt: skip
    )
}


def defaults() -> dict[str, Any]:
    """Every setting's default."""
    return {name: s.default for name, s in SETTINGS.items()}


def preset_values(key: str) -> dict[str, Any]:
    """A preset's values (ValueError naming the presets for an unknown one)."""
    if key not in PRESETS:
        raise ValueError(f"unknown preset {key!r}: choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[key].values)


def study_config(name: str, dataset: str, space: Any, **values: Any) -> Any:
    """A :class:`~core.study.StudyConfig` from settings' values; the ones not given take
    their defaults.

    Besides :data:`SETTINGS`: ``pruning`` (a :class:`~core.pruners.Pruning`, else one of
    ``pruner``), ``parallel``, ``model``, ``warm_start``, ``val_fraction``.
    """
    from core.pruners import Pruning
    from core.study import StudyConfig
    from core.trainer import Budget

    unknown = sorted(set(values) - set(SETTINGS) - EXTRA)
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}: the settings are {', '.join(SETTINGS)}")
    given = {**defaults(), **values}
    budget = Budget(given.pop("epochs"), given.pop("batch_size"), given.pop("max_train_samples"))
    pruner = given.pop("pruner")
    pruning = given.pop("pruning", None) or Pruning(pruner)
    return StudyConfig(
        name=name,
        dataset=dataset,
        space=space,
        budget=budget,
        pruning=pruning,
        **given,
    )


#: What :func:`study_config` takes besides the settings.
EXTRA = {"pruning", "parallel", "model", "warm_start", "val_fraction"}
