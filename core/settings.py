"""The settings a person chooses for a study, each declared once with its default and
what it does, and the named presets.

The command line builds its options and their help from :data:`SETTINGS`, the Tune page
draws its widgets, defaults and presets from here, and
:meth:`core.study.StudyConfig.from_settings` turns the values (a preset's, then a
person's) into one configuration for all three and for the Python API. The settings of
the search (``group="search"``) travel together as one :class:`Search`, which the
optimizer reads: a new one is one :class:`Setting` here and the code that reads it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.options import (
    ACQUISITION_LABELS,
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


def at_least(low: float, strict: bool = False) -> Callable[[str, Any], Any]:
    """A rule: a finite number >= ``low`` (> with ``strict``); None passes where the
    setting's default is None (its "fitted")."""

    def check(name: str, value: Any) -> Any:
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value > low if strict else value >= low)
        )
        if not ok:
            rule = f"> {low:g}" if strict else f">= {low:g}"
            raise ValueError(f"{name} must be a finite number {rule}, got {value!r}")
        return float(value)

    return check


def fitted_or(low: float, strict: bool = False) -> Callable[[str], float | None]:
    """How the command line reads a setting that is fitted unless given: ``fitted``
    (None) or a finite number >= ``low`` (> with ``strict``)."""
    rule = at_least(low, strict)

    def parse(text: str) -> float | None:
        if text.strip().lower() == "fitted":
            return None
        try:
            return rule("value", float(text))
        except ValueError:
            bound = f"> {low:g}" if strict else f">= {low:g}"
            raise argparse.ArgumentTypeError(
                f"expected 'fitted' or a number {bound}, got {text!r}"
            ) from None

    return parse


@dataclass(frozen=True)
class Setting:
    """One setting: its name (a configuration keyword), default, help and rule."""

    name: str
    default: Any
    help: str
    #: how the command line reads it; ``bool`` makes a flag that switches it on
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    #: "search": read by the optimizer, carried in the configuration's :class:`Search`
    group: str = "study"
    #: the rule a value must keep, as ``check(name, value) -> value`` (None: any value of
    #: ``parse``'s type); a setting whose default is None also takes None
    check: Callable[[str, Any], Any] | None = None
    #: how the Tune page offers it (:func:`pages.common.forms.setting_input`): its label,
    #: the name shown for each of its ``choices``, the values offered for a setting whose
    #: None means "fitted" (None shown as "fitted"), and a number's least value and step
    label: str = ""
    choice_labels: Mapping[str, str] | None = None
    offered: tuple[Any, ...] = ()
    minimum: float | None = None
    step: float | None = None

    def valid(self, value: Any) -> Any:
        """``value`` as the setting keeps it, or ValueError naming the setting and its rule."""
        if self.choices and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {self.choices}, got {value!r}")
        if value is None and self.default is None:
            return None
        if self.check is None:
            return value
        try:
            return self.check(self.name, value)
        except ValueError as exc:
            if self.default is None:  # its None is a choice too: say so
                fitted = str(exc).replace(" must be ", " must be None (fitted) or ", 1)
                raise ValueError(fitted) from None
            raise

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def coerce(self, value: Any) -> Any:
        """A form's value as the setting's type (None stays None: the setting's "none")."""
        if value is None:
            return None
        if self.parse is bool:
            return bool(value)
        if self.offered:  # "fitted" (None) was handled above: a number
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
            group="search",
            label="Acquisition",
            choice_labels=ACQUISITION_LABELS,
        ),
        Setting(
            "kappa",
            DEFAULT_KAPPA,
            "UCB's exploration: mean + K x std",
            float,
            metavar="K",
            group="search",
            check=at_least(0),
            label="κ (kappa, UCB)",
            minimum=0.0,
            step=0.5,
        ),
        Setting(
            "xi",
            DEFAULT_XI,
            "EI's and PI's margin over the best, in accuracy units",
            float,
            group="search",
            check=at_least(0),
            label="ξ (xi, EI and PI)",
            minimum=0.0,
            step=0.005,
        ),
        Setting(
            "noise",
            DEFAULT_NOISE,
            "GP observation noise: fitted with the GP (default) or a fixed alpha >= 0",
            fitted_or(0),
            metavar="fitted|ALPHA",
            group="search",
            check=at_least(0),
            label="GP noise",
            offered=(None, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1),
        ),
        Setting(
            "length_scale",
            None,
            "the GP's Matern length scale, in unit-cube widths: fitted per parameter "
            "(default) or one fixed value > 0",
            fitted_or(0, strict=True),
            metavar="fitted|L",
            group="search",
            check=at_least(0, strict=True),
            label="GP length scale",
            offered=(None, 0.1, 0.2, 0.5, 1.0),
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


#: The settings the optimizer reads, in declaration order.
SEARCH_SETTINGS = tuple(name for name, s in SETTINGS.items() if s.group == "search")


class Search(Mapping[str, Any]):
    """The values of the search's settings (:data:`SEARCH_SETTINGS`), each checked by its
    declaration, the ones not given at their defaults: the one object of settings the
    optimizer reads (``search["kappa"]`` or ``search.kappa``). Immutable and hashable."""

    def __init__(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        given = {**(values or {}), **more}
        unknown = sorted(set(given) - set(SEARCH_SETTINGS))
        if unknown:
            raise ValueError(
                f"unknown search setting {unknown[0]!r}: they are {', '.join(SEARCH_SETTINGS)}"
            )
        self._values = {
            name: SETTINGS[name].valid(given.get(name, SETTINGS[name].default))
            for name in SEARCH_SETTINGS
        }

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __repr__(self) -> str:
        return f"Search({self._values!r})"

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)


def preset_values(key: str) -> dict[str, Any]:
    """A preset's values (ValueError naming the presets for an unknown one)."""
    if key not in PRESETS:
        raise ValueError(f"unknown preset {key!r}: choose one of {', '.join(PRESETS)}")
    return dict(PRESETS[key].values)


#: What a configuration takes besides the settings.
EXTRA = {"pruning", "parallel", "model", "warm_start", "val_fraction"}
