"""The search space: named parameters with bounds, mapped to and from the unit cube.

The optimizers work in the unit cube. A log-scaled parameter is mapped through
log10, so a learning rate in [1e-4, 1e-2] spreads its trials over two decades
instead of bunching near 1e-2 as it does on a linear axis.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

#: Parameters whose name says they are a dropout rate must lie in [0, 1).
DROPOUT_NAMES = ("dropout",)


@dataclass(frozen=True)
class Param:
    """One tunable parameter: a closed interval, on a linear or log10 scale."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("parameter name must be a non-empty string")
        for bound in ("low", "high"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{self.name}: {bound} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{self.name}: {bound} must be a finite number, got {value!r}")
        if self.low >= self.high:
            raise ValueError(
                f"{self.name}: low ({self.low:g}) must be smaller than high ({self.high:g})"
            )
        if self.log and self.low <= 0:
            raise ValueError(
                f"{self.name}: a log-scale parameter needs low > 0, got low = {self.low:g}"
            )
        if self.is_dropout and not (0 <= self.low and self.high < 1):
            raise ValueError(
                f"{self.name}: a dropout rate must lie in [0, 1), got [{self.low:g}, {self.high:g}]"
            )

    @property
    def is_dropout(self) -> bool:
        return any(key in self.name.lower() for key in DROPOUT_NAMES)

    def to_unit(self, value: float) -> float:
        """Map a real value to [0, 1] (values outside the bounds map outside [0, 1])."""
        if self.log:
            lo, hi = math.log10(self.low), math.log10(self.high)
            return (math.log10(value) - lo) / (hi - lo)
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        """Map a unit-cube coordinate back to a real value, clipped to the bounds."""
        u = min(1.0, max(0.0, float(u)))
        if self.log:
            lo, hi = math.log10(self.low), math.log10(self.high)
            return float(min(self.high, max(self.low, 10 ** (lo + u * (hi - lo)))))
        return float(self.low + u * (self.high - self.low))

    def linspace(self, n: int) -> np.ndarray:
        """n real values evenly spaced on this parameter's own scale."""
        return np.array([self.from_unit(u) for u in np.linspace(0.0, 1.0, n)])

    def to_dict(self) -> dict:
        return {"name": self.name, "low": self.low, "high": self.high, "log": self.log}


class SearchSpace:
    """An ordered set of parameters; the first two are the ones the dashboard plots."""

    def __init__(self, params: Iterable[Param]) -> None:
        self.params: tuple[Param, ...] = tuple(params)
        if not self.params:
            raise ValueError("search space: at least one parameter is required")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"search space: parameter names must be unique, got {names}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def dim(self) -> int:
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def __repr__(self) -> str:
        return f"SearchSpace({list(self.params)!r})"

    def to_unit(self, values: Mapping[str, float]) -> np.ndarray:
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ValueError(f"search space: values are missing {missing}")
        return np.array([p.to_unit(float(values[p.name])) for p in self.params])

    def from_unit(self, u: Iterable[float]) -> dict[str, float]:
        u = list(u)
        if len(u) != self.dim:
            raise ValueError(f"search space: expected {self.dim} coordinates, got {len(u)}")
        return {p.name: p.from_unit(x) for p, x in zip(self.params, u, strict=True)}

    def to_dict(self) -> list[dict]:
        return [p.to_dict() for p in self.params]

    @classmethod
    def from_dict(cls, data: Iterable[Mapping]) -> SearchSpace:
        return cls(
            Param(d["name"], float(d["low"]), float(d["high"]), bool(d.get("log", False)))
            for d in data
        )


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
