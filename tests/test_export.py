import csv
import io
import json
import re

import pytest

from core import export
from core.runner import Registry


@pytest.fixture(scope="module")
def finished(digits, tmp_path_factory):
    """One tiny finished study, shared by the tests that only read it."""
    from core.store import Store
    from core.study import StudyConfig
    from core.trainer import Budget

    tmp = tmp_path_factory.mktemp("finished")
    config = StudyConfig(name="tiny", dataset="digits", init_points=2, n_iter=2,
                         budget=Budget(epochs=1, batch_size=64), seed=1)  # fmt: skip
    with Store(tmp / "studies.db") as store:
        Registry(store, runs_dir=tmp).create(config, dataset=digits).join(120)
        return store.load("tiny")


def test_best_params_json_has_the_documented_shape(finished):
    data = json.loads(export.best_params_json(finished))
    best = finished.best_trial
    assert data["params"] == best.params
    assert set(data["params"]) == {"dropout2_rate", "lr"}
    assert data["val_accuracy"] == best.value
    assert data["test_accuracy"] is None
    assert data["study"] == "tiny" and data["dataset"] == "digits" and data["trials"] == 4


def test_trials_csv_has_a_row_per_trial(finished):
    rows = list(csv.DictReader(io.StringIO(export.trials_csv(finished))))
    assert [int(r["number"]) for r in rows] == [1, 2, 3, 4]
    assert all(r["status"] == "complete" for r in rows)
    assert float(rows[0]["val_accuracy"]) == finished.trials[0].value
    assert float(rows[0]["lr"]) == finished.trials[0].params["lr"]


def test_optimizer_state_can_seed_bayes_opt_elsewhere(finished, tmp_path):
    from bayes_opt import BayesianOptimization, acquisition

    state = export.optimizer_state(finished)
    # one target per point tried: a deliberate repeat of a point is told as their mean
    tried: dict[tuple, list[float]] = {}
    for t in finished.finished_trials:
        tried.setdefault(tuple(sorted(t.params.items())), []).append(t.value)
    means = [sum(v) / len(v) for v in tried.values()]
    assert len(state["target"]) == len(means)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    other = BayesianOptimization(
        None,
        {k: (0.0, 1.0) for k in state["keys"]},
        acquisition_function=acquisition.ExpectedImprovement(xi=0.01),
        verbose=0,
    )
    other.load_state(path)
    assert len(other.space) == len(means)
    assert other.max["target"] == pytest.approx(max(means))


def test_optimizer_state_is_refused_for_random_studies(store, tiny_config):
    store.create_study(tiny_config(optimizer="random"))
    with pytest.raises(ValueError, match="only for bayes studies"):
        export.optimizer_state(store.load("tiny"))


def test_the_replay_is_one_offline_html_page_with_a_frame_per_trial(finished, tmp_path):
    from core.charts import replay_figure
    from core.replay import replay_steps, surrogate_after

    steps = replay_steps(finished)
    assert [s.n_observations for s in steps] == [1, 2, 3, 4]
    assert steps[2].mean == surrogate_after(finished, 3).mean
    fig = replay_figure(steps, finished.finished_trials, finished.config.space)
    assert [f.name for f in fig.frames] == ["1", "2", "3", "4"]
    for k, frame in enumerate(fig.frames, start=1):
        mean, dots, newest, _ = frame.data
        assert len(dots.x) == k  # the trials told so far, and no others
        trial = finished.finished_trials[k - 1]
        assert (newest.x[0], newest.y[0]) == (trial.params["dropout2_rate"], trial.params["lr"])
        assert frame.layout.title.subtitle.text.startswith(f"after {k} trial")
        # one colour scale throughout: a colour is the same accuracy in every step
        assert (mean.zmin, mean.zmax) == (fig.frames[0].data[0].zmin, fig.frames[0].data[0].zmax)
    assert fig.data[1].x == fig.frames[0].data[1].x  # it opens at the first trial
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Play", "Pause"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["1", "2", "3", "4"]

    html = export.replay_html(finished, steps)
    assert html.startswith("<!doctype html>") and "Plotly.addFrames" in html
    assert '"name":"4"' in html
    assert not re.search(r"<script[^>]*\bsrc=", html)  # Plotly's JavaScript inline: offline
    assert len(html) > 3_000_000
    assert "tiny: GP mean (predicted accuracy), replayed trial by trial" in html


def test_a_replay_needs_two_parameters_and_a_finished_trial():
    from core.charts import replay_figure
    from core.space import Param, SearchSpace

    one = replay_figure([None], [], SearchSpace([Param("lr", 1e-4, 1e-2, log=True)]))
    assert "needs two parameters" in one.layout.annotations[0].text and not one.frames
    none = replay_figure([], [], SearchSpace([Param("a", 0, 1), Param("b", 0, 1)]))
    assert "before the first finished trial" in none.layout.annotations[0].text


def test_an_explanation_is_read_by_its_name_after_any_trial(finished):
    """A chart of something the GP knows reads core.explain's function by name, as it was
    after the study's k-th trial; a name that is no explanation is refused by name."""
    from core import explain
    from core.replay import explained, told_strategy

    for k in (2, 4):
        assert explained(finished, "calibration", k) == explain.calibration(
            told_strategy(finished, k)
        )
    assert explained(finished, "importance").n_observations == 4
    with pytest.raises(ValueError, match="no explanation .default_init_points."):
        explained(finished, "default_init_points")  # a name it imports is none
    with pytest.raises(ValueError, match="core.explain has no explanation 'fit'"):
        explained(finished, "fit")
