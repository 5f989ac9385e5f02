"""More than two knobs: the CNN's tunable hyperparameters, a user's own model, typed exports."""

import csv
import io
import json
import re
import textwrap

import pytest

from core.cli import main
from core.space import Param, SearchSpace, default_space
from core.status import StudyStatus


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_cnn_takes_each_hyperparameter_and_keeps_the_blogs_values_for_the_rest():
    import keras

    from core.model import build_cnn

    net = build_cnn(
        {"dense_units": 48, "filters1": 8, "optimizer": "sgd", "dropout1_rate": 0.1},
        (8, 8, 1),
        10,
    )
    layers = {layer.name: layer for layer in net.layers}
    assert layers["dense_1"].units == 48 and layers["conv2d_1"].filters == 8
    assert layers["conv2d_2"].filters == 64  # the blog's, not tuned
    assert layers["dropout_1"].rate == 0.1 and layers["dropout_2"].rate == 0.3
    assert isinstance(net.optimizer, keras.optimizers.SGD)
    assert float(net.optimizer.learning_rate) == pytest.approx(1e-3)
    blog = build_cnn({}, (8, 8, 1), 10)
    assert {layer.name: layer for layer in blog.layers}["dense_1"].units == 128
    assert isinstance(blog.optimizer, keras.optimizers.Adam)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        (Param("width", 1, 4, kind="int"), "the CNN has no hyperparameter 'width': choose from"),
        (Param("dense_units", 32.0, 64.0), "dense_units: the CNN takes it as int, got float"),
        (
            Param("optimizer", kind="categorical", choices=("adam", "lion")),
            "optimizer: unknown choice 'lion'",
        ),
        (Param("filters1", 0, 8, kind="int"), "filters1: must be at least 1"),
    ],
)
def test_a_cnn_study_refuses_what_the_cnn_cannot_take(tiny_config, param, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tiny_config(space=SearchSpace([Param("lr", 1e-4, 1e-2, log=True), param]))


def test_the_default_study_is_still_the_blogs_two_dimensional_one(tiny_config):
    assert tiny_config().space == default_space()
    assert tiny_config().space.names == ["dropout2_rate", "lr"]
    assert tiny_config().model == ""


def test_a_tiny_digits_study_tunes_four_hyperparameters_with_an_int_and_a_categorical(tmp_path):
    db = tmp_path / "s.db"
    best_file = tmp_path / "best.json"
    code, out, err = run(
        "tune", "--dataset", "digits", "--db", db, "--name", "four", "--pruner", "none",
        "--init-points", "4", "--n-iter", "2", "--epochs", "1",
        "--param", "lr=float:1e-3:3e-2:log",
        "--param", "batch_size=int:16:64:log2",
        "--param", "dense_units=int:16:64",
        "--param", "optimizer=cat:adam,sgd,rmsprop",
        "--export", best_file,
    )  # fmt: skip
    assert code == 0, err
    from core.store import Store

    store = Store(db)
    study = store.load("four")
    store.close()
    assert study.config.space.names == ["lr", "batch_size", "dense_units", "optimizer"]
    assert len(study.trials) == 6
    keys = set()
    for t in study.trials:
        assert t.status == "complete", t.error
        assert isinstance(t.params["lr"], float) and 1e-3 <= t.params["lr"] <= 3e-2
        assert t.params["batch_size"] in (16, 32, 64) and type(t.params["batch_size"]) is int
        assert type(t.params["dense_units"]) is int and 16 <= t.params["dense_units"] <= 64
        assert t.params["optimizer"] in ("adam", "sgd", "rmsprop")
        keys.add(study.config.space.key(t.params))
    assert len(keys) == 6
    best = json.loads(best_file.read_text())
    assert set(best["params"]) == {"lr", "batch_size", "dense_units", "optimizer"}
    assert type(best["params"]["batch_size"]) is int and type(best["params"]["dense_units"]) is int
    assert isinstance(best["params"]["optimizer"], str)
    assert best["search_space"][1] == {
        "name": "batch_size", "low": 16, "high": 64, "log": True, "type": "int"
    }  # fmt: skip
    code, text, _ = run("export", "four", "--db", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[:5] == ["number", "lr", "batch_size", "dense_units", "optimizer"]
    assert rows[0]["optimizer"] in ("adam", "sgd", "rmsprop") and rows[0]["batch_size"].isdigit()
    assert "recommended: trial" in out and "optimizer=" in out


def test_tuned_epochs_and_batch_size_are_what_each_trial_trains_with(tmp_path, digits):
    from core.trainer import Budget, train_trial

    outcome = train_trial(digits, {"epochs": 2, "batch_size": 32}, Budget(epochs=5, batch_size=8))
    assert len(outcome.history) == 2 and outcome.status == "complete"


USER_MODEL = textwrap.dedent(
    """
    import keras


    def build(params, input_shape, n_classes):
        return keras.Sequential([
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(params["units"], activation=params["activation"]),
            keras.layers.Dense(n_classes, activation="softmax"),
        ])


    def compiled(params, input_shape, n_classes):
        model = build(params, input_shape, n_classes)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model


    def wrong_classes(params, input_shape, n_classes):
        return keras.Sequential([keras.Input(shape=input_shape), keras.layers.Flatten(),
                                 keras.layers.Dense(3, activation="softmax")])


    def two_args(params, input_shape):
        return None


    def not_a_model(params, input_shape, n_classes):
        return "a model"


    def raises(params, input_shape, n_classes):
        return params["missing"]


    def raises_when_trained(params, input_shape, n_classes):  # fine at the middle, where it is checked
        if params["units"] != 36:
            raise RuntimeError("a bug in my model")
        return build({**params, "activation": "relu"}, input_shape, n_classes)
    """
)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(USER_MODEL)
    return path


def test_a_users_model_file_is_tuned_from_the_cli_and_shown_like_any_study(
    tmp_path, model_file, monkeypatch
):
    db = tmp_path / "s.db"
    space = tmp_path / "space.toml"
    space.write_text(
        '[units]\ntype = "int"\nlow = 8\nhigh = 64\nlog = true\n\n'
        '[activation]\ntype = "categorical"\nchoices = ["relu", "tanh"]\n\n'
        "[lr]\nlow = 1e-3\nhigh = 1e-1\nlog = true\n"
    )
    code, out, err = run(
        "tune", "--dataset", "digits", "--db", db, "--name", "mine", "--pruner", "none",
        "--model", f"{model_file}:build", "--space", space,
        "--init-points", "3", "--n-iter", "1", "--epochs", "1",
    )  # fmt: skip
    assert code == 0, err
    from core.store import Store

    store = Store(db)
    study = store.load("mine")
    store.close()
    assert study.config.model == f"{model_file.resolve()}:build"
    assert [t.status for t in study.trials] == ["complete"] * 4
    assert {type(t.params["units"]) for t in study.trials} == {int}
    code, text, _ = run("list", "--db", db)
    assert "mine" in text and "complete" in text

    # then looked at in the dashboard like any other study
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TUNER_DB", str(db))
    app = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app, default_timeout=120)
    at.switch_page("pages/studies.py")
    at.run()
    assert not at.exception
    assert {m.label for m in at.metric} >= {"units", "activation", "lr"}
    assert any("mine.py:build (the user's own)" in c.value for c in at.caption)
    at.selectbox(key="studies-x").set_value("activation").run()
    assert not at.exception
    assert "a slice at" in at.get("plotly_chart")[0].proto.spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{file}:nope", "has no function 'nope' (it defines build, compiled, not_a_model"),
        (
            "{file}:two_args",
            "two_args(params, input_shape) must take (params, input_shape, n_classes)",
        ),
        (
            "{file}:wrong_classes",
            "the model's output has shape (None, 3), but the data has 10 classes",
        ),
        ("{file}:not_a_model", "must return a keras.Model, got str"),
        ("{file}:raises", "the model's builder raised KeyError: 'missing'"),
        ("{dir}/absent.py:build", "absent.py' does not exist"),
        ("{file}", "expected path/to/file.py:FUNCTION"),
    ],
)
def test_bad_builders_are_refused_with_what_is_wrong_and_nothing_is_stored(
    tmp_path, model_file, spec, message
):
    db = tmp_path / "s.db"
    code, _, err = run(
        "tune", "--dataset", "digits", "--db", db, "--epochs", "1",
        "--model", spec.format(file=model_file, dir=tmp_path),
        "--param", "units=int:8:64", "--param", "activation=cat:relu,tanh",
    )  # fmt: skip
    assert code == 2
    assert message in err and "Traceback" not in err
    assert "no studies" in run("list", "--db", db)[1]


def test_a_syntax_error_in_the_model_file_is_told_by_line(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def build(params, input_shape, n_classes)\n    return None\n")
    code, _, err = run(
        "tune", "--dataset", "digits", "--db", tmp_path / "s.db", "--model", f"{bad}:build",
        "--param", "units=int:8:64",
    )  # fmt: skip
    assert code == 2 and "failed to load: SyntaxError" in err and "line 1" in err


def test_the_model_needs_its_parameters_and_a_space_comes_one_way(tmp_path, model_file):
    code, _, err = run("tune", "--db", tmp_path / "s.db", "--model", f"{model_file}:build")
    assert code == 2 and "--model needs the parameters to tune" in err
    space = tmp_path / "s.json"
    space.write_text("[]")
    code, _, err = run("tune", "--db", tmp_path / "s.db", "--space", space, "--param", "a=0:1")
    assert code == 2 and "with --space or with --param, not both" in err


def test_the_python_function_tunes_a_notebook_model(tmp_path):
    import keras

    from core.api import tune

    def build(params, input_shape, n_classes):
        return keras.Sequential(
            [
                keras.Input(shape=input_shape),
                keras.layers.Flatten(),
                keras.layers.Dense(params["units"], activation="relu"),
                keras.layers.Dense(n_classes, activation="softmax"),
            ]
        )

    study = tune(
        build,
        {"units": "int:8:32:log2", "lr": "float:1e-3:1e-1:log", "act": {"choices": ["a", "b"]}},
        dataset="digits",
        init_points=3,
        n_iter=1,
        epochs=1,
        db=tmp_path / "s.db",
        name="notebook",
        data_seed=5,
    )
    assert len(study.finished_trials) == 4 and study.best_trial is not None
    assert (study.config.seed, study.config.data_seed) == (1, 5)  # the split asked for
    assert type(study.best_trial.params["units"]) is int
    assert study.config.model.endswith(":build")
    with pytest.raises(ValueError, match="the model's output has shape"):
        tune(lambda p, s, n: build(p, s, 3), {"units": "int:8:32"}, dataset="digits",
             db=tmp_path / "s.db", epochs=1)  # fmt: skip


def test_a_study_whose_trials_keep_raising_stops_after_three_with_the_error(tmp_path, model_file):
    db = tmp_path / "s.db"
    code, out, err = run(
        "tune", "--dataset", "digits", "--db", db, "--name", "buggy", "--pruner", "none",
        "--model", f"{model_file}:raises_when_trained", "--param", "units=int:8:64",
        "--init-points", "8", "--n-iter", "2", "--epochs", "1",
    )  # fmt: skip
    assert code != 0
    assert "3 trials in a row raised an error, so the study stopped there" in err
    assert "the last: ValueError: the model's builder raised RuntimeError: a bug in my model" in err
    assert "Traceback" not in out + err
    from core.store import Store

    with Store(db) as store:
        study = store.load("buggy")
    assert study.status == StudyStatus.FAILED
    assert [t.status for t in study.trials] == ["failed"] * 3  # not the whole total of 10
    assert study.config.max_consecutive_errors == 3


def test_the_dashboard_leaves_resuming_a_users_model_to_the_command_line(
    tmp_path, model_file, monkeypatch, tiny_config
):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from core.store import Store

    db = tmp_path / "s.db"
    space = SearchSpace([Param("units", 8, 64, kind="int")])
    store = Store(db)
    store.create_study(tiny_config("waiting", space=space, model=f"{model_file}:build"))
    store.set_status("waiting", StudyStatus.STOPPED)  # stopped from the command line
    store.close()
    monkeypatch.setenv("TUNER_DB", str(db))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.switch_page("pages/studies.py")
    at.run()
    assert not at.exception
    assert any("`python -m core resume waiting`" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Resume"]
    at.switch_page("pages/live.py").run()
    assert not at.exception
    assert any("`python -m core resume waiting`" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label == "Resume"]

    # the dashboard's registry itself refuses, whatever page or script asks it
    from core.runner import Registry

    with Store(db) as store:
        dashboard = Registry(store, runs_dir=tmp_path, user_models=False)
        with pytest.raises(ValueError, match="`python -m core resume waiting`"):
            dashboard.resume("waiting")
        with pytest.raises(ValueError, match="does not run a user's own model"):
            dashboard.create(tiny_config("another", space=space, model=f"{model_file}:build"))
        assert dashboard.running() == [] and store.names() == ["waiting"]
        assert store.load("waiting").trials == ()
