"""Every chart of a snapshot, built once per snapshot version, and laid out."""

from __future__ import annotations

from dataclasses import replace

import plotly.graph_objects as go
import streamlit as st

from core import charts
from core.runner import Snapshot
from core.space import SearchSpace
from pages.common.registry import replay_importance, replay_surrogate


@st.cache_resource(max_entries=64, show_spinner=False)
def figures(version: tuple, _snap: Snapshot, _space: SearchSpace) -> dict[str, go.Figure]:
    """Every chart of a snapshot, built once per snapshot version.

    Building Plotly figures costs ~0.2 s of CPU; the Live page redraws every 2 s
    while training competes for the same cores, so figures are rebuilt only when a
    trial or an epoch ends.
    """
    trials = (*_snap.trials, *_snap.running)
    out = {
        surface: charts.surrogate_figure(_snap.surrogate, trials, _space, surface)
        for surface in ("mean", "std", "acq")
    }
    out["accuracy"] = charts.accuracy_figure(_snap.trials)
    out["compute"] = charts.compute_figure(_snap.trials)
    out["convergence"] = charts.convergence_figure(_snap.trials)
    out["3d"] = charts.surface3d_figure(_snap.surrogate, _snap.trials, _space)
    out["parallel"] = charts.parallel_figure(_snap.trials, _space)
    out["slices"] = charts.slice_figure(_snap.trials, _space)
    if len(_snap.running) > 1:
        out["curves"] = charts.running_curves(_snap.running, _snap.epochs_per_trial)
    else:
        shown = _snap.current or next((t for t in reversed(_snap.trials) if t.history), None)
        out["curves"] = charts.learning_curves(shown, _snap.epochs_per_trial)
    return out


def _pick_axes(snap: Snapshot, space: SearchSpace, key: str) -> tuple[Snapshot, tuple]:
    """With more than two parameters, x and y pickers; the snapshot with the surrogate over
    the picked pair (a slice at the best trial's values of the others), and its version."""
    surrogate = snap.surrogate
    if space.dim <= 2:
        return snap, snap.version
    names = space.names
    left, right, note = st.columns([1, 1, 3])
    x = left.selectbox("x axis", names, index=0, key=f"{key}-x")
    y = right.selectbox("y axis", names, index=1, key=f"{key}-y")
    if x == y:
        y = next(n for n in names if n != x)
        note.caption(f"x and y are the same parameter: showing y = {y}.")
    if surrogate is not None and (surrogate.x_name, surrogate.y_name) != (x, y):
        surrogate = replay_surrogate(snap.study, surrogate.n_observations, (x, y))
    if surrogate is not None and surrogate.slice_note:
        note.caption(f"Each GP chart is {surrogate.slice_note}.")
    return replace(snap, surrogate=surrogate), (*snap.version, x, y)


def surrogate_charts(snap: Snapshot, space: SearchSpace, key: str) -> dict[str, go.Figure]:
    """The three GP charts side by side, over the picked axes; returns every figure of the
    snapshot so the page can lay out the rest."""
    snap, version = _pick_axes(snap, space, key)
    figs = figures(version, snap, space)
    for col, surface in zip(st.columns(3), ("mean", "std", "acq"), strict=True):
        with col:
            st.plotly_chart(figs[surface], key=f"{key}-{surface}", width="stretch")
    return figs


def space_charts(figs: dict[str, go.Figure], snap: Snapshot, key: str) -> None:
    """The GP in 3-D, which parameters matter, and every trial across all parameters."""
    importance = replay_importance(snap.study, len([t for t in snap.trials if t.finished]))
    tabs = st.tabs(["3-D view", "Importance", "Parallel coordinates", "Slices"])
    with tabs[0]:
        st.plotly_chart(figs["3d"], key=f"{key}-3d", width="stretch")
    with tabs[1]:
        st.plotly_chart(charts.importance_figure(importance), key=f"{key}-imp", width="stretch")
        st.caption(f"Importance: {charts.IMPORTANCE_METHOD}.")
    with tabs[2]:
        st.plotly_chart(figs["parallel"], key=f"{key}-parallel", width="stretch")
    with tabs[3]:
        st.plotly_chart(figs["slices"], key=f"{key}-slices", width="stretch")
