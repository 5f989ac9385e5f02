"""A person's hand on the search: try a point next, add a result, start from a study."""

import re

import pytest

from core import explain, steer
from core.replay import told_strategy
from core.runner import Registry
from core.status import StudyStatus, TrialOrigin, TrialStatus
from core.steer import told_trial
from core.trainer import Budget

POINT = {"dropout2_rate": 0.25, "lr": 0.002}


def test_a_told_result_is_stored_and_told_and_a_chosen_point_trains_first_on_resume(
    store, tiny_config, digits, tmp_path
):
    store.create_study(tiny_config())
    store.set_status("tiny", StudyStatus.STOPPED)
    said = steer.tell_result(store, "tiny", POINT, 0.91)
    assert said.startswith("stored as trial 1, added by you")
    study = store.load("tiny")
    (told,) = study.trials
    assert (told.origin, told.label, told.value, told.status) == (
        TrialOrigin.TOLD, "added by you", 0.91, TrialStatus.COMPLETE
    )  # fmt: skip
    assert study.remaining == 4 and not told.counted  # told, not counted in the total
    assert len(told_strategy(study).observations) == 1

    bad = [
        ({**POINT, "lr": 0.5}, 0.9, "lr: 0.5 lies outside its range"),
        ({"lr": 0.002}, 0.9, "missing parameter 'dropout2_rate'"),
        ({**POINT, "units": 3}, 0.9, "unknown parameter 'units'"),
        (POINT, 1.5, "the accuracy must lie between 0 and 1, got 1.5"),
        (POINT, float("nan"), "the accuracy must be a number between 0 and 1"),
    ]
    for values, value, message in bad:
        with pytest.raises(ValueError, match=message):
            steer.tell_result(store, "tiny", values, value)
    with pytest.raises(ValueError, match="lr: 0.5 lies outside its range"):
        steer.try_next(store, "tiny", {**POINT, "lr": 0.5})
    assert len(store.load("tiny").trials) == 1 and store.queued("tiny") == []

    chosen = {"dropout2_rate": 0.4, "lr": 0.005}
    assert steer.try_next(store, "tiny", chosen) == (
        "queued (1 waiting): it trains when the study is resumed, marked 'chosen by you'"
    )
    runner = Registry(store, runs_dir=tmp_path).resume("tiny", dataset=digits)
    assert runner.join(120)
    study = store.load("tiny")
    # the two points a person gave make the random start of two: the GP guides the rest
    assert [t.label for t in study.trials] == [
        "added by you", "chosen by you", "guided", "guided", "guided"
    ]  # fmt: skip
    assert study.trials[1].params == chosen and study.trials[1].status == TrialStatus.COMPLETE
    assert len(study.counted_trials) == 4 and study.status == StudyStatus.COMPLETE
    assert runner.snapshot().surrogate.n_observations == 5  # the told result among them
    assert store.queued("tiny") == []
    with pytest.raises(ValueError, match="has no trial left to train this point"):
        steer.try_next(store, "tiny", chosen)


def test_a_running_study_takes_a_point_and_a_result_from_the_queue(
    store, tiny_config, digits, tmp_path, wait_for
):
    runner = Registry(store, runs_dir=tmp_path).create(
        tiny_config(budget=Budget(epochs=4, batch_size=32)), dataset=digits
    )
    assert wait_for(lambda: bool(runner.snapshot().running), 60)
    # through the store, as another process (the command line) would
    assert "the study running tells it" in steer.tell_result(store, "tiny", POINT, 0.93)
    assert "it trains next" in steer.try_next(store, "tiny", {"dropout2_rate": 0.45, "lr": 1e-4})
    assert runner.join(180)
    study = store.load("tiny")
    kinds = [t.label for t in study.trials]
    assert kinds.count("added by you") == 1 and kinds.count("chosen by you") == 1
    told = next(t for t in study.trials if t.label == "added by you")
    chosen = next(t for t in study.trials if t.label == "chosen by you")
    assert told.number < chosen.number  # told at once, before the next trial started
    assert chosen.number == told.number + 1 and chosen.params == {"dropout2_rate": 0.45, "lr": 1e-4}
    assert len(study.counted_trials) == 4 and len(study.trials) == 5
    # what the runner told its GP is what a rebuilt optimizer is told: a resume agrees
    assert runner.snapshot().surrogate.n_observations == 5
    assert len(told_strategy(study).observations) == 5


def test_a_warm_start_inherits_the_trials_inside_its_bounds(store, tiny_config):
    from core.space import Param, SearchSpace

    store.create_study(tiny_config("old"))
    values = [(0.2, 1e-3, 0.80), (0.3, 5e-3, 0.85), (0.4, 9e-3, 0.70)]
    store.add_results(
        "old",
        [told_trial(i, {"dropout2_rate": d, "lr": lr}, v) for i, (d, lr, v) in enumerate(values, 1)],
    )  # fmt: skip
    narrower = SearchSpace([Param("dropout2_rate", 0.1, 0.5), Param("lr", 1e-4, 6e-3, log=True)])
    config = tiny_config("new", space=narrower, warm_start="old")
    trials, note = steer.inherited(store, config)
    assert note == ("starts from 2 trials of 'old'; it leaves out 1 trial outside these bounds")
    assert [(t.number, t.params["lr"], t.origin) for t in trials] == [
        (1, 1e-3, TrialOrigin.INHERITED), (2, 5e-3, TrialOrigin.INHERITED)
    ]  # fmt: skip
    store.create_study(config, trials)
    new = store.load("new")
    assert [t.label for t in new.trials] == ["inherited", "inherited"]
    assert new.remaining == new.config.total and len(told_strategy(new).observations) == 2

    other = SearchSpace(
        [Param("dropout2_rate", 0.1, 0.5), Param("dense_units", 16, 64, kind="int")]
    )
    with pytest.raises(ValueError, match="a warm start needs the same parameters"):
        steer.inherited(store, tiny_config("x", space=other, warm_start="old"))
    with pytest.raises(ValueError, match="warm start: no study named 'ghost'"):
        Registry(store).create(tiny_config("y", warm_start="ghost"))
    assert store.names() == ["old", "new"]  # a refused warm start stores nothing
    with pytest.raises(ValueError, match="cannot start from its own trials"):
        tiny_config("old", warm_start="old")


def test_a_warm_start_across_data_splits_says_what_it_mixes(store, tiny_config):
    store.create_study(tiny_config("old", data_seed=4))
    store.add_results("old", [told_trial(1, {"dropout2_rate": 0.3, "lr": 1e-3}, 0.9)])
    _, note = steer.inherited(store, tiny_config("same", data_seed=4, warm_start="old"))
    assert note == "starts from 1 trial of 'old'"
    _, note = steer.inherited(store, tiny_config("new", warm_start="old"))
    assert note == (
        "starts from 1 trial of 'old'; they were scored on digits's split 4, this study on "
        "digits's split 1: the GP mixes two yardsticks"
    )


def test_the_gp_says_what_it_expects_where_a_person_points(store, tiny_config):
    store.create_study(tiny_config("mine"))
    assert steer.expected_at(store.load("mine"), {"dropout2_rate": 0.3, "lr": 1e-3}) == (
        "The GP has no word yet: it appears after the first finished trial."
    )
    values = [(0.2, 1e-3, 0.90), (0.4, 5e-3, 0.94), (0.3, 3e-4, 0.86)]
    store.add_results(
        "mine",
        [told_trial(i, {"dropout2_rate": d, "lr": lr}, v) for i, (d, lr, v) in enumerate(values, 1)],
    )  # fmt: skip
    study = store.load("mine")
    said = steer.expected_at(study, {"dropout2_rate": 0.4, "lr": 5e-3})
    match = re.fullmatch(
        r"The GP expects (0\.\d{4}) ± (0\.\d{4}) here \(EI ([^)]+)\); at its own next point "
        r"\(dropout2_rate = [\d.]+, lr = [\de.-]+\) it expects 0\.\d{4} ± 0\.\d{4} \(EI [^)]+\)\.",
        said,
    )
    assert match, said
    mean, std = float(match.group(1)), float(match.group(2))
    strategy = told_strategy(study)
    assert (mean, std) == tuple(
        round(v, 4) for v in explain.expected_at(strategy, {"dropout2_rate": 0.4, "lr": 5e-3})[:2]
    )
    assert 0.9 < mean < 0.95  # near the 0.94 told there
    with pytest.raises(ValueError, match="lr: 0.5 lies outside its range"):
        steer.expected_at(study, {"dropout2_rate": 0.4, "lr": 0.5})
