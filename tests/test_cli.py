import io
import json
import os
import re

import pytest

from core.cli import main


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(*argv, terminal=False):
    out, err = io.StringIO(), (Terminal() if terminal else io.StringIO())
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_on_a_terminal_progress_is_one_bar_redrawn_in_place(tmp_path):
    db = str(tmp_path / "s.db")
    code, _, err = run(
        "tune", "--dataset", "digits", "--init-points", "2", "--n-iter", "0", "--epochs", "2",
        "--db", db, "--name", "bar", terminal=True,
    )  # fmt: skip
    assert code == 0, err
    assert "\r" in err and re.search(r"complete 100%\|#+\| 2/2 ", err)
    assert re.search(r"epoch [012]/2, eta ", err) and "best 0." in err


def test_tune_on_digits_end_to_end_writes_best_params(tmp_path):
    db = str(tmp_path / "s.db")
    best = tmp_path / "not" / "yet" / "best.json"  # its folder is made, as runs/ is
    code, out, err = run(
        "tune",
        "--dataset",
        "digits",
        "--init-points",
        "3",
        "--n-iter",
        "3",
        "--epochs",
        "1",
        "--export",
        str(best),
        "--db",
        db,
        "--name",
        "cli",
    )
    assert code == 0, err
    # not a terminal: one line per trial, each said once, nothing redrawn in place
    lines = [line for line in err.splitlines() if line.startswith("trial ")]
    assert [line.split(":")[0] for line in lines] == [
        f"trial {k}/6 (#{k}) complete" for k in range(1, 7)
    ]
    assert "\r" not in err and "best 0." in lines[-1]
    assert all(" after 1 epoch (eta " in line for line in lines)  # not the next trial's epoch
    assert "<- recommended" in out and "recommended: trial" in out and " ± " in out
    data = json.loads(best.read_text())
    assert set(data["params"]) == {"dropout2_rate", "lr"}
    assert 0 < data["val_accuracy"] <= 1 and data["trials"] == 6

    code, out, _ = run("list", "--db", db)
    assert code == 0 and "cli" in out and "complete" in out and "6/6" in out

    code, out, _ = run("export", "cli", "--format", "csv", "--db", db)
    assert code == 0 and len(out.strip().splitlines()) == 7

    code, out, _ = run("export", "cli", "--format", "json", "--db", db)
    assert json.loads(out) == data

    replay = tmp_path / "replay.html"
    code, _, err = run("export", "cli", "--format", "replay", "--db", db, "-o", str(replay))
    assert code == 0, err
    page = replay.read_text()
    assert '"name":"6"' in page and '"name":"7"' not in page  # a frame per trial
    assert "cli: GP mean (predicted accuracy), replayed trial by trial" in page

    code, out, _ = run("resume", "cli", "--db", db)
    assert code == 0 and "already complete" in out


def test_final_test_reports_test_accuracy(tmp_path):
    code, out, err = run(
        "tune",
        "--dataset",
        "digits",
        "--init-points",
        "1",
        "--n-iter",
        "0",
        "--epochs",
        "1",
        "--db",
        str(tmp_path / "s.db"),
        "--final-test",
    )
    assert code == 0, err
    assert "test accuracy" in out and "model.keras" in out


def test_bad_input_is_a_message_not_a_traceback_and_starts_nothing(tmp_path):
    db = str(tmp_path / "s.db")
    cases = [
        (["--lr", "1e-2", "1e-4"], "lr: low (0.01) must be smaller than high"),
        (["--dropout", "0.1", "1.0"], "dropout rate must lie in [0, 1)"),
        (["--lr", "0", "1e-2"], "log-scale parameter needs low > 0"),
        (["--init-points", "0", "--n-iter", "0"], "at least 1 trial"),
        (["--epochs", "0"], "epochs must be an integer >= 1"),
        (["--batch-size", "5000"], "batch_size (5000) is larger than the training data"),
        (["--dataset", "nope"], "unknown: expected one of"),
        (["--name", "a/b"], "study name"),
    ]
    for extra, message in cases:
        code, out, err = run("tune", "--dataset", "digits", "--db", db, *extra)
        assert code == 2, (extra, err)
        assert message in err and "Traceback" not in err
    code, out, _ = run("list", "--db", db)
    assert "no studies" in out


def test_unknown_study_is_named(tmp_path):
    code, _, err = run("export", "ghost", "--db", str(tmp_path / "s.db"))
    assert code == 2 and "no study named 'ghost'" in err


def test_help_says_how_long_the_defaults_take(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["tune", "--help"])
    assert "minutes" in capsys.readouterr().out


def test_noise_option_fixes_alpha_or_refuses_bad_values(tmp_path, capsys):
    import pytest

    from core.store import Store

    db = str(tmp_path / "s.db")
    with pytest.raises(SystemExit) as exit_info:
        main(["tune", "--dataset", "digits", "--noise", "-1", "--db", db])
    assert exit_info.value.code == 2
    assert "expected 'fitted' or a number >= 0, got '-1'" in capsys.readouterr().err
    assert Store(db).list() == []

    args = ["--dataset", "digits", "--init-points", "1", "--n-iter", "0", "--epochs", "1"]
    code, _, err = run("tune", *args, "--noise", "0.05", "--name", "fixed", "--db", db)
    assert code == 0, err
    code, _, err = run("tune", *args, "--name", "fitted", "--db", db)
    assert code == 0, err
    store = Store(db)
    assert store.load("fixed").config.search.noise == 0.05
    assert store.load("fitted").config.search.noise is None


def test_bad_pruner_settings_are_a_message_and_store_nothing(tmp_path):
    db = tmp_path / "s.db"
    code, _, err = run(
        "tune", "--dataset", "digits", "--pruner", "asha", "--asha-reduction-factor", "1",
        "--db", str(db),
    )  # fmt: skip
    assert code == 2 and "reduction_factor must be an integer >= 2, got 1" in err
    assert "Traceback" not in err
    from core.store import Store

    assert Store(db).names() == []


def test_workers_auto_is_one_trial_per_core_and_bad_counts_are_named(tmp_path, capsys):
    from core.executor import auto_workers

    assert auto_workers(1, cores=2) == 2 and auto_workers(2, cores=2) == 1
    assert auto_workers(4, cores=2) == 1
    db = tmp_path / "s.db"
    with pytest.raises(SystemExit) as exit_:
        main(["tune", "--dataset", "digits", "--workers", "0", "--db", str(db)])
    assert exit_.value.code == 2
    assert "expected 'auto' or an integer >= 1, got '0'" in capsys.readouterr().err
    assert not db.exists()


def test_an_export_path_that_cannot_be_written_is_refused_before_anything_trains(tmp_path):
    db = tmp_path / "s.db"
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for export, why in ((blocker / "best.json", "cannot make its folder"),
                        (tmp_path, "is a folder")):  # fmt: skip
        code, _, err = run("tune", "--dataset", "digits", "--epochs", "1", "--export",
                           str(export), "--db", str(db), "--name", "never")  # fmt: skip
        assert code == 2 and why in err and "Traceback" not in err
    from core.store import Store

    with Store(db) as store:
        assert store.names() == []  # nothing stored, nothing trained


def test_a_trials_error_is_stored_without_terminal_escape_codes():
    from core.trainer import plain

    assert plain("ValueError: \x1b[1mboom\x1b[0m") == "ValueError: boom"
    assert plain("no escapes here") == "no escapes here"


def test_tell_enqueue_and_warm_start_from_the_command_line(tmp_path):
    db = str(tmp_path / "s.db")
    tiny = ("--dataset", "digits", "--epochs", "1", "--pruner", "none", "--db", db)
    code, _, err = run("tune", *tiny, "--name", "first", "--init-points", "2", "--n-iter", "0")
    assert code == 0, err
    point = ("--param", "dropout2_rate=0.3", "--param", "lr=0.003")
    code, out, err = run("tell", "first", *point, "--value", "0.9", "--db", db)
    assert code == 0, err
    assert (
        out == "first: stored as trial 3, added by you: the GP is told it (it counts no budget)\n"
    )
    code, out, err = run("tell", "first", "--param", "lr=0.003", "--value", "0.9", "--db", db)
    assert code == 2 and "error: missing parameter 'dropout2_rate'" in err
    code, out, err = run("enqueue", "first", *point, "--db", db)
    assert code == 2 and "has no trial left to train this point" in err
    code, out, err = run("enqueue", "first", "--param", "lr=fast", "--db", db)
    assert code == 2 and "error: lr: its value must be a number, got 'fast'" in err

    code, out, err = run(
        "tune", *tiny, "--name", "second", "--init-points", "1", "--n-iter", "1",
        "--warm-start", "first",
    )  # fmt: skip
    assert code == 0, err
    assert "study second starts from 3 trials of 'first'" in err
    assert [line.split()[1] for line in out.splitlines() if re.match(r"\s+\d+  ", line)] == [
        "inherited", "inherited", "inherited", "guided", "guided"
    ]  # fmt: skip
    code, out, _ = run("list", "--db", db)
    assert re.search(r"second\s+complete\s+2/2 ", out)  # inherited trials count no budget
    code, _, err = run("tune", *tiny, "--name", "third", "--warm-start", "nowhere")
    assert code == 2 and "warm start: no study named 'nowhere'" in err

    code, out, _ = run("note", "second", "started from first", "--db", db)
    assert (code, out) == (0, "second: note set\n")
    code, out, _ = run("export", "second", "--db", db)
    assert json.loads(out)["note"] == "started from first"
    code, _, err = run("note", "ghost", "x", "--db", db)
    assert code == 2 and "no study named 'ghost'" in err


def test_tensorflows_start_up_lines_never_reach_the_terminal(tmp_path):
    """Neither the command nor the child process its study trains in prints TensorFlow's
    C++ start-up lines (a replaced child: test_worker's recycling test)."""
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-m", "core", "tune", "--dataset", "digits", "--db",
         str(tmp_path / "s.db"), "--init-points", "1", "--n-iter", "0", "--epochs", "1",
         "--max-train-samples", "64", "--pruner", "none", "--name", "quiet"],
        cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "trial 1/1 (#1) " in proc.stderr
    for line in ("absl::InitializeLog", "cudart_stub", "cpu_feature_guard", "cuInit"):
        assert line not in proc.stderr + proc.stdout


def test_the_data_split_stays_put_whatever_the_studys_seed(tmp_path):
    """Two studies with different seeds are scored on one split, the data seed's; another
    split only when asked for, and the export and the list say which."""
    db = str(tmp_path / "s.db")
    tiny = ("--dataset", "digits", "--init-points", "1", "--n-iter", "0", "--epochs", "1",
            "--db", db)  # fmt: skip
    splits = {}
    for name, extra in (("one", ["--seed", "1"]), ("two", ["--seed", "2"]),
                        ("other", ["--seed", "2", "--data-seed", "3"])):  # fmt: skip
        code, out, err = run("tune", *tiny, "--name", name, *extra)
        assert code == 0, err
        splits[name] = re.search(r"10 classes, split (\d+)", err).group(1)
    assert splits == {"one": "1", "two": "1", "other": "3"}
    code, out, _ = run("export", "other", "--format", "json", "--db", db)
    assert json.loads(out)["data_seed"] == 3 and json.loads(out)["seed"] == 2
    code, out, _ = run("list", "--db", db)
    assert "digits (split 3)" in out and "digits (split 1)" in out
