import math

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor

import core.fit
from core import explain
from core.export import bayes_opt_state
from core.gp import LENGTH_SCALE_BOUNDS, LatentGP, kernel_parts
from core.optimizer import BayesStrategy, GridStrategy, build_strategy, default_init_points
from core.space import Param, SearchSpace, default_space

UNIT2 = SearchSpace([Param("x", 0.0, 1.0), Param("y", 0.0, 1.0)])


def branin_unit(p):
    """Negated Branin over its usual box, mapped from the unit square (maximum -0.397887)."""
    x1 = -5 + 15 * p["x"]
    x2 = 15 * p["y"]
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return -(a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s)


BRANIN_MAX = -0.397887


def run(strategy, f, budget):
    for _ in range(budget):
        p = strategy.ask()
        strategy.tell(p, f(p))
    return strategy.best[1]


def test_bayes_beats_random_on_branin_over_seeds():
    budget = 25
    regrets = {"bayes": [], "random": []}
    for seed in range(5):  # bayes' median is 0.055 here, a sixth of random's 1.09
        for kind in regrets:
            s = build_strategy(kind, UNIT2, seed=seed, init_points=5)
            regrets[kind].append(BRANIN_MAX - run(s, branin_unit, budget))
    assert np.median(regrets["bayes"]) < np.median(regrets["random"]) / 3


def test_same_seed_gives_the_same_points_and_another_seed_does_not():
    def points(seed):
        s = build_strategy("bayes", UNIT2, seed=seed, init_points=3)
        out = []
        for _ in range(6):
            p = s.ask()
            out.append(p)
            s.tell(p, branin_unit(p))
        return out

    assert points(1) == points(1)
    assert points(1) != points(2)


def test_first_init_points_are_random_then_guided():
    s = build_strategy("bayes", UNIT2, seed=1, init_points=2)
    assert not s.guided
    for _ in range(2):
        p = s.ask()
        s.tell(p, branin_unit(p))
    assert s.guided


def test_a_resumed_strategy_asks_what_an_uninterrupted_one_would():
    a = build_strategy("bayes", UNIT2, seed=4, init_points=3)
    told = []
    for _ in range(5):
        p = a.ask()
        told.append((p, branin_unit(p)))
        a.tell(*told[-1])
    b = build_strategy("bayes", UNIT2, seed=4, init_points=3)
    for p, v in told:
        b.tell(p, v)
    assert a.ask() == b.ask()


@pytest.mark.parametrize("acquisition", ["ucb", "ei", "poi"])
def test_each_acquisition_suggests_points_inside_the_bounds(acquisition):
    space = default_space()
    s = build_strategy("bayes", space, seed=1, init_points=3, acquisition=acquisition)
    for i in range(6):
        p = s.ask()
        assert 0.1 <= p["dropout2_rate"] <= 0.5
        assert 1e-4 <= p["lr"] <= 1e-2
        s.tell(p, 0.9 + 0.01 * i)


def test_duplicate_points_never_crash():
    s = build_strategy("bayes", UNIT2, seed=1, init_points=1)
    for _ in range(4):
        s.tell({"x": 0.5, "y": 0.5}, 1.0)
    s.tell({"x": 0.5, "y": 0.5}, 0.0)
    p = s.ask()
    assert set(p) == {"x", "y"}
    assert explain.surrogate(s, 5) is not None


def test_failed_trial_is_told_as_the_worst_value_seen_never_nan():
    s = build_strategy("bayes", UNIT2, seed=1, init_points=1)
    s.tell({"x": 0.1, "y": 0.1}, 0.8)
    s.tell({"x": 0.9, "y": 0.9}, 0.6)
    s.tell({"x": 0.5, "y": 0.5}, None)
    s.tell({"x": 0.4, "y": 0.4}, float("nan"))
    targets = {u: v for u, v, _ in s.history.weighted_targets()}
    assert targets[(0.5, 0.5)] == 0.6
    assert targets[(0.4, 0.4)] == 0.6
    assert all(math.isfinite(v) for v in targets.values())
    assert s.best == ({"x": 0.1, "y": 0.1}, 0.8)
    s.ask()  # the GP fits with the penalties in place


def test_best_is_none_before_any_success():
    s = build_strategy("random", UNIT2, seed=1)
    assert s.best is None
    s.tell(s.ask(), None)
    assert s.best is None


def test_grid_lays_the_budget_out_as_the_nearest_square():
    g = build_strategy("grid", UNIT2, seed=1, budget=12)
    assert isinstance(g, GridStrategy)
    assert len(g.points) == 9
    seen = []
    for _ in range(9):
        p = g.ask()
        seen.append((round(p["x"], 6), round(p["y"], 6)))
        g.tell(p, 0.0)
    assert sorted(set(seen)) == [(x, y) for x in (0, 0.5, 1) for y in (0, 0.5, 1)]
    extra = g.ask()  # beyond the grid: random, still inside the box
    assert 0 <= extra["x"] <= 1


def test_random_points_on_a_log_axis_are_log_uniform():
    s = build_strategy("random", default_space(), seed=3)
    lrs = []
    for _ in range(400):
        p = s.ask()
        lrs.append(p["lr"])
        s.tell(p, 0.5)
    below = np.mean(np.array(lrs) < 1e-3)  # the geometric middle of [1e-4, 1e-2]
    assert 0.4 < below < 0.6


def test_surrogate_grid_holds_mean_std_acq_and_the_next_point():
    space = default_space()
    s = build_strategy("bayes", space, seed=1, init_points=3, acquisition="ei")
    assert explain.surrogate(s, 10) is None  # nothing observed yet
    for _ in range(4):
        p = s.ask()
        s.tell(p, 1 - (p["dropout2_rate"] - 0.3) ** 2)
    sur = explain.surrogate(s, 12)
    assert (sur.x_name, sur.y_name) == ("dropout2_rate", "lr")
    assert len(sur.x) == len(sur.y) == 12
    assert np.array(sur.mean).shape == (12, 12)
    assert np.array(sur.std).shape == (12, 12)
    assert np.array(sur.acq).shape == (12, 12)
    assert (np.array(sur.std) >= 0).all()
    assert sur.y[0] == pytest.approx(1e-4) and sur.y[-1] == pytest.approx(1e-2)
    assert sur.y[6] / sur.y[5] == pytest.approx(sur.y[1] / sur.y[0])  # log spaced
    assert sur.next_point == s.ask()  # the marked point is the one tried next


def test_with_trials_running_the_maps_next_point_is_the_next_trial_not_a_running_one():
    space = default_space()
    s = build_strategy("bayes", space, seed=1, init_points=3, acquisition="ei")
    for _ in range(5):
        p = s.ask()
        s.tell(p, 1 - (p["dropout2_rate"] - 0.3) ** 2)
    running = [s.ask()]  # handed out, still training
    sur = explain.surrogate(s, 12, pending=running)
    assert sur.next_point != running[0]
    fresh = BayesStrategy(space, seed=1, init_points=3, observations=s.observations)
    assert sur.next_point == fresh.ask(running)  # what the study really tries next


def test_surrogate_is_near_observations_and_uncertain_far_away():
    s = BayesStrategy(UNIT2, seed=1, init_points=0)
    for x in (0.0, 0.1, 0.2):
        for y in (0.0, 0.1, 0.2):
            s.tell({"x": x, "y": y}, x + y)
    sur = explain.surrogate(s, 11)
    std = np.array(sur.std)
    assert std[1, 1] < std[10, 10]
    assert np.array(sur.mean)[2, 2] == pytest.approx(0.4, abs=0.05)


def test_bad_optimizer_settings_are_named():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        build_strategy("tpe", UNIT2)
    with pytest.raises(ValueError, match="acquisition must be one of"):
        build_strategy("bayes", UNIT2, acquisition="foo")
    with pytest.raises(ValueError, match="kappa must be a finite number >= 0"):
        build_strategy("bayes", UNIT2, kappa=-1)


def test_optimizer_state_is_bayes_opt_json():
    s = build_strategy("bayes", default_space(), seed=1, init_points=2)
    for _ in range(3):
        p = s.ask()
        s.tell(p, 0.9)
    state = bayes_opt_state(s)
    assert len(state["params"]) == 3 and state["target"] == [0.9, 0.9, 0.9]
    assert state["search_space"][1]["log"] is True
    assert "WhiteKernel" in state["fitted_kernel"] and state["gp_params"]["alpha"] > 0


def test_surrogate_of_noisy_accuracies_is_not_flat():
    """A dozen noisy accuracies must give a shaped surface, not spikes over a flat prior."""
    rng = np.random.default_rng(0)
    space = default_space()
    s = build_strategy("bayes", space, seed=1, init_points=12)
    for _ in range(12):
        p = s.ask()
        lr_term = (math.log10(p["lr"]) + 2.5) ** 2
        s.tell(p, 0.96 - 0.03 * lr_term + rng.normal(0, 0.01))
    sur = explain.surrogate(s, 20)
    mean = np.array(sur.mean)
    assert np.ptp(mean) > 0.02
    assert np.ptp(mean[:, 5]) > 0.01  # varies along lr (a collapsed GP gives 0)
    assert np.ptp(np.array(sur.std)) > 0.005


def test_fitted_noise_is_learnt_and_left_out_of_the_function_std():
    """The default GP fits the noise: large for scattered values, tiny for exact ones;
    the std it reports is the function's, not that of one more noisy observation."""
    rng = np.random.default_rng(3)
    fitted = {}
    for label, scatter in (("noisy", 0.02), ("exact", 0.0)):
        s = build_strategy("bayes", UNIT2, seed=2, init_points=15)
        for _ in range(15):
            p = s.ask()
            s.tell(p, 0.9 - 0.1 * (p["x"] - 0.5) ** 2 + rng.normal(0, scatter))
        gp = s.fit().gp
        fitted[label] = gp.noise_variance
        at = np.array([s.observations[0].unit])
        with_noise = GaussianProcessRegressor.predict(gp, at, return_std=True)[1][0]
        latent = gp.predict(at, return_std=True)[1][0]
        assert latent**2 == pytest.approx(with_noise**2 - gp.noise_variance, abs=1e-12)
        assert explain.posterior(s, at)[1][0] == pytest.approx(latent)
    assert 1e-4 < fitted["noisy"] < 1e-3  # scatter**2 = 4e-4
    assert fitted["exact"] < 1e-6


@pytest.mark.parametrize("noise", [None, 0.03])
def test_the_fast_posterior_is_sklearns(noise):
    """LatentGP's own Matern formula gives sklearn's posterior (less the fitted noise), for a
    fitted and a fixed noise, at one point and at many."""
    rng = np.random.default_rng(5)
    space = SearchSpace([Param(f"x{i}", 0.0, 1.0) for i in range(4)])
    s = build_strategy("bayes", space, seed=3, noise=noise)
    for _ in range(20):
        x = rng.random(4)
        s.tell(space.from_unit(x), float(np.sin(3 * x).sum() + rng.normal(0, 0.05)))
    gp = s.fit().gp
    assert gp._fast_path_applies()
    for at in (rng.random((1, 4)), rng.random((300, 4)), np.array([s.observations[0].unit])):
        mean, std = gp.predict(at, return_std=True)
        ref_mean, ref_std = GaussianProcessRegressor.predict(gp, at, return_std=True)
        np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-12)
        latent = np.sqrt(np.maximum(ref_std**2 - gp.noise_variance, 1e-18))
        np.testing.assert_allclose(std, latent, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(gp.predict(at), ref_mean, rtol=1e-9, atol=1e-12)


def likelihood_kernels(d):
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    def matern(scale, bounds=LENGTH_SCALE_BOUNDS):
        return Matern(nu=2.5, length_scale=scale, length_scale_bounds=bounds)

    def amplitude(bounds=(1e-2, 1e3)):
        return ConstantKernel(1.0, bounds)

    def white(bounds=(1e-6, 1.0)):
        return WhiteKernel(1e-2, bounds)

    return [
        amplitude() * matern([0.3] * d) + white(),  # the default: every part fitted
        matern([0.3] * d),  # a fixed noise
        matern(0.3),  # one length scale for every axis
        amplitude() * matern(0.4, "fixed") + white(),
        amplitude("fixed") * matern([0.3] * d) + white(),
        amplitude() * matern(0.3) + white("fixed"),
    ]


@pytest.mark.parametrize("d", [1, 3])
def test_the_fast_likelihood_is_sklearns(d):
    """LatentGP's one-pass log marginal likelihood, which the MAP fit calls a few hundred
    times an ask, gives sklearn's value and gradient for each way the kernel is fitted."""
    rng = np.random.default_rng(d)
    X = rng.random((12, d))
    y = np.sin(5 * X.sum(axis=1)) + rng.normal(0, 0.1, 12)
    alpha = 1e-6 + 1e-3 * rng.random(12)  # a pruned trial's own variance on some
    for kernel in likelihood_kernels(d):
        gp = LatentGP(kernel=kernel, alpha=alpha, normalize_y=True, optimizer=None).fit(X, y)
        for _ in range(4):
            theta = gp.kernel_.theta + rng.normal(0, 1, gp.kernel_.theta.size)
            value, grad = gp.log_marginal_likelihood(theta, eval_gradient=True)
            ref, ref_grad = GaussianProcessRegressor.log_marginal_likelihood(
                gp, theta, eval_gradient=True
            )
            assert value == pytest.approx(ref, rel=1e-9, abs=1e-9), kernel
            np.testing.assert_allclose(grad, ref_grad, rtol=1e-7, atol=1e-8)
            assert gp.log_marginal_likelihood(theta) == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_a_fixed_noise_is_the_classic_bayes_opt_gp():
    s = build_strategy("bayes", UNIT2, seed=1, init_points=2, noise=0.03)
    for _ in range(4):
        p = s.ask()
        s.tell(p, p["x"])
    gp = s.fit().gp
    assert gp.alpha == 0.03
    assert "WhiteKernel" not in repr(gp.kernel_)
    with pytest.raises(ValueError, match="noise must be None"):
        build_strategy("bayes", UNIT2, noise=-1.0)


def test_the_gp_that_proposes_points_is_the_projects(monkeypatch):
    """Guided points come from this project's GP (fitted noise, length-scale floor), fitted
    once per ask, and from nothing bayes_opt builds by default."""
    fits, predictions = [], []
    real_fit = LatentGP.fit

    def spy_fit(self, X, y):
        fits.append(self)
        return real_fit(self, X, y)

    def spy(real):
        def predict(self, X, *args, **kwargs):
            predictions.append(self)
            return real(self, X, *args, **kwargs)

        return predict

    monkeypatch.setattr(LatentGP, "fit", spy_fit)
    for cls in (LatentGP, GaussianProcessRegressor):  # ours, and any GP bayes_opt builds
        monkeypatch.setattr(cls, "predict", spy(cls.predict))
    s = build_strategy("bayes", UNIT2, seed=1, init_points=3)
    for _ in range(3):
        p = s.ask()
        s.tell(p, branin_unit(p))
    assert fits == [] and predictions == []  # the random start asks no GP
    s.ask()
    assert len(fits) == 1 and predictions
    assert all(gp is fits[0] for gp in predictions)  # the acquisition asked our GP only
    assert "WhiteKernel" in repr(fits[0].kernel_)
    assert min(kernel_parts(fits[0].kernel_)[0].length_scale) >= LENGTH_SCALE_BOUNDS[0]


def test_convergence_compares_the_possible_gain_with_the_noise():
    rng = np.random.default_rng(3)
    flat = build_strategy("bayes", UNIT2, seed=3, init_points=4, binomial_n=400)
    assert explain.convergence(flat) is None  # nothing during the random start
    for _ in range(12):
        p = flat.ask()
        flat.tell(p, rng.binomial(400, 0.9) / 400)  # nothing to find but noise
        if len(flat.observations) < 5:  # the random start, then too few values for a verdict
            assert explain.convergence(flat) is None
    done = explain.convergence(flat)
    # the noise this verdict weighs against is the fitted one (that it follows a noise well
    # above its floor: test_what_is_seen.py)
    assert done.trials == 12 and done.noise == flat.fit().gp.observation_noise_std
    assert done.converged and done.regret_bound <= done.noise

    early = build_strategy("bayes", UNIT2, seed=1, init_points=4)
    for _ in range(5):
        p = early.ask()
        early.tell(p, branin_unit(p))
    open_question = explain.convergence(early)
    assert not open_question.converged and open_question.regret_bound > 10 * open_question.noise


def test_a_history_of_one_value_and_failures_still_proposes_a_finite_point():
    """Four failures told as the one value seen make every target equal: the GP's function
    std is then ~0, and EI's 0 / 0 once proposed NaN (and crashed the next fit)."""
    history = [  # a run of the pruning benchmark that told pruned trials as failures
        ((0.15015680419372668, 0.0054742731798975795), 0.9559740464009215),
        ((0.3040895845414293, 0.0009656640785380252), None),
        ((0.21295253077196663, 0.0017809453880227666), None),
        ((0.3146149578768909, 0.0025737660371459884), None),
        ((0.4875123304416097, 0.0027071487903858075), None),
    ]
    s = build_strategy("bayes", default_space(), seed=10014, init_points=5)
    for (dropout, lr), value in history:
        s.tell({"dropout2_rate": dropout, "lr": lr}, value)
    p = s.ask()
    assert all(math.isfinite(v) for v in p.values())
    assert 0.1 <= p["dropout2_rate"] <= 0.5 and 1e-4 <= p["lr"] <= 1e-2
    assert np.all(s.fit().gp.predict(np.array([[0.5, 0.5]]), return_std=True)[1] > 0)


@pytest.mark.parametrize("kind", ["bayes", "random", "grid"])
def test_asynchronous_asks_hand_out_new_points_away_from_the_running_ones(kind):
    from core.propose import PENDING_RADIUS

    space = default_space()
    for seed in range(4):
        strategy = build_strategy(kind, space, seed=seed, init_points=3, budget=16)
        rng = np.random.default_rng(seed)
        pending: list[dict[str, float]] = []
        for _ in range(12):
            if len(pending) == 3:  # a worker frees up: its trial's value arrives
                done = pending.pop(int(rng.integers(3)))
                strategy.tell(done, float(0.9 - (done["dropout2_rate"] - 0.3) ** 2))
            guided = strategy.is_guided(len(pending))
            p = strategy.ask(pending)
            unit = np.asarray(space.to_unit(p))
            gaps = [np.linalg.norm(unit - np.asarray(space.to_unit(q))) for q in pending] or [1.0]
            if kind == "bayes" and guided:
                assert min(gaps) >= PENDING_RADIUS, (seed, p, pending)
            else:
                assert min(gaps) > 1e-9  # never a point already running
            pending.append(p)


def test_two_asks_in_a_row_are_the_same_as_an_asynchronous_replay():
    """The k-th ask depends on what was told and what is running, not on when it was made."""
    space = default_space()
    a = build_strategy("bayes", space, seed=5, init_points=2)
    b = build_strategy("bayes", space, seed=5, init_points=2)
    first = [a.ask([]), None]
    first[1] = a.ask([first[0]])
    assert first[0] != first[1]
    for p in first:
        a.tell(p, 0.8)
        b.tell(p, 0.8)
    pending = [a.ask([])]
    assert b.ask([]) == pending[0]
    assert a.ask(pending) == b.ask(pending)


def test_the_default_random_start_grows_with_the_dimension():
    """Five random trials up to four parameters, then one more than the parameters; the
    benchmark's "this project" method uses it, so a 6-D run asks 7 random points first."""
    from bench.methods import ours
    from bench.surfaces import Surface

    assert [default_init_points(d) for d in (1, 2, 4, 5, 6, 10)] == [5, 5, 5, 6, 7, 11]
    space = SearchSpace([Param(f"x{i}", 0.0, 1.0) for i in range(6)])
    asked = []

    def f(p):
        asked.append(np.array(space.to_unit(p)))
        return float(-np.sum((asked[-1] - 0.3) ** 2))

    ours("bayes")(Surface("bowl", space, f, 0.0, 0.1), 4, 8)
    random = build_strategy("random", space, seed=4)
    for k, unit in enumerate(asked):
        same = np.allclose(unit, random._random_unit(k))
        assert same == (k < 7), k


# -- integer and categorical parameters ------------------------------------------------------

SMALL_DISCRETE = SearchSpace(
    [
        Param("units", 1, 4, kind="int"),
        Param("batch", 16, 64, log=True, kind="int"),
        Param("opt", kind="categorical", choices=("adam", "sgd")),
    ]
)  # 4 x 3 x 2 = 24 points


def _discrete_objective(p):
    return -abs(p["units"] - 3) - 0.5 * (p["batch"] != 32) - (p["opt"] == "sgd")


@pytest.mark.parametrize("kind", ["bayes", "random"])
def test_no_duplicate_proposals_for_integer_and_categorical_parameters(kind):
    strategy = build_strategy(kind, SMALL_DISCRETE, seed=3, init_points=4)
    seen = []
    for _ in range(24):
        p = strategy.ask()
        assert type(p["units"]) is int and p["opt"] in ("adam", "sgd")
        seen.append(SMALL_DISCRETE.key(p))
        strategy.tell(p, _discrete_objective(p))
    assert len(set(seen)) == 24  # every point once, then the space is exhausted
    assert strategy.ask()  # a 25th ask repeats a point rather than fail


def test_pending_discrete_points_are_not_handed_out_twice():
    strategy = build_strategy("bayes", SMALL_DISCRETE, seed=4, init_points=3)
    for _ in range(5):
        p = strategy.ask()
        strategy.tell(p, _discrete_objective(p))
    pending = []
    for _ in range(6):
        pending.append(strategy.ask(pending))
    keys = [SMALL_DISCRETE.key(p) for p in pending]
    told = {SMALL_DISCRETE.key(SMALL_DISCRETE.from_unit(o.unit)) for o in strategy.observations}
    assert len(set(keys)) == 6 and not set(keys) & told


def test_the_gp_sees_an_integer_as_its_value_not_a_continuous_coordinate():
    space = SearchSpace([Param("x", 0.0, 1.0), Param("n", 1, 3, kind="int")])
    strategy = build_strategy("bayes", space, seed=1, init_points=2, noise=1e-4)
    for x in (0.1, 0.5, 0.9):
        for n in (1, 2, 3):
            strategy.tell({"x": x, "n": n}, x + (n - 2) ** 2)
    gp = strategy.fit().gp
    # every coordinate inside n = 2's bin is n = 2: the GP predicts the same there
    inside = np.array([[0.5, 0.34], [0.5, 0.5], [0.5, 0.66]])
    mean, std = gp.predict(inside, return_std=True)
    np.testing.assert_allclose(mean, mean[0])
    np.testing.assert_allclose(std, std[0])


def test_a_categorical_parameter_is_one_hot_for_the_gp():
    space = SearchSpace(
        [Param("x", 0.0, 1.0), Param("o", kind="categorical", choices=("a", "b", "c"))]
    )
    strategy = build_strategy("bayes", space, seed=1, init_points=2)
    for p in ({"x": 0.1, "o": "a"}, {"x": 0.9, "o": "b"}, {"x": 0.5, "o": "c"}):
        strategy.tell(p, 1.0)
    assert strategy.fit().gp.X_train_.shape == (3, 4)
    assert strategy.fit().gp.kernel_.k1.k2.length_scale.shape == (4,)


def test_importance_finds_the_parameter_that_matters():
    space = SearchSpace(
        [
            Param("matters", 0.0, 1.0),
            Param("noise_only", 1, 64, kind="int"),
            Param("o", kind="categorical", choices=("a", "b")),
        ]
    )
    strategy = build_strategy("bayes", space, seed=2, init_points=30)
    rng = np.random.default_rng(0)
    for _ in range(30):
        p = strategy.ask()
        strategy.tell(p, math.sin(3 * p["matters"]) + 0.01 * rng.normal())
    imp = explain.importance(strategy)
    assert imp.ranked()[0][0] == "matters"
    shares = dict(zip(imp.names, imp.shares, strict=True))
    assert shares["matters"] > 0.9 and shares["noise_only"] < 0.05 and shares["o"] < 0.05
    assert math.isclose(sum(imp.shares), 1.0)


def test_the_surrogate_over_any_two_axes_is_a_slice_at_the_best_trial():
    space = SearchSpace(
        [
            Param("a", 0.0, 1.0),
            Param("n", 1, 5, kind="int"),
            Param("o", kind="categorical", choices=("x", "y")),
            Param("b", 0.0, 1.0),
        ]
    )
    strategy = build_strategy("bayes", space, seed=2, init_points=6)
    for _ in range(8):
        p = strategy.ask()
        strategy.tell(p, p["a"] + 0.1 * p["n"] + (p["o"] == "y"))
    best = strategy.best[0]
    s = explain.surrogate(strategy, resolution=10, axes=("o", "n"))
    assert s.x == ("x", "y") and s.y == (1, 2, 3, 4, 5)
    assert np.asarray(s.mean).shape == (5, 2)
    assert s.fixed == {"a": best["a"], "b": best["b"]}
    assert s.slice_note.startswith("a slice at a = ") and "best trial" in s.slice_note
    assert explain.surrogate(strategy, resolution=10, axes=("a", "b")).fixed == {
        "n": best["n"],
        "o": best["o"],
    }
    assert explain.surrogate(build_strategy("bayes", default_space(), seed=1)) is None
    with pytest.raises(ValueError, match="unknown parameter 'zz'"):
        explain.surrogate(strategy, axes=("a", "zz"))


def test_parallel_asks_condition_on_every_result_while_the_hyperparameters_refit_aside():
    """With background refits, the asking thread never optimises hyperparameters once a
    first fit exists: the ask, the believer and the convergence check condition the GP on
    every result with the latest kernel, which is exact given that kernel (the same
    posterior as a full fit that found it), and the kernel follows the history."""
    import threading
    from unittest import mock

    space = default_space()
    rng = np.random.default_rng(3)

    def value(p):
        return float(0.9 - (p["dropout2_rate"] - 0.3) ** 2 + rng.normal(0, 0.01))

    strategy = build_strategy("bayes", space, seed=3, init_points=3)
    refits = strategy.refit_in_background()
    try:
        for _ in range(8):
            p = strategy.ask([])
            strategy.tell(p, value(p))
        strategy.fit()  # the first fit, in line: nothing to condition on before it
        pending = [strategy.ask([])]
        pending.append(strategy.ask(pending))
        calls = []
        real_fit = core.fit.fit

        def recorded(*args, kernel=None, **kwargs):
            calls.append((threading.current_thread().name, kernel))
            return real_fit(*args, kernel=kernel, **kwargs)

        with (
            mock.patch("core.optimizer.fit", recorded),
            mock.patch("core.refits.fit", recorded),
        ):
            for _ in range(4):
                strategy.tell(pending[0], value(pending.pop(0)))
                explain.convergence(strategy)
                pending.append(strategy.ask(pending))
        # every fit on this (the asking) thread kept a kernel; only the refits' thread fits one
        here = [kernel for thread, kernel in calls if thread != "gp-refits"]
        assert here and all(kernel is not None for kernel in here)
        assert refits.wait(len(strategy.observations), 60)
        assert refits.fitted_on() == len(strategy.observations)
        assert refits.fits >= 1
        # the ask conditions on the kernel the background fitted to this very history: the
        # same posterior as a fit made in line, from two separate computations
        full = BayesStrategy(space, seed=3, init_points=3, observations=strategy.observations)
        conditioned = strategy.frozen().fit().gp  # a copy conditions on the latest refit
        reference = full.fit().gp
        assert conditioned.optimizer is None and reference.optimizer is not None
        np.testing.assert_allclose(conditioned.kernel_.theta, reference.kernel_.theta, rtol=1e-6)
        grid = np.random.default_rng(0).random((50, space.width))
        m1, s1 = conditioned.predict(grid, return_std=True)
        m2, s2 = reference.predict(grid, return_std=True)
        np.testing.assert_allclose(m1, m2, atol=1e-6)
        np.testing.assert_allclose(s1, s2, atol=1e-6)
    finally:
        refits.close()
