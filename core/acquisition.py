"""The acquisition functions (EI, UCB, PI) over the project's GP and the search for their
maximum, as a bayes_opt ``AcquisitionFunction``: bayes_opt's public ``suggest`` protocol,
this project's search behind it.

The search, after Optuna's GP sampler (``optuna/_gp/optim_mixed.py``): 2,048 scrambled
Sobol candidates, then L-BFGS-B with the exact gradient of the GP's posterior
(:meth:`LatentGP.predict_with_gradient`) from the best candidate, the best trial and
roulette picks among the candidates. EI is searched as log EI (Ament et al. 2023,
"Unexpected improvements to expected improvement"): EI itself underflows to 0 over most of
a cube in 6 or more dimensions, where a search sees a flat function; its logarithm has
the same maximum and a gradient everywhere. PI is searched as log PI for the same reason.

In a space with ints or categories, a local search takes turns, as Optuna's does: the
floats by gradient with the others held (a snapped coordinate has no gradient), then each
int or category set to the value the acquisition likes best, until neither moves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from bayes_opt import TargetSpace, acquisition
from bayes_opt.acquisition import AcquisitionFunction
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr, ndtr
from scipy.stats import qmc

from core.gp import LatentGP

#: Sobol candidates the local searches start from (a power of two, as Sobol wants).
CANDIDATES = 2048
#: Local searches per suggestion: the best candidate, the best trial, and roulette picks.
LOCAL_SEARCHES = 10
#: At most this many turns of a float search and a sweep of the ints' and categories' values.
MIXED_ROUNDS = 10
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z Phi(z)), EI's standardised form, without underflow for z << 0
    (there h(z) = phi(z) (1 + z r(z)) with r = Phi / phi = sqrt(pi / 2) erfcx(-z / sqrt2))."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    direct = z > -1.0
    zd = z[direct]
    out[direct] = np.log(np.exp(-0.5 * zd**2 - _LOG_SQRT_2PI) + zd * ndtr(zd))
    zs = z[~direct]
    r = math.sqrt(math.pi / 2) * erfcx(-zs / math.sqrt(2))
    out[~direct] = -0.5 * zs**2 - _LOG_SQRT_2PI + np.log1p(zs * r)
    return out


def _phi_over_h(z: float) -> float:
    """Phi(z) / h(z): d log h / dz, stable for z << 0."""
    if z > -1.0:
        return float(ndtr(z) / np.exp(log_h(np.array([z]))[0]))
    r = math.sqrt(math.pi / 2) * float(erfcx(-z / math.sqrt(2)))
    return r / (1.0 + z * r)


class Acquisition(AcquisitionFunction):
    """EI, UCB or PI (``kind``: "ei", "ucb", "poi") with the search of the module's text.

    ``base_acq(mean, std)`` is the acquisition itself, as bayes_opt's classes compute it
    (the charts draw it); :meth:`searched` is what the search maximises (log EI, UCB,
    log PI); ``continuous`` marks the unit-cube coordinates of float parameters, and
    ``discrete`` gives each other parameter's coordinates with every value's encoding.
    """

    def __init__(
        self,
        kind: str = "ei",
        *,
        kappa: float = 2.576,
        xi: float = 0.0,
        continuous: np.ndarray | None = None,
        discrete: Sequence[tuple[slice, np.ndarray]] = (),
        candidates: int = CANDIDATES,
        local_searches: int = LOCAL_SEARCHES,
    ) -> None:
        super().__init__()
        if kind not in ("ei", "ucb", "poi"):
            raise ValueError(f"kind must be one of ('ei', 'ucb', 'poi'), got {kind!r}")
        self.kind = kind
        self.kappa = float(kappa)
        self.xi = float(xi)
        self.continuous = None if continuous is None else np.asarray(continuous, dtype=bool)
        #: per int or categorical parameter: its coordinates and the encodings of its values
        self.discrete = tuple(discrete)
        self.candidates = int(candidates)
        self.local_searches = int(local_searches)
        #: the best target seen, which EI and PI measure improvement over
        self.y_max: float | None = None

    def _z(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        if self.y_max is None:
            raise ValueError("y_max is not set: EI and PI need the best target seen")
        return (mean - self.y_max - self.xi) / std

    def base_acq(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        value = self.searched(mean, std)  # log EI and log PI: their logarithms
        return value if self.kind == "ucb" else np.exp(value)

    def searched(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        """The function the search maximises: log EI, UCB or log PI."""
        mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
        if self.kind == "ucb":
            return mean + self.kappa * std
        z = self._z(mean, std)
        if self.kind == "poi":
            return log_ndtr(z)
        return np.log(std) + log_h(z)

    def searched_with_gradient(self, gp: LatentGP, x: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`searched` at one point and its exact gradient in ``x`` (0 along the
        coordinates of an int or a category, which the GP sees snapped)."""
        mean, std, dmean, dstd = gp.predict_with_gradient(x)
        if self.continuous is not None:
            dmean, dstd = dmean * self.continuous, dstd * self.continuous
        if self.kind == "ucb":
            return mean + self.kappa * std, dmean + self.kappa * dstd
        z = float(self._z(np.array(mean), np.array(std)))
        dz = (dmean - z * dstd) / std
        if self.kind == "poi":
            value = float(log_ndtr(z))
            return value, math.exp(-0.5 * z * z - _LOG_SQRT_2PI - value) * dz
        value = math.log(std) + float(log_h(np.array([z]))[0])
        return value, dstd / std + _phi_over_h(z) * dz

    def suggest(
        self,
        gp: LatentGP,
        target_space: TargetSpace,
        n_random: int | None = None,
        n_smart: int | None = None,
        fit_gp: bool = True,
        random_state: int | np.random.RandomState | None = None,
    ) -> np.ndarray:
        """The point of the unit cube that maximises the acquisition (bayes_opt's protocol;
        ``n_random`` and ``n_smart`` override the candidates and the local searches)."""
        if len(target_space) == 0:
            raise ValueError("cannot suggest a point before any target is registered")
        self.i += 1
        if fit_gp:
            gp.fit(target_space.params, target_space.target)
        rng = (
            random_state
            if isinstance(random_state, np.random.RandomState)
            else np.random.RandomState(random_state)
        )
        self.y_max = float(np.max(target_space.target))
        dim = target_space.params.shape[1]
        n = self.candidates if n_random is None else int(n_random)
        starts = self.local_searches if n_smart is None else int(n_smart)
        sobol = qmc.Sobol(dim, scramble=True, seed=int(rng.randint(2**31)))
        candidates = sobol.random(max(n, 1))
        mean, std = gp.predict(candidates, return_std=True)
        values = self.searched(mean, std)
        best = int(np.argmax(values))
        best_x, best_value = candidates[best], float(values[best])
        for x0 in self._starts(candidates, values, best, target_space, rng, starts):
            x, value = self._local_search(gp, x0)
            if value > best_value:
                best_x, best_value = x, value
        return np.clip(best_x, 0.0, 1.0)

    def _starts(
        self,
        candidates: np.ndarray,
        values: np.ndarray,
        best: int,
        target_space: TargetSpace,
        rng: np.random.RandomState,
        count: int,
    ) -> list[np.ndarray]:
        """The best candidate (``best``), the best trial, then candidates drawn in proportion
        to exp(searched) (EI itself, for EI), without replacement."""
        if count <= 0:
            return []
        starts = [candidates[best]]
        if count > 1:
            starts.append(np.asarray(target_space.params[int(np.argmax(target_space.target))]))
        rest = count - len(starts)
        if rest > 0:
            finite = np.where(np.isfinite(values), values, -np.inf)
            weights = np.exp(finite - np.max(finite))
            weights[best] = 0.0
            if weights.sum() > 0:
                take = min(rest, int(np.count_nonzero(weights)))
                picks = rng.choice(len(candidates), take, replace=False, p=weights / weights.sum())
                starts += [candidates[i] for i in picks]
        return starts

    def _local_search(self, gp: LatentGP, x0: np.ndarray) -> tuple[np.ndarray, float]:
        """From ``x0``, in turns until neither moves: L-BFGS-B on the float coordinates (the
        others held), then each int or category set to its best value, the rest held."""
        x = np.clip(np.asarray(x0, dtype=float), 0.0, 1.0)
        value = float(self.searched(*gp.predict(x[None, :], return_std=True))[0])
        for _ in range(MIXED_ROUNDS):
            if self._free(x.size).any():
                x, value = self._continuous_search(gp, x)
            moved = False
            for columns, levels in self.discrete:
                tries = np.tile(x, (len(levels), 1))
                tries[:, columns] = levels
                values = self.searched(*gp.predict(tries, return_std=True))
                best = int(np.argmax(values))
                if values[best] > value + 1e-12:
                    x, value, moved = tries[best], float(values[best]), True
            if not moved:
                break
        return x, value

    def _free(self, width: int) -> np.ndarray:
        """The coordinates a gradient step may move: the floats' (all, if not told)."""
        return np.ones(width, bool) if self.continuous is None else self.continuous

    def _continuous_search(self, gp: LatentGP, x0: np.ndarray) -> tuple[np.ndarray, float]:
        free = self._free(x0.size)
        bounds = [(0.0, 1.0) if f else (float(v), float(v)) for f, v in zip(free, x0, strict=True)]

        def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = self.searched_with_gradient(gp, x)
            return -value, -grad

        # L-BFGS-B keeps its iterates inside the bounds: its last value is the point's
        result = minimize(negative, x0, jac=True, method="L-BFGS-B", bounds=bounds)
        return result.x, -float(result.fun)

    def stock(self) -> AcquisitionFunction:
        """bayes_opt's own class for this acquisition, with its settings: what an exported
        optimizer state names, so that bayes_opt elsewhere loads it as it is."""
        if self.kind == "ucb":
            return acquisition.UpperConfidenceBound(kappa=self.kappa)
        if self.kind == "ei":
            return acquisition.ExpectedImprovement(xi=self.xi)
        return acquisition.ProbabilityOfImprovement(xi=self.xi)

    def get_acquisition_params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kappa": self.kappa,
            "xi": self.xi,
            "candidates": self.candidates,
            "local_searches": self.local_searches,
        }

    def set_acquisition_params(self, params: dict[str, Any]) -> None:
        for key in ("kind", "kappa", "xi", "candidates", "local_searches"):
            if key in params:
                setattr(self, key, params[key])
