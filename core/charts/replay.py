"""The replay: the GP mean map after each finished trial, as Plotly frames that play on
their own, for the Studies page and for a self-contained HTML file to show others."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts._base import HEIGHT, empty_figure
from core.charts.study import _at, spread_range, surrogate_figure
from core.space import SearchSpace
from core.study import Trial
from core.views import Surrogate

TITLE = "GP mean (predicted accuracy), replayed trial by trial"
#: Milliseconds each step of the replay shows when it plays.
STEP_MS = 900
#: Where Play and the slider sit: below the x-axis title, in plot-area coordinates.
BELOW = -0.2


def _step_traces(
    surrogate: Surrogate, trials: Sequence[Trial], space: SearchSpace, height: int
) -> tuple[list[go.BaseTraceType], go.Layout]:
    """The traces of one step, always four and in one order (a frame replaces the traces
    at the same places): the mean, the trials so far, the newest trial ringed, the next
    point; and the step's map layout (its subtitle says after how many trials)."""
    fig = surrogate_figure(surrogate, trials, space, "mean", height)
    by_name = {t.name: t for t in fig.data}
    px, py = space[surrogate.x_name], space[surrogate.y_name]
    newest = trials[-1]
    ring = go.Scatter(
        x=[_at(px, newest.params[px.name])],
        y=[_at(py, newest.params[py.name])],
        mode="markers",
        name="newest trial",
        cliponaxis=False,
        marker={"symbol": "circle-open", "size": 24, "color": "white", "line": {"width": 3}},
        hovertemplate=f"trial {newest.number}, just told to the GP<extra></extra>",
    )
    empty = go.Scatter(x=[], y=[], mode="markers", name="next point")
    traces = [fig.data[0], by_name["trials"], ring, by_name.get("next point", empty)]
    return traces, fig.layout


def replay_figure(
    steps: Sequence[Surrogate | None],
    trials: Sequence[Trial],
    space: SearchSpace,
    height: int = HEIGHT + 140,
    title: str = TITLE,
) -> go.Figure:
    """The GP mean map after each of the study's finished ``trials``: ``steps[k - 1]`` is
    the surrogate right after the k-th. One Plotly frame per step, a Play and a Pause
    button, and a slider; it opens at the first step. A study without two parameters or
    without a surrogate to show draws a note instead."""
    shown = [(k, s) for k, s in enumerate(steps, start=1) if s is not None]
    if space.dim < 2 or not shown:
        why = (
            f"A replay needs two parameters: this study tunes one ({space.names[0]})."
            if space.dim < 2
            else "Nothing to replay before the first finished trial."
        )
        return empty_figure(title, why, height)
    # one colour scale for every step, so a colour means the same accuracy throughout
    means = np.concatenate([np.ravel(s.mean) for _, s in shown])
    zmin, zmax = spread_range(
        float(means.min()), float(means.max()), max(s.noise for _, s in shown)
    )
    values = [t.value for t in trials if t.value is not None and np.isfinite(t.value)]
    frames, layouts = [], []
    for k, surrogate in shown:
        traces, layout = _step_traces(surrogate, trials[:k], space, height)
        layouts.append(layout)
        note = layout.title.subtitle.text
        traces[0].update(zmin=zmin, zmax=zmax, zauto=False)
        if values:
            traces[1].marker.update(cmin=min(values), cmax=max(values))
        frames.append(
            go.Frame(
                data=traces,
                name=str(k),
                layout={"title": {"text": title, "subtitle": {"text": note}}},
            )
        )
    fig = go.Figure(data=frames[0].data, frames=frames, layout=layouts[0])  # the first step
    play = {"frame": {"duration": STEP_MS, "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}}  # fmt: skip
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}
    fig.update_layout(
        title={"text": title, "subtitle": {"text": frames[0].layout.title.subtitle.text}},
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 64, "b": 140},
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "xanchor": "left",
                "y": BELOW,
                "yanchor": "top",
                "pad": {"t": 4},
                "buttons": [
                    {"label": "Play", "method": "animate", "args": [None, play]},
                    {"label": "Pause", "method": "animate", "args": [[None], pause]},
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "x": 0.18,
                "len": 0.82,
                "y": BELOW,
                "yanchor": "top",
                "pad": {"t": 0},
                "currentvalue": {"prefix": "after trial "},
                "steps": [
                    {
                        "label": frame.name,
                        "method": "animate",
                        "args": [[frame.name], {**pause, "frame": {"duration": 0, "redraw": True}}],
                    }
                    for frame in frames
                ],
            }
        ],
    )
    return fig
