"""The Learn page's charts: the 1-D playground and the optimizer comparison."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.charts._base import BELOW_AXIS_TITLE, HEIGHT, LEGEND_ROOM, empty_figure
from core.learn import Comparison, PlaygroundView
from core.options import ACQUISITION_LABELS


def playground_figure(view: PlaygroundView, show_truth: bool = False) -> go.Figure:
    """The 1-D GP: mean, 95% band, sample paths, observations, and the next point."""
    fig = go.Figure()
    x = list(view.x)
    prior = not view.observed_x
    if np.isfinite(view.mean).all():
        mean = np.asarray(view.mean)
        std = np.asarray(view.std)
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=list(mean + 1.96 * std) + list((mean - 1.96 * std)[::-1]),
                fill="toself",
                fillcolor="rgba(31,119,180,0.18)",
                line={"width": 0},
                name="95% band",
                hoverinfo="skip",
            )
        )
        for i, path in enumerate(view.samples):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=list(path),
                    mode="lines",
                    line={"width": 1, "color": "#9ecae1"},
                    name="prior samples" if prior else "posterior samples",
                    showlegend=i == 0,
                    hoverinfo="skip",
                )
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(mean),
                mode="lines",
                line={"color": "#1f77b4", "width": 3},
                name="prior mean" if prior else "GP mean",
            )
        )
    if show_truth:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=list(view.truth),
                mode="lines",
                line={"color": "black", "dash": "dash"},
                name="hidden function",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=list(view.observed_x),
            y=list(view.observed_y),
            mode="markers",
            name="observations",
            marker={"size": 10, "color": "#d62728", "line": {"color": "black", "width": 1}},
        )
    )
    fig.add_vline(x=view.next_x, line={"color": "#2ca02c", "dash": "dot"})
    n = len(view.observed_x)
    title = f"Gaussian process after {n} observation{'s' if n != 1 else ''}"
    if prior:
        title = {
            "text": "The Gaussian process before any observation: its prior",
            "subtitle": {
                "text": "mean 0 and 95% band ±1.96 in the standardised units it is fitted "
                "in; each sample is a function it believes possible"
            },
        }
    fig.update_layout(
        title=title,
        height=HEIGHT,
        xaxis={"title": "x", "range": [x[0], x[-1]]},
        yaxis={"title": "f(x)"},
        margin={"l": 60, "r": 20, "t": 70 if prior else 50, "b": 50 + LEGEND_ROOM},
        legend=BELOW_AXIS_TITLE,
    )
    return fig


def acquisition_1d_figure(view: PlaygroundView) -> go.Figure:
    """The acquisition function under the playground, its maximum marked as the next point."""
    title = f"Acquisition ({ACQUISITION_LABELS.get(view.acquisition, view.acquisition)})"
    if not view.observed_x:
        fig = empty_figure(title, "Random points come first: press Next step", height=250)
        return fig
    fig = go.Figure(
        go.Scatter(
            x=list(view.x),
            y=list(view.acq),
            mode="lines",
            fill="tozeroy",
            line={"color": "#ff7f0e"},
            name="acquisition",
        )
    )
    label = "next point (maximum)" if view.guided else "next point (random start)"
    fig.add_vline(x=view.next_x, line={"color": "#2ca02c", "dash": "dot"}, annotation_text=label)
    fig.update_layout(
        title=title,
        height=250,
        xaxis={"title": "x", "range": [view.x[0], view.x[-1]]},
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        showlegend=False,
    )
    return fig


METHOD_COLOURS = {"bayes": "#1f77b4", "random": "#7f7f7f", "grid": "#ff7f0e"}


def regret_figure(comparison: Comparison) -> go.Figure:
    """Median simple regret per trial with a quartile band, one line per method."""
    fig = go.Figure()
    trials = list(range(1, comparison.budget + 1))
    for method in comparison.regret:
        q25, q50, q75 = (np.maximum(q, 1e-6) for q in comparison.quantiles(method))  # log axis
        colour = METHOD_COLOURS.get(method, "#333333")
        fig.add_trace(
            go.Scatter(
                x=trials + trials[::-1],
                y=list(q75) + list(q25[::-1]),
                fill="toself",
                fillcolor=colour,
                opacity=0.15,
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
                name=f"{method} quartiles",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=trials, y=list(q50), mode="lines", line={"color": colour, "width": 3}, name=method
            )
        )
    fig.update_layout(
        title=f"{comparison.benchmark}: median regret over {comparison.seeds} seeds "
        "(band: quartiles)",
        height=HEIGHT,
        xaxis={"title": "trial"},
        yaxis={"title": "simple regret (optimum - best so far)", "type": "log"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig
