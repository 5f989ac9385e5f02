"""The objective is data: a metric and a direction, read in one place for either direction."""

import pytest

from core.objective import Objective, trial_metrics
from core.optimizer import BayesStrategy
from core.replay import tell
from core.space import Param, SearchSpace
from core.status import TrialStatus
from core.study import Trial, best_of

UNIT2 = SearchSpace([Param("x", 0.0, 1.0), Param("y", 0.0, 1.0)])
LOSS = Objective("val_loss", "minimize")


def _trial(number, value, status=TrialStatus.COMPLETE):
    return Trial(number, {"x": 0.1 * number, "y": 0.5}, status, value=value)


def test_a_minimised_metric_is_told_negated_and_a_failure_is_its_worst_value():
    strategy = BayesStrategy(UNIT2, seed=1, init_points=2)
    for trial in (_trial(1, 0.30), _trial(2, 0.10), _trial(3, None, TrialStatus.FAILED)):
        tell(strategy, trial, LOSS)
    told = {round(u[0], 6): v for u, v, _ in strategy.history.weighted_targets()}
    # the optimizer maximises: a loss of 0.10 is told as -0.10, the best; the failure is
    # told as the worst loss seen (0.30), not as 0.0, which would be a perfect loss
    assert told == pytest.approx({0.1: -0.30, 0.2: -0.10, 0.3: -0.30})


def test_the_best_trial_follows_the_direction():
    trials = (_trial(1, 0.30), _trial(2, 0.10), _trial(3, 0.20))
    assert best_of(trials).number == 1  # the default: validation accuracy, maximised
    assert best_of(trials, LOSS).number == 2
    assert LOSS.better(0.1, 0.3) and not Objective().better(0.1, 0.3)


def test_a_pruned_trial_is_told_partial_with_its_signed_curve():
    history = ({"val_loss": 0.5, "val_accuracy": 0.7}, {"val_loss": 0.4, "val_accuracy": 0.8})
    value, curve, partial = LOSS.told(TrialStatus.PRUNED, 0.4, history)
    assert value == -0.4 and curve == [-0.5, -0.4] and partial
    assert Objective().told(TrialStatus.FAILED, None, history) == (None, [0.7, 0.8], False)


def test_a_trial_records_its_last_epoch_and_what_it_cost():
    history = [{"val_accuracy": 0.7, "val_loss": 0.9, "accuracy": 0.6, "loss": 1.1, "seconds": 2}]
    assert trial_metrics(history, 3.5, 12345) == {
        "val_accuracy": 0.7, "val_loss": 0.9, "accuracy": 0.6, "loss": 1.1,
        "train_seconds": 3.5, "params": 12345.0,
    }  # fmt: skip


def test_a_bad_objective_is_named_with_what_is_expected():
    with pytest.raises(ValueError, match="objective metric must be one of .*val_accuracy"):
        Objective("val_acc")
    with pytest.raises(ValueError, match="objective direction must be one of .*minimize"):
        Objective("val_loss", "down")
