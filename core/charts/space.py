"""Charts of a search space of any size: which parameters matter, every trial across all of
them, one slice per parameter, and the GP over two of them in 3-D with its uncertainty."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts._base import HEIGHT, empty_figure
from core.space import Param, SearchSpace, show
from core.study import Trial
from core.views import Importance, Surrogate

#: How the importance chart says what it measures.
IMPORTANCE_METHOD = (
    "each parameter's main effect on the GP's predicted accuracy (the variance over its "
    "values of the prediction averaged over the others), as a share of their sum"
)


def axis_layout(p: Param) -> dict[str, Any]:
    """A 2-D axis for parameter ``p``: log for a log float or a powers-of-two int, category
    for a categorical, linear otherwise, over the parameter's range."""
    if p.choices:
        return {"title": p.name, "type": "category", "categoryorder": "array",
                "categoryarray": [str(c) for c in p.choices]}  # fmt: skip
    if p.log and p.discrete:  # powers of two: a tick at each, half a step to spare
        half = math.log10(2) / 2
        return {
            "title": p.name,
            "type": "log",
            "range": [math.log10(p.low) - half, math.log10(p.high) + half],
            "tickvals": list(p.levels),
            "ticktext": [str(v) for v in p.levels],
        }
    if p.log:
        return {
            "title": p.name,
            "type": "log",
            "range": [math.log10(p.low), math.log10(p.high)],
            "exponentformat": "e",
            # one tick a decade when the range spans several, else Plotly's own
            "dtick": 1 if p.high / p.low >= 100 else None,
        }
    pad = 0.5 if p.discrete else 0.0
    return {"title": p.name, "type": "linear", "range": [p.low - pad, p.high + pad]}


def _numeric_axis(p: Param) -> dict[str, Any]:
    """A numeric axis's title and ticks for ``p`` (as :func:`coordinate` places values)."""
    if p.choices:
        return {"title": p.name, "tickvals": list(range(len(p.choices))),
                "ticktext": [str(c) for c in p.choices]}  # fmt: skip
    if p.log:
        values = p.levels if p.discrete else [
            10.0**e for e in range(math.ceil(math.log10(p.low)), math.floor(math.log10(p.high)) + 1)
        ]  # fmt: skip
        return {"title": p.name, "tickvals": [math.log10(v) for v in values],
                "ticktext": [show(v) for v in values]}  # fmt: skip
    return {"title": p.name}


def _told(trials: Iterable[Trial]) -> list[Trial]:
    return [t for t in trials if t.finished and t.value is not None]


def importance_figure(importance: Importance | None) -> go.Figure:
    """One bar per parameter: its share of the GP mean's main effects."""
    title = "Which parameters matter"
    if importance is None:
        return empty_figure(title, "Estimated from the GP once trials have finished")
    ranked = importance.ranked()[::-1]  # the largest on top
    fig = go.Figure(
        go.Bar(
            x=[share for _, share in ranked],
            y=[name for name, _ in ranked],
            orientation="h",
            marker={"color": "#1f77b4"},
            text=[f"{share:.0%}" for _, share in ranked],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%} of the main effects<extra></extra>",
        )
    )
    fig.update_layout(
        title={
            "text": title,
            "subtitle": {"text": f"GP main effects after {importance.n_observations} trials"},
        },
        height=max(HEIGHT, 60 + 40 * len(ranked)),
        xaxis={"title": "share of the main effects", "tickformat": ".0%", "range": [0, 1]},
        margin={"l": 120, "r": 20, "t": 60, "b": 50},
    )
    return fig


def parallel_figure(trials: Iterable[Trial], space: SearchSpace) -> go.Figure:
    """Every completed trial as a line across all parameters and its accuracy."""
    done = _told(trials)
    title = "Parallel coordinates"
    if not done:
        return empty_figure(title, "No trial has finished yet")
    dims = []
    for p in space.params:
        axis = _numeric_axis(p)
        low, high = (0, len(p.choices) - 1) if p.choices else (
            p.coordinate(p.low), p.coordinate(p.high)
        )  # fmt: skip
        dims.append(
            {
                "label": axis["title"],
                "values": [p.coordinate(t.params[p.name]) for t in done],
                "range": [low, high],
                **({"tickvals": axis["tickvals"], "ticktext": axis["ticktext"]}
                   if "tickvals" in axis else {}),
            }
        )  # fmt: skip
    values = [t.value for t in done]
    dims.append({"label": "val accuracy", "values": values})
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": values,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": "accuracy", "thickness": 12},
            },
            dimensions=dims,
        )  # fmt: skip
    )
    fig.update_layout(title=title, height=HEIGHT, margin={"l": 60, "r": 40, "t": 80, "b": 30})
    return fig


def slice_figure(trials: Iterable[Trial], space: SearchSpace, columns: int = 4) -> go.Figure:
    """One panel per parameter: each completed trial's accuracy against its value."""
    done = _told(trials)
    title = "Accuracy against each parameter"
    if not done:
        return empty_figure(title, "No trial has finished yet")
    cols = min(columns, space.dim)
    rows = math.ceil(space.dim / cols)
    fig = make_subplots(rows=rows, cols=cols, shared_yaxes=True, horizontal_spacing=0.04,
                        vertical_spacing=0.25 if rows > 1 else 0.1)  # fmt: skip
    numbers = [t.number for t in done]
    for i, p in enumerate(space.params):
        row, col = i // cols + 1, i % cols + 1
        fig.add_trace(
            go.Scatter(
                x=[p.shown(t.params[p.name]) for t in done],
                y=[t.value for t in done],
                mode="markers",
                marker={
                    "color": numbers,
                    "colorscale": "Blues",
                    "size": 9,
                    "line": {"color": "black", "width": 0.5},
                },
                text=[f"trial {n}" for n in numbers],
                hovertemplate=f"%{{text}}: {p.name}=%{{x}}, accuracy %{{y:.4f}}<extra></extra>",
                showlegend=False,
            ),  # fmt: skip
            row=row,
            col=col,
        )
        axis = {k: v for k, v in axis_layout(p).items() if k != "title"}
        fig.update_xaxes(title_text=p.name, row=row, col=col, **axis)
    fig.update_yaxes(title_text="val accuracy", col=1)
    fig.update_layout(
        title={"text": title, "subtitle": {"text": "darker: later trials"}},
        height=max(HEIGHT, 300 * rows),
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
    )
    return fig


def surface3d_figure(
    surrogate: Surrogate | None, trials: Iterable[Trial], space: SearchSpace
) -> go.Figure:
    """The GP mean over two parameters as a surface, mean ± 2σ as translucent surfaces
    above and below it, and the trials as points at their accuracies."""
    title = "The GP in 3-D: mean and ±2σ"
    if surrogate is None:
        return empty_figure(title, "The Gaussian process appears after the first finished trial")
    px, py = space[surrogate.x_name], space[surrogate.y_name]
    x = [px.coordinate(v) for v in surrogate.x]
    y = [py.coordinate(v) for v in surrogate.y]
    mean, std = np.asarray(surrogate.mean), np.asarray(surrogate.std)
    hover = f"{px.name} %{{x:.3g}}<br>{py.name} %{{y:.3g}}<br>%{{z:.4f}}<extra></extra>"
    fig = go.Figure()
    for z, name, opacity, scale in (
        (mean + 2 * std, "mean + 2σ", 0.25, [[0, "#d62728"], [1, "#d62728"]]),
        (mean, "GP mean", 0.95, "Viridis"),
        (mean - 2 * std, "mean - 2σ", 0.25, [[0, "#1f77b4"], [1, "#1f77b4"]]),
    ):
        fig.add_trace(
            go.Surface(x=x, y=y, z=z, name=name, opacity=opacity, colorscale=scale,
                       showscale=False, showlegend=True, hovertemplate=name + "<br>" + hover)
        )  # fmt: skip
    done = _told(trials)
    if done:
        fig.add_trace(
            go.Scatter3d(
                x=[px.coordinate(t.params[px.name]) for t in done],
                y=[py.coordinate(t.params[py.name]) for t in done],
                z=[t.value for t in done],
                mode="markers",
                name="trials",
                marker={"size": 4, "color": "black"},
                text=[f"trial {t.number}" for t in done],
                hovertemplate="%{text}: %{z:.4f}<extra></extra>",
            )
        )
    n = surrogate.n_observations
    note = f"after {n} trial" + ("" if n == 1 else "s")
    if surrogate.slice_note:
        note += f"; {surrogate.slice_note}, trials at their own values"
    xa, ya = _numeric_axis(px), _numeric_axis(py)
    fig.update_layout(
        title={"text": title, "subtitle": {"text": note}},
        height=HEIGHT + 160,
        margin={"l": 10, "r": 10, "t": 70, "b": 10},
        legend={"orientation": "h", "y": 0.0},
        scene={
            "xaxis": {"title": {"text": xa.pop("title")}, **xa},
            "yaxis": {"title": {"text": ya.pop("title")}, **ya},
            "zaxis": {"title": {"text": "val accuracy"}},
        },
    )
    return fig
