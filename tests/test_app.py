"""The dashboard driven through Streamlit's AppTest, page by page, as a user would."""

import json
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "studies.db"
    monkeypatch.setenv("TUNER_DB", str(path))
    return path


def open_app(page=None):
    at = AppTest.from_file(APP, default_timeout=120)
    if page:
        at.switch_page(page)
    return at.run()


def registry():
    from pages.common.registry import registry as shared

    return shared()


def wait_idle(timeout=180):
    deadline = time.time() + timeout
    while registry().running() and time.time() < deadline:
        time.sleep(0.2)
    assert not registry().running()


def fill_tiny(at, init_points=2, n_iter=2, epochs=1):
    at.selectbox(key="tune_dataset").set_value("digits")
    at.number_input(key="tune_epochs").set_value(epochs)
    at.number_input(key="tune_init_points").set_value(init_points)
    at.number_input(key="tune_n_iter").set_value(n_iter)
    return at.run()


def start_button(at):
    return next(b for b in at.button if b.label == "Start")


def texts(elements):
    return [e.value for e in elements]


@pytest.mark.parametrize("page", [None, "pages/live.py", "pages/studies.py"])
def test_every_page_renders_on_an_empty_database(db, page):
    at = open_app(page)
    assert not at.exception
    if page:
        assert any("No study yet" in i.value for i in at.info)


def test_tune_shows_the_dataset_and_an_estimate(db):
    at = fill_tiny(open_app())
    assert not at.exception
    assert any("digits: 1295 train" in s.value for s in at.success)
    assert any("4 trials x 1 epochs" in i.value and "samples/s" in i.value for i in at.info)
    assert not start_button(at).disabled


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tune_dropout_low", 0.6, "dropout2_rate: low (0.6) must be smaller than high (0.5)"),
        ("tune_dropout_high", 1.0, "a dropout rate must lie in [0, 1)"),
        ("tune_lr_low", 0.0, "lr: a log-scale parameter needs low > 0"),
        ("tune_lr_high", 1e-4, "lr: low (0.0001) must be smaller than high (0.0001)"),
        ("tune_init_points", 0, "init_points + n_iter must be at least 1 trial"),
        ("tune_batch_size", 5000, "batch_size (5000) is larger than the training data"),
        ("tune_n_iter", 100_000, "init_points + n_iter must be at most 500 trials"),
        ("tune_dropout_low", -0.2, "a dropout rate must lie in [0, 1)"),
    ],
)
def test_invalid_input_shows_an_error_and_starts_nothing(db, field, value, message):
    at = fill_tiny(open_app())
    if field == "tune_init_points":
        at.number_input(key="tune_n_iter").set_value(0)
    at.number_input(key=field).set_value(value).run()
    assert not at.exception
    assert any(message in e.value for e in at.error), texts(at.error)
    assert start_button(at).disabled
    assert Store(db).names() == []


def test_a_bad_upload_is_explained_inline(db, tmp_path):
    at = open_app()
    at.selectbox(key="tune_dataset").set_value("upload").run()
    # nothing uploaded yet; the cap is the one the project's .streamlit/config.toml sets
    assert any("Upload an .npz file of at most 200 MB" in e.value for e in at.error)
    assert start_button(at).disabled

    at.file_uploader(key="tune_upload").upload("junk.npz", b"not a zip archive").run()
    assert not at.exception
    assert any("not a readable .npz archive" in e.value for e in at.error), texts(at.error)
    assert start_button(at).disabled
    assert Store(db).names() == []


def test_the_pruner_and_stop_when_converged_reach_the_stored_study(db):
    at = fill_tiny(open_app(), init_points=2, n_iter=1)
    assert not at.checkbox(key="tune_stop_when_converged").value
    at.selectbox(key="tune_pruner").set_value("asha").run()
    assert any("Successive halving" in c.value for c in at.caption)
    at.checkbox(key="tune_stop_when_converged").check().run()
    start_button(at).click().run()
    assert not at.exception
    wait_idle()
    config = Store(db).load(at.session_state["study"]).config
    assert config.pruning.kind == "asha" and config.stop_when_converged


def test_the_gp_noise_choice_shows_fitted_by_default(db):
    at = open_app()
    noise = at.selectbox(key="tune_noise")
    assert noise.value == "fitted" and noise.index == 0
    assert noise.options[0] == "fitted"


def test_a_tiny_study_runs_from_tune_to_live_and_studies(db):
    at = fill_tiny(open_app())
    start_button(at).click().run()
    assert not at.exception
    assert at.title[0].value == "Live"
    name = at.session_state["study"]
    wait_idle()

    at.run()  # Live, after the run
    assert not at.exception
    charts = at.get("plotly_chart")
    # mean, std, acq, accuracy, learning curves, compute, convergence, the GP's own check
    # (more views: none)
    assert len(charts) == 8
    assert charts[7].key == "live-calibration"
    assert "Does the GP know what it does not know?" in charts[7].proto.spec
    assert any("it had not seen" in c.value for c in at.caption)
    assert at.radio(key="live-view").value == "none"
    assert any(m.label == "Recommended: estimated accuracy" for m in at.metric)
    assert any(m.label == "Observed accuracy" for m in at.metric)
    frame = at.dataframe[0].value
    assert len(frame) == 4 and set(frame["status"]) == {"complete"}

    study = Store(db).load(name)
    assert study.status == "complete" and len(study.finished_trials) == 4
    assert study.config.search.noise is None  # fitted by default

    at.switch_page("pages/studies.py").run()
    assert not at.exception
    best = next(m for m in at.metric if m.label == "Recommended: estimated accuracy")
    assert " ± " in best.value and "lucky draw" in best.proto.help  # one run is not exact
    assert at.slider(key="replay").value == 4
    at.slider(key="replay").set_value(2).run()
    assert not at.exception
    assert "after 2 trials" in json.dumps(at.get("plotly_chart")[0].proto.spec)
    check = next(c for c in at.get("plotly_chart") if c.key == "studies-calibration")
    assert re.search(r"held [0-2] of the 2 trials", check.proto.spec)  # after trial k
    at.number_input(key=f"ask-{name}-lr").set_value(0.004)  # the GP's word at a point
    next(b for b in at.button if b.label == "What does the GP expect here?").click().run()
    assert any(c.value.startswith("The GP expects") for c in at.caption)
    table = at.dataframe[0].value
    assert table["data split"].tolist() == [1]
    assert table["recommended trial"].notna().all() and "best observed val accuracy" in table
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels[:3] == ["Best params (JSON)", "All trials (CSV)", "Optimizer state (JSON)"]


def test_a_second_start_while_one_runs_is_refused(db):
    at = fill_tiny(open_app(), init_points=3, n_iter=3, epochs=3)
    start_button(at).click().run()
    first = at.session_state["study"]
    try:
        again = fill_tiny(open_app())
        again.text_input(key="tune_name").set_value("second").run()
        start_button(again).click().run()
        assert not again.exception
        assert any(f"study {first!r} is running" in e.value for e in again.error)
        assert Store(db).names() == [first]
    finally:
        registry().get(first).cancel()
        wait_idle()


def test_stop_from_live_then_resume_from_studies(db, wait_for):
    at = fill_tiny(open_app(), init_points=2, n_iter=1, epochs=4)
    at.selectbox(key="tune_noise").set_value(0.03).run()  # bayes_opt's classic fixed alpha
    # every search setting has its input, drawn from its declaration (core.settings)
    at.selectbox(key="tune_acquisition").set_value("ucb").run()
    at.number_input(key="tune_kappa").set_value(1.5).run()
    at.selectbox(key="tune_length_scale").set_value(0.5).run()
    start_button(at).click().run()
    name = at.session_state["study"]
    runner = registry().get(name)
    assert wait_for(lambda: runner.snapshot().current_epoch >= 1, 60)  # Stop mid-study
    at.run()
    stop = next(b for b in at.button if b.label == "Stop")
    stop.click().run()
    assert runner.join(10)
    study = Store(db).load(name)
    assert study.status == "stopped" and study.resumable

    studies = open_app("pages/studies.py")
    resume = next(b for b in studies.button if b.label == "Resume")
    resume.click().run()
    assert not studies.exception
    wait_idle()
    study = Store(db).load(name)
    assert study.status == "complete" and len(study.finished_trials) == 3
    assert study.config.search == {"acquisition": "ucb", "kappa": 1.5, "xi": 0.0,
                                   "noise": 0.03, "length_scale": 0.5}  # fmt: skip


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("Quick look", {"dataset": "mnist-5k", "init_points": 5, "n_iter": 7, "epochs": 2}),
        ("The seed experiment", {"dataset": "mnist", "init_points": 10, "n_iter": 2, "epochs": 5}),
    ],
)
def test_presets_fill_the_form(db, preset, expected, monkeypatch):
    from core import data

    def offline(name):
        raise OSError("no network in tests")

    monkeypatch.setattr(data, "keras_download", offline)
    at = open_app()
    at.selectbox(key="tune_preset").set_value(preset).run()
    assert not at.exception
    for key, value in expected.items():
        assert at.session_state[f"tune_{key}"] == value
    assert at.session_state["tune_lr_log"] is True
    assert at.session_state["tune_batch_size"] == 64
    if preset == "The seed experiment":  # offline: full MNIST falls back, and says so
        assert any("could not be downloaded" in w.value for w in at.warning)
    assert not start_button(at).disabled


def test_the_random_start_follows_the_ticked_hyperparameters_until_set(db):
    at = open_app()
    assert at.number_input(key="tune_init_points").value == 5  # two ticked: at least 5
    for name in ("dropout1_rate", "dense_units", "filters1", "filters2"):
        at.checkbox(key=f"tune_use_{name}").check().run()
    assert at.number_input(key="tune_init_points").value == 7  # six: one more than them
    at.checkbox(key="tune_use_filters2").uncheck().run()
    assert at.number_input(key="tune_init_points").value == 6
    at.number_input(key="tune_init_points").set_value(3).run()
    at.checkbox(key="tune_use_filters2").check().run()
    assert at.number_input(key="tune_init_points").value == 3  # a person's choice stays
    assert not at.exception


def test_parallel_trials_on_an_unreachable_cluster_are_refused_and_store_nothing(db):
    at = fill_tiny(open_app())
    assert any("This machine has" in c.value for c in at.caption)
    at.number_input(key="tune_workers").set_value(2).run()
    at.text_input(key="tune_ray_address").set_value("127.0.0.1:9").run()
    assert any("joined when you press Start" in c.value for c in at.caption)
    start_button(at).click().run()
    assert not at.exception
    assert any("could not reach the Ray cluster at '127.0.0.1:9'" in e.value for e in at.error)
    assert Store(db).names() == []


def test_the_parallel_settings_reach_the_study_config():
    from pages.common.forms import config_from_inputs

    inputs = {
        "dataset": "digits", "dropout_low": 0.1, "dropout_high": 0.5, "lr_low": 1e-4,
        "lr_high": 1e-2, "lr_log": True, "init_points": 2, "n_iter": 2, "epochs": 1,
        "batch_size": 64, "workers": 3, "ray_address": " ray://head:10001 ",
        "cpus_per_trial": 2, "gpus_per_trial": 0.5,
    }  # fmt: skip
    config, errors = config_from_inputs(inputs)
    assert errors == []
    assert config.parallel.to_dict() == {
        "workers": 3, "address": "ray://head:10001", "cpus_per_trial": 2, "gpus_per_trial": 0.5
    }  # fmt: skip
    _, errors = config_from_inputs({**inputs, "workers": 0})
    assert errors == ["workers must be an integer >= 1, got 0"]


def test_four_ticked_hyperparameters_run_and_any_two_are_seen_with_which_ones_matter(db):
    at = fill_tiny(open_app(), init_points=4, n_iter=1)
    assert at.checkbox(key="tune_use_dropout2_rate").value and at.checkbox(key="tune_use_lr").value
    assert any(c.value == "fixed: 128" for c in at.caption)  # dense units keep the blog's
    at.checkbox(key="tune_use_batch_size").check().run()
    at.checkbox(key="tune_use_optimizer").check().run()
    at.number_input(key="tune_batch_size_low").set_value(16)
    at.number_input(key="tune_batch_size_high").set_value(64).run()
    at.multiselect(key="tune_optimizer_choices").set_value(["adam", "rmsprop"]).run()
    assert not at.error, texts(at.error)
    start_button(at).click().run()
    assert not at.exception
    name = at.session_state["study"]
    wait_idle()
    study = Store(db).load(name)
    assert study.config.space.names == ["dropout2_rate", "lr", "batch_size", "optimizer"]
    assert {t.params["optimizer"] for t in study.trials} <= {"adam", "rmsprop"}
    assert {type(t.params["batch_size"]) for t in study.trials} == {int}

    at.run()  # Live: pick batch size x optimizer
    assert at.selectbox(key="live-x").value == "dropout2_rate"
    at.selectbox(key="live-x").set_value("batch_size")
    at.selectbox(key="live-y").set_value("optimizer").run()
    assert not at.exception
    mean = json.loads(at.get("plotly_chart")[0].proto.spec)
    subtitle = mean["layout"]["title"]["subtitle"]["text"]
    assert "a slice at dropout2_rate = " in subtitle and "lr = " in subtitle
    assert mean["layout"]["xaxis"]["title"]["text"] == "batch_size"
    assert mean["layout"]["yaxis"]["type"] == "category"
    assert any("Each GP chart is a slice at" in c.value for c in at.caption)
    views = {}
    for view in ("3-D view", "importance", "parallel coordinates", "slices"):
        at.radio(key="live-view").set_value(view).run()
        assert not at.exception
        shown = next(c for c in at.get("plotly_chart") if c.key == f"live-{view}")
        views[view] = json.loads(shown.proto.spec)
        if view == "importance":
            assert any("Importance: each parameter's main effect" in c.value for c in at.caption)
    importance = views["importance"]
    assert importance["layout"]["title"]["text"] == "Which parameters matter"
    assert sorted(importance["data"][0]["y"]) == sorted(study.config.space.names)
    surface = views["3-D view"]
    assert [d["type"] for d in surface["data"]][:3] == ["surface"] * 3
    assert surface["layout"]["scene"]["xaxis"]["title"]["text"] == "batch_size"
    assert views["parallel coordinates"]["data"][0]["type"] == "parcoords"
    assert len(views["slices"]["data"]) == 4

    blank = open_app()
    for name_ in ("dropout2_rate", "lr"):
        blank.checkbox(key=f"tune_use_{name_}").uncheck()
    blank.run()
    assert "tick at least one hyperparameter to tune" in texts(blank.error)
    assert start_button(blank).disabled


def test_live_offers_stop_only_for_a_study_this_dashboard_runs(db):
    """A study another process runs (the CLI) cannot be stopped from here, so Live says
    where to stop it instead of drawing a Stop that does nothing; a study stored but never
    started offers Resume."""
    import subprocess

    from core.status import StudyStatus
    from core.study import StudyConfig
    from core.trainer import Budget

    other = subprocess.Popen(["sleep", "120"])  # a live process that is not this dashboard
    try:
        with Store(db) as store:
            for name in ("never", "elsewhere"):
                store.create_study(
                    StudyConfig(name=name, dataset="digits", init_points=2, n_iter=1,
                                budget=Budget(epochs=1, batch_size=64))
                )  # fmt: skip
            store.set_status("elsewhere", StudyStatus.RUNNING, owner_pid=other.pid)
        at = open_app("pages/live.py")
        assert not at.exception
        at.selectbox[0].set_value("elsewhere").run()
        assert not at.exception
        assert not [b for b in at.button if b.label == "Stop"]
        assert any(f"Process {other.pid} runs this study" in c.value for c in at.caption)
        at.selectbox[0].set_value("never").run()
        assert not at.exception
        assert not [b for b in at.button if b.label == "Stop"]
        assert [b.label for b in at.button if b.label == "Resume"] == ["Resume"]
    finally:
        other.kill()
        other.wait()


def test_a_person_tries_a_point_and_adds_a_result_on_live_and_warm_starts_on_tune(db):
    """The forms of Live's "hand on the search" and Tune's warm start, as a person uses
    them; what they send is checked, and a bad value is named, not stored."""
    from core.status import StudyStatus
    from core.study import StudyConfig
    from core.trainer import Budget

    with Store(db) as store:
        store.create_study(
            StudyConfig(name="mine", dataset="digits", init_points=2, n_iter=2,
                        budget=Budget(epochs=1, batch_size=64))
        )  # fmt: skip
        store.set_status("mine", StudyStatus.STOPPED)
    at = open_app("pages/live.py")
    assert not at.exception
    at.number_input(key="try-mine-lr").set_value(0.5)
    next(b for b in at.button if b.label == "Train this point next").click().run()
    assert any("lr: 0.5 lies outside its range" in e.value for e in at.error)
    at.number_input(key="try-mine-lr").set_value(0.004)
    at.number_input(key="try-mine-dropout2_rate").set_value(0.35)
    next(b for b in at.button if b.label == "Train this point next").click().run()
    assert any("Queued (1 waiting): it trains when the study is resumed" in s.value
               for s in at.success)  # fmt: skip
    at.number_input(key="tell-mine-value").set_value(0.87)
    next(b for b in at.button if b.label == "Tell the GP").click().run()
    assert not at.exception
    assert any("Stored as trial 1, added by you" in s.value for s in at.success)
    at.run()  # the view above the forms redraws (every 2 s in a browser)
    # before committing a point, the form says what the GP expects there and at its own
    ask = next(b for b in at.button if b.label == "What does the GP expect here?")
    ask.click().run()
    said = [c.value for c in at.caption if c.value.startswith("The GP expects")]
    assert said and "here (EI " in said[0] and "at its own next point" in said[0], said
    (table,) = [d.value for d in at.dataframe if "kind" in d.value.columns]
    assert table["kind"].tolist() == ["added by you"]
    with Store(db) as store:
        study = store.load("mine")
        assert [q.params for q in store.queued("mine")] == [{"dropout2_rate": 0.35, "lr": 0.004}]
    assert [(t.origin, t.value) for t in study.trials] == [("told", 0.87)]

    at = open_app()
    at.selectbox(key="tune_dataset").set_value("digits").run()
    at.selectbox(key="tune_warm_start").set_value("mine").run()
    assert not at.exception and not at.error
    assert any("This study starts from 1 trial of 'mine'." in c.value for c in at.caption)


def test_a_note_written_on_studies_is_stored_shown_and_exported(db):
    from core import export
    from core.study import StudyConfig

    with Store(db) as store:
        store.create_study(StudyConfig(name="noted", dataset="digits", init_points=2, n_iter=1))
    at = open_app("pages/studies.py")
    assert not at.exception
    at.text_area(key="note-noted").set_value("lr *below* 1e-3 diverges [checked]")
    next(b for b in at.button if b.label == "Save note").click().run()
    assert not at.exception
    assert any("lr \\*below\\* 1e\\-3" in m.value for m in at.markdown)  # shown as typed
    with Store(db) as store:
        study = store.load("noted")
    assert study.note == "lr *below* 1e-3 diverges [checked]"
    assert json.loads(export.best_params_json(study))["note"] == study.note


def test_tune_opens_on_quick_looks_values_and_says_so_with_the_data_split(db):
    at = open_app()
    assert at.selectbox(key="tune_preset").value == "Quick look"  # its values are the defaults
    assert at.number_input(key="tune_data_seed").value == 1
    at = fill_tiny(at)
    at.number_input(key="tune_data_seed").set_value(4).run()
    assert any("split 4" in s.value for s in at.success)  # the preview is the split's
    at.number_input(key="tune_seed").set_value(9).run()
    assert any("split 4" in s.value for s in at.success)  # the study's seed never moves it
    start_button(at).click().run()
    assert not at.exception
    wait_idle()
    config = Store(db).load(at.session_state["study"]).config
    assert (config.seed, config.data_seed) == (9, 4)


def test_studies_on_different_splits_say_so_where_they_are_compared(db):
    from core.study import StudyConfig
    from core.trainer import Budget

    with Store(db) as store:
        for name, split in (("one", 1), ("other", 3)):
            store.create_study(StudyConfig(name=name, dataset="digits", data_seed=split,
                                           budget=Budget(epochs=1, batch_size=64)))  # fmt: skip
    at = open_app("pages/studies.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["study"], table["data split"], strict=True)) == {"one": 1, "other": 3}
    (warning,) = [w.value for w in at.warning if "validation images" in w.value]
    assert "digits split 1, digits split 3" in warning and "belongs to the split" in warning


def test_every_declared_setting_has_an_input_on_tune_and_reaches_the_study(db):
    """A setting declared in core.settings is on the Tune page, the ones the page does not
    place itself drawn from their declarations under "More settings", and its value
    reaches the stored configuration."""
    from core.settings import SETTINGS

    at = fill_tiny(open_app())
    keys = {w.key for kind in ("number_input", "selectbox", "checkbox", "radio")
            for w in getattr(at, kind) if w.key}  # fmt: skip
    assert {f"tune_{name}" for name in SETTINGS} <= keys
    at.number_input(key="tune_max_retries").set_value(3).run()
    at.number_input(key="tune_max_consecutive_errors").set_value(5).run()
    start_button(at).click().run()
    assert not at.exception
    config = Store(db).load(at.session_state["study"]).config
    assert (config.max_retries, config.max_consecutive_errors) == (3, 5)
    registry().get(config.name).cancel()
    wait_idle()
