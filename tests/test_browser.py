"""End to end in a real browser: Debian's Chromium, driven by Playwright, against
``streamlit run app.py`` on a free localhost port.

Outside CI a missing browser skips these tests with the reason; in CI (CI=true) it fails them.
Screenshots of each page are kept in test-artifacts/.
"""

import json
import math
import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from bench.browser import (
    CHROMIUM,
    FINISHED,
    Server,
    db_trials,
    launch,
    set_number,
    wait_until,
)
from bench.screenshots import map_area

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


def require_browser():
    if CHROMIUM.exists():
        return
    reason = f"Debian's chromium is not installed ({CHROMIUM}): apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def close_pages(request):
    """Each test's tabs closed after it: a Live tab left open redraws every 2 s and would
    take CPU from the trials of every later test."""
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One dashboard for the module's tests: each names its own study and counts only
    its trials."""
    require_browser()
    # uploads above 1 MB refused, as a person may set it; every other test uploads less
    s = Server(tmp_path_factory.mktemp("dashboard") / "studies.db",
               "--server.maxUploadSize", "1").start()  # fmt: skip
    yield s
    s.stop()


@pytest.fixture
def server(shared_server):
    yield shared_server
    if db_trials(shared_server.db, "running"):  # a test that failed mid-study: a new server,
        shared_server.kill()  # so the next test's Start is not refused
        shared_server.start()


@pytest.fixture
def own_server(tmp_path):
    """A dashboard of the test's own, for a test that kills it."""
    require_browser()
    s = Server(tmp_path / "studies.db").start()
    yield s
    s.stop()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def configure_tiny(page, server, *, init_points=2, n_iter=3, epochs=2, batch=32, name=None):
    page.goto(server.url)
    page.get_by_role("button", name="Start", exact=True).wait_for()
    page.get_by_label("Dataset").click()
    page.get_by_role("option", name="scikit-learn digits").click()
    page.get_by_text("digits: 1295 train").wait_for()
    set_number(page, "epochs", epochs)
    set_number(page, "batch size", batch)
    set_number(page, "init_points (random trials first)", init_points)
    set_number(page, "n_iter (GP-guided trials)", n_iter)
    if name:
        field = page.get_by_label("Study name (optional)")
        field.fill(name)
        field.press("Enter")
    total = init_points + n_iter
    page.get_by_text(f"{total} trials x {epochs} epochs").wait_for()


def start(page):
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_url("**/live")
    page.get_by_role("heading", name="Live").wait_for()


def chosen_status(db):
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM trials WHERE origin = 'chosen'").fetchone()
    return row[0] if row else None


def db_count(db, study, statuses):
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM trials t JOIN studies s ON s.id = t.study_id "
            f"WHERE s.name = ? AND t.status IN ({', '.join('?' * len(statuses))})",
            (study, *statuses),
        ).fetchone()[0]


def study_names(db):
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return [n for (n,) in conn.execute("SELECT name FROM studies ORDER BY id")]


def plot_text(page, index=0):
    return page.locator(".js-plotly-plot").nth(index).inner_text()


def surrogate_after(page) -> int:
    """After how many trials the surrogate on Live's first chart was fitted (0: none yet)."""
    found = re.search(r"after (\d+) trials?\b", plot_text(page))
    return int(found.group(1)) if found else 0


def shown_finished(page, total) -> int:
    """How many finished trials Live's progress bar shows, of ``total`` (-1: no bar)."""
    bar = page.get_by_text(re.compile(rf"^trials \d+/{total}$"))
    if not bar.count():
        return -1
    return int(re.search(r"trials (\d+)/", bar.first.inner_text()).group(1))


def test_tune_watch_stop_reload_and_download(browser, server, tmp_path, wait_for):
    page = new_page(browser)
    # 40 trials: far more than train before the Stop below, however slow the machine
    configure_tiny(page, server, init_points=2, n_iter=38, epochs=2, name="e2e")
    shot(page, "tune")
    start(page)

    # The surrogate charts render, then update as trials end. (A trial here takes about as
    # long as Live's redraw, so which counts are drawn is not known: only that they grow.)
    wait_until(lambda: page.locator(".js-plotly-plot").count() >= 5, what="five Plotly charts")
    wait_until(lambda: surrogate_after(page) >= 1, what="the first surrogate")
    first = surrogate_after(page)
    wait_until(lambda: surrogate_after(page) >= max(3, first + 1), what="the surrogate to update")
    fitted = surrogate_after(page)
    assert shown_finished(page, 40) >= fitted  # drawn later, from a snapshot as new or newer
    shot(page, "live")

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("e2e — stopped").wait_for()
    kept = db_trials(server.db, FINISHED, "e2e")
    assert 3 <= kept < 40
    statuses = [s for (s,) in db_trials(server.db, study="e2e")]
    assert "running" not in statuses

    page.reload()
    page.get_by_text("e2e — stopped").wait_for()
    page.get_by_text(f"trials {kept}/40").wait_for()
    page.get_by_role("button", name="Resume").wait_for()  # drawn just after the status line
    assert page.get_by_role("button", name="Resume").count() == 1
    # the GP's own evidence, redrawn with the study: each complete trial predicted from the
    # others (ASHA prunes most of these short trials: with fewer than two complete, it says
    # when it will appear)
    page.get_by_text("Does the GP know what it does not know?").first.wait_for()
    said = re.compile(r"band held \d+ of the \d+ trials? it had not seen|once two trials")
    page.get_by_text(said).first.wait_for()

    # try here next: a click on the GP mean map fills the form with that spot
    page.get_by_text("Your hand on the search").click()
    lr = page.get_by_role("spinbutton", name="lr", exact=True).first
    dropout = page.get_by_role("spinbutton", name="dropout2_rate", exact=True).first
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    box = plot.locator(".nsewdrag").first.bounding_box()

    def clicked():  # a click landing while Live's 2-s redraw replaces the chart is lost
        page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.75)
        return wait_for(lambda: abs(float(dropout.input_value()) - 0.2) < 0.02, 8)

    assert any(clicked() for _ in range(4)), "the spot clicked never reached the form"
    assert abs(math.log10(float(lr.input_value())) - math.log10(10**-3.5)) < 0.1  # log axis
    page.get_by_text("The GP expects").first.wait_for()  # its word there, before committing
    page.get_by_role("button", name="Train this point next").click()
    page.get_by_text("Queued (1 waiting): it trains when the study is resumed").wait_for()
    with sqlite3.connect(server.db) as conn:
        (queued,) = conn.execute("SELECT params FROM queue").fetchone()
    queued = json.loads(queued)  # the clicked spot, as the form shows it to six digits
    assert queued["dropout2_rate"] == pytest.approx(float(dropout.input_value()), rel=1e-5)
    assert queued["lr"] == pytest.approx(float(lr.input_value()), rel=1e-5)

    page.get_by_role("link", name="Studies").click()
    page.get_by_role("heading", name="Studies").wait_for()
    page.get_by_role("button", name="Best params (JSON)").wait_for()
    # the GP mean map is the page's main chart: at 1440 px its plotting area is >= 450 px
    page.set_viewport_size({"width": 1440, "height": 900})
    wait_until(lambda: (map_area(page) or {"w": 0})["w"] >= 450,
               what="a GP mean map at least 450 px wide at 1440 px")  # fmt: skip
    shot(page, "studies")
    with page.expect_download() as info:
        page.get_by_role("button", name="Best params (JSON)").click()
    download = info.value
    assert download.suggested_filename == "e2e-best-params.json"
    data = json.loads(Path(download.path()).read_text())
    with sqlite3.connect(server.db) as conn:
        best = conn.execute(
            "SELECT MAX(value) FROM trials t JOIN studies s ON s.id = t.study_id "
            "WHERE s.name = 'e2e' AND t.status = 'complete'"
        ).fetchone()[0]
    assert data["study"] == "e2e" and data["dataset"] == "digits"
    assert set(data["params"]) == {"dropout2_rate", "lr"}
    assert data["best_observed"]["val_accuracy"] == pytest.approx(best)
    assert data["val_accuracy"] <= best and data["estimated_std"] > 0
    assert data["trials"] == kept

    # the replay plays on its own, on Studies and in the file it downloads, offline
    page.get_by_text("Play the replay").click()
    replay = page.locator(".js-plotly-plot").filter(has_text="replayed trial by trial")
    replay.get_by_text("after trial 1", exact=True).wait_for()
    replay.get_by_text("Play", exact=True).click()
    replay.get_by_text(f"after trial {kept}", exact=True).wait_for()  # the last, unaided
    with page.expect_download() as info:
        page.get_by_role("button", name="Replay (HTML)").click()
    assert info.value.suggested_filename == "e2e-replay.html"
    info.value.save_as(tmp_path / "e2e-replay.html")
    offline = new_page(browser)
    offline.route("**/*", lambda route: route.abort() if route.request.url.startswith("http")
                  else route.continue_())  # fmt: skip
    offline.goto((tmp_path / "e2e-replay.html").as_uri())
    offline.get_by_text("after trial 1", exact=True).wait_for()
    offline.get_by_text("Play", exact=True).click()
    offline.get_by_text(f"after trial {kept}", exact=True).wait_for()
    shot(offline, "replay")

    # the point clicked on the map trains first when the study resumes, then Stop
    page.goto(f"{server.url}/live")
    page.get_by_role("button", name="Resume").click()
    wait_until(lambda: chosen_status(server.db) in ("complete", "pruned"),
               what="the chosen trial trained")  # fmt: skip
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("e2e — stopped").wait_for()
    page.get_by_text("chosen by you", exact=True).first.wait_for(state="attached")  # the table

    # a warm start from Tune: the stopped study's trials, told first and marked inherited
    configure_tiny(page, server, init_points=1, n_iter=39, epochs=2, name="warm")

    def warm_started():  # the list closes if a rerun of the form redraws it meanwhile
        page.get_by_role("combobox", name="Start from the trials of (warm start)").click()
        try:  # the list can close between finding the option and clicking it
            page.get_by_role("option", name="e2e").click(timeout=10_000)
        except PlaywrightTimeout:
            return False
        return wait_for(lambda: page.get_by_text("This study starts from").count() > 0, 20)

    assert any(warm_started() for _ in range(5)), "the warm start was never chosen"
    start(page)
    page.get_by_text("inherited", exact=True).first.wait_for(state="attached")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("warm — stopped").wait_for()
    with sqlite3.connect(server.db) as conn:
        inherited = conn.execute(
            "SELECT COUNT(*) FROM trials t JOIN studies s ON s.id = t.study_id "
            "WHERE s.name = 'warm' AND t.origin = 'inherited'"
        ).fetchone()[0]
    assert inherited == db_count(server.db, "e2e", ("complete", "pruned", "failed"))


def test_a_trial_the_default_pruner_stops_is_marked_on_live(browser, server):
    """ASHA, the default pruner, stops a trial behind the others after its first epoch."""
    page = new_page(browser)
    configure_tiny(page, server, init_points=2, n_iter=10, epochs=3, name="pruning")
    start(page)
    wait_until(lambda: db_trials(server.db, "pruned", "pruning") >= 1, what="a pruned trial")
    wait_until(
        lambda: "pruned (accuracy when stopped)" in plot_text(page, 3), what="the pruned marker"
    )
    shot(page, "live-pruned")
    # once the GP has seen enough, Live says one trial's noise: the binomial floor of 180
    # validation images at least, never the 0.0001 a GP threading every value fits
    hint = page.get_by_test_id("stAlert").filter(has_text="one trial's noise").first
    hint.wait_for(timeout=180_000)
    noise = float(re.search(r"one trial's noise \((\d+\.\d+)\)", hint.inner_text()).group(1))
    assert 0.01 <= noise < 0.5
    page.get_by_text("Recommended: estimated accuracy").wait_for()
    page.get_by_text("Observed accuracy").wait_for()
    page.get_by_text("Recommended: trial").first.wait_for()
    shot(page, "live-recommended")


def test_server_killed_mid_trial_then_restarted_and_resumed(browser, own_server):
    server = own_server
    page = new_page(browser)
    configure_tiny(page, server, init_points=2, n_iter=2, epochs=3, name="crash")
    start(page)
    wait_until(
        lambda: db_trials(server.db, FINISHED) >= 1 and db_trials(server.db, "running") == 1,
        what="a finished trial and a running one",
    )
    server.kill()
    kept = db_trials(server.db, FINISHED)

    server.start()  # same database, new process
    page.goto(f"{server.url}/studies")  # a bookmark, as the first request of a new server
    page.get_by_text("crash — interrupted").wait_for()
    nav = page.get_by_test_id("stSidebarNav")
    assert [t.split()[-1] for t in nav.get_by_role("link").all_inner_texts()] == [
        "Tune",
        "Live",
        "Studies",
        "Learn",
    ]
    assert db_trials(server.db, FINISHED) == kept
    shot(page, "interrupted")
    page.get_by_role("button", name="Resume").click()
    page.wait_for_url("**/live")
    page.get_by_text("crash — complete").wait_for(timeout=180_000)
    assert db_trials(server.db, FINISHED) == 4
    assert db_trials(server.db, "cancelled") == 1  # the trial the kill cut short


def test_two_tabs_see_one_study_and_either_can_stop_it(browser, server):
    first = new_page(browser)
    # 40 trials, so the study is still running when the second tab stops it
    configure_tiny(first, server, init_points=3, n_iter=37, epochs=3, name="shared")
    start(first)
    # A Start from another tab is refused: one worker at a time. (Filled in before a second
    # Live tab opens: each open Live tab redraws its charts on the cores the trials use.)
    third = new_page(browser)
    configure_tiny(third, server, name="another")
    third.get_by_role("button", name="Start", exact=True).click()
    third.get_by_text("study 'shared' is running").wait_for()
    third.context.close()

    second = new_page(browser)
    second.goto(f"{server.url}/live")
    second.get_by_text("shared — running").wait_for()
    wait_until(lambda: db_trials(server.db, FINISHED, "shared") >= 1, what="a finished trial")
    done = db_trials(server.db, FINISHED, "shared")
    for page in (first, second):  # each tab draws the study's progress, however far it got
        wait_until(lambda p=page: shown_finished(p, 40) >= done, what=f"trials {done}/40 drawn")

    assert db_trials(server.db, FINISHED, "shared") < 40
    second.get_by_role("button", name="Stop").click()
    first.get_by_text("shared — stopped").wait_for()
    try:
        second.get_by_text("shared — stopped").wait_for()
    finally:
        shot(second, "second-tab")
    with sqlite3.connect(server.db) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM studies")]
    assert "shared" in names and "another" not in names


def test_a_third_hyperparameter_gets_axis_pickers_a_slice_note_and_importance(browser, server):
    page = new_page(browser)
    configure_tiny(page, server, init_points=3, n_iter=1, epochs=1, name="axes")
    page.get_by_text("dense_units", exact=True).click()
    page.get_by_label("dense_units low").wait_for()
    set_number(page, "dense_units low", 16)
    set_number(page, "dense_units high", 64)
    start(page)
    wait_until(lambda: db_trials(server.db, FINISHED, "axes") == 4, what="four finished trials")
    page.get_by_text("axes — complete").wait_for()
    # on Studies, which does not redraw itself every 2 s as Live does (a redraw can show
    # the old picker beside the new one for a moment)
    page.goto(f"{server.url}/studies")
    page.get_by_text("axes — complete").wait_for()
    page.get_by_label("x axis").click()
    page.get_by_role("option", name="dense_units").click()
    wait_until(
        lambda: (
            "a slice at dropout2_rate = " in plot_text(page) and "dense_units" in plot_text(page)
        ),
        what="the GP mean over dense_units x lr, a slice at the best dropout2_rate",
    )
    page.get_by_text("Each GP chart is a slice at dropout2_rate = ").wait_for()
    page.get_by_text("importance", exact=True).click()
    page.get_by_text("Which parameters matter").wait_for()
    page.get_by_text("Importance: each parameter's main effect").wait_for()
    shot(page, "axes")
    with sqlite3.connect(server.db) as conn:
        (space,) = conn.execute("SELECT config FROM studies WHERE name = 'axes'").fetchone()
    assert [p["name"] for p in json.loads(space)["space"]] == ["dropout2_rate", "lr", "dense_units"]


def test_two_parallel_trials_train_at_once_and_live_shows_both(browser, server):
    page = new_page(browser)
    configure_tiny(page, server, init_points=2, n_iter=2, epochs=30, batch=8, name="pair")
    set_number(page, "parallel trials", 2)
    page.get_by_text("more parallel trials start a local Ray").wait_for()
    start(page)
    # one progress bar per running trial, and their points marked on the surrogate charts
    page.get_by_text("trial 1: epoch").wait_for(timeout=180_000)
    page.get_by_text("trial 2: epoch").wait_for()
    wait_until(lambda: db_trials(server.db, "running", "pair") == 2, what="two running trials")
    page.get_by_text("training trials 1 and 2").wait_for()
    wait_until(
        lambda: "Validation accuracy, running trials" in plot_text(page, 4),
        what="one learning curve per running trial",
    )
    shot(page, "live-parallel")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("pair — stopped").wait_for(timeout=180_000)  # two Ray actors end
    assert db_trials(server.db, "cancelled", "pair") == 2
    assert db_trials(server.db, "running", "pair") == 0
    with sqlite3.connect(server.db) as conn:
        (parallel,) = conn.execute("SELECT config FROM studies WHERE name = 'pair'").fetchone()
    assert json.loads(parallel)["parallel"]["workers"] == 2


def bad_uploads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 10, 10), dtype=np.uint8)
    y = np.arange(40) % 3
    cases = {}

    def npz(name, **arrays):
        path = tmp_path / name
        np.savez(path, **arrays)
        return path

    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    cases[corrupt] = "not a readable .npz"
    objects = np.array([{"a": i} for i in range(40)], dtype=object)
    cases[npz("pickled.npz", x_train=x, y_train=objects)] = "never loaded"
    cases[npz("shape.npz", x_train=x.reshape(40, 100), y_train=y)] = "must have shape"
    cases[npz("lengths.npz", x_train=x, y_train=y[:30])] = "must match"
    cases[npz("oneclass.npz", x_train=x, y_train=np.zeros(40, int))] = "only one class"
    nan = x.astype(np.float32)
    nan[0, 0, 0] = np.nan
    cases[npz("nan.npz", x_train=nan, y_train=y)] = "NaN or infinite"
    return cases


def test_bad_uploads_are_explained_and_start_nothing(browser, server, tmp_path):
    before = study_names(server.db)
    page = new_page(browser)
    page.goto(server.url)
    page.get_by_role("button", name="Start", exact=True).wait_for()
    page.get_by_label("Dataset").click()
    page.get_by_role("option", name="Upload your own .npz").click()
    chooser = page.locator("input[type=file]")
    for path, message in bad_uploads(tmp_path).items():
        chooser.set_input_files(str(path))
        page.get_by_text(message, exact=False).first.wait_for()
        assert page.get_by_role("button", name="Start", exact=True).is_disabled()
    shot(page, "bad-upload")
    assert study_names(server.db) == before

    good = tmp_path / "good.npz"
    rng = np.random.default_rng(1)
    np.savez(
        good,
        x_train=rng.integers(0, 256, (400, 12, 12), dtype=np.uint8),
        y_train=np.arange(400) % 3,
    )
    chooser.set_input_files(str(good))
    page.get_by_text("good-").first.wait_for()
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_enabled()


def test_an_upload_over_the_size_limit_is_refused_by_the_server(browser, server, tmp_path):
    before = study_names(server.db)
    page = new_page(browser)
    page.goto(server.url)  # started with --server.maxUploadSize 1
    page.get_by_role("button", name="Start", exact=True).wait_for()
    page.get_by_label("Dataset").click()
    page.get_by_role("option", name="Upload your own .npz").click()
    big = tmp_path / "big.npz"
    np.savez(
        big,
        x_train=np.random.default_rng(0).random((3000, 28, 28)),
        y_train=np.arange(3000) % 10,
    )
    assert big.stat().st_size > 2 * 1024 * 1024
    page.locator("input[type=file]").set_input_files(str(big))
    page.get_by_text("Upload an .npz file of at most 1 MB").wait_for()
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_disabled()
    shot(page, "upload-too-large")
    assert study_names(server.db) == before


def test_the_watching_benchmark_runs_one_study_from_the_cli_and_one_watched_on_live(
    browser, tmp_path
):
    from bench import watching

    settings = watching.Settings(init_points=1, n_iter=0, epochs=1)
    rows = watching.collect(browser, tmp_path, repeats=1, workers=[1], s=settings)
    assert [r["way"] for r in rows] == ["cli", "live"]
    assert all(r["trials_per_hour"] > 0 and r["samples_per_second"] > 0 for r in rows)
    assert rows[1]["server_cpu"] > 0 and rows[1]["browser_cpu"] > 0
    lines = watching.report(rows, [1], settings)
    ratio = watching.ratios(rows, 1)["trials_per_hour"]
    assert ratio == pytest.approx(rows[1]["trials_per_hour"] / rows[0]["trials_per_hour"])
    assert any(line.startswith(f"| 1 | {ratio:.2f} |") for line in lines)
