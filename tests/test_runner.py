import threading
import time

import pytest

from core import explain
from core.runner import Registry
from core.space import default_space
from core.study import StudyConfig
from core.trainer import Budget


def test_a_study_runs_to_its_total_and_persists_every_trial(store, tiny_config, digits, tmp_path):
    registry = Registry(store, runs_dir=tmp_path)
    runner = registry.create(tiny_config(), dataset=digits)
    assert runner.join(120)
    snap = runner.snapshot()
    assert snap.status == "complete" and snap.finished == 4 and snap.current is None
    assert snap.surrogate is not None and snap.surrogate.n_observations == 4
    study = store.load("tiny")
    assert study.status == "complete"
    assert [t.number for t in study.trials] == [1, 2, 3, 4]
    assert [t.guided for t in study.trials] == [False, False, True, True]
    assert all(t.status == "complete" and len(t.history) == 1 for t in study.trials)
    assert study.best_trial.value == max(t.value for t in study.trials)


def test_snapshots_are_immutable_copies(store, tiny_config, digits, tmp_path, wait_for):
    runner = Registry(store, runs_dir=tmp_path).create(tiny_config(), dataset=digits)
    assert wait_for(lambda: runner.snapshot().grid is not None, timeout=120)
    first = runner.snapshot()
    seen = len(first.trials)
    assert runner.join(120)
    # the runner went on to 4 trials; the snapshot taken earlier did not move with it
    assert runner.snapshot().finished == 4
    assert 1 <= seen < 4 and len(first.trials) == seen and first.status == "running"
    with pytest.raises(AttributeError):
        first.status = "x"
    # nor did its map, which the driver never drew: it is made when first read, of the
    # strategy as it was, and its next point is the trial that started next
    assert not first.grid.made and not runner.snapshot().grid.made
    n = first.grid.n_observations
    surrogate = first.surrogate
    assert first.grid.made and surrogate.n_observations == n < 4
    assert surrogate.next_point == store.load("tiny").trials[n].params


def test_a_second_start_of_a_running_study_is_refused(store, tiny_config, digits, tmp_path):
    registry = Registry(store, runs_dir=tmp_path)
    runner = registry.create(tiny_config(budget=Budget(epochs=3, batch_size=16)), dataset=digits)
    with pytest.raises(RuntimeError, match="already running"):
        registry.resume("tiny", dataset=digits)
    runner.cancel()
    runner.join(60)
    assert registry.running() == []


def test_cancel_stops_mid_trial_and_resume_reaches_the_total(
    store, tiny_config, digits, tmp_path, wait_for
):
    registry = Registry(store, runs_dir=tmp_path)
    config = tiny_config(budget=Budget(epochs=4, batch_size=16))
    runner = registry.create(config, dataset=digits)
    assert wait_for(lambda: runner.snapshot().current_epoch >= 1)
    runner.cancel()
    assert runner.join(60)
    snap = runner.snapshot()
    assert snap.status == "stopped"
    study = store.load("tiny")
    assert study.status == "stopped" and study.resumable
    assert study.trials[-1].status == "cancelled"
    assert len(study.trials[-1].history) < 4  # stopped inside the trial, not at its end
    assert study.remaining == 4

    again = registry.resume("tiny", dataset=digits)
    assert again.join(180)
    study = store.load("tiny")
    assert study.status == "complete"
    assert len(study.finished_trials) == 4
    assert study.trials[0].status == "cancelled"  # kept, not counted
    assert [t.number for t in study.finished_trials] == [2, 3, 4, 5]


def test_stop_during_the_first_epoch_ends_the_trial_inside_that_epoch(
    store, tiny_config, digits, tmp_path, wait_for
):
    """A trial of one epoch of 1,295 batches (a batch of one image): a Stop while it trains
    ends it cancelled with that epoch unfinished, where a stop read only between trials
    would let it complete. That the trainer reads the stop at every batch:
    ``test_trainer.py::test_cancel_is_honoured_at_the_next_batch``."""
    config = tiny_config(init_points=1, n_iter=1, budget=Budget(epochs=1, batch_size=1))
    runner = Registry(store, runs_dir=tmp_path).create(config, dataset=digits)
    assert wait_for(lambda: bool(runner.snapshot().running), timeout=60)
    runner.cancel()
    assert runner.join(60)
    (trial,) = store.load("tiny").trials  # and the second never starts
    assert trial.status == "cancelled" and trial.history == ()


def test_stop_between_trials_ends_before_the_next_one_starts(
    store, tiny_config, digits, tmp_path, monkeypatch
):
    """Stop pressed the moment the first trial's result is stored: the study ends stopped
    with that one trial, and the second never starts (a stop read only inside a trial
    would start it, then cancel it)."""
    from core.runner import Runner

    store.create_study(tiny_config(init_points=2, n_iter=1))
    runner = Runner(store, "tiny", runs_dir=tmp_path, dataset=digits)
    finish = store.finish_trial

    def stop_after_the_first(name, number, **kwargs):
        finish(name, number, **kwargs)
        runner.cancel()

    monkeypatch.setattr(store, "finish_trial", stop_after_the_first)
    runner.start()
    assert runner.join(60)
    study = store.load("tiny")
    assert study.status == "stopped"
    assert [(t.number, t.status) for t in study.trials] == [(1, "complete")]


def test_a_diverging_trial_fails_and_the_study_goes_on(store, tiny_config, digits, tmp_path):
    config = tiny_config(space=default_space(lr=(1e-3, 1e9)), init_points=3, n_iter=1, seed=3)
    runner = Registry(store, runs_dir=tmp_path).create(config, dataset=digits)
    assert runner.join(120)
    study = store.load("tiny")
    statuses = [t.status for t in study.trials]
    assert len(statuses) == 4 and study.status == "complete"  # every trial ran
    failed = [t for t in study.trials if t.status == "failed"]
    assert any("diverged" in t.error for t in failed)
    # at such rates a run that does not diverge collapses to chance: failed too, not a value
    assert all("diverged" in t.error or t.error.startswith("learned nothing") for t in failed)
    assert all(t.value is None for t in failed)


def test_final_test_retrains_and_saves_the_model(store, tiny_config, digits, tmp_path):
    config = tiny_config(final_test=True, init_points=2, n_iter=0)
    runner = Registry(store, runs_dir=tmp_path).create(config, dataset=digits)
    assert runner.join(120)
    final = store.load("tiny").final
    assert 0 < final["test_accuracy"] <= 1
    assert (tmp_path / "tiny" / "model.keras").exists()
    assert not (tmp_path / "tiny" / "model.partial.keras").exists()
    import keras

    model = keras.models.load_model(final["model_path"])
    assert model.output_shape == (None, 10)


def test_a_bad_dataset_fails_the_study_with_its_reason(store, tiny_config, tmp_path):
    registry = Registry(store, runs_dir=tmp_path)
    runner = registry.create(tiny_config(dataset=str(tmp_path / "missing.npz")))
    assert runner.join(30)
    snap = runner.snapshot()
    assert snap.status == "failed" and "no such file" in snap.error
    assert store.load("tiny").status == "failed"


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="init_points \\+ n_iter must be at least 1"):
        StudyConfig(name="x", init_points=0, n_iter=0)
    with pytest.raises(ValueError, match="at most 500"):
        StudyConfig(name="x", init_points=10, n_iter=10_000)
    with pytest.raises(ValueError, match="study name"):
        StudyConfig(name="../etc/passwd")
    with pytest.raises(ValueError, match="n_iter must be an integer >= 0"):
        StudyConfig(name="x", n_iter=-1)


def test_an_isolated_runner_trains_in_a_child_process_and_stops(
    store, tiny_config, tmp_path, wait_for
):
    import multiprocessing as mp

    registry = Registry(store, runs_dir=tmp_path, isolate=True)
    config = tiny_config(final_test=True, init_points=2, n_iter=1)
    runner = registry.create(config)
    assert runner.join(180)
    assert runner.snapshot().status == "complete"
    study = store.load("tiny")
    assert len(study.finished_trials) == 3
    assert all(len(t.history) == 1 for t in study.trials)
    assert 0 < study.final["test_accuracy"] <= 1
    assert (tmp_path / "tiny" / "model.keras").exists()
    assert mp.active_children() == []  # the worker process is gone

    runner = registry.create(tiny_config("slow", budget=Budget(epochs=20, batch_size=16)))
    assert wait_for(lambda: runner.snapshot().current_epoch >= 1, timeout=120)
    runner.cancel()
    assert runner.join(60)
    slow = store.load("slow")
    assert slow.status == "stopped" and slow.trials[-1].status == "cancelled"
    assert len(slow.trials[-1].history) < 20  # stopped inside the trial, not at its end


def test_stop_before_the_first_trial_and_during_the_final_retrain(
    store, tiny_config, tmp_path, wait_for
):
    registry = Registry(store, runs_dir=tmp_path)
    config = tiny_config(final_test=True, init_points=1, n_iter=0, budget=Budget(3, 16))
    store.create_study(config)
    from core.runner import Runner

    runner = Runner(store, "tiny", runs_dir=tmp_path)
    runner.cancel()  # between trials: before the first one starts
    runner.start()
    assert runner.join(60)
    assert store.load("tiny").status == "stopped" and store.load("tiny").trials == ()

    runner = registry.resume("tiny")
    assert wait_for(lambda: runner.snapshot().status == "retraining", timeout=120)
    runner.cancel()
    assert runner.join(30)
    study = store.load("tiny")
    assert study.status == "stopped" and study.final is None and study.resumable
    assert not list(tmp_path.glob("tiny/*.keras"))  # nothing half-written

    runner = registry.resume("tiny")  # only the retrain is left to do
    assert runner.join(120)
    study = store.load("tiny")
    assert study.status == "complete" and len(study.trials) == 1
    assert study.final["test_accuracy"] > 0


def test_a_trial_that_raises_fails_with_its_reason_and_the_study_goes_on(
    store, tiny_config, digits, tmp_path, monkeypatch
):
    from core import model

    real_build = model.build_model
    calls = {"n": 0}

    def flaky_build(*args, **kwargs):  # fault injection: the second trial's build raises
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected: out of memory while building")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(model, "build_model", flaky_build)
    runner = Registry(store, runs_dir=tmp_path).create(tiny_config(), dataset=digits)
    assert runner.join(120)
    study = store.load("tiny")
    assert study.status == "complete"
    assert [t.status for t in study.trials] == ["complete", "failed", "complete", "complete"]
    assert study.trials[1].error == "RuntimeError: injected: out of memory while building"


def test_two_starts_at_the_same_moment_run_one_study_and_store_nothing_else(
    store, tiny_config, digits, tmp_path, monkeypatch
):
    registry = Registry(store, runs_dir=tmp_path)
    real_create = store.create_study

    def slow_create(config, *inherited):  # widens the window between the check and the insert
        time.sleep(0.3)
        return real_create(config, *inherited)

    monkeypatch.setattr(store, "create_study", slow_create)
    barrier = threading.Barrier(2)
    started, refused = [], []

    def start(name):
        barrier.wait()
        try:
            started.append(
                registry.create(tiny_config(name, budget=Budget(20, 16)), dataset=digits)
            )
        except RuntimeError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=start, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(started) == 1 and len(refused) == 1 and "is running" in refused[0]
    assert store.names() == [started[0].name]  # no orphan study of the refused Start
    started[0].cancel()
    assert started[0].join(60)


def test_the_snapshot_version_moves_exactly_when_a_chart_would():
    """Live rebuilds its figures only when the version changes: every change a chart draws
    must move it, and the clock ticking must not."""
    from dataclasses import replace

    from core.snapshot import Snapshot
    from core.status import StudyStatus, TrialStatus
    from core.study import Trial
    from core.views import Surrogate

    base = Snapshot(
        study="s", status=StudyStatus.RUNNING, total=4, trials=(), running=(),
        epochs_per_trial=2, grid=None, started_at=0.0, elapsed=0.0, eta=None,
        message=None, error=None, final=None,
    )  # fmt: skip
    running = Trial(1, {"dropout2_rate": 0.2, "lr": 1e-3}, TrialStatus.RUNNING)
    epoch = {"epoch": 1, "val_accuracy": 0.9}
    done = replace(running, status=TrialStatus.COMPLETE, value=0.9, history=(epoch,))
    grid = ((0.0,),)
    surrogate = Surrogate("dropout2_rate", "lr", (0.2,), (1e-3,), grid, grid, grid, "ei", {}, 1)

    ticking = replace(base, elapsed=9.0, eta=3.0, message="training trial 1")
    assert ticking.version == base.version
    changed = [
        replace(base, status=StudyStatus.STOPPED),
        replace(base, running=(running,)),
        replace(base, running=(replace(running, history=(epoch,)),)),
        replace(base, trials=(done,)),
        replace(base, trials=(done,), grid=surrogate),
        replace(base, study="t"),
    ]
    versions = [base.version, *(s.version for s in changed)]
    assert len(set(versions)) == len(versions)


def test_a_pruned_trial_stops_early_keeps_its_curve_and_counts(
    store, tiny_config, digits, tmp_path
):
    from core.pruners import Pruning
    from core.status import TrialStatus

    # halving at every epoch: only the best of each rung goes on, so trials stop early
    config = tiny_config(
        space=default_space(lr=(1e-5, 1e-2)),
        init_points=5,
        n_iter=1,
        budget=Budget(epochs=3, batch_size=64),
        pruning=Pruning("asha", min_epochs=1, reduction_factor=2),
        final_test=True,
    )
    registry = Registry(store, runs_dir=tmp_path)
    runner = registry.create(config, dataset=digits)
    assert runner.join(180)
    study = store.load("tiny")
    assert study.status == "complete" and len(study.finished_trials) == 6
    # the runner's own GP was told all six, the pruned ones included
    assert runner.snapshot().surrogate.n_observations == 6
    pruned = [t for t in study.trials if t.status == TrialStatus.PRUNED]
    assert pruned, [(t.status, len(t.history)) for t in study.trials]
    for t in pruned:
        assert 1 <= len(t.history) < 3  # cut short, and what it trained is kept
        assert t.value == t.history[-1]["val_accuracy"]
        assert t.error.startswith(f"pruned after epoch {len(t.history)}")
    complete = [t for t in study.trials if t.status == TrialStatus.COMPLETE]
    assert complete and all(len(t.history) == 3 for t in complete)
    assert study.best_trial.status == TrialStatus.COMPLETE  # a partial accuracy never wins
    assert study.config.pruning.kind == "asha"
    # told to the GP as partial, with its curve, and projected: never as a final value
    from core.replay import told_strategy

    strategy = told_strategy(study)
    told = dict(zip((t.number for t in study.finished_trials), strategy.observations,
                    strict=True))  # fmt: skip
    for t in pruned:
        assert told[t.number].partial and len(told[t.number].curve) == len(t.history)
    assert explain.recommend(strategy).params in [t.params for t in complete]  # never a pruned one
    # each pruned trial reaches the GP with the projection's extra variance
    targets = strategy.history.weighted_targets()
    assert 0 < sum(extra > 0 for _, _, extra in targets) <= len(pruned)  # repeats merge
    # never retrained: not by the final retrain, not by a resume
    assert study.final["params"] in [t.params for t in complete]
    again = registry.resume("tiny", dataset=digits)
    assert again.join(60)
    assert store.load("tiny").trials == study.trials


def test_stop_when_converged_ends_a_study_whose_trials_differ_only_by_noise(
    store, tiny_config, digits, tmp_path
):
    # every trial trains (almost) the same network: only training noise tells them apart
    # a random start of 7, longer than the 5 values a verdict needs: on such a plane the
    # verdict would come at the 5th trial, but never during the random start
    space = default_space(dropout=(0.2, 0.2001), lr=(3e-3, 3.001e-3))
    config = tiny_config(space=space, init_points=7, n_iter=5, stop_when_converged=True)
    runner = Registry(store, runs_dir=tmp_path).create(config, dataset=digits)
    assert runner.join(180)
    study = store.load("tiny")
    assert study.status == "complete" and 7 <= len(study.finished_trials) < 12
    last = study.finished_trials[-1]
    assert last.regret_bound is not None and last.regret_bound <= last.noise_std
    assert all(t.regret_bound is None for t in study.finished_trials[:6])  # the random start
    assert "unlikely to beat the best" in runner.snapshot().message


def test_trials_training_when_the_study_aborts_are_stored_as_ended(
    store, tiny_config, digits, tmp_path, monkeypatch
):
    """Two trials at once; the second's build raises and the error limit (1) ends the
    study while the first trains: that first trial is stored cancelled, never 'running'."""
    import functools

    from core import model
    from core.executor import Pool, make_trainer
    from core.runner import Runner

    real_build = model.build_model
    calls = {"n": 0}
    lock = threading.Lock()

    def flaky_build(*args, **kwargs):  # fault injection: the second build raises
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n == 2:
            raise RuntimeError("injected: a bug in the model")
        return real_build(*args, **kwargs)

    def two_local(dataset, parallel, *, isolate, model):
        return Pool([make_trainer(dataset, isolate=False, model=model) for _ in range(2)],
                    kind="local")  # fmt: skip

    monkeypatch.setattr(model, "build_model", flaky_build)
    config = tiny_config(budget=Budget(epochs=40, batch_size=16), max_consecutive_errors=1)
    runner = Registry(store, runs_dir=tmp_path).create(
        config, dataset=digits, runner_factory=functools.partial(Runner, pool_factory=two_local)
    )
    assert runner.join(120)
    study = store.load("tiny")
    assert study.status == "failed"
    assert study.error.startswith("a trial raised an error, so the study stopped there")
    assert sorted(t.status for t in study.trials) == ["cancelled", "failed"]
