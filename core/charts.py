"""Chart builders: plain data in (surrogate grids, trials), a Plotly figure out.

Pure functions: no Streamlit, no training, no database. An empty study still
draws a titled figure with a note, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.learn import Comparison, PlaygroundView
from core.optimizer import ACQUISITION_LABELS, Surrogate
from core.space import SearchSpace
from core.status import TrialStatus
from core.study import Trial

SURFACES = {
    "mean": ("GP mean (predicted accuracy)", "Viridis", "mean"),
    "std": ("GP standard deviation", "Magma", "std"),
    "acq": ("Acquisition", "Cividis", "acq"),
}
HEIGHT = 380


def _empty(title: str, note: str, height: int = HEIGHT) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title,
        height=height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {"text": note, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
        ],
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
    )
    return fig


def best_so_far(values: Sequence[float | None]) -> list[float | None]:
    """Running maximum, skipping failed trials (None) until a first success."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if v is not None and math.isfinite(v) and (best is None or v > best):
            best = v
        out.append(best)
    return out


def _hover(trial: Trial, names: Sequence[str]) -> str:
    parts = [f"trial {trial.number} ({'guided' if trial.guided else 'random'})"]
    parts += [f"{n} = {trial.params[n]:.4g}" for n in names]
    parts.append(
        f"val accuracy = {trial.value:.4f}" if trial.value is not None else f"{trial.status}"
    )
    return "<br>".join(parts)


def surrogate_figure(
    surrogate: Surrogate | None,
    trials: Iterable[Trial],
    space: SearchSpace,
    surface: str = "mean",
) -> go.Figure:
    """A heatmap of the GP's mean, std or acquisition over the first two parameters.

    Observed trials are dots coloured by accuracy; the next point is a star.
    A log-scale parameter gets a log axis.
    """
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {sorted(SURFACES)}, got {surface!r}")
    title, scale, attr = SURFACES[surface]
    px, py = space.params[0], space.params[1]
    trials = [t for t in trials if t.finished or t.status == TrialStatus.RUNNING]
    if surrogate is not None and surface == "acq":
        title = (
            f"Acquisition ({ACQUISITION_LABELS.get(surrogate.acquisition, surrogate.acquisition)})"
        )
    if surrogate is None:
        fig = _empty(title, "The Gaussian process appears after the first finished trial")
        fig.update_layout(xaxis={"visible": True, "title": px.name}, yaxis={"visible": True})
    else:
        fig = go.Figure(
            go.Heatmap(
                x=list(surrogate.x),
                y=list(surrogate.y),
                z=np.asarray(getattr(surrogate, attr)),
                colorscale=scale,
                colorbar={"thickness": 12, "len": 0.9},
                hovertemplate=f"{px.name}=%{{x:.3g}}<br>{py.name}=%{{y:.3g}}<br>{attr}=%{{z:.4f}}"
                "<extra></extra>",
                name=attr,
            )
        )
        fig.update_layout(
            title={"text": title, "subtitle": {"text": f"after {surrogate.n_observations} trials"}}
        )
    done = [t for t in trials if t.finished]
    if done:
        values = [t.value if t.value is not None else np.nan for t in done]
        fig.add_trace(
            go.Scatter(
                x=[t.params[px.name] for t in done],
                y=[t.params[py.name] for t in done],
                mode="markers",
                name="trials",
                marker={
                    "size": 11,
                    "color": values,
                    "colorscale": "RdYlGn",
                    "line": {"color": "black", "width": 1},
                    "showscale": False,
                    "symbol": ["circle" if t.value is not None else "x" for t in done],
                },
                text=[_hover(t, space.names) for t in done],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    if surrogate is not None and surrogate.next_point:
        nxt = surrogate.next_point
        fig.add_trace(
            go.Scatter(
                x=[nxt[px.name]],
                y=[nxt[py.name]],
                mode="markers",
                name="next point",
                marker={
                    "symbol": "star",
                    "size": 18,
                    "color": "white",
                    "line": {"color": "black", "width": 2},
                },
                hovertemplate=f"next: {px.name}=%{{x:.4g}}, {py.name}=%{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        xaxis={"title": px.name, "range": [px.low, px.high]},
        yaxis={
            "title": py.name,
            "type": "log" if py.log else "linear",
            "range": [math.log10(py.low), math.log10(py.high)] if py.log else [py.low, py.high],
            "exponentformat": "e",
            # one tick a decade when the range spans several, else Plotly's own
            "dtick": 1 if py.log and py.high / py.low >= 100 else None,
        },
    )
    return fig


def accuracy_figure(trials: Iterable[Trial]) -> go.Figure:
    """Validation accuracy per trial, random vs guided, with the best-so-far line."""
    done = [t for t in trials if t.finished]
    title = "Validation accuracy per trial"
    if not done:
        return _empty(title, "No trial has finished yet")
    numbers = [t.number for t in done]
    values = [t.value for t in done]
    fig = go.Figure()
    for guided, label, colour in ((False, "random", "#7f7f7f"), (True, "guided", "#1f77b4")):
        pts = [t for t in done if t.guided == guided and t.value is not None]
        if pts:
            fig.add_trace(
                go.Scatter(
                    x=[t.number for t in pts],
                    y=[t.value for t in pts],
                    mode="markers",
                    name=label,
                    marker={"size": 10, "color": colour},
                    hovertemplate="trial %{x}: %{y:.4f}<extra></extra>",
                )
            )
    failed = [t for t in done if t.value is None]
    if failed:
        fig.add_trace(
            go.Scatter(
                x=[t.number for t in failed],
                y=[min((v for v in values if v is not None), default=0.0)] * len(failed),
                mode="markers",
                name="failed",
                marker={"symbol": "x", "size": 11, "color": "#d62728"},
                text=[t.error or "failed" for t in failed],
                hovertemplate="trial %{x} failed: %{text}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=numbers,
            y=best_so_far(values),
            mode="lines",
            line={"shape": "hv", "color": "#2ca02c", "width": 3},
            name="best so far",
        )
    )
    fig.update_layout(
        title=title,
        height=HEIGHT,
        xaxis={"title": "trial", "dtick": 1 if len(done) <= 30 else None},
        yaxis={"title": "validation accuracy"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def learning_curves(trial: Trial | None, epochs: int | None = None) -> go.Figure:
    """Train / validation accuracy and loss per epoch of one trial."""
    if trial is None or not trial.history:
        note = "Waiting for the first epoch to end" if trial is not None else "No trial selected"
        title = f"Learning curves, trial {trial.number}" if trial is not None else "Learning curves"
        return _empty(title, note)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("accuracy", "loss"))
    ep = [h["epoch"] for h in trial.history]
    for col, metric in ((1, "accuracy"), (2, "loss")):
        for key, name, dash in ((metric, "train", "solid"), (f"val_{metric}", "validation", "dot")):
            fig.add_trace(
                go.Scatter(
                    x=ep,
                    y=[h.get(key) for h in trial.history],
                    mode="lines+markers",
                    name=f"{name} {metric}",
                    line={"dash": dash},
                ),
                row=1,
                col=col,
            )
    rng = [0.5, (epochs or max(ep)) + 0.5]
    fig.update_xaxes(title_text="epoch", range=rng, dtick=1)
    params = ", ".join(f"{k}={v:.3g}" for k, v in trial.params.items())
    fig.update_layout(
        title=f"Learning curves, trial {trial.number} ({params})",
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def comparison_figure(curves: Mapping[str, Sequence[float | None]]) -> go.Figure:
    """Best-so-far validation accuracy of several studies on one chart."""
    title = "Best so far, by study"
    if not curves or not any(curves.values()):
        return _empty(title, "Choose studies with finished trials")
    fig = go.Figure()
    for name, values in curves.items():
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=best_so_far(values),
                mode="lines+markers",
                line={"shape": "hv"},
                name=name,
            )
        )
    fig.update_layout(
        title=title,
        height=HEIGHT,
        xaxis={"title": "trial"},
        yaxis={"title": "best validation accuracy"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return fig


def sample_grid(images: np.ndarray, labels: np.ndarray, n: int = 16) -> go.Figure:
    """The first ``n`` images of a dataset with their labels."""
    n = min(n, len(images))
    if n == 0:
        return _empty("Samples", "No images")
    cols = min(8, n)
    rows = math.ceil(n / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[str(int(labels[i])) for i in range(n)],
        horizontal_spacing=0.01,
        vertical_spacing=0.08,
    )
    for i in range(n):
        img = np.asarray(images[i])
        z = img[..., 0] if img.shape[-1] == 1 else img.mean(axis=-1)
        fig.add_trace(
            go.Heatmap(z=z[::-1], colorscale="gray_r", showscale=False, hoverinfo="skip"),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor=None)
    fig.update_layout(height=110 * rows + 40, margin={"l": 5, "r": 5, "t": 30, "b": 5}, title=None)
    return fig


def class_counts_figure(counts: Mapping[int, int]) -> go.Figure:
    if not counts:
        return _empty("Class counts", "No labels")
    fig = go.Figure(go.Bar(x=[str(k) for k in counts], y=list(counts.values())))
    fig.update_layout(
        title="Images per class",
        height=250,
        xaxis={"title": "class"},
        yaxis={"title": "images"},
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
    )
    return fig


def playground_figure(view: PlaygroundView, show_truth: bool = False) -> go.Figure:
    """The 1-D GP: mean, 95% band, sample paths, observations, and the next point."""
    fig = go.Figure()
    x = list(view.x)
    if view.observed_x:
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
                    name="posterior samples",
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
                name="GP mean",
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
    fig.update_layout(
        title=f"Gaussian process after {n} observation{'s' if n != 1 else ''}",
        height=HEIGHT,
        xaxis={"title": "x", "range": [x[0], x[-1]]},
        yaxis={"title": "f(x)"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def acquisition_1d_figure(view: PlaygroundView) -> go.Figure:
    """The acquisition function under the playground, its maximum marked as the next point."""
    title = f"Acquisition ({ACQUISITION_LABELS.get(view.acquisition, view.acquisition)})"
    if not view.observed_x:
        fig = _empty(title, "Random points come first: press Next step", height=250)
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
