import math

import numpy as np
import pytest

from core import charts, explain
from core.optimizer import build_strategy
from core.space import default_space
from core.study import Trial


def make_trials(n=5, failed=()):
    trials = []
    strategy = build_strategy("bayes", default_space(), seed=1, init_points=3)
    for i in range(1, n + 1):
        p = strategy.ask()
        value = None if i in failed else 0.9 + 0.01 * math.sin(i)
        strategy.tell(p, value)
        trials.append(
            Trial(
                i,
                p,
                "failed" if value is None else "complete",
                value,
                guided=i > 3,
                history=(
                    {
                        "epoch": 1,
                        "accuracy": 0.8,
                        "loss": 0.5,
                        "val_accuracy": 0.85,
                        "val_loss": 0.4,
                    },
                ),
            )
        )
    return trials, strategy


def scatter(fig, name):
    return next(t for t in fig.data if t.name == name)


@pytest.mark.parametrize("surface", ["mean", "std", "acq"])
def test_surrogate_chart_has_log_lr_axis_trials_and_next_point(surface):
    trials, strategy = make_trials()
    sur = explain.surrogate(strategy, 15)
    fig = charts.surrogate_figure(sur, trials, default_space(), surface)
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.yaxis.title.text == "lr"
    heat = fig.data[0]
    assert heat.type == "heatmap" and np.asarray(heat.z).shape == (15, 15)
    np.testing.assert_allclose(np.asarray(heat.z), np.asarray(getattr(sur, surface)))
    points = scatter(fig, "trials")
    assert list(points.x) == [t.params["dropout2_rate"] for t in trials]
    assert list(points.y) == [t.params["lr"] for t in trials]
    assert "trial 1" in points.text[0] and "val accuracy" in points.text[0]
    star = scatter(fig, "next point")
    assert star.marker.symbol == "star"
    assert (star.x[0], star.y[0]) == (sur.next_point["dropout2_rate"], sur.next_point["lr"])


def test_linear_lr_gets_a_linear_axis():
    space = default_space(lr_log=False)
    fig = charts.surrogate_figure(None, [], space, "mean")
    assert fig.layout.yaxis.type == "linear"


def test_an_empty_study_still_draws_a_titled_figure():
    fig = charts.surrogate_figure(None, [], default_space(), "std")
    assert "standard deviation" in fig.layout.title.text
    assert "appears<br>after the first" in fig.layout.annotations[0].text
    assert charts.accuracy_figure([]).layout.annotations[0].text
    assert charts.learning_curves(None).layout.annotations[0].text
    assert charts.comparison_figure({}).layout.annotations[0].text


def test_failed_trials_are_crosses_on_the_surrogate():
    trials, strategy = make_trials(5, failed=(2,))
    fig = charts.surrogate_figure(explain.surrogate(strategy, 8), trials, default_space(), "mean")
    symbols = list(scatter(fig, "trials").marker.symbol)
    assert symbols[1] == "x" and symbols.count("x") == 1


def test_accuracy_chart_draws_the_best_so_far_line():
    trials, _ = make_trials(6, failed=(4,))
    fig = charts.accuracy_figure(trials)
    line = scatter(fig, "best so far")
    values = [t.value for t in trials]
    expected = [max(v for v in values[: i + 1] if v is not None) for i in range(6)]
    assert list(line.y) == expected
    assert line.line.shape == "hv"
    assert len(scatter(fig, "random").x) == 3 and len(scatter(fig, "guided").x) == 2
    assert list(scatter(fig, "failed").x) == [4]


def test_best_so_far_skips_failures_before_a_success():
    assert charts.best_so_far([None, 0.5, None, 0.4, 0.7]) == [None, 0.5, 0.5, 0.5, 0.7]


def test_learning_curves_have_train_and_validation_for_accuracy_and_loss():
    trials, _ = make_trials(1)
    fig = charts.learning_curves(trials[0], epochs=5)
    names = [t.name for t in fig.data]
    assert names == ["train accuracy", "validation accuracy", "train loss", "validation loss"]
    assert list(fig.layout.xaxis.range) == [0.5, 5.5]


def test_comparison_overlays_one_line_per_study():
    fig = charts.comparison_figure({"a": [0.5, 0.7, 0.6], "b": [0.8, None]})
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].y) == [0.5, 0.7, 0.7]


def test_sample_grid_and_class_counts():
    images = np.random.default_rng(0).random((20, 8, 8, 1))
    fig = charts.sample_grid(images, np.arange(20) % 10, n=16)
    assert len(fig.data) == 16
    bars = charts.class_counts_figure({0: 5, 1: 7})
    assert list(bars.data[0].y) == [5, 7]


def test_compute_figure_counts_every_epoch_and_takes_the_best_of_complete_trials():
    from dataclasses import replace

    trials, _ = make_trials(4)
    epoch = trials[0].history[0]
    trials[1] = replace(trials[1], history=(epoch, epoch, epoch), seconds=3.0)
    trials[2] = replace(trials[2], status="pruned", value=0.99, seconds=1.0)  # partial
    fig = charts.compute_figure(trials)
    by_epochs, by_seconds, by_wall = fig.data
    assert list(by_epochs.x) == [1, 4, 5, 6]
    assert list(by_seconds.x) == [0.0, 3.0, 4.0, 4.0]
    assert list(by_wall.x) == list(by_seconds.x)  # stored without times: one after another
    complete = [t.value for t in trials if t.status == "complete"]
    assert max(by_epochs.y) == max(complete) < 0.99  # the pruned accuracy is not a best
    assert "No trial" in charts.compute_figure([]).layout.annotations[0].text


def test_trials_in_parallel_count_in_the_order_they_finished_against_wall_clock_time():
    from dataclasses import replace

    trials, _ = make_trials(3)
    # trial 1 trains 0-10 s, trial 2 (better) 0-4 s beside it, trial 3 from 4 s to 8 s
    times = [(0.0, 10.0), (0.0, 4.0), (4.0, 8.0)]
    trials = [
        replace(t, started_at=a, finished_at=b, seconds=b - a, value=v)
        for t, (a, b), v in zip(trials, times, [0.5, 0.9, 0.7], strict=True)
    ]
    by_epochs, by_seconds, by_wall = charts.compute_figure(trials).data
    assert list(by_wall.x) == [4.0, 8.0, 10.0]  # wall clock: the two at once overlap
    assert list(by_seconds.x) == [4.0, 8.0, 18.0]  # compute: every trial's seconds add up
    assert list(by_wall.y) == [0.9, 0.9, 0.9]
    assert [t.split()[1] for t in by_wall.text] == ["2", "3", "1"]


def test_running_trials_are_marked_on_the_surrogate_and_get_one_curve_each():
    from dataclasses import replace

    trials, strategy = make_trials(3)
    running = [replace(t, status="running", number=10 + i) for i, t in enumerate(trials[:2])]
    fig = charts.surrogate_figure(
        explain.surrogate(strategy, 10), [*trials, *running], default_space()
    )
    marked = [d for d in fig.data if d.name == "running"]
    assert len(marked) == 1 and len(marked[0].x) == 2
    assert marked[0].marker.symbol == "diamond-open"
    curves = charts.running_curves(running, epochs=4)
    assert [d.name for d in curves.data] == ["trial 10", "trial 11"]
    waiting = charts.running_curves([replace(running[0], history=())])
    assert "Waiting" in waiting.layout.annotations[0].text


def test_a_pruned_trial_looks_different_in_the_accuracy_chart_and_its_curves():
    from dataclasses import replace

    trials, _ = make_trials(4)
    epoch = trials[0].history[0]
    trials[3] = replace(trials[3], status="pruned", value=0.5, history=(epoch,))
    fig = charts.accuracy_figure(trials)
    pruned = scatter(fig, "pruned (accuracy when stopped)")
    assert list(pruned.x) == [4] and list(pruned.y) == [0.5]
    assert 4 not in [x for t in fig.data if t.name in ("random", "guided") for x in t.x]
    curves = charts.learning_curves(trials[3], epochs=3)
    assert "pruned after epoch 1" in curves.layout.title.text
    assert list(curves.layout.xaxis.range) == [0.5, 3.5]  # the budget, so it looks cut short


# -- more than two parameters ----------------------------------------------------------------


def mixed_trials(n=8):
    from core.space import Param, SearchSpace

    space = SearchSpace(
        [
            Param("lr", 1e-4, 1e-2, log=True),
            Param("units", 16, 128, log=True, kind="int"),
            Param("optimizer", kind="categorical", choices=("adam", "sgd", "rmsprop")),
        ]
    )
    strategy = build_strategy("bayes", space, seed=2, init_points=5)
    trials = []
    for i in range(1, n + 1):
        p = strategy.ask()
        value = 0.8 + 0.05 * (p["optimizer"] == "adam") + 0.01 * math.log2(p["units"])
        strategy.tell(p, value)
        trials.append(Trial(i, p, "complete", value, guided=i > 5))
    return space, trials, strategy


def test_a_surrogate_over_an_int_and_a_categorical_says_where_the_slice_is():
    space, trials, strategy = mixed_trials()
    sur = explain.surrogate(strategy, 12, axes=("units", "optimizer"))
    fig = charts.surrogate_figure(sur, trials, space, "mean")
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "units"
    assert fig.layout.yaxis.type == "category"
    assert list(fig.data[0].y) == ["adam", "sgd", "rmsprop"]
    assert list(fig.data[0].x) == [16, 32, 64, 128]
    assert "a slice at lr = " in fig.layout.title.subtitle.text
    points = scatter(fig, "trials")
    assert list(points.y) == [t.params["optimizer"] for t in trials]
    flat, seed_strategy = make_trials()
    two_d = charts.surrogate_figure(explain.surrogate(seed_strategy, 10), flat, default_space())
    assert "slice" not in two_d.layout.title.subtitle.text  # two parameters: the whole map


def test_importance_chart_ranks_the_parameters_and_says_what_it_measures():
    space, _, strategy = mixed_trials(10)
    fig = charts.importance_figure(explain.importance(strategy))
    bar = fig.data[0]
    assert sorted(bar.y) == sorted(space.names)
    assert list(bar.x) == sorted(bar.x)  # the largest share drawn on top
    assert math.isclose(sum(bar.x), 1.0)
    assert "main effect" in charts.IMPORTANCE_METHOD
    assert charts.importance_figure(None).layout.annotations[0].text.startswith("Estimated")


def test_parallel_coordinates_cover_every_parameter_and_the_accuracy():
    space, trials, _ = mixed_trials()
    fig = charts.parallel_figure(trials, space)
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["lr", "units", "optimizer", "val accuracy"]
    assert list(dims[2].ticktext) == ["adam", "sgd", "rmsprop"]
    assert list(dims[2].values) == [
        space["optimizer"].choices.index(t.params["optimizer"]) for t in trials
    ]
    assert list(dims[0].values) == pytest.approx([math.log10(t.params["lr"]) for t in trials])
    assert list(dims[3].values) == [t.value for t in trials]
    assert charts.parallel_figure([], space).layout.annotations


def test_one_slice_panel_per_parameter():
    space, trials, _ = mixed_trials()
    fig = charts.slice_figure(trials, space)
    assert len(fig.data) == 3
    assert list(fig.data[1].x) == [t.params["units"] for t in trials]
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis3.type == "category"


def test_the_3d_view_has_the_mean_between_its_two_sigma_surfaces_and_the_trials():
    space, trials, strategy = mixed_trials()
    sur = explain.surrogate(strategy, 10, axes=("lr", "units"))
    fig = charts.surface3d_figure(sur, trials, space)
    upper, mean, lower = (np.asarray(t.z) for t in fig.data[:3])
    assert [t.name for t in fig.data] == ["mean + 2σ", "GP mean", "mean - 2σ", "trials"]
    np.testing.assert_allclose(mean, np.asarray(sur.mean))
    np.testing.assert_allclose(upper - mean, 2 * np.asarray(sur.std))
    assert fig.data[0].opacity < 0.5 and fig.data[1].opacity > 0.5
    assert list(fig.data[3].z) == [t.value for t in trials]
    assert list(fig.data[0].x) == pytest.approx([math.log10(v) for v in sur.x])
    assert "a slice at optimizer = " in fig.layout.title.subtitle.text
    assert charts.surface3d_figure(None, trials, space).layout.annotations


def test_a_one_parameter_study_says_a_map_needs_two_and_draws_the_rest():
    from core.space import Param, SearchSpace

    space = SearchSpace([Param("units", 8, 64, kind="int")])
    strategy = build_strategy("bayes", space, seed=1, init_points=2)
    trials = []
    for i in range(1, 5):
        p = strategy.ask()
        strategy.tell(p, 0.8 + 0.01 * i)
        trials.append(Trial(i, p, "complete", 0.8 + 0.01 * i, guided=i > 2))
    assert explain.surrogate(strategy) is None
    for surface in ("mean", "std", "acq"):
        fig = charts.surrogate_figure(None, trials, space, surface)
        assert "A map needs two parameters: this study tunes one (units)" in (
            fig.layout.annotations[0].text
        )
    assert len(charts.slice_figure(trials, space).data) >= 1
    assert len(charts.parallel_figure(trials, space).data) == 1
    charts.surface3d_figure(None, trials, space)


def _flat_surrogate(noise=0.011):
    from core.views import Surrogate

    mean = ((0.9061, 0.9063), (0.9064, 0.9066))
    std = ((0.00411, 0.00412), (0.00413, 0.00412))
    return Surrogate("dropout2_rate", "lr", (0.2, 0.4), (1e-3, 5e-3), mean, std, mean, "ei",
                     {"dropout2_rate": 0.3, "lr": 2e-3}, 2, noise=noise)  # fmt: skip


def test_a_map_flatter_than_the_noise_looks_flat_and_says_so():
    sur = _flat_surrogate()
    mean = charts.surrogate_figure(sur, [], default_space(), "mean")
    heat = mean.data[0]
    assert heat.zmax - heat.zmin == pytest.approx(0.022)  # one noise either side
    assert (heat.zmin + heat.zmax) / 2 == pytest.approx(0.90635)
    assert "the model cannot tell these apart yet" in mean.layout.title.subtitle.text
    assert "± %{customdata:.4f}" in heat.hovertemplate  # hovering says mean ± std
    std = charts.surrogate_figure(sur, [], default_space(), "std").data[0]
    assert (std.zmin, std.zmax) == (0.0, 0.011)  # 0.00411 to 0.00413 is one colour
    # a map that moves by more than the noise keeps its own range and no such note
    wide = charts.surrogate_figure(_flat_surrogate(noise=0.0001), [], default_space(), "mean")
    assert wide.data[0].zmin == pytest.approx(0.9061) and wide.data[0].zmax == pytest.approx(0.9066)
    assert "cannot tell" not in wide.layout.title.subtitle.text


def test_the_replay_and_its_html_keep_the_colour_rule():
    from core.charts import replay_figure

    trials = [Trial(1, {"dropout2_rate": 0.2, "lr": 1e-3}, "complete", 0.9061),
              Trial(2, {"dropout2_rate": 0.4, "lr": 5e-3}, "complete", 0.9066)]  # fmt: skip
    fig = replay_figure([_flat_surrogate(), _flat_surrogate()], trials, default_space())
    heat = fig.frames[0].data[0]
    assert heat.zmax - heat.zmin == pytest.approx(0.022)


def test_the_calibration_chart_marks_the_trials_its_band_missed():
    from core.views import Calibration

    check = Calibration((0, 1, 2), (0.90, 0.93, 0.80), (0.91, 0.925, 0.92), (0.01, 0.01, 0.01), 3)
    assert check.held == 2
    fig = charts.calibration_figure(check, [4, 5, 7])
    assert fig.layout.title.subtitle.text.startswith(
        "The GP's 95% band held 2 of the 3 trials it had not seen."
    )
    inside, outside = scatter(fig, "inside its band"), scatter(fig, "outside its band")
    assert list(inside.x) == [0.90, 0.93] and list(outside.x) == [0.80]
    assert list(outside.error_y.array) == [0.02]
    assert outside.text[0].startswith("trial 7: observed 0.8000")
    empty = charts.calibration_figure(None)
    assert "once two trials" in empty.layout.annotations[0].text
