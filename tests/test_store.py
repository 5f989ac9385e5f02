import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import steer
from core.cli import main
from core.store import Store, StudyNotFound

ROOT = Path(__file__).resolve().parents[1]


def test_a_study_and_its_trials_round_trip(store, tiny_config):
    config = tiny_config()
    store.create_study(config)
    store.start_trial("tiny", 1, {"dropout2_rate": 0.2, "lr": 1e-3}, guided=False)
    store.add_epoch("tiny", 1, [{"epoch": 1, "val_accuracy": 0.5}])
    store.finish_trial(
        "tiny",
        1,
        status="complete",
        value=0.5,
        history=[{"epoch": 1, "val_accuracy": 0.5}],
        error=None,
        seconds=1.5,
    )
    study = store.load("tiny")
    assert study.config == config
    (trial,) = study.trials
    assert trial.params == {"dropout2_rate": 0.2, "lr": 1e-3}
    assert trial.value == 0.5 and trial.seconds == 1.5 and trial.history[0]["epoch"] == 1


def test_names_are_unique_and_unknown_names_are_reported(store, tiny_config):
    store.create_study(tiny_config())
    with pytest.raises(ValueError, match="already exists"):
        store.create_study(tiny_config())
    with pytest.raises(StudyNotFound, match="no study named 'nope'"):
        store.load("nope")


def test_the_database_is_in_wal_mode(store):
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_studies_survive_reopening(tmp_path, tiny_config):
    first = Store(tmp_path / "s.db")
    first.create_study(tiny_config("a"))
    first.create_study(tiny_config("b"))
    first.close()
    again = Store(tmp_path / "s.db")
    assert again.names() == ["a", "b"]
    again.close()


def test_sql_is_parameterized_so_odd_names_are_just_data(store, tiny_config):
    """Every call that takes a person's text (a study name, a note, a point, an error)
    with SQL in it: nothing is injected, each is stored or refused as plain data."""
    store.create_study(tiny_config("real"))
    hostile = "x'); DROP TABLE trials; --' OR '1'='1"
    with pytest.raises(StudyNotFound):
        store.load(hostile)
    with pytest.raises(StudyNotFound):
        store.set_note(hostile, "a note")
    with pytest.raises(StudyNotFound):
        store.enqueue(hostile, {"lr": 1e-3})
    assert store.queued(hostile) == []
    store.set_status(hostile, "stopped")  # no such study: nothing to change
    store.set_final(hostile, {"test_accuracy": 1.0})
    store.set_val_samples(hostile, 1)
    assert store.release_running_trials(hostile) == 0
    store.start_trial(hostile, 1, {"lr": 1e-3}, guided=False)  # inserts nothing
    # the same text as data of the real study, read back as it was written
    store.set_note("real", hostile)
    store.enqueue("real", {hostile: hostile})
    store.start_trial("real", 1, {"lr": 1e-3, "note": hostile}, guided=False, origin="search")
    store.add_epoch("real", 1, [{"val_accuracy": 0.5}])
    store.finish_trial("real", 1, status="failed", value=None, history=[], error=hostile,
                       seconds=1.0)  # fmt: skip
    study = store.load("real")
    assert study.note == hostile and study.trials[0].error == hostile
    assert study.trials[0].params["note"] == hostile
    assert store.queued("real")[0].params == {hostile: hostile}
    assert store.names() == ["real"] and len(study.trials) == 1


def finished_trials(db):
    try:
        with sqlite3.connect(db) as conn:
            done = conn.execute("SELECT COUNT(*) FROM trials WHERE status = 'complete'").fetchone()[
                0
            ]
            running = conn.execute(
                "SELECT COUNT(*) FROM trials WHERE status = 'running'"
            ).fetchone()[0]
        return done, running
    except sqlite3.OperationalError:
        return 0, 0


def test_a_process_killed_mid_trial_loses_only_that_trial_and_resume_finishes(tmp_path):
    db = tmp_path / "studies.db"
    cmd = [
        sys.executable,
        "-m",
        "core",
        "tune",
        "--dataset",
        "digits",
        "--init-points",
        "2",
        "--n-iter",
        "2",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--db",
        str(db),
        "--name",
        "crash",
        "--pruner",
        "none",  # every finished trial complete: what is kept is then easy to name
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            done, running = finished_trials(db)
            if done >= 2 and running == 1:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the tuner never reached its third trial")
        with Store(db) as other:  # a point to try next, queued as the command line does
            steer.try_next(other, "crash", {"dropout2_rate": 0.45, "lr": 2e-4})
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()

    store = Store(db)
    study = store.load("crash")
    assert study.display_status == "interrupted"
    assert [t.status for t in study.trials][:2] == ["complete", "complete"]
    assert study.trials[-1].status == "running"
    kept = {t.number: t.value for t in study.trials if t.status == "complete"}
    assert [q.params for q in store.queued("crash")] == [{"dropout2_rate": 0.45, "lr": 2e-4}]
    store.close()

    out_path = tmp_path / "best.json"
    assert main(["resume", "crash", "--db", str(db), "--export", str(out_path)]) == 0
    store = Store(db)
    study = store.load("crash")
    assert study.status == "complete"
    assert len(study.finished_trials) == 4
    assert {t.number: t.value for t in study.trials if t.number in kept} == kept
    assert study.trials[2].status == "cancelled" and "interrupted" in study.trials[2].error
    # the queued point outlived the kill and trained first on resume
    assert study.trials[3].label == "chosen by you" and study.trials[3].status == "complete"
    assert study.trials[3].params == {"dropout2_rate": 0.45, "lr": 2e-4}
    assert store.queued("crash") == []
    assert out_path.exists()
    store.close()


def test_the_store_imports_neither_bayes_opt_nor_scikit_learn():
    code = (
        "import sys, core.store\n"
        "heavy = [m for m in ('bayes_opt', 'sklearn', 'keras', 'streamlit') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_state_change_is_one_transaction(store, tiny_config):
    """A failure inside a state change leaves none of it behind: the trial row and the
    study's timestamp move together or not at all."""
    store.create_study(tiny_config())
    store.start_trial("tiny", 1, {"dropout2_rate": 0.2, "lr": 1e-3}, guided=False)
    before = store.load("tiny")
    with sqlite3.connect(store.path) as conn:  # fault injection: the second statement fails
        conn.execute(
            "CREATE TRIGGER fail BEFORE UPDATE OF updated_at ON studies "
            "BEGIN SELECT RAISE(ABORT, 'injected'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        store.finish_trial(
            "tiny", 1, status="complete", value=0.9, history=[], error=None, seconds=1.0
        )
    with pytest.raises(sqlite3.IntegrityError, match="injected"):
        store.start_trial("tiny", 2, {"dropout2_rate": 0.3, "lr": 1e-3}, guided=False)
    after = store.load("tiny")
    assert after.trials == before.trials  # trial 1 still running, no trial 2
    assert after.updated_at == before.updated_at


READERS = {"close", "names", "load", "list", "queued"}


def test_every_writer_of_the_store_is_one_transaction(store, tiny_config):
    """Each public method that writes runs its statements between one BEGIN and one COMMIT
    (sqlite's trace of the connection): a change is all there or not there."""
    import inspect

    from core.steer import told_trial

    writers = {
        "create_study": lambda: store.create_study(tiny_config()),
        "set_status": lambda: store.set_status("tiny", "running", owner_pid=1),
        "start_trial": lambda: store.start_trial(
            "tiny", 1, {"dropout2_rate": 0.2, "lr": 1e-3}, guided=False
        ),  # fmt: skip
        "add_epoch": lambda: store.add_epoch("tiny", 1, [{"val_accuracy": 0.5}]),
        "finish_trial": lambda: store.finish_trial(
            "tiny",
            1,
            status="complete",
            value=0.9,
            history=[{"val_accuracy": 0.9}],
            error=None,
            seconds=1.0,
            regret_bound=0.01,
            noise_std=0.005,
        ),  # fmt: skip
        "set_val_samples": lambda: store.set_val_samples("tiny", 400),
        "set_final": lambda: store.set_final("tiny", {"test_accuracy": 0.9}),
        "release_running_trials": lambda: store.release_running_trials("tiny"),
        "add_results": lambda: store.add_results(
            "tiny", [told_trial(2, {"dropout2_rate": 0.3, "lr": 1e-3}, 0.8)]
        ),  # fmt: skip
        "enqueue": lambda: store.enqueue("tiny", {"dropout2_rate": 0.4, "lr": 1e-3}),
        "set_note": lambda: store.set_note("tiny", "a note"),
    }
    public = {n for n, _ in inspect.getmembers(Store, inspect.isfunction) if not n.startswith("_")}
    assert public - READERS == set(writers), "a writer this test does not cover"
    for name, write in writers.items():
        trace: list[str] = []
        store._conn.set_trace_callback(trace.append)
        try:
            write()
        finally:
            store._conn.set_trace_callback(None)
        kinds = [t.split()[0].upper() for t in trace]
        changes = [i for i, k in enumerate(kinds) if k in ("INSERT", "UPDATE", "DELETE")]
        assert changes, (name, trace)
        assert kinds.count("BEGIN") == 1 and kinds.count("COMMIT") == 1, (name, trace)
        assert kinds.index("BEGIN") < changes[0] and changes[-1] < kinds.index("COMMIT"), trace
    trial = store.load("tiny").trials[0]
    assert (trial.value, trial.regret_bound, trial.noise_std) == (0.9, 0.01, 0.005)


def test_a_database_from_before_the_convergence_columns_opens_and_keeps_its_trials(
    tmp_path, tiny_config
):
    import json

    from core.store import SCHEMA

    path = tmp_path / "old.db"
    old_schema = SCHEMA.replace("    regret_bound REAL,\n    noise_std REAL,\n", "")
    assert "regret_bound" not in old_schema
    old_config = tiny_config("old").to_dict()
    del old_config["pruning"], old_config["stop_when_converged"]  # newer settings
    with sqlite3.connect(path) as conn:
        conn.executescript(old_schema)
        conn.execute(
            "INSERT INTO studies (name, config, status, created_at, updated_at) "
            "VALUES ('old', ?, 'complete', 0, 0)",
            (json.dumps(old_config),),
        )
        conn.execute(
            "INSERT INTO trials (study_id, number, params, status, value) "
            "VALUES (1, 1, '{\"dropout2_rate\": 0.2, \"lr\": 0.001}', 'complete', 0.9)"
        )
    store = Store(path)
    old = store.load("old")
    assert old.config.pruning.kind == "none" and not old.config.stop_when_converged
    (trial,) = old.trials
    assert trial.value == 0.9 and trial.regret_bound is None
    store.finish_trial("old", 1, status="complete", value=0.9, history=[], error=None,
                       seconds=1.0, regret_bound=0.02, noise_std=0.01)  # fmt: skip
    assert store.load("old").trials[0].regret_bound == 0.02
    store.close()


def test_a_pruned_trial_is_stored_and_told_to_a_resumed_optimizer_with_its_last_accuracy(
    store, tiny_config
):
    from core.replay import told_strategy
    from core.status import TrialStatus

    store.create_study(tiny_config())
    curve = [{"epoch": 1, "val_accuracy": 0.61}, {"epoch": 2, "val_accuracy": 0.64}]
    for number, status, value in ((1, "complete", 0.9), (2, "pruned", 0.64), (3, "failed", None)):
        store.start_trial("tiny", number, {"dropout2_rate": 0.1 * number, "lr": 1e-3}, False)
        store.finish_trial("tiny", number, status=status, value=value, history=curve,
                           error=None, seconds=1.0)  # fmt: skip
    study = Store(store.path).load("tiny")  # as a resumed process reads it
    assert [t.status for t in study.trials] == [
        TrialStatus.COMPLETE, TrialStatus.PRUNED, TrialStatus.FAILED
    ]  # fmt: skip
    assert study.trials[1].history == tuple(curve) and len(study.finished_trials) == 3
    assert study.best_trial.number == 1
    told = [o.value for o in told_strategy(study).observations]
    assert told == [0.9, 0.64, None]  # pruned: its last accuracy; failed: a failure


def test_a_study_stored_before_the_data_seed_keeps_the_split_it_ran_on(store, tiny_config):
    """A configuration written before studies had a data seed drew its split from its own
    seed: it opens with that split, and a new study gets the fixed default."""
    import json as _json

    old = tiny_config("old", seed=7).to_dict()
    del old["data_seed"]
    with store._tx() as conn:
        conn.execute(
            "INSERT INTO studies (name, config, status, created_at, updated_at) "
            "VALUES (?, ?, 'stopped', 0, 0)",
            ("old", _json.dumps(old)),
        )
    assert store.load("old").config.data_seed == 7
    new = tiny_config("new", seed=7)
    assert new.data_seed == 1 and not new.same_split(store.load("old").config)
    assert new.same_split(tiny_config("again", seed=9))


def test_a_database_written_by_the_previous_schema_opens_lists_and_resumes(tmp_path):
    """tests/fixtures/previous-schema.db was written before trials recorded their metrics
    and studies their objective and search settings as one (tests/fixtures/README.md). A
    copy opens, lists and resumes to its total from the command line, and its stored trials
    read as they were written."""
    import io
    import shutil
    from pathlib import Path

    from core.cli import main

    db = tmp_path / "studies.db"
    shutil.copy(Path(__file__).parent / "fixtures" / "previous-schema.db", db)
    with Store(db) as store:
        before = store.load("before-metrics")
    assert before.config.search == {"acquisition": "ei", "kappa": 2.576, "xi": 0.0,
                                    "noise": None, "length_scale": None}  # fmt: skip
    assert before.config.objective.metric == "val_accuracy"
    assert before.config.objective.direction == "maximize"
    assert [t.status for t in before.trials] == [*["complete"] * 4, "cancelled", "complete"]
    for t in before.trials:  # a stored value reads as the validation accuracy it was
        assert t.metrics == ({} if t.value is None else {"val_accuracy": t.value})
    out = io.StringIO()
    assert main(["list", "--db", str(db)], out=out) == 0
    assert "before-metrics" in out.getvalue() and "4/6" in out.getvalue()
    err = io.StringIO()
    assert main(["resume", "before-metrics", "--db", str(db)], out=io.StringIO(), err=err) == 0
    with Store(db) as store:
        after = store.load("before-metrics")
        assert store.queued("before-metrics") == []  # the queued point trained
    assert after.status == "complete" and len(after.counted_trials) == 6
    assert after.trials[: len(before.trials)] == before.trials  # nothing written is lost
    new = after.trials[len(before.trials) :]
    assert new[0].origin == "chosen" and new[0].params == {"dropout2_rate": 0.3, "lr": 0.003}
    for t in new:
        assert t.metrics["val_accuracy"] == t.value and t.metrics["train_seconds"] > 0
        assert t.metrics["params"] > 1000  # the seed's CNN on 8x8 digits
