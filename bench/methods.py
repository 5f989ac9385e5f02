"""The methods the optimizer benchmark compares, declared before any run (docs/BENCHMARKS.md,
section 3); each returns the values of ``budget`` sequential trials on a surface.

Paired design: with the same seed every method whose API takes given points starts from the
same ``INIT_POINTS`` random points, this project's own random start for that seed (Optuna
through ``enqueue_trial``, scikit-optimize through ``x0``, bayes_opt through ``probe``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.surfaces import Surface
from core.learn import run_strategy
from core.optimizer import RandomStrategy, default_init_points
from core.space import Param, SearchSpace

INIT_POINTS = 5
#: The seed's way of using bayes_opt: 10 random points first, UCB with kappa 2.576.
SEED_INIT_POINTS = 10
SEED_KAPPA = 2.576


def shared_start(space: SearchSpace, seed: int, n: int = INIT_POINTS) -> list[dict[str, float]]:
    """The random start of this project's strategies for ``seed``: the first ``n`` points."""
    strategy = RandomStrategy(space, seed=seed)
    return [strategy.space.from_unit(strategy._random_unit(i)) for i in range(n)]


def ours(kind: str) -> Callable[[Surface, int, int], list[float]]:
    """This project's strategy with its default random start for the surface's dimension
    (the shared start, then its own further random points in more than 4 dimensions)."""

    def run(s: Surface, seed: int, budget: int) -> list[float]:
        start = default_init_points(s.space.dim)
        return run_strategy(
            kind, s.space, s.f, seed=seed, budget=budget, init_points=start,
            binomial_n=s.binomial_n if kind == "bayes" else None,
        )  # fmt: skip

    return run


def seed_style(s: Surface, seed: int, budget: int) -> list[float]:
    """bayes_opt as the blog used it: raw (linear) bounds, UCB with kappa 2.576, 10 random
    points first (the shared five, then five of its own), then ``maximize()``."""
    from bayes_opt import BayesianOptimization, acquisition

    values: list[float] = []

    def f(**kw: float) -> float:
        values.append(s.f(kw))
        return values[-1]

    opt = BayesianOptimization(
        f,
        {p.name: (p.low, p.high) for p in s.space.params},
        acquisition_function=acquisition.UpperConfidenceBound(kappa=SEED_KAPPA),
        random_state=seed,
        verbose=0,
    )
    start = shared_start(s.space, seed, min(INIT_POINTS, budget))
    for point in start:
        opt.probe(point, lazy=True)
    own = min(SEED_INIT_POINTS, budget) - len(start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.maximize(init_points=own, n_iter=max(0, budget - len(start) - own))
    if len(values) != budget:
        raise RuntimeError(f"bayes_opt evaluated {len(values)} points for {budget} trials")
    return values


def optuna_sampler(kind: str) -> Callable[[Surface, int, int], list[float]]:
    def run(s: Surface, seed: int, budget: int) -> list[float]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if kind == "tpe":
            sampler = optuna.samplers.TPESampler(
                seed=seed, multivariate=True, n_startup_trials=INIT_POINTS
            )
        else:
            sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=INIT_POINTS)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for point in shared_start(s.space, seed, min(INIT_POINTS, budget)):
            study.enqueue_trial(
                {optuna_name(q): optuna_value(q, point[q.name]) for q in s.space.params}
            )

        def objective(trial: optuna.Trial) -> float:
            return s.f({q.name: optuna_suggest(trial, q) for q in s.space.params})

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(objective, n_trials=budget)
        return [t.value for t in study.trials]

    return run


def optuna_name(q: Param) -> str:
    """The name Optuna knows ``q`` by: a powers-of-two int is searched by its exponent."""
    return f"log2_{q.name}" if q.kind == "int" and q.log else q.name


def optuna_value(q: Param, value: Any) -> Any:
    return int(value).bit_length() - 1 if q.kind == "int" and q.log else value


def optuna_suggest(trial: Any, q: Param) -> Any:
    """``q``'s value as an Optuna trial suggests it, on the same values this project's
    space takes (a powers-of-two int through its exponent)."""
    if q.kind == "categorical":
        return trial.suggest_categorical(q.name, list(q.choices))
    if q.kind == "int" and q.log:
        low, high = (optuna_value(q, v) for v in (q.low, q.high))
        return 2 ** trial.suggest_int(optuna_name(q), low, high)
    if q.kind == "int":
        return trial.suggest_int(q.name, q.low, q.high)
    return trial.suggest_float(q.name, q.low, q.high, log=q.log)


def skopt_space(space: SearchSpace) -> list:
    """``space`` as scikit-optimize's dimensions, on the same values this project takes."""
    from skopt.space import Categorical, Integer, Real

    def dimension(p: Param) -> Any:
        if p.kind == "categorical" or (p.kind == "int" and p.log):
            return Categorical(list(p.levels), name=p.name)
        if p.kind == "int":
            return Integer(p.low, p.high, name=p.name)
        return Real(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name)

    return [dimension(p) for p in space.params]


def skopt_gp(s: Surface, seed: int, budget: int) -> list[float]:
    from skopt import gp_minimize

    names = s.space.names
    start = shared_start(s.space, seed, min(INIT_POINTS, budget))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gp_minimize(
            lambda x: -s.f(dict(zip(names, x, strict=True))),
            skopt_space(s.space),
            x0=[[p[n] for n in names] for p in start],
            n_calls=budget,
            n_initial_points=0,
            random_state=seed,
        )
    return [-float(v) for v in np.asarray(res.func_vals)]


def botorch_gp(s: Surface, seed: int, budget: int) -> list[float]:
    """BoTorch's documented default loop: a ``SingleTaskGP`` (its default priors and output
    standardisation) fitted by ``fit_gpytorch_mll``, then ``qLogNoisyExpectedImprovement``
    maximised by ``optimize_acqf`` (10 restarts from 512 raw samples), in this project's
    unit cube (an int or a category decoded from the point it proposes)."""
    import torch
    from botorch.acquisition import qLogNoisyExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(seed)
    width = s.space.width
    units = [np.asarray(s.space.to_unit(p)) for p in shared_start(s.space, seed)][:budget]
    values = [s.f(s.space.from_unit(u)) for u in units]
    bounds = torch.stack([torch.zeros(width), torch.ones(width)]).double()
    while len(values) < budget:
        x = torch.tensor(np.array(units), dtype=torch.double)
        y = torch.tensor(values, dtype=torch.double).unsqueeze(-1)
        model = SingleTaskGP(x, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acqf = qLogNoisyExpectedImprovement(model, X_baseline=x)
            candidate, _ = optimize_acqf(acqf, bounds, q=1, num_restarts=10, raw_samples=512)
        point = s.space.from_unit(candidate[0].numpy())
        units.append(np.asarray(s.space.to_unit(point)))
        values.append(s.f(point))
    return values


METHODS: dict[str, Callable[[Surface, int, int], list[float]]] = {
    "bayes (this project)": ours("bayes"),
    "bayes_opt as in the seed": seed_style,
    "random": ours("random"),
    "grid": ours("grid"),
    "optuna TPE": optuna_sampler("tpe"),
    "optuna GP": optuna_sampler("gp"),
    "skopt gp_minimize": skopt_gp,
    "botorch": botorch_gp,
}
#: The methods the protocol declares (grid search is only in the diagnostics).
DECLARED = tuple(m for m in METHODS if m != "grid")
#: The GP peers the non-inferiority targets compare with.
GP_PEERS = ("optuna GP", "botorch", "skopt gp_minimize", "bayes_opt as in the seed")
