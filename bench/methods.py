"""The methods the optimizer benchmark compares; each returns the values of ``budget``
sequential trials on a surface."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from bench.surfaces import Surface
from core.learn import run_strategy

INIT_POINTS = 5


def ours(kind: str) -> Callable[[Surface, int, int], list[float]]:
    def run(s: Surface, seed: int, budget: int) -> list[float]:
        return run_strategy(kind, s.space, s.f, seed=seed, budget=budget, init_points=INIT_POINTS)

    return run


def seed_style(s: Surface, seed: int, budget: int) -> list[float]:
    """bayes_opt as the blog used it: raw (linear) bounds, default GP and UCB, maximize()."""
    from bayes_opt import BayesianOptimization

    names = s.space.names
    values: list[float] = []

    def f(**kw: float) -> float:
        values.append(s.f(kw))
        return values[-1]

    opt = BayesianOptimization(
        f, {p.name: (p.low, p.high) for p in s.space.params}, random_state=seed, verbose=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.maximize(init_points=min(INIT_POINTS, budget), n_iter=max(0, budget - INIT_POINTS))
    assert len(values) == budget and names
    return values


def optuna_sampler(kind: str) -> Callable[[Surface, int, int], list[float]]:
    def run(s: Surface, seed: int, budget: int) -> list[float]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if kind == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=INIT_POINTS)
        study = optuna.create_study(direction="maximize", sampler=sampler)

        def objective(trial: optuna.Trial) -> float:
            p = {
                q.name: trial.suggest_float(q.name, q.low, q.high, log=q.log)
                for q in s.space.params
            }
            return s.f(p)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(objective, n_trials=budget)
        return [t.value for t in study.trials]

    return run


def skopt_gp(s: Surface, seed: int, budget: int) -> list[float]:
    from skopt import gp_minimize
    from skopt.space import Real

    dims = [Real(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name)
            for p in s.space.params]  # fmt: skip
    names = s.space.names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = gp_minimize(
            lambda x: -s.f(dict(zip(names, x, strict=True))),
            dims,
            n_calls=budget,
            n_initial_points=min(INIT_POINTS, budget),
            random_state=seed,
        )
    return [-v for v in res.func_vals]


METHODS: dict[str, Callable[[Surface, int, int], list[float]]] = {
    "bayes (this project)": ours("bayes"),
    "bayes_opt as in the seed": seed_style,
    "random": ours("random"),
    "grid": ours("grid"),
    "optuna TPE": optuna_sampler("tpe"),
    "optuna GP": optuna_sampler("gp"),
    "skopt gp_minimize": skopt_gp,
}
