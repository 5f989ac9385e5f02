import math

import pytest

from core.eta import assumed_rate, format_duration, measured_rate, seconds_left
from core.trainer import Budget


def epochs(*rates):
    return [{"epoch": i + 1, "samples_per_second": r} for i, r in enumerate(rates)]


def test_measured_rate_is_the_median_skipping_each_trials_tracing_epoch():
    # the first epoch of a multi-epoch trial includes graph tracing: left out
    assert measured_rate([epochs(10.0, 100.0, 300.0), epochs(20.0, 200.0)]) == 200.0
    assert measured_rate([epochs(50.0)]) == 50.0  # a one-epoch trial is all there is
    assert measured_rate([epochs(math.nan, 0.0), epochs()]) is None
    assert measured_rate([]) is None


def test_an_assumed_rate_scales_with_the_pixel_count():
    assert assumed_rate((14, 14, 1)) == pytest.approx(4 * assumed_rate((28, 28, 1)))


def test_seconds_left_counts_epochs_left_and_the_final_retrain():
    budget = Budget(epochs=2, batch_size=10, max_train_samples=100)
    # 3 trials x 2 epochs x 100 samples at 50 samples/s
    assert seconds_left(budget, 500, 50, 50.0, trials=3) == pytest.approx(12.0)
    # one epoch of the running trial done
    assert seconds_left(budget, 500, 50, 50.0, trials=3, epochs_done=1) == pytest.approx(10.0)
    # the retrain: 2 epochs of train+validation, capped at 100 samples
    assert seconds_left(budget, 500, 50, 50.0, trials=0, final=True) == pytest.approx(4.0)
    assert seconds_left(Budget(1, 10), 60, 40, 10.0, trials=1, final=True) == pytest.approx(16.0)


def test_durations_read_as_clock_time():
    assert format_duration(None) == "—"
    assert format_duration(59.6) == "1:00"
    assert format_duration(3723) == "1:02:03"


def test_a_running_study_has_an_eta_that_ends_at_zero(
    store, tiny_config, digits, tmp_path, wait_for
):
    from core.runner import Registry

    config = tiny_config(init_points=3, n_iter=0, budget=Budget(2, 32))
    runner = Registry(store, runs_dir=tmp_path).create(config, dataset=digits)
    seen = []
    assert wait_for(lambda: seen.append(runner.snapshot().eta) or not runner.alive, timeout=120)
    known = [e for e in seen if e is not None]
    assert known and max(known) > 0  # measured once the first epoch reported its rate
    assert runner.snapshot().eta == 0.0


def test_parallel_workers_share_the_trials_left_but_not_the_final_retrain():
    from core.eta import estimate_seconds, seconds_left
    from core.trainer import Budget

    budget = Budget(4, 50)
    one = seconds_left(budget, 1000, 100, 500.0, trials=6)
    assert seconds_left(budget, 1000, 100, 500.0, trials=6, workers=2) == pytest.approx(one / 2)
    # two trials running, one epoch into each: eight epochs of the 24 are done
    done = seconds_left(budget, 1000, 100, 500.0, trials=6, epochs_done=2, workers=2)
    assert done == pytest.approx(estimate_seconds(22, 1000, 500.0) / 2)
    # more workers than trials left: the last trial takes its own time
    assert seconds_left(budget, 1000, 100, 500.0, trials=1, workers=4) == pytest.approx(
        seconds_left(budget, 1000, 100, 500.0, trials=1)
    )
    final = seconds_left(budget, 1000, 100, 500.0, trials=0, final=True, workers=4)
    assert final == pytest.approx(estimate_seconds(4, 1100, 500.0))
