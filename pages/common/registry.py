"""The process-wide runner registry and the study store it writes to."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import streamlit as st

from core.export import handed_over
from core.replay import explained as replay_explained
from core.replay import surrogate_after
from core.runner import Registry
from core.snapshot import Snapshot
from core.store import Store
from core.views import Surrogate

DB_ENV = "TUNER_DB"


def db_path() -> Path:
    return Path(os.environ.get(DB_ENV, "runs/studies.db"))


@st.cache_resource(show_spinner=False)
def _registry(path: str) -> Registry:
    store = Store(path)
    return Registry(store, runs_dir=Path(path).parent, isolate=True, user_models=False)


def registry() -> Registry:
    """The process-wide runner registry for the configured database."""
    return _registry(str(db_path()))


def store() -> Store:
    return registry().store


def live_snapshot(name: str) -> Snapshot:
    """The runner's snapshot if this process runs the study, else a still one from the store."""
    runner = registry().get(name)
    if runner is not None:
        return runner.snapshot()
    study = store().load(name)
    return Snapshot.of_study(study, replay_surrogate(name, len(study.finished_trials)))


@st.cache_data(show_spinner=False, max_entries=64)
def replay_surrogate(name: str, k: int, axes: tuple[str, str] | None = None) -> Surrogate | None:
    """The surrogate right after the k-th finished trial over ``axes``, cached per
    (study, k, axes): a study's first k trials never change once finished."""
    return surrogate_after(store().load(name), k, axes=axes)


@st.cache_data(show_spinner=False, max_entries=64)
def recommended(name: str, k: int) -> dict | None:
    """The recommended trial and the GP's estimate of it after the k-th finished trial
    (:func:`core.export.handed_over`), cached per (study, k)."""
    return handed_over(store().load(name))


@st.cache_data(show_spinner=False, max_entries=128)
def explained(name: str, k: int, what: str) -> Any:
    """What :mod:`core.explain`'s ``what`` says after the study's k-th finished trial
    (:func:`core.replay.explained`), cached per (study, k, what): a study's first k trials
    never change once finished."""
    return replay_explained(store().load(name), what, k)
