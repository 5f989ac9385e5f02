"""What the charts read of an explanation (:mod:`core.explain`): the surrogate over two
parameters, each parameter's importance, the convergence estimate, the recommended best
and the leave-one-out check, as plain immutable values (no bayes_opt, no scikit-learn)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.space import Value, show


@dataclass(frozen=True)
class Convergence:
    """How much better than the best the search could still get, against the noise.

    ``regret_bound`` is the GP's largest upper confidence bound over the space minus its
    largest lower confidence bound at the points tried (the regret bound of Optuna's
    Terminator), with ``beta`` standard deviations either side. ``noise`` is one trial's
    noise std as the GP fits it. Below the noise, more trials are unlikely to beat the best
    by more than the noise.
    """

    trials: int
    regret_bound: float
    noise: float

    @property
    def converged(self) -> bool:
        return self.regret_bound <= self.noise


@dataclass(frozen=True)
class Recommendation:
    """The trial handed over as the best: by default the complete trial whose GP posterior
    mean is highest (the best estimate, not the luckiest draw), with that estimate, its
    std and the value the trial observed. ``index`` is its place among the observations."""

    index: int
    params: dict[str, Value]
    observed: float
    mean: float | None
    std: float | None
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": dict(self.params),
            "observed": self.observed,
            "estimated": self.mean,
            "estimated_std": self.std,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Surrogate:
    """The GP's view over two parameters, on a grid of their values.

    ``mean``, ``std`` and ``acq`` have shape ``(len(y), len(x))``: rows follow the
    second parameter, columns the first, as Plotly's heatmaps and contours expect.
    With more than two parameters this is a slice: the others are held at ``fixed``
    (the best trial's values).
    """

    x_name: str
    y_name: str
    x: tuple[Value, ...]
    y: tuple[Value, ...]
    mean: tuple[tuple[float, ...], ...]
    std: tuple[tuple[float, ...], ...]
    acq: tuple[tuple[float, ...], ...]
    acquisition: str
    next_point: dict[str, Value]
    n_observations: int
    fixed: dict[str, Value] = field(default_factory=dict)
    #: one trial's noise std as the GP fitted it (0: not known): what a difference on the
    #: map must exceed to mean something
    noise: float = 0.0

    @property
    def slice_note(self) -> str | None:
        """ "a slice at ..." when other parameters are held fixed, else None."""
        if not self.fixed:
            return None
        held = ", ".join(f"{k} = {show(v)}" for k, v in self.fixed.items())
        return f"a slice at {held} (the best trial's values)"


@dataclass(frozen=True)
class Calibration:
    """The GP's own evidence: each complete trial's value as the GP predicts it from every
    other trial (leave one out), against what the trial observed.

    ``predicted`` and ``std`` describe one more observation there (the noise included), so
    a calibrated GP's ``predicted ± 2 std`` holds about 95% of the ``observed`` values.
    ``trials`` are the trials' places among the strategy's observations.
    """

    trials: tuple[int, ...]
    observed: tuple[float, ...]
    predicted: tuple[float, ...]
    std: tuple[float, ...]
    n_observations: int

    def inside(self) -> list[bool]:
        """Whether each observed value lies inside its ``predicted ± 2 std``."""
        return [
            abs(o - p) <= 2 * s
            for o, p, s in zip(self.observed, self.predicted, self.std, strict=True)
        ]

    @property
    def held(self) -> int:
        """How many observed values lie inside their band."""
        return sum(self.inside())

    def sentence(self) -> str:
        """ "the GP's 95% band held 10 of the 11 trials it had not seen", in plain words."""
        n = len(self.trials)
        trials = "trial" if n == 1 else "trials"
        return f"The GP's 95% band held {self.held} of the {n} {trials} it had not seen."


@dataclass(frozen=True)
class Importance:
    """How much each parameter alone moves the GP's predicted value.

    For each parameter, the variance over its values of the GP mean averaged over the
    other parameters (its main effect, a first-order functional-ANOVA term), as a share
    of the sum over parameters. Shares near 0 mark a parameter the accuracy does not
    depend on, as far as the trials so far tell.
    """

    names: tuple[str, ...]
    shares: tuple[float, ...]
    variances: tuple[float, ...]
    n_observations: int

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(zip(self.names, self.shares, strict=True), key=lambda p: -p[1])


class OnDemand:
    """A surrogate made the first time a reader asks for it, and once: the driver hands one
    to each snapshot, and a page that draws the map computes it in its own thread, so the
    map's grid never waits in front of the next trial's start. ``make`` must read only
    what it captured (a frozen strategy), never the study as it goes on."""

    def __init__(self, n_observations: int, make: Callable[[], Surrogate | None]) -> None:
        self.n_observations = n_observations
        self._make: Callable[[], Surrogate | None] | None = make
        self._value: Surrogate | None = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        return self._make is None

    def get(self) -> Surrogate | None:
        with self._lock:
            if self._make is not None:
                self._value = self._make()
                self._make = None
            return self._value
