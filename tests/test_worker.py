import os
import signal
from dataclasses import replace

from core.status import TrialStatus
from core.trainer import Budget
from core.worker import LocalTrainer, ProcessTrainer, make_trainer

PARAMS = {"dropout2_rate": 0.2, "lr": 3e-3}


def test_both_trainers_train_exactly_the_dataset_they_were_handed(digits, tmp_path):
    """The data that was validated is the data that trains: never reloaded by name. The
    handed data keeps the name "digits", but 300 training images only, and every label
    turned round (digit c labelled 9 - c): trained on it, a network scores these labels;
    trained on digits reloaded by name, it would score near 0 on them, since no digit keeps
    its label, and its epochs would see 1,295 images."""

    def turned(y):
        return (9 - y).astype(y.dtype)

    handed = replace(
        digits,
        x_train=digits.x_train[:300],
        y_train=turned(digits.y_train[:300]),
        y_val=turned(digits.y_val),
        y_test=turned(digits.y_test),
    )
    for isolate, cls in ((False, LocalTrainer), (True, ProcessTrainer)):
        trainer = make_trainer(handed, isolate=isolate)
        try:
            assert isinstance(trainer, cls)
            assert trainer.info.n_train == 300
            assert "300 train" in trainer.info.summary
            outcome = trainer.trial(
                PARAMS, Budget(3, 32), seed=1, on_epoch=lambda m: None, should_stop=lambda: False
            )
            assert outcome.status == "complete"
            assert outcome.value > 0.5, outcome.value  # the turned labels were learnt
            for epoch in outcome.history:  # every epoch saw the 300 handed images
                assert round(epoch.samples_per_second * epoch.seconds) == 300
            final = trainer.final(PARAMS, Budget(3, 32), seed=1, path=tmp_path / f"{isolate}.keras",
                                  should_stop=lambda: False)  # fmt: skip
            assert final["test_accuracy"] > 0.5, final  # on the handed test split's labels
        finally:
            trainer.close()


def test_a_training_process_killed_mid_trial_fails_that_trial_and_the_next_one_trains(digits):
    trainer = ProcessTrainer(digits)
    try:
        first_pid = trainer.pid

        def kill_after_first_epoch(metrics):
            if metrics.epoch == 1:
                os.kill(first_pid, signal.SIGKILL)

        outcome = trainer.trial(
            PARAMS,
            Budget(30, 16),
            seed=1,
            on_epoch=kill_after_first_epoch,
            should_stop=lambda: False,
        )
        assert outcome.status == "failed"
        assert "the training process ended" in outcome.error and "-9" in outcome.error
        assert len(outcome.history) >= 1  # the epochs it reported are kept

        again = trainer.trial(
            PARAMS, Budget(1, 64), seed=2, on_epoch=lambda m: None, should_stop=lambda: False
        )
        assert again.status == "complete" and trainer.pid != first_pid
    finally:
        trainer.close()


def test_a_save_that_fails_midway_leaves_no_model_file(digits, tmp_path, monkeypatch):
    import keras
    import pytest

    def broken_save(self, filepath, *args, **kwargs):  # fault injection: disk full mid-write
        with open(filepath, "wb") as fh:
            fh.write(b"PK\x03\x04 half a model")
        raise OSError("injected: no space left on device")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    trainer = LocalTrainer(digits)
    path = tmp_path / "study" / "model.keras"
    with pytest.raises(OSError, match="no space left"):
        trainer.final(PARAMS, Budget(1, 64), seed=1, path=path, should_stop=lambda: False)
    assert list(path.parent.iterdir()) == []  # neither model.keras nor a partial file


SERVER = """
import sys, time
import numpy as np
from core.data import Dataset
from core.status import TrialStatus
from core.trainer import Budget
from core.worker import ProcessTrainer

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    n = 30000  # one epoch of this takes far longer than the test waits
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n)
    ds = Dataset("big", x, y, x[:200], y[:200], x[:200], y[:200], 10, "synthetic")
    trainer = ProcessTrainer(ds, recycle_after=1)
    first = trainer.pid
    trainer.trial({"dropout2_rate": 0.2, "lr": 3e-3}, Budget(1, 64, 64), seed=1,
                  on_epoch=lambda m: None, should_stop=lambda: False)
    told = []

    def tell_pids():  # once the long trial runs, in the process that replaced the first
        if not told:
            told.append(print(first, trainer.pid, flush=True))
        return False

    trainer.trial({"dropout2_rate": 0.2, "lr": 3e-3}, Budget(1, 16), seed=1,
                  on_epoch=lambda m: print("epoch", flush=True), should_stop=tell_pids)
    print("trained a whole epoch before the kill", flush=True)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped has ended)."""
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(
                    open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]
                )
            except (FileNotFoundError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return {p for p in found if alive(p)}


def test_a_server_killed_mid_trial_leaves_no_training_process_behind(tmp_path):
    """SIGKILL the process that owns a trainer while it trains a long epoch in a replaced
    training process: every process it started (the training process, the fork server it
    forked from) ends within seconds, not at the end of the epoch (``_watch_parent``).
    Neither the first training process nor its replacement printed TensorFlow's C++
    start-up lines, with nothing in the environment to silence them."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "server.py"
    script.write_text(SERVER)
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    server = subprocess.Popen(
        [sys.executable, str(script)], cwd=root, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**env, "PYTHONPATH": str(root)},
    )  # fmt: skip
    left = set()
    try:
        first, trainer_pid = map(int, server.stdout.readline().split())
        assert first != trainer_pid  # the long trial runs in the replacement
        time.sleep(3)  # the trial is under way
        left = descendants(server.pid)
        assert trainer_pid in left and server.poll() is None
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        deadline = time.time() + 5
        while any(alive(p) for p in left) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(trainer_pid), "the training process outlived the killed server"
        assert [p for p in left if alive(p)] == [], "a process outlived the killed server"
    finally:
        if server.poll() is None:
            server.kill()
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)  # no orphan left by a failing run either
        out, printed = server.communicate(timeout=10)
    assert "trained a whole epoch" not in out
    for line in ("absl::InitializeLog", "cudart_stub", "cpu_feature_guard", "cuInit"):
        assert line not in printed


def test_each_trials_model_is_released_and_the_training_process_is_replaced_in_time(
    digits,
):
    """The model of a finished trial is garbage (no keras.Model left alive), and what
    TensorFlow keeps of it goes with the training process, replaced every
    ``recycle_after`` trials; bench/soak.py measures the memory over 200 trials."""
    import gc

    import keras

    local = LocalTrainer(digits)
    for seed in (1, 2):
        local.trial(PARAMS, Budget(1, 64), seed=seed, on_epoch=lambda m: None,
                    should_stop=lambda: False)  # fmt: skip
        gc.collect()
        assert [o for o in gc.get_objects() if isinstance(o, keras.Model)] == []

    trainer = ProcessTrainer(digits, recycle_after=2)
    try:
        pids = []
        for seed in (1, 2, 3):
            outcome = trainer.trial(PARAMS, Budget(1, 64), seed=seed, on_epoch=lambda m: None,
                                    should_stop=lambda: False)  # fmt: skip
            assert outcome.status == "complete" and not outcome.lost
            pids.append(trainer.pid)
        assert pids[0] == pids[1] != pids[2]
        assert not alive(pids[0])  # the first process ended, and its memory with it
    finally:
        trainer.close()


def test_a_prune_reaches_each_trainer_as_a_prune_and_the_trial_ends_pruned(digits):
    """The pruner's decision crosses to where the trial trains (this process, or a child
    process through the shared stop code) as what it is: the trial ends pruned at its last
    epoch's accuracy, never "stopped by the user"."""
    for isolate in (False, True):
        trainer = make_trainer(digits, isolate=isolate)
        epochs = []
        try:
            outcome = trainer.trial(
                PARAMS,
                Budget(6, 32),
                seed=1,
                on_epoch=epochs.append,
                should_stop=lambda seen=epochs: TrialStatus.PRUNED if seen else None,
            )
        finally:
            trainer.close()
        assert outcome.status == TrialStatus.PRUNED, (isolate, outcome.error)
        assert 1 <= len(outcome.history) < 6 and outcome.error.startswith("pruned after epoch")
        assert outcome.value == outcome.history[-1].val_accuracy
        assert "stopped by the user" not in outcome.error
