"""Many trials at once on a real local Ray instance (two CPUs), and what happens when a Ray
worker dies, the user stops, or the server is killed with two trials running."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.executor import Parallel
from core.runner import Registry
from core.status import StudyStatus, TrialStatus
from core.store import Store
from core.study import repeats
from core.trainer import Budget

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module: two CPUs, no dashboard, no usage reporting."""
    import ray

    from core.executor import connect

    connect("", num_cpus=2)
    yield ray
    ray.shutdown()


def overlapping(trials) -> bool:
    spans = [(t.started_at, t.finished_at) for t in trials if t.finished_at]
    return any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1 :])


def handed_out_twice(study) -> list[tuple[int, int, float]]:
    """Pairs of trials closer than 0.001 of the unit cube that should not be: two running at
    once, or a second measurement that is not a guided repeat named as one. A finished point
    may be measured again on purpose (``REPEAT_RADIUS``); a running one never."""
    space, named = study.config.space, repeats(study.trials)
    found = []
    for i, a in enumerate(study.trials):
        for b in study.trials[i + 1 :]:
            apart = float(
                np.linalg.norm(np.subtract(space.to_unit(a.params), space.to_unit(b.params)))
            )
            if apart >= 1e-3:
                continue
            end_a, end_b = a.finished_at or float("inf"), b.finished_at or float("inf")
            at_once = a.started_at < end_b and b.started_at < end_a
            if at_once or not (b.guided and named.get(b.number) == a.number):
                found.append((a.number, b.number, apart))
    return found


def actor_pids() -> list[int]:
    """Processes of this machine whose title says they are a Ray TrialActor."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if title.startswith("ray::TrialActor"):
            found.append(int(entry.name))
    return found


def test_the_cli_runs_two_trials_at_once_on_ray_and_stops_at_the_total(ray_local, tmp_path):
    db = str(tmp_path / "studies.db")
    code = main(
        ["tune", "--dataset", "digits", "--workers", "2", "--init-points", "4", "--n-iter", "4",
         "--epochs", "1", "--db", db, "--name", "par"],
        out=open(os.devnull, "w"), err=open(os.devnull, "w"),
    )  # fmt: skip
    assert code == 0
    with Store(db) as store:
        study = store.load("par")
    assert study.config.parallel == Parallel(workers=2)
    assert [t.status for t in study.trials] == [TrialStatus.COMPLETE] * 8  # exactly the total
    assert overlapping(study.trials), [(t.started_at, t.finished_at) for t in study.trials]
    assert sum(t.guided for t in study.trials) == 4
    assert handed_out_twice(study) == []


def test_a_killed_ray_worker_fails_its_trial_which_is_retried_once(
    ray_local, tmp_path, tiny_config, wait_for, both_training
):
    store = Store(tmp_path / "studies.db")
    config = tiny_config(
        "kill", init_points=3, n_iter=0, budget=Budget(20, 8, 256), parallel=Parallel(workers=2)
    )
    runner = Registry(store, runs_dir=tmp_path).create(config)
    # both trials have trained an epoch, and have many to go: whichever actor dies, it dies
    # mid-trial
    assert wait_for(lambda: both_training(runner), 120)
    assert len(actor_pids()) == 2
    os.kill(actor_pids()[0], signal.SIGKILL)
    assert runner.join(240)
    study = store.load("kill")
    assert study.status == StudyStatus.COMPLETE
    failed = [t for t in study.trials if t.status == TrialStatus.FAILED]
    assert len(failed) == 1 and "Ray worker was lost" in failed[0].error
    retried = [
        t for t in study.trials if t.number > failed[0].number and t.params == failed[0].params
    ]
    assert len(retried) == 1 and retried[0].status == TrialStatus.COMPLETE
    assert len(study.finished_trials) == 3  # the total, the lost trial counted
    store.close()


def test_stop_cancels_both_running_trials_and_keeps_the_finished(
    ray_local, tmp_path, tiny_config, wait_for, both_training
):
    store = Store(tmp_path / "studies.db")
    config = tiny_config(
        "stop", init_points=4, n_iter=0, budget=Budget(30, 8, 256), parallel=Parallel(workers=2)
    )
    runner = Registry(store, runs_dir=tmp_path).create(config)
    assert wait_for(lambda: both_training(runner), 120)
    trained = {t.number: len(t.history) for t in runner.snapshot().running}
    asked = time.monotonic()
    runner.cancel()
    assert runner.join(30)
    assert time.monotonic() - asked < 15
    study = store.load("stop")
    assert study.status == StudyStatus.STOPPED
    assert [t.status for t in study.trials] == [TrialStatus.CANCELLED] * 2
    assert all(t.history for t in study.trials)  # the epochs they trained are kept
    # each stopped inside the epoch it was training (32 batches of 30 epochs), not at its end
    assert all(len(t.history) <= trained[t.number] + 1 for t in study.trials), trained
    assert runner.snapshot().running == ()
    store.close()


def test_a_server_killed_with_two_trials_running_resumes_to_the_total(tmp_path, wait_for):
    db = tmp_path / "studies.db"
    cli = [sys.executable, "-m", "core"]
    proc = subprocess.Popen(
        [*cli, "tune", "--dataset", "digits", "--workers", "2", "--init-points", "2",
         "--n-iter", "0", "--epochs", "30", "--max-train-samples", "256", "--db", str(db),
         "--name", "crash"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip

    def two_running() -> bool:
        if not db.exists():
            return False
        with Store(db) as store:
            try:
                trials = store.load("crash").trials
            except KeyError:
                return False
        return sum(1 for t in trials if t.status == TrialStatus.RUNNING and t.history) == 2

    try:
        assert wait_for(two_running, 180)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and the Ray it started, no clean-up
        proc.wait(30)
    done = subprocess.run(
        [*cli, "resume", "crash", "--db", str(db)], cwd=ROOT, capture_output=True, text=True,
        timeout=400,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with Store(db) as store:
        study = store.load("crash")
    assert study.status == StudyStatus.COMPLETE
    cancelled = [t for t in study.trials if t.status == TrialStatus.CANCELLED]
    assert len(cancelled) == 2 and len(study.finished_trials) == 2  # both trained again


def test_an_unreachable_cluster_is_a_clear_error_and_stores_nothing(tmp_path):
    db = tmp_path / "studies.db"
    done = subprocess.run(
        [sys.executable, "-m", "core", "tune", "--dataset", "digits", "--workers", "2",
         "--ray-address", "127.0.0.1:9", "--db", str(db), "--name", "nowhere"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "could not reach the Ray cluster at '127.0.0.1:9'" in done.stderr
    assert "Traceback" not in done.stderr
    with Store(db) as store:
        assert store.names() == []
