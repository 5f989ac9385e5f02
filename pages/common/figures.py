"""Every chart of a snapshot, built once per snapshot version, and laid out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from core import charts
from core.snapshot import Snapshot
from core.space import Param, SearchSpace
from pages.common.registry import explained, replay_surrogate
from pages.common.steer import try_key

#: The GP mean map is the page's main chart; the std and acquisition maps stack beside it,
#: half its height each.
MAP_HEIGHT = 620


@st.cache_resource(max_entries=64, show_spinner=False)
def figures(
    version: tuple, _snap: Snapshot, _space: SearchSpace, pickable: bool = False
) -> dict[str, go.Figure]:
    """Every chart of a snapshot, built once per snapshot version.

    Building Plotly figures costs ~0.2 s of CPU; the Live page redraws every 2 s
    while training competes for the same cores, so figures are rebuilt only when a
    trial or an epoch ends.
    """
    trials = (*_snap.trials, *_snap.running)
    out = {
        surface: charts.surrogate_figure(
            _snap.surrogate,
            trials,
            _space,
            surface,
            height=MAP_HEIGHT if surface == "mean" else MAP_HEIGHT // 2,
            pickable=pickable and surface == "mean",
        )
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


def _pick_axes(snap: Snapshot, space: SearchSpace, key: str) -> tuple[Snapshot, tuple]:
    """With more than two parameters, x and y pickers; the snapshot with the surrogate over
    the picked pair (a slice at the best trial's values of the others), and its version."""
    if space.dim <= 2:
        return snap, snap.version
    names = space.names
    left, right, note = st.columns([1, 1, 3])
    x = left.selectbox("x axis", names, index=0, key=f"{key}-x")
    y = right.selectbox("y axis", names, index=1, key=f"{key}-y")
    if x == y:
        y = next(n for n in names if n != x)
        note.caption(f"x and y are the same parameter: showing y = {y}.")
    surrogate = None
    if snap.grid is not None:  # the snapshot's own map is over the first two parameters
        if (x, y) == tuple(names[:2]):
            surrogate = snap.surrogate
        else:
            surrogate = replay_surrogate(snap.study, snap.grid.n_observations, (x, y))
    if surrogate is not None and surrogate.slice_note:
        note.caption(f"Each GP chart is {surrogate.slice_note}.")
    return replace(snap, grid=surrogate), (*snap.version, x, y)


def _picked(event: Any, snap: Snapshot, space: SearchSpace) -> None:
    """A click on the GP mean map: its spot fills the "try here next" form
    (:func:`pages.common.steer.hand_on_search`), and the page reruns to show it."""
    points = [p for p in (event.selection.points if event else []) if "x" in p and "y" in p]
    if not points:
        return
    spot = (snap.study, points[0]["x"], points[0]["y"])
    if st.session_state.get("map-picked") == spot:
        return  # this click was handled
    st.session_state["map-picked"] = spot
    surrogate = snap.surrogate
    for name, shown in ((surrogate.x_name, spot[1]), (surrogate.y_name, spot[2])):
        st.session_state[try_key(snap.study, name)] = from_axis(space[name], shown)
    st.toast("Picked on the map: the point is in 'Try here next' below.")
    st.rerun(scope="app")


def surrogate_charts(
    snap: Snapshot,
    space: SearchSpace,
    key: str,
    pickable: bool = False,
) -> tuple[dict[str, go.Figure], Snapshot, tuple]:
    """The three GP charts over the picked axes: the mean large, the std and acquisition
    beside it. Returns every figure of the
    snapshot, and the snapshot with the picked surrogate and its version, for the rest."""
    snap, version = _pick_axes(snap, space, key)
    figs = figures(version, snap, space, pickable)
    main, side = st.columns([2, 1])
    if pickable and snap.surrogate is not None:
        event = main.plotly_chart(figs["mean"], key=f"{key}-mean", width="stretch",
                                  on_select="rerun", selection_mode="points")  # fmt: skip
        _picked(event, snap, space)
    else:
        main.plotly_chart(figs["mean"], key=f"{key}-mean", width="stretch")
    for surface in ("std", "acq"):
        side.plotly_chart(figs[surface], key=f"{key}-{surface}", width="stretch")
    return figs, snap, version


def from_axis(p: Param, shown: Any) -> Any:
    """A value read off a map's axis as parameter ``p`` takes it (a category by its name)."""
    return p.from_shown(shown)


#: The views of a space beyond the GP charts, built only when chosen: the Live page
#: redraws every 2 s on the cores training uses.
VIEWS = ("none", "3-D view", "importance", "parallel coordinates", "slices")


@st.cache_resource(max_entries=32, show_spinner=False)
def _view(version: tuple, view: str, _snap: Snapshot, _space: SearchSpace) -> go.Figure:
    if view == "3-D view":
        return charts.surface3d_figure(_snap.surrogate, _snap.trials, _space)
    if view == "importance":
        finished = len([t for t in _snap.trials if t.finished])
        return charts.importance_figure(explained(_snap.study, finished, "importance"))
    if view == "parallel coordinates":
        return charts.parallel_figure(_snap.trials, _space)
    return charts.slice_figure(_snap.trials, _space)


def space_charts(snap: Snapshot, space: SearchSpace, version: tuple, key: str) -> None:
    """One more view, as chosen: the GP in 3-D over the picked axes with its ±2σ surfaces,
    which parameters matter, or every trial across all parameters."""
    view = st.radio(
        "More views",
        VIEWS,
        horizontal=True,
        key=f"{key}-view",
        help="The GP mean in 3-D with ±2σ surfaces; each parameter's share of the GP's main "
        "effects; every trial as a line across the parameters; accuracy against each one.",
    )
    if view == "none":
        return
    st.plotly_chart(_view(version, view, snap, space), key=f"{key}-{view}", width="stretch")
    if view == "importance":
        st.caption(f"Importance: {charts.IMPORTANCE_METHOD}.")
