"""A study's optimizer rebuilt from its stored trials: to resume it, export it, or replay it.

Each strategy is a pure function of its seed and of the history it was told, so the
strategy rebuilt here asks for exactly the points the study's own would have asked for.
"""

from __future__ import annotations

from core.optimizer import BayesStrategy, Importance, Strategy, Surrogate, make_strategy
from core.status import TrialStatus
from core.study import Study, StudyConfig


def strategy_for(config: StudyConfig) -> Strategy:
    """A new optimizer as the configuration describes it, told nothing yet."""
    return make_strategy(
        config.optimizer,
        config.space,
        seed=config.seed,
        init_points=config.init_points,
        acquisition=config.acquisition,
        kappa=config.kappa,
        xi=config.xi,
        noise=config.noise,
        budget=config.total,
    )


def told_strategy(study: Study, upto: int | None = None) -> Strategy:
    """The study's optimizer, told its first ``upto`` finished trials (all by default).

    Failed trials are told as failures (None), which the GP sees as a penalty.
    """
    strategy = strategy_for(study.config)
    for trial in study.finished_trials[:upto]:
        strategy.tell(trial.params, trial.value if TrialStatus(trial.status).told else None)
    return strategy


def surrogate_after(
    study: Study, k: int, resolution: int = 40, axes: tuple[str, str] | None = None
) -> Surrogate | None:
    """The surrogate as it was right after the study's k-th finished trial (the replay),
    over ``axes`` (the first two parameters by default)."""
    return told_strategy(study, k).surrogate(resolution, axes)


def importance_after(study: Study, k: int | None = None) -> Importance | None:
    """Each parameter's share of the GP mean's main effects after the first ``k`` finished
    trials. A study without a GP of its own (random, grid) gets one fitted with the
    default settings to its trials."""
    strategy = told_strategy(study, k)
    if not isinstance(strategy, BayesStrategy):
        gp = BayesStrategy(study.config.space, seed=study.config.seed)
        gp.observations = list(strategy.observations)
        strategy = gp
    return strategy.importance()
