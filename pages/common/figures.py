"""Every chart of a snapshot, built once per snapshot version, and laid out."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core import charts
from core.runner import Snapshot
from core.space import SearchSpace


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
    if len(_snap.running) > 1:
        out["curves"] = charts.running_curves(_snap.running, _snap.epochs_per_trial)
    else:
        shown = _snap.current or next((t for t in reversed(_snap.trials) if t.history), None)
        out["curves"] = charts.learning_curves(shown, _snap.epochs_per_trial)
    return out


def surrogate_charts(snap: Snapshot, space: SearchSpace, key: str) -> None:
    """The three GP charts side by side."""
    figs = figures(snap.version, snap, space)
    for col, surface in zip(st.columns(3), ("mean", "std", "acq"), strict=True):
        with col:
            st.plotly_chart(figs[surface], key=f"{key}-{surface}", width="stretch")
