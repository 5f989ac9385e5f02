"""The trial lifecycle on its own: start, report, end, against a real store, with the
outcomes a trainer returns (no training: each outcome is what a trainer would hand back)."""

import pytest

from core.lifecycle import Decision, Lifecycle, StopReason, create_study, pruned_outcome
from core.pruners import Pruning
from core.status import StudyStatus, TrialStatus
from core.trainer import Budget, TrialOutcome
from core.worker import DataInfo

INFO = DataInfo("digits", "test", (), 1437, 180, 180, baseline=0.1)


def epoch(accuracy):
    return {"loss": 1.0, "accuracy": accuracy, "val_loss": 1.0, "val_accuracy": accuracy}


def complete(value):
    return TrialOutcome(TrialStatus.COMPLETE, value)


def test_a_study_runs_its_total_and_stops_for_that_reason(store, tiny_config):
    store.create_study(tiny_config(init_points=2, n_iter=1))
    life = Lifecycle(store, "tiny", info=INFO)
    for k in range(3):
        assert life.can_start() and not life.done()
        trial, slot = life.start()
        assert (trial.number, slot) == (k + 1, 0) and not life.can_start()  # one slot
        assert trial.guided == (k == 2)  # after the random start of 2
        assert life.report(trial.number, epoch(0.5 + k / 10)) == Decision.CONTINUE
        life.end(trial.number, complete(0.5 + k / 10))
    assert life.done() and life.reason == StopReason.TOTAL
    assert life.reason.status == StudyStatus.COMPLETE
    study = store.load("tiny")
    assert [t.status for t in study.trials] == ["complete"] * 3
    assert len(life.strategy.observations) == 3  # each told once


def test_the_pruner_decides_at_the_epoch_and_the_trial_ends_pruned_and_told(store, tiny_config):
    pruning = Pruning("median", warmup_trials=1, warmup_epochs=0)
    config = tiny_config(init_points=3, n_iter=0, budget=Budget(3, 64), pruning=pruning)
    store.create_study(config)
    life = Lifecycle(store, "tiny", info=INFO)
    first, _ = life.start()
    for accuracy in (0.5, 0.7, 0.8):
        assert life.report(first.number, epoch(accuracy)) == Decision.CONTINUE
    life.end(first.number, complete(0.8))

    second, _ = life.start()
    assert life.stop_as(second.number) is None
    assert life.report(second.number, epoch(0.3)) == Decision.PRUNE  # below the median's 0.5
    # the trainer stops at its next batch, told it ends pruned (not stopped by the user)
    assert life.stop_as(second.number) == TrialStatus.PRUNED
    ended = life.end(second.number, TrialOutcome(TrialStatus.PRUNED, 0.3, error="pruned"))
    assert ended.status == TrialStatus.PRUNED and ended.value == 0.3
    assert ended.error == "pruned after epoch 1 by the median rule"
    assert life.reason is None  # a pruned trial is not a stop: the study goes on
    assert life.strategy.observations[-1].partial  # told as partial
    assert store.load("tiny").trials[1].status == "pruned"
    third, _ = life.start()
    assert not life.stop_as(third.number)
    life.end(third.number, complete(0.8))
    assert life.done() and life.reason == StopReason.TOTAL  # the pruned trial counted
    # a pruned point is never trained again (a lost worker's point is: same params)
    trained = [t.params for t in store.load("tiny").trials]
    assert trained.count(second.params) == 1 and len(trained) == 3


def test_a_collapsed_run_cut_by_the_pruner_is_a_failure():
    cut = TrialOutcome(TrialStatus.PRUNED, 0.1)
    collapsed = pruned_outcome(cut, [0.1], INFO, "asha")
    assert collapsed.status == TrialStatus.FAILED and collapsed.value is None
    assert collapsed.error.startswith("learned nothing: validation accuracy 0.100 after epoch 1")
    learning = pruned_outcome(cut, [0.6], INFO, "asha")
    assert learning.status == TrialStatus.PRUNED and learning.value == 0.6


def test_a_stop_cancels_what_trains_and_the_first_reason_is_kept(store, tiny_config):
    store.create_study(tiny_config(init_points=4, n_iter=0))
    life = Lifecycle(store, "tiny", info=INFO, slots=2)
    a, _ = life.start()
    b, _ = life.start()
    assert life.pending == [a.params, b.params]
    life.stop(StopReason.USER)
    life.stop(StopReason.CONVERGED, "converged")  # too late: the user's is kept
    assert life.reason == StopReason.USER and life.message is None
    assert life.stop_as(a.number) == life.stop_as(b.number) == TrialStatus.CANCELLED
    assert not life.can_start() and life.status == StudyStatus.STOPPED
    life.end(a.number, TrialOutcome(TrialStatus.CANCELLED, None))
    assert not life.done()  # b still trains
    life.end(b.number, complete(0.7))  # it finished just before it saw the stop
    assert life.done() and life.reason == StopReason.USER and life.message is None
    assert [t.status for t in store.load("tiny").trials] == ["cancelled", "complete"]
    assert len(store.load("tiny").counted_trials) == 1


def test_a_lost_worker_s_point_is_retried_up_to_max_retries(store, tiny_config):
    store.create_study(tiny_config(init_points=4, n_iter=0, max_retries=2))
    revived = []
    life = Lifecycle(
        store, "tiny", info=INFO, revive=lambda slot, in_use: revived.append(slot) or True
    )
    lost = TrialOutcome(TrialStatus.FAILED, None, error="the worker was lost", lost=True)
    first, _ = life.start()
    life.end(first.number, lost)
    again, _ = life.start()
    assert again.params == first.params and not again.guided  # retry 1
    life.end(again.number, lost)
    third, _ = life.start()
    assert third.params == first.params  # retry 2
    life.end(third.number, lost)
    fourth, _ = life.start()
    assert fourth.params != first.params  # max_retries = 2 reached: the search goes on
    assert revived == [0, 0, 0]


def test_a_lost_worker_that_cannot_be_replaced_gives_up_its_slot(store, tiny_config):
    store.create_study(tiny_config(init_points=4, n_iter=0))
    life = Lifecycle(store, "tiny", info=INFO, slots=1, revive=lambda slot, in_use: False)
    trial, _ = life.start()
    life.end(trial.number, TrialOutcome(TrialStatus.FAILED, None, lost=True))
    assert not life.can_start() and life.done()
    assert life.reason == StopReason.NO_WORKERS and "every worker was lost" in life.message
    assert life.reason.status == StudyStatus.FAILED


def test_errors_in_a_row_stop_the_study_with_the_last_one(store, tiny_config):
    store.create_study(tiny_config(init_points=6, n_iter=0, max_consecutive_errors=2))
    life = Lifecycle(store, "tiny", info=INFO)
    raised = TrialOutcome(TrialStatus.FAILED, None, error="ValueError: bad", errored=True)
    for outcome in (raised, complete(0.5), raised):  # a success in between resets the count
        trial, _ = life.start()
        life.end(trial.number, outcome)
        assert life.reason is None
    trial, _ = life.start()
    life.end(trial.number, raised)
    assert life.reason == StopReason.ERRORS and life.done()
    assert life.message == (
        "2 trials in a row raised an error, so the study stopped there "
        "(max_consecutive_errors = 2); the last: ValueError: bad"
    )


def test_a_study_that_converges_stops_with_the_note(store, tiny_config):
    store.create_study(tiny_config(init_points=3, n_iter=20, stop_when_converged=True))
    store.set_val_samples("tiny", 180)
    life = Lifecycle(store, "tiny", info=INFO)
    while life.reason is None and life.can_start():
        trial, _ = life.start()
        x = trial.params["dropout2_rate"]
        life.end(trial.number, complete(0.9 - 0.001 * (x - 0.3) ** 2))  # flat within noise
    assert life.reason == StopReason.CONVERGED, "a flat surface within the noise converges"
    assert life.message and "unlikely" in life.message
    assert len(store.load("tiny").counted_trials) < 23


def test_a_new_study_is_checked_before_anything_is_stored(store, tiny_config, digits):
    with pytest.raises(ValueError, match="batch_size"):
        create_study(store, tiny_config(budget=Budget(1, 4096)), dataset=digits)
    with pytest.raises(ValueError, match="ghost"):
        create_study(store, tiny_config(warm_start="ghost"), dataset=digits)
    assert store.names() == []
    assert create_study(store, tiny_config(), dataset=digits) is None
    assert store.names() == ["tiny"]


def test_a_dataset_split_otherwise_than_the_study_is_refused_before_anything_is_stored(
    store, tiny_config, digits
):
    """Data loaded for a preview with another split (data seed or validation fraction)
    never trains a study: every trial would be scored on the wrong validation images."""
    from core.data import load_dataset

    other_fraction = load_dataset("digits", seed=1, val_fraction=0.2)
    with pytest.raises(ValueError, match="validation fraction 0.2, but the study's is data seed"):
        create_study(store, tiny_config(), dataset=other_fraction)
    with pytest.raises(ValueError, match="data seed 1 and validation fraction 0.1, but the st"):
        create_study(store, tiny_config(data_seed=2), dataset=digits)
    assert store.names() == []
    assert create_study(store, tiny_config(data_seed=1), dataset=digits) is None
