"""Streamlit glue shared by the pages: the runner registry, cached data, study views.

Long-lived objects live in ``st.cache_resource``; per-user choices in ``st.session_state``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import charts
from core.data import BUILTIN, Dataset, load_dataset
from core.eta import assumed_rate, measured_rate
from core.optimizer import Surrogate
from core.runner import Registry, Snapshot
from core.space import SearchSpace
from core.store import Store
from core.study import Study, Trial, surrogate_after

DB_ENV = "TUNER_DB"


def use_app_navigation() -> None:
    """Route through app.py's st.navigation even on a server's very first request.

    Streamlit runs a folder named pages/ the old way (each file a page, app.py
    skipped) until some session has called st.navigation; a bookmark to /live
    opened right after a server start would otherwise show every module in
    pages/ as a page. On a session's first run, flip that switch and rerun through
    app.py (a first run carries no widget event that a rerun could lose).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if "_navigation_checked" in st.session_state:
        return
    st.session_state["_navigation_checked"] = True
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def db_path() -> Path:
    return Path(os.environ.get(DB_ENV, "runs/studies.db"))


@st.cache_resource(show_spinner=False)
def _registry(path: str) -> Registry:
    store = Store(path)
    return Registry(store, runs_dir=Path(path).parent, isolate=True)


def registry() -> Registry:
    """The process-wide runner registry for the configured database."""
    return _registry(str(db_path()))


def store() -> Store:
    return registry().store


def stop_if_no_studies(has_studies: bool) -> None:
    """On an empty database, point to Tune and end the page."""
    if not has_studies:
        st.info("No study yet: start one on the Tune page.")
        st.page_link("pages/tune.py", label="Go to Tune", icon=":material/tune:")
        st.stop()


@st.cache_resource(show_spinner="Loading the dataset...", max_entries=4)
def dataset(name: str, seed: int = 1, val_fraction: float = 0.1) -> Dataset:
    """Loaded once per (name, seed): the trainer reads these arrays, never copies them."""
    return load_dataset(name, seed=seed, val_fraction=val_fraction)


def save_upload(name: str, data: bytes) -> Path:
    """Store an uploaded file under its content hash.

    The user's file name never becomes a path: only its stem, reduced to letters,
    digits, '.', '_' and '-', is kept as a readable prefix.
    """
    folder = db_path().parent / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(name.replace("\\", "/")).stem)[:40] or "upload"
    path = folder / f"{stem}-{digest}.npz"
    if not path.exists():
        path.write_bytes(data)
    return path


def dataset_label(name: str) -> str:
    info = BUILTIN.get(name)
    if info is None:
        return f"{Path(name).name} (uploaded)"
    return f"{info.title} — {info.size}, {'offline' if info.offline else 'needs a download once'}"


def throughput(dataset_name: str, input_shape: tuple[int, ...]) -> tuple[float, str]:
    """Training samples a second: measured from past epochs on this dataset, else assumed."""
    histories = [
        t.history
        for s in store().list()
        if s.config.dataset == dataset_name
        for t in s.trials
        if t.history
    ]
    rate = measured_rate(histories)
    if rate is not None:
        return rate, f"measured on this machine over {sum(map(len, histories))} past epochs"
    return assumed_rate(input_shape), "assumed (no trial measured on this dataset yet)"


def live_snapshot(name: str) -> Snapshot:
    """The runner's snapshot if this process runs the study, else a still one from the store."""
    runner = registry().get(name)
    if runner is not None:
        return runner.snapshot()
    study = store().load(name)
    return Snapshot.of_study(study, _stored_surrogate(name, len(study.finished_trials)))


@st.cache_data(show_spinner=False, max_entries=64)
def _stored_surrogate(name: str, k: int) -> Surrogate | None:
    return surrogate_after(store().load(name), k)


def replay_surrogate(name: str, k: int) -> Surrogate | None:
    """The surrogate right after the k-th finished trial, cached per (study, k)."""
    return _stored_surrogate(name, k)


def trials_frame(trials: Iterable[Trial]) -> pd.DataFrame:
    rows = []
    for t in trials:
        rows.append(
            {
                "trial": t.number,
                "kind": "guided" if t.guided else "random",
                **{k: v for k, v in t.params.items()},
                "status": t.status,
                "val accuracy": t.value,
                "epochs": len(t.history),
                "seconds": None if t.seconds is None else round(t.seconds, 1),
                "error": t.error or "",
            }
        )
    return pd.DataFrame(rows)


@st.cache_resource(max_entries=64, show_spinner=False)
def figures(version: tuple, _snap: Snapshot, _space: SearchSpace) -> dict[str, go.Figure]:
    """Every chart of a snapshot, built once per snapshot version.

    Building Plotly figures costs ~0.2 s of CPU; the Live page redraws every second
    while training competes for the same cores, so figures are rebuilt only when a
    trial or an epoch ends.
    """
    trials = _snap.trials if _snap.current is None else (*_snap.trials, _snap.current)
    out = {
        surface: charts.surrogate_figure(_snap.surrogate, trials, _space, surface)
        for surface in ("mean", "std", "acq")
    }
    out["accuracy"] = charts.accuracy_figure(_snap.trials)
    shown = _snap.current or next((t for t in reversed(_snap.trials) if t.history), None)
    out["curves"] = charts.learning_curves(shown, _snap.epochs_per_trial)
    return out


def surrogate_charts(snap: Snapshot, space: SearchSpace, key: str) -> None:
    """The three GP charts side by side."""
    figs = figures(snap.version, snap, space)
    for col, surface in zip(st.columns(3), ("mean", "std", "acq"), strict=True):
        with col:
            st.plotly_chart(figs[surface], key=f"{key}-{surface}", width="stretch")


def best_card(study: Study) -> None:
    best = study.best_trial
    if best is None:
        st.info("No trial has completed yet.")
        return
    final = study.final or {}
    cols = st.columns(4)
    cols[0].metric(
        "Best validation accuracy",
        f"{best.value:.4f}",
        help=f"Trial {best.number}, one training run. Retraining the same params moved "
        "validation accuracy by about 0.01 on mnist-5k and on a Fashion-MNIST subset "
        "(docs/BENCHMARKS.md): a lead smaller than that over another trial is within noise.",
    )
    cols[1].metric("dropout2_rate", f"{best.params['dropout2_rate']:.3f}")
    cols[2].metric("learning rate", f"{best.params['lr']:.2e}")
    test = final.get("test_accuracy")
    cols[3].metric(
        "Test accuracy",
        f"{test:.4f}" if test is not None else "not evaluated",
        help="One evaluation on the held-out test split after retraining the best params "
        "on train+validation. The test split never guides the search.",
    )


def model_file(study: Study) -> Path | None:
    """The study's retrained model, only if it lies inside this app's runs folder."""
    path = (study.final or {}).get("model_path")
    if not path:
        return None
    root = db_path().parent.resolve()
    resolved = Path(path).resolve()
    if root not in resolved.parents or not resolved.is_file():
        return None
    return resolved
