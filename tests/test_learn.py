import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import learn
from core.gp import kernel_parts
from core.learn import BENCHMARKS, Comparison, Playground, compare, run_method

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_each_benchmarks_stated_optimum_is_its_maximum(name):
    bench = BENCHMARKS[name]
    rng = np.random.default_rng(0)
    values = [bench.f(bench.space.from_unit(rng.random(bench.space.dim))) for _ in range(3000)]
    assert max(values) <= bench.optimum + 1e-6
    assert bench.optimum - max(values) < 0.5 * (bench.optimum - np.median(values))


def test_known_optima_are_reached_at_their_arguments():
    assert learn._branin({"x1": math.pi, "x2": 2.275}) == pytest.approx(-0.397887, abs=1e-5)
    assert learn._camel({"x": 0.0898, "y": -0.7126}) == pytest.approx(1.031628, abs=1e-4)
    best = {"x1": 0.114614, "x2": 0.555649, "x3": 0.852547}
    assert learn._hartmann3(best) == pytest.approx(3.86278, abs=1e-4)
    table = json.loads(learn.CNN_TABLE.read_text())
    best = np.unravel_index(np.argmax(table["accuracy"]), (12, 12))
    at_best = {"dropout2_rate": table["dropout2_rate"][best[0]],
               "lr": 10 ** table["log10_lr"][best[1]]}  # fmt: skip
    assert learn.cnn_surface(at_best) == pytest.approx(BENCHMARKS["cnn surface"].optimum)
    assert 0.94 < BENCHMARKS["cnn surface"].optimum < 0.97  # the real CNN, not a made-up peak


def test_regret_is_never_negative_and_never_rises():
    regret = run_method(BENCHMARKS["branin"], "random", seed=0, budget=15)
    assert (regret >= 0).all()
    assert (np.diff(regret) <= 0).all()


def test_comparison_statistics_on_a_hand_made_result():
    regret = {
        "bayes": np.array([[3.0, 1.0, 0.0], [3.0, 2.0, 0.5], [3.0, 0.1, 0.1]]),
        "random": np.array([[3.0, 3.0, 2.0], [3.0, 3.0, 3.0], [3.0, 2.0, 1.0]]),
    }
    c = Comparison("branin", 3, 3, regret)
    q25, q50, q75 = c.quantiles("bayes")
    assert list(q50) == [3.0, 1.0, 0.1]
    assert q25[-1] <= q50[-1] <= q75[-1]
    assert c.trials_to_target("bayes", 0.5) == 3  # hits at trials 3, 3 and 2: median 3
    assert c.trials_to_target("random", 0.5) is None  # never reached
    assert c.target == BENCHMARKS["branin"].target


def test_bayes_beats_random_and_grid_on_branin():
    c = compare("branin", budget=20, seeds=4)
    final = {m: c.quantiles(m)[1][-1] for m in c.regret}
    assert final["bayes"] < final["random"] and final["bayes"] < final["grid"]


def test_playground_steps_add_observations_and_move_the_next_point():
    pg = Playground(function="smooth", init_points=1, seed=3)
    first = pg.view()
    assert first.observed_x == ()
    pg.step()
    after_one = pg.view()
    assert len(after_one.observed_x) == 1
    assert after_one.next_x != first.next_x
    pg.step(3)
    view = pg.view(resolution=50, n_samples=2)
    assert len(view.observed_x) == 4 and len(view.samples) == 2
    assert view.guided
    std = np.array(view.std)
    nearest = np.argmin(np.abs(np.array(view.x) - view.observed_x[0]))
    assert std[nearest] < std.max()  # the band is narrow where a point landed
    pg.reset()
    assert pg.view().observed_x == ()


def test_before_the_first_point_the_playground_shows_the_prior():
    from core.charts import playground_figure

    view = Playground(function="smooth", seed=3).view(resolution=60, n_samples=3)
    assert view.observed_x == () and len(view.samples) == 3
    assert np.allclose(view.mean, 0.0) and np.allclose(view.std, 1.0)  # mean 0, amplitude 1
    assert all(np.isnan(view.acq))  # no acquisition before data: the first point is random
    fig = playground_figure(view)
    assert [t.name for t in fig.data][:2] == ["95% band", "prior samples"]
    assert "prior mean" in [t.name for t in fig.data]
    assert fig.layout.title.text == "The Gaussian process before any observation: its prior"
    # the prior's samples are as smooth as the length scale makes them
    rough = Playground(length_scale=0.05).view(resolution=60).samples[0]
    smooth = Playground(length_scale=0.5).view(resolution=60).samples[0]
    assert np.abs(np.diff(rough)).mean() > 3 * np.abs(np.diff(smooth)).mean()


def test_noisy_function_gives_noisy_observations():
    a = Playground(function="noisy", seed=1)
    b = Playground(function="multi-modal", seed=1)
    a.step(2)
    b.step(2)
    assert [x for x, _ in a.observed] == [x for x, _ in b.observed]
    assert [y for _, y in a.observed] != [y for _, y in b.observed]


def test_a_fixed_length_scale_is_used_as_given():
    pg = Playground(function="smooth", length_scale=0.05, init_points=3)
    pg.step(3)
    matern, _, _ = kernel_parts(pg.strategy().fit().gp.kernel_)
    assert matern.length_scale == pytest.approx(0.05)


def learn_page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/learn.py")
    return at.run()


def test_learn_page_next_step_and_reset():
    at = learn_page()
    assert not at.exception
    assert at.metric[0].value == "0"
    at.button(key="learn_next").click().run()
    assert at.metric[0].value == "1"
    gp = at.get("plotly_chart")[0].proto.spec
    at.button(key="learn_next").click().run()
    at.button(key="learn_next").click().run()
    assert at.metric[0].value == "3"
    assert at.get("plotly_chart")[0].proto.spec != gp
    at.number_input(key="learn_n").set_value(4)
    at.button(key="learn_run").click().run()
    assert at.metric[0].value == "7"
    at.button(key="learn_reset").click().run()
    assert at.metric[0].value == "0"
    assert not at.exception


def test_learn_page_runs_the_comparison_in_the_background():
    at = learn_page()
    at.selectbox(key="learn_bench").set_value("cnn surface")
    at.select_slider(key="learn_budget").set_value(10)
    at.select_slider(key="learn_seeds").set_value(3).run()
    at.button(key="learn_compare").click().run()
    assert not at.exception
    deadline = time.time() + 120
    while time.time() < deadline:
        at.run()
        if at.dataframe:
            break
        time.sleep(0.5)
    assert at.dataframe, "the comparison drew no table within 120 s"
    frame = at.dataframe[0].value
    assert list(frame["method"]) == ["bayes", "random", "grid"]
    assert len(at.get("plotly_chart")) == 3
