"""The search space: typed parameters, mapped to and from the unit cube.

The optimizers work in the unit cube, one coordinate per number and one per category:

- a **float** maps linearly, or through log10 when ``log`` is set, so a learning rate in
  [1e-4, 1e-2] spreads its trials over two decades instead of bunching near 1e-2;
- an **int** takes the values ``low, low+1, ..., high`` (or, with ``log``, the powers of
  two from ``low`` to ``high``: 16, 32, ..., 512). Its coordinate is cut into one equal bin
  per value, so a uniform draw picks each value equally often, and a value sits at its
  bin's centre;
- a **categorical** parameter takes one of its ``choices`` and has one coordinate per
  choice (one-hot): the largest coordinate picks the choice. The choices have no order,
  so none is nearer to another than the rest.

:meth:`SearchSpace.snap` maps any point of the cube to the canonical coordinates of the
values it decodes to. The GP sees every point through it, so an int is never seen as
a continuous value rounded only at the end, and a point already tried looks exactly
like itself (its uncertainty is gone, and the acquisition does not propose it again).
"""

from __future__ import annotations

import abc
import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("float", "int", "categorical")
#: An int parameter may take at most this many values (one bin each in the unit cube).
MAX_INT_LEVELS = 100_000
MAX_CHOICES = 32

Value = float | int | str | bool


def show(value: Any, digits: int = 4) -> str:
    """A parameter value as charts and tables print it: a float to ``digits`` significant
    digits, anything else as it is."""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


@dataclass(frozen=True)
class Param(abc.ABC):
    """One tunable parameter: a :class:`FloatParam`, an :class:`IntParam` or a
    :class:`CategoricalParam`, each knowing its own values and unit-cube coordinates.

    ``Param("lr", 1e-4, 1e-2, log=True)`` is a float on a log scale;
    ``Param("batch_size", 16, 512, log=True, kind="int")`` the powers of two from 16 to 512;
    ``Param("optimizer", kind="categorical", choices=("adam", "sgd"))`` one of the choices.
    ``Param(...)`` builds the class its ``kind`` names.
    """

    name: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    kind: str = "float"
    choices: tuple[Value, ...] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Param:
        if cls is Param:
            kind = kwargs.get("kind", args[4] if len(args) > 4 else "float")
            if kind not in _CLASSES:
                name = kwargs.get("name", args[0] if args else "")
                raise ValueError(f"{name}: type must be one of {', '.join(KINDS)}, got {kind!r}")
            cls = _CLASSES[kind]
        return object.__new__(cls)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("parameter name must be a non-empty string")
        if self.kind != type(self).kind:
            raise ValueError(f"{self.name}: a {type(self).__name__} is of type {type(self).kind}")
        if self.choices and not isinstance(self, CategoricalParam):
            raise ValueError(f"{self.name}: only a categorical parameter has choices")
        self._check()

    @abc.abstractmethod
    def _check(self) -> None:
        """Refuse, naming what is wrong, bounds or choices this kind cannot take."""

    def _check_bounds(self) -> None:
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if not _is_number(value):
                raise ValueError(f"{self.name}: {bound} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{self.name}: {bound} must be a finite number, got {value!r}")
        if self.low >= self.high:
            raise ValueError(
                f"{self.name}: low ({self.low:g}) must be smaller than high ({self.high:g})"
            )

    # -- what it is -----------------------------------------------------------------
    #: how many unit-cube coordinates it takes
    width = 1

    @cached_property
    def levels(self) -> tuple[Value, ...]:
        """Every value a discrete parameter takes (empty for a float); listed once, since
        the GP's input transform asks for it on every prediction."""
        return ()

    @property
    def discrete(self) -> bool:
        return bool(self.levels)

    @abc.abstractmethod
    def describe(self) -> str:
        """One line: the type, the range and the scale."""
        ...

    @abc.abstractmethod
    def check_value(self, value: Any) -> Value:
        """``value`` as this parameter's type, or ValueError naming what is wrong."""
        ...

    def contains(self, value: Value) -> bool:
        """Whether a value of its type lies inside its range (a discrete one always does)."""
        return True

    def key(self, value: Value) -> Any:
        """A hashable identity of a value: equal keys are the same value."""
        return json.dumps(value)

    # -- the unit cube --------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, value: Any) -> np.ndarray:
        """The unit-cube coordinates of ``value`` (``width`` of them).

        A float outside its bounds maps outside [0, 1]; a discrete value must be one of
        the parameter's values.
        """
        ...

    @abc.abstractmethod
    def decode(self, u: Sequence[float] | np.ndarray) -> Value:
        """The value at unit-cube coordinates ``u`` (``width`` of them), within bounds."""
        ...

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Rows of its coordinates (n x width) moved to the canonical coordinates of the
        values they decode to (in place)."""
        return u

    # -- how it is read and shown ----------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """A name for each of its unit-cube coordinates."""
        return [self.name]

    def parse(self, text: str) -> Value:
        """A value typed as text (``--param NAME=VALUE``), checked by :meth:`point`."""
        return _number(text, self.name, "its value")

    def shown(self, value: Value) -> Any:
        """``value`` as a chart's axis takes it (a number stays a number)."""
        return value

    def coordinate(self, value: Value) -> float:
        """Where ``value`` sits on a numeric axis (3-D and parallel axes take numbers
        only): its log10 on a log scale."""
        return math.log10(value) if self.log else float(value)

    def from_shown(self, shown: Any) -> Value:
        """A value read off a chart's axis, as this parameter takes it."""
        return float(shown)

    def field_value(self, value: Any) -> Value:
        """``value`` as a form's input for it holds it."""
        return float(value)

    def to_unit(self, value: float) -> float:
        """The one coordinate of a float or an int (a categorical has several: encode)."""
        return float(self.encode(value)[0])

    def from_unit(self, u: float) -> Value:
        """The value of a float or an int at one coordinate, clipped to the bounds."""
        return self.decode([u])

    def linspace(self, n: int) -> np.ndarray:
        """n real values evenly spaced on this parameter's own scale (a float's)."""
        return np.array([self.from_unit(u) for u in np.linspace(0.0, 1.0, n)])

    def axis(self, n: int) -> list[Value]:
        """At most ``n`` values to plot this parameter along: every value of a discrete
        parameter that has at most ``n``, else ``n`` evenly spaced on its own scale."""
        levels = self.levels
        if levels and len(levels) <= n:
            return list(levels)
        out: list[Value] = []
        for u in np.linspace(0.0, 1.0, n):
            value = self.from_unit(float(u))
            if value not in out:
                out.append(value)
        return out

    def to_dict(self) -> dict:
        return {"name": self.name, "low": self.low, "high": self.high, "log": self.log}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        """A parameter from plain data: ``name``, ``type`` (float by default), ``low``,
        ``high`` and ``log``, or ``choices``; unknown keys are refused by name."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a parameter must be a table of its settings, got {data!r}")
        name = data.get("name")
        known = {"name", "type", "low", "high", "log", "choices"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{name}: unknown setting {unknown[0]!r} (expected some of: type, low, high, "
                "log, choices)"
            )
        kind = data.get("type", "categorical" if "choices" in data else "float")
        log = data.get("log", False)
        if not isinstance(log, bool):
            raise ValueError(f"{name}: log must be true or false, got {log!r}")
        if kind == "categorical":
            return Param(name, kind="categorical", choices=tuple(data.get("choices") or ()))
        for bound in ("low", "high"):
            if bound not in data:
                raise ValueError(f"{name}: {bound} is missing")
        return Param(name, data["low"], data["high"], log, kind)


@dataclass(frozen=True)
class FloatParam(Param):
    """A real number in [low, high], linear or (``log``) through log10."""

    kind: str = "float"

    def _check(self) -> None:
        self._check_bounds()
        if self.log and self.low <= 0:
            raise ValueError(
                f"{self.name}: a log-scale parameter needs low > 0, got low = {self.low:g}"
            )

    def describe(self) -> str:
        return f"{self.low:g}-{self.high:g}" + (" (log scale)" if self.log else "")

    def check_value(self, value: Any) -> Value:
        if not _is_number(value) or not math.isfinite(value):
            raise ValueError(f"{self.name}: expected a number, got {value!r}")
        return float(value)

    def contains(self, value: Value) -> bool:
        return self.low <= value <= self.high

    def key(self, value: Value) -> Any:
        return round(float(value), 12)

    def encode(self, value: Any) -> np.ndarray:
        value = float(value)
        if self.log:
            lo, hi = math.log10(self.low), math.log10(self.high)
            return np.array([(math.log10(value) - lo) / (hi - lo)])
        return np.array([(value - self.low) / (self.high - self.low)])

    def decode(self, u: Sequence[float] | np.ndarray) -> Value:
        x = float(np.clip(np.asarray(u, dtype=float).reshape(-1), 0.0, 1.0)[0])
        if self.log:
            lo, hi = math.log10(self.low), math.log10(self.high)
            return float(min(self.high, max(self.low, 10 ** (lo + x * (hi - lo)))))
        return float(self.low + x * (self.high - self.low))


@dataclass(frozen=True)
class IntParam(Param):
    """The integers from low to high or (``log``) the powers of two between them, one equal
    bin of the unit coordinate each."""

    kind: str = "int"

    def _check(self) -> None:
        self._check_bounds()
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if value != int(value):
                raise ValueError(
                    f"{self.name}: an int parameter needs whole-number bounds, "
                    f"got {bound} = {value!r}"
                )
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))
        if self.log:
            for bound in ("low", "high"):
                value = getattr(self, bound)
                if value < 1 or value & (value - 1):
                    raise ValueError(
                        f"{self.name}: a log2 int parameter takes powers of two, and its "
                        f"{bound} ({value}) is not one (e.g. 16, 32, 64)"
                    )
        elif self.high - self.low + 1 > MAX_INT_LEVELS:
            raise ValueError(
                f"{self.name}: an int parameter may take at most {MAX_INT_LEVELS:,} values, "
                f"got {self.high - self.low + 1:,}: use a float, or log2 steps"
            )

    @cached_property
    def levels(self) -> tuple[Value, ...]:
        if self.log:
            return tuple(2**k for k in range(self.low.bit_length() - 1, self.high.bit_length()))
        return tuple(range(self.low, self.high + 1))

    def _takes(self, value: int) -> bool:
        """Whether it takes ``value`` (without listing its values)."""
        if not self.low <= value <= self.high:
            return False
        return not self.log or value & (value - 1) == 0

    def from_shown(self, shown: Any) -> Value:
        return int(round(float(shown)))

    def field_value(self, value: Any) -> Value:
        return int(value)

    def describe(self) -> str:
        return f"int {self.low}-{self.high}" + (" (powers of two)" if self.log else "")

    def check_value(self, value: Any) -> Value:
        if not _is_number(value) or not math.isfinite(value):
            raise ValueError(f"{self.name}: expected a number, got {value!r}")
        if value != int(value) or not self._takes(int(value)):
            raise ValueError(f"{self.name}: {value!r} is not one of its values ({self.describe()})")
        return int(value)

    def encode(self, value: Any) -> np.ndarray:
        value = self.check_value(value)
        index = value.bit_length() - self.low.bit_length() if self.log else value - self.low
        return np.array([(index + 0.5) / len(self.levels)])

    def decode(self, u: Sequence[float] | np.ndarray) -> Value:
        x = float(np.clip(np.asarray(u, dtype=float).reshape(-1), 0.0, 1.0)[0])
        levels = self.levels
        return levels[min(len(levels) - 1, int(x * len(levels)))]

    def snap(self, u: np.ndarray) -> np.ndarray:
        n = len(self.levels)
        index = np.minimum(n - 1, (np.clip(u, 0.0, 1.0) * n).astype(int))
        u[:] = (index + 0.5) / n
        return u

    def to_dict(self) -> dict:
        return {**super().to_dict(), "type": "int"}


@dataclass(frozen=True)
class CategoricalParam(Param):
    """One of its ``choices``, one unit-cube coordinate per choice (one-hot)."""

    kind: str = "categorical"

    def _check(self) -> None:
        choices = self.choices
        if isinstance(choices, str) or not isinstance(choices, tuple | list):
            raise ValueError(f"{self.name}: choices must be a list, got {choices!r}")
        object.__setattr__(self, "choices", tuple(choices))
        if len(self.choices) < 2:
            raise ValueError(f"{self.name}: a categorical parameter needs at least 2 choices")
        if len(self.choices) > MAX_CHOICES:
            raise ValueError(f"{self.name}: at most {MAX_CHOICES} choices, got {len(choices)}")
        for choice in self.choices:
            if not isinstance(choice, str | int | float | bool) or (
                isinstance(choice, float) and not math.isfinite(choice)
            ):
                raise ValueError(
                    f"{self.name}: each choice must be a string, a number or true/false, "
                    f"got {choice!r}"
                )
        if len({json.dumps(c) for c in self.choices}) != len(self.choices):
            raise ValueError(f"{self.name}: choices must be distinct, got {list(self.choices)}")

    @property
    def width(self) -> int:  # type: ignore[override]
        return len(self.choices)

    @cached_property
    def levels(self) -> tuple[Value, ...]:
        return self.choices

    @property
    def columns(self) -> list[str]:
        return [f"{self.name}={c}" for c in self.choices]

    def parse(self, text: str) -> Value:
        return _choice(text)

    def shown(self, value: Value) -> Any:
        return show(value)

    def coordinate(self, value: Value) -> float:
        """A choice by its index."""
        return float(self.choices.index(value))

    def from_shown(self, shown: Any) -> Value:
        return next(c for c in self.choices if show(c) == str(shown))

    def field_value(self, value: Any) -> Value:
        return value

    def describe(self) -> str:
        return f"one of {', '.join(map(str, self.choices))}"

    def check_value(self, value: Any) -> Value:
        for choice in self.choices:
            if json.dumps(choice) == json.dumps(value):
                return choice
        raise ValueError(f"{self.name}: {value!r} is not one of {list(self.choices)}")

    def encode(self, value: Any) -> np.ndarray:
        out = np.zeros(self.width)
        out[self.choices.index(self.check_value(value))] = 1.0
        return out

    def decode(self, u: Sequence[float] | np.ndarray) -> Value:
        return self.choices[int(np.argmax(np.asarray(u, dtype=float).reshape(-1)))]

    def snap(self, u: np.ndarray) -> np.ndarray:
        hot = np.argmax(u, axis=1)
        u[:] = 0.0
        u[np.arange(len(u)), hot] = 1.0
        return u

    def to_unit(self, value: float) -> float:
        raise ValueError(f"{self.name}: a categorical parameter has {self.width} coordinates")

    def to_dict(self) -> dict:
        return {"name": self.name, "type": "categorical", "choices": list(self.choices)}


_CLASSES: dict[str, type[Param]] = {
    "float": FloatParam,
    "int": IntParam,
    "categorical": CategoricalParam,
}


class SearchSpace:
    """An ordered set of parameters; the first two are the ones the dashboard plots first."""

    def __init__(self, params: Iterable[Param]) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        if not self.params:
            raise ValueError("search space: at least one parameter is required")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"search space: parameter names must be unique, got {names}")
        starts = np.cumsum([0, *(p.width for p in self.params)])
        self._slices = {
            p.name: slice(int(a), int(b))
            for p, a, b in zip(self.params, starts[:-1], starts[1:], strict=True)
        }

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def dim(self) -> int:
        """How many parameters."""
        return len(self.params)

    @property
    def width(self) -> int:
        """How many unit-cube coordinates (a categorical parameter takes one per choice)."""
        return sum(p.width for p in self.params)

    @property
    def columns(self) -> list[str]:
        """A name for each unit-cube coordinate: the parameter's, or ``name=choice``."""
        return [column for p in self.params for column in p.columns]

    @property
    def continuous(self) -> bool:
        """Whether every parameter is a float (no point is snapped to a level)."""
        return not any(p.discrete for p in self.params)

    @property
    def discrete(self) -> bool:
        """Whether every parameter takes a finite set of values."""
        return all(p.discrete for p in self.params)

    @property
    def size(self) -> float:
        """How many distinct points there are (infinite with a float)."""
        return math.prod(len(p.levels) for p in self.params) if self.discrete else math.inf

    def slice_of(self, name: str) -> slice:
        """Where parameter ``name``'s coordinates sit in a unit-cube point."""
        return self._slices[name]

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def __hash__(self) -> int:
        return hash(self.params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self.params)!r})"

    def to_unit(self, values: Mapping[str, Any]) -> np.ndarray:
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ValueError(f"search space: values are missing {missing}")
        return np.concatenate([p.encode(values[p.name]) for p in self.params])

    def from_unit(self, u: Iterable[float]) -> dict[str, Value]:
        u = np.asarray(list(u), dtype=float)
        if len(u) != self.width:
            raise ValueError(f"search space: expected {self.width} coordinates, got {len(u)}")
        return {p.name: p.decode(u[self._slices[p.name]]) for p in self.params}

    def snap(self, units: np.ndarray) -> np.ndarray:
        """Each point (a row) moved to the canonical coordinates of the values it decodes
        to: a discrete parameter's bin centre or one-hot vector; a float stays, clipped."""
        units = np.array(units, dtype=float, copy=True)
        flat = units.reshape(-1, self.width)
        for p in self.params:
            if p.discrete:
                s = self._slices[p.name]
                flat[:, s] = p.snap(flat[:, s])
        return flat.reshape(units.shape)

    def key(self, values: Mapping[str, Any]) -> tuple:
        """A hashable identity of a point: two points with equal keys are the same trial."""
        return tuple(p.key(values[p.name]) for p in self.params)

    def check(self, values: Mapping[str, Any]) -> dict[str, Value]:
        """``values`` typed as the parameters say; ValueError names the first that is wrong."""
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r}: the space has {self.names}")
        return {p.name: p.check_value(values[p.name]) for p in self.params if p.name in values}

    def point(self, values: Mapping[str, Any]) -> dict[str, Value]:
        """``values`` as a point of this space: every parameter, typed, inside its range;
        ValueError names the first that is missing, unknown or out of range."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ValueError(
                f"missing parameter {missing[0]!r}: a point needs a value for each of {self.names}"
            )
        point = self.check(values)
        for p in self.params:
            if not p.contains(point[p.name]):
                raise ValueError(
                    f"{p.name}: {point[p.name]:g} lies outside its range ({p.describe()})"
                )
        return point

    def parse_point(self, pairs: Iterable[str]) -> dict[str, Value]:
        """A point from ``NAME=VALUE`` strings (the CLI's ``--param``), as :meth:`point`."""
        values: dict[str, Any] = {}
        for pair in pairs:
            name, sep, text = pair.partition("=")
            name, text = name.strip(), text.strip()
            if not sep or not name or not text:
                raise ValueError(f"expected NAME=VALUE, got {pair!r}")
            if name in values:
                raise ValueError(f"{name}: given twice")
            values[name] = (
                self[name].parse(text) if name in self.names else _number(text, name, "its value")
            )
        return self.point(values)

    def to_dict(self) -> list[dict]:
        return [p.to_dict() for p in self.params]

    @classmethod
    def from_dict(cls, data: Iterable[Mapping]) -> SearchSpace:
        return cls(Param.from_dict(d) for d in data)


def default_space(
    dropout: tuple[float, float] = (0.1, 0.5),
    lr: tuple[float, float] = (1e-4, 1e-2),
    lr_log: bool = True,
) -> SearchSpace:
    """The seed experiment's space: dropout2_rate linear, lr on a log scale by default."""
    return SearchSpace(
        [
            Param("dropout2_rate", dropout[0], dropout[1]),
            Param("lr", lr[0], lr[1], log=lr_log),
        ]
    )


# -- the search space as a user writes it ---------------------------------------------------


def _number(text: str, name: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: {what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}: {what} must be a finite number, got {text!r}")
    whole = value == int(value) and "." not in text and "e" not in text.lower()
    return int(value) if whole else value


def _choice(text: str) -> Value:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_param(spec: str) -> Param:
    """A parameter from its one-line form (the CLI's ``--param``):

    - ``lr=float:1e-4:1e-2:log`` (``log`` optional; ``lr=1e-4:1e-2`` is a float too)
    - ``units=int:32:512`` and ``batch_size=int:16:512:log2`` (powers of two)
    - ``optimizer=cat:adam,sgd,rmsprop``
    """
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not name or not rest:
        raise ValueError(
            f"--param {spec!r}: expected NAME=float:LOW:HIGH[:log], NAME=int:LOW:HIGH[:log2] "
            "or NAME=cat:A,B,C"
        )
    parts = [p.strip() for p in rest.split(":")]
    kind = parts[0].lower()
    if kind in ("cat", "categorical"):
        if len(parts) != 2 or not parts[1]:
            raise ValueError(f"{name}: expected {name}=cat:A,B,C, got {spec!r}")
        return Param(
            name, kind="categorical", choices=tuple(_choice(c.strip()) for c in parts[1].split(","))
        )
    if kind in ("float", "int"):
        parts = parts[1:]
    else:
        kind = "float"
    scale = parts[2].lower() if len(parts) == 3 else ""
    if len(parts) not in (2, 3) or scale not in ("", "log", "log2", "linear"):
        raise ValueError(
            f"{name}: expected {name}={kind}:LOW:HIGH with an optional :log "
            f"({':log2' if kind == 'int' else ':log'}), got {spec!r}"
        )
    if kind == "float" and scale == "log2":
        raise ValueError(f"{name}: log2 is for int parameters; a float takes :log")
    low, high = _number(parts[0], name, "low"), _number(parts[1], name, "high")
    return Param(name, low, high, log=scale in ("log", "log2"), kind=kind)


def load_space_file(path: str | Path) -> SearchSpace:
    """A search space from a TOML or JSON file.

    TOML: one table per parameter, in order::

        [lr]
        type = "float"   # float (the default), int or categorical
        low = 1e-4
        high = 1e-2
        log = true       # an int with log = true takes the powers of two

        [optimizer]
        type = "categorical"
        choices = ["adam", "sgd", "rmsprop"]

    JSON: the same as an object of objects, or a list of objects with a ``name``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"search space file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ValueError(f"search space file {str(path)!r}: expected a .toml or .json file")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"search space file {str(path)!r} is not valid: {exc}") from None
    if isinstance(data, Mapping):
        data = data.get("params", data)
        if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
            raise ValueError(
                f"search space file {str(path)!r}: expected one table per parameter, "
                "e.g. [lr] with low, high and log"
            )
        data = [{"name": name, **spec} for name, spec in data.items()]
    if not isinstance(data, list):
        raise ValueError(
            f"search space file {str(path)!r}: expected parameters, got {type(data).__name__}"
        )
    try:
        return SearchSpace.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"search space file {str(path)!r}: {exc}") from None
