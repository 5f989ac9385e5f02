import os
import time

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# One BLAS thread per process, set before numpy loads OpenBLAS, for this process and every
# one it starts: the suite runs two processes on two cores, and on the GP's small matrices
# a second BLAS thread only spins, taking its core from the other process (the Branin test
# alone: 13 s of CPU with one thread, 28 s with two, in the same time)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def digits():
    from core.data import load_dataset

    return load_dataset("digits", seed=1)


@pytest.fixture
def store(tmp_path):
    from core.store import Store

    s = Store(tmp_path / "studies.db")
    yield s
    s.close()


@pytest.fixture
def tiny_config():
    """A digits study small enough to run in seconds."""
    from core.study import StudyConfig
    from core.trainer import Budget

    def make(name="tiny", **overrides):
        values = dict(
            name=name,
            dataset="digits",
            init_points=2,
            n_iter=2,
            budget=Budget(epochs=1, batch_size=64),
            seed=1,
        )
        values.update(overrides)
        return StudyConfig(**values)

    return make


def wait_until(predicate, timeout=60.0):
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def wait_for():
    return wait_until


def two_training(runner) -> bool:
    """Two trials of ``runner`` are running and each has trained an epoch."""
    running = runner.snapshot().running
    return len(running) == 2 and all(t.history for t in running)


@pytest.fixture
def both_training():
    return two_training
