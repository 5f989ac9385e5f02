"""The acquisition functions and their search (core/acquisition.py)."""

import copy
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.stats import norm

from core.acquisition import Acquisition, log_h
from core.fit import FittedGP
from core.optimizer import BayesStrategy
from core.space import Param, SearchSpace


def fitted(space: SearchSpace, f, n: int = 14, seed: int = 3):
    strategy = BayesStrategy(space, seed=seed, init_points=space.dim + 1)
    for _ in range(n):
        p = strategy.ask()
        strategy.tell(p, f(np.asarray(space.to_unit(p))))
    fit = FittedWith(strategy.fit(), strategy.acquisition_function())
    fit.acquisition.y_max = float(np.max(fit.space.target))
    return strategy, fit


@dataclass(frozen=True)
class FittedWith:
    """A fitted GP with the acquisition a strategy proposes from it."""

    fitted: FittedGP
    acquisition: Acquisition

    @property
    def gp(self):
        return self.fitted.gp

    @property
    def space(self):
        return self.fitted.space

    def random_state(self):
        return self.fitted.random_state()


def bowl(u):
    return float(-np.sum((u - 0.3) ** 2))


def test_log_ei_agrees_with_ei_where_ei_does_not_underflow_and_stays_finite_where_it_does():
    z = np.linspace(-8.0, 6.0, 141)
    ei = norm.pdf(z) + z * norm.cdf(z)
    np.testing.assert_allclose(np.exp(log_h(z)), ei, rtol=1e-9)
    far = np.array([-40.0, -200.0, -1e4])
    assert np.all(norm.pdf(far) + far * norm.cdf(far) == 0.0)  # EI itself underflows there
    values = log_h(far)
    assert np.all(np.isfinite(values)) and np.all(np.diff(values) < 0)
    # h(z) ~ phi(z) / z^2 far out: the logarithm follows it
    np.testing.assert_allclose(values, norm.logpdf(far) - 2 * np.log(-far), rtol=1e-3)


@pytest.fixture(scope="module")
def six_d():
    return fitted(SearchSpace([Param(f"x{i}", 0.0, 1.0) for i in range(6)]), bowl)[1]


@pytest.mark.parametrize("kind", ["ei", "ucb", "poi"])
def test_the_searched_acquisition_s_gradient_matches_finite_differences(six_d, kind):
    fit = six_d
    acq = copy.copy(fit.acquisition)
    acq.kind = kind
    rng = np.random.default_rng(0)
    for x in rng.random((5, 6)):
        value, grad = acq.searched_with_gradient(fit.gp, x)
        mean, std = fit.gp.predict(x[None, :], return_std=True)
        assert value == pytest.approx(float(acq.searched(mean, std)[0]), rel=1e-9)
        numeric = approx_fprime(x, lambda y: acq.searched_with_gradient(fit.gp, y)[0], 1e-7)
        np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-5 * np.max(np.abs(grad)))


def test_the_gradient_across_an_int_or_a_category_is_zero_and_the_floats_match():
    space = SearchSpace(
        [
            Param("x", 0.0, 1.0),
            Param("n", 1, 8, kind="int"),
            Param("c", kind="categorical", choices=("a", "b")),
        ]
    )
    _, fit = fitted(space, lambda u: -float((u[0] - 0.4) ** 2 + (u[1] - 0.6) ** 2 + u[2]), n=15)
    continuous = fit.acquisition.continuous
    assert continuous.tolist() == [True, False, False, False]
    x = np.array([0.3, 0.52, 0.9, 0.1])
    _, grad = fit.acquisition.searched_with_gradient(fit.gp, x)
    assert np.all(grad[1:] == 0.0)
    numeric = approx_fprime(x, lambda y: fit.acquisition.searched_with_gradient(fit.gp, y)[0], 1e-7)
    assert grad[0] == pytest.approx(numeric[0], rel=1e-4)


def test_the_search_ends_at_least_as_high_as_its_best_candidate_and_at_the_dense_maximum():
    space = SearchSpace([Param("x", 0.0, 1.0), Param("y", 0.0, 1.0)])
    _, fit = fitted(space, lambda u: float(np.sin(6 * u[0]) * np.cos(5 * u[1])), n=12)
    acq = fit.acquisition
    x = acq.suggest(fit.gp, fit.space, fit_gp=False, random_state=np.random.RandomState(1))
    found = float(acq.searched(*fit.gp.predict(x[None, :], return_std=True))[0])
    g = np.linspace(0.0, 1.0, 301)
    grid = np.array([[a, b] for a in g for b in g])
    dense = float(np.max(acq.searched(*fit.gp.predict(grid, return_std=True))))
    assert found >= dense - 1e-3
    few = Acquisition(
        "ei", continuous=acq.continuous, candidates=acq.candidates, local_searches=0
    )  # the candidates alone
    x0 = few.suggest(fit.gp, fit.space, fit_gp=False, random_state=np.random.RandomState(1))
    assert found >= float(acq.searched(*fit.gp.predict(x0[None, :], return_std=True))[0])


def test_an_exported_state_names_bayes_opt_s_own_acquisition():
    from bayes_opt import acquisition

    for kind, cls in (
        ("ei", acquisition.ExpectedImprovement),
        ("ucb", acquisition.UpperConfidenceBound),
        ("poi", acquisition.ProbabilityOfImprovement),
    ):
        stock = Acquisition(kind, kappa=1.5, xi=0.02).stock()
        assert isinstance(stock, cls)
        params = stock.get_acquisition_params()
        assert params.get("kappa", params.get("xi")) in (1.5, 0.02)


def test_in_a_mixed_space_the_search_sets_each_int_and_category_to_its_best_value():
    space = SearchSpace(
        [
            Param("x", 0.0, 1.0),
            Param("n", 1, 8, kind="int"),
            Param("c", kind="categorical", choices=("a", "b")),
        ]
    )

    def f(u):
        return -float((u[0] - 0.4) ** 2 + (u[1] - 0.6) ** 2 + 0.3 * u[2])

    _, fit = fitted(space, f, n=10)
    acq = fit.acquisition
    few = Acquisition("ei", continuous=acq.continuous, discrete=acq.discrete, candidates=1)
    x = few.suggest(fit.gp, fit.space, fit_gp=False, random_state=np.random.RandomState(2))
    found = float(acq.searched(*fit.gp.predict(x[None, :], return_std=True))[0])
    grid = np.array(
        [
            [a, *space["n"].encode(n), *space["c"].encode(c)]
            for a in np.linspace(0.0, 1.0, 201)
            for n in space["n"].levels
            for c in space["c"].levels
        ]
    )
    dense = float(np.max(acq.searched(*fit.gp.predict(grid, return_std=True))))
    assert found >= dense - 1e-3  # from one candidate: the sweeps, not the sampling, got there


def test_what_the_charts_draw_is_bayes_opt_s_own_acquisition():
    rng = np.random.default_rng(1)
    mean, std = rng.normal(0.9, 0.05, 200), rng.uniform(0.005, 0.05, 200)
    for kind in ("ei", "ucb", "poi"):
        ours = Acquisition(kind, kappa=2.0, xi=0.01)
        stock = ours.stock()
        ours.y_max = stock.y_max = 0.95
        np.testing.assert_allclose(ours.base_acq(mean, std), stock.base_acq(mean, std), rtol=1e-9)
