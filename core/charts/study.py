"""A study's charts: the GP surrogate maps, accuracy per trial, learning curves, and
studies side by side."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts._base import BELOW_AXIS_TITLE, HEIGHT, LEGEND_ROOM, empty_figure
from core.charts.space import axis_layout
from core.options import ACQUISITION_LABELS
from core.space import Param, SearchSpace, show
from core.status import TrialStatus
from core.study import Trial, repeats
from core.views import Calibration, Surrogate

SURFACES = {
    "mean": ("GP mean (predicted accuracy)", "Viridis", "mean"),
    "std": ("GP standard deviation", "Magma", "std"),
    "acq": ("Acquisition", "Cividis", "acq"),
}


def best_so_far(values: Sequence[float | None]) -> list[float | None]:
    """Running maximum, skipping failed trials (None) until a first success."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        if v is not None and math.isfinite(v) and (best is None or v > best):
            best = v
        out.append(best)
    return out


def _hover(trial: Trial, names: Sequence[str], repeat_of: int | None = None) -> str:
    label = trial.label
    if repeat_of is not None:
        label += f", a deliberate repeat of trial {repeat_of}"
    parts = [f"trial {trial.number} ({label})"]
    parts += [f"{n} = {show(trial.params[n])}" for n in names]
    if trial.status == TrialStatus.PRUNED:
        parts.append(
            f"pruned after epoch {len(trial.history)} at {trial.value:.4f}: partial, "
            "told to the GP as projected to the whole budget"
        )
    elif trial.value is not None:
        parts.append(f"val accuracy = {trial.value:.4f}")
    else:
        parts.append(f"failed: {trial.error}" if trial.error else f"{trial.status}")
    return "<br>".join(parts)


#: How a finished trial is marked on the maps: a complete one a dot, a pruned (partial)
#: one a downward triangle, a failed one a cross.
SYMBOLS = {TrialStatus.COMPLETE: "circle", TrialStatus.PRUNED: "triangle-down",
           TrialStatus.FAILED: "x"}  # fmt: skip


def colour_range(surrogate: Surrogate, surface: str = "mean") -> tuple[float, float]:
    """The colour scale's ends for a map of ``surface``: a map never stretches a difference
    the model cannot tell from noise over the whole ramp.

    The mean's scale spans at least one trial's fitted noise either side of its centre, so
    a map flatter than the noise looks flat. The std's starts at 0 and reaches at least the
    noise, so a band of 0.00411 to 0.00413 is one colour, as it is one belief. The
    acquisition's is its own range: only its peak matters."""
    z = np.asarray(getattr(surrogate, SURFACES[surface][2]), dtype=float)
    low, high = float(np.nanmin(z)), float(np.nanmax(z))
    if surface == "mean":
        return spread_range(low, high, surrogate.noise)
    if surface == "std":
        return 0.0, max(high, surrogate.noise)
    return low, high


def spread_range(low: float, high: float, noise: float) -> tuple[float, float]:
    """``(low, high)`` widened about its centre to at least ``noise`` either side."""
    centre, half = (low + high) / 2, max((high - low) / 2, noise)
    return centre - half, centre + half


def flat_note(surrogate: Surrogate) -> str | None:
    """A plain sentence when the whole mean map moves by less than one trial's noise."""
    z = np.asarray(surrogate.mean, dtype=float)
    spread = float(np.nanmax(z) - np.nanmin(z))
    if surrogate.noise <= 0 or spread >= surrogate.noise:
        return None
    return (
        f"the model cannot tell these apart yet: the map moves by {spread:.4f}, less than "
        f"one trial's noise ({surrogate.noise:.4f})"
    )


#: The most invisible "pick" points a map carries along an axis: each is an SVG marker the
#: browser lays out again whenever the map changes (40 x 40 of them took the browser as long
#: as the three maps together), and 20 a side put a click within 1/40 of the range.
PICKS = 20


def surrogate_figure(
    surrogate: Surrogate | None,
    trials: Iterable[Trial],
    space: SearchSpace,
    surface: str = "mean",
    height: int = HEIGHT,
    pickable: bool = False,
) -> go.Figure:
    """A heatmap of the GP's mean, std or acquisition over two parameters: the surrogate's
    (the first two before there is one). With more parameters, the subtitle says at which
    values of the others the slice is taken. ``pickable``: the map also carries invisible
    points named "pick" on its cells (at most :data:`PICKS` a side), so a click on the map
    selects a spot (a heatmap alone sends no click in Plotly's select mode).

    Observed trials are dots coloured by accuracy, running trials open diamonds, and the
    next point a star. A log-scale parameter gets a log axis, a categorical one a category
    axis.
    """
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {sorted(SURFACES)}, got {surface!r}")
    title, scale, attr = SURFACES[surface]
    if space.dim < 2:
        return empty_figure(
            title,
            f"A map needs two parameters: this study tunes one ({space.names[0]}).<br>"
            "The slices view shows accuracy against it.",
            height,
        )
    if surrogate is not None:
        px, py = space[surrogate.x_name], space[surrogate.y_name]
    else:
        px, py = space.params[0], space.params[1]
    trials = [t for t in trials if t.finished or t.status == TrialStatus.RUNNING]
    if surrogate is not None and surface == "acq":
        title = (
            f"Acquisition ({ACQUISITION_LABELS.get(surrogate.acquisition, surrogate.acquisition)})"
        )
    if surrogate is None:
        fig = empty_figure(
            title, "The Gaussian process appears<br>after the first finished trial", height
        )
        fig.update_layout(xaxis={"visible": True, "title": px.name}, yaxis={"visible": True})
    else:
        zmin, zmax = colour_range(surrogate, surface)
        fig = go.Figure(
            go.Heatmap(
                x=[px.shown(v) for v in surrogate.x],
                y=[py.shown(v) for v in surrogate.y],
                z=np.asarray(getattr(surrogate, attr)),
                zmin=zmin,
                zmax=zmax,
                colorscale=scale,
                colorbar={"thickness": 12, "len": 0.9},
                customdata=np.asarray(surrogate.std),
                hovertemplate=f"{px.name}=%{{x}}<br>{py.name}=%{{y}}<br>"
                + (
                    "mean=%{z:.4f} ± %{customdata:.4f} (std)"
                    if surface == "mean"
                    else f"{attr}=%{{z:.4f}}"
                )
                + "<extra></extra>",
                name=attr,
            )
        )
        n = surrogate.n_observations
        if pickable:  # every cell, or every k-th past PICKS cells an axis
            sx, sy = (-(-len(axis) // PICKS) for axis in (surrogate.x, surrogate.y))
            xs = [px.shown(v) for v in surrogate.x[::sx]]
            ys = [py.shown(v) for v in surrogate.y[::sy]]
            z = np.asarray(getattr(surrogate, attr))[::sy, ::sx]
            fig.add_trace(
                go.Scatter(
                    x=[x for _ in ys for x in xs],
                    y=[y for y in ys for _ in xs],
                    customdata=z.ravel(),
                    mode="markers",
                    name="pick",
                    showlegend=False,
                    marker={"size": 10, "opacity": 0},
                    hovertemplate=f"{px.name}=%{{x}}<br>{py.name}=%{{y}}<br>{attr}="
                    "%{customdata:.4f}<br>click: try here next<extra></extra>",
                )
            )
        note = f"after {n} trial" + ("" if n == 1 else "s")
        if surrogate.slice_note:
            note += f"; {surrogate.slice_note}"
        statuses = {TrialStatus(t.status) for t in trials if t.finished}
        if TrialStatus.PRUNED in statuses:
            note += "; ▼ pruned: partial, projected to the whole budget"
        if TrialStatus.FAILED in statuses:
            note += "; × failed"
        flat = flat_note(surrogate) if surface == "mean" else None
        if flat:
            note += f"<br>{flat}"
        fig.update_layout(title={"text": title, "subtitle": {"text": note}})
    done = [t for t in trials if t.finished]
    again = repeats(tuple(trials))
    if done:
        values = [t.value if t.value is not None else np.nan for t in done]
        fig.add_trace(
            go.Scatter(
                x=[_at(px, t.params[px.name]) for t in done],
                y=[_at(py, t.params[py.name]) for t in done],
                mode="markers",
                name="trials",
                cliponaxis=False,
                marker={
                    "size": 11,
                    "color": values,
                    "colorscale": "RdYlGn",
                    # a person's trials (chosen, added) and a warm start's ringed in colour
                    "line": {
                        "color": [_ring(t) for t in done],
                        "width": [1 if _ring(t) == "black" else 3 for t in done],
                    },
                    "showscale": False,
                    "symbol": [SYMBOLS.get(TrialStatus(t.status), "x") for t in done],
                },
                text=[_hover(t, space.names, again.get(t.number)) for t in done],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    pending = [t for t in trials if t.status == TrialStatus.RUNNING]
    if pending:  # trials still training: their points are taken, their values unknown
        fig.add_trace(
            go.Scatter(
                x=[_at(px, t.params[px.name]) for t in pending],
                y=[_at(py, t.params[py.name]) for t in pending],
                mode="markers",
                name="running",
                cliponaxis=False,
                marker={
                    "symbol": "diamond-open",
                    "size": 14,
                    "color": "black",
                    "line": {"width": 2},
                },
                text=[f"trial {t.number}, running" for t in pending],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    if surrogate is not None and surrogate.next_point:
        nxt = surrogate.next_point
        fig.add_trace(
            go.Scatter(
                x=[_at(px, nxt[px.name])],
                y=[_at(py, nxt[py.name])],
                mode="markers",
                name="next point",
                marker={
                    "symbol": "star",
                    "size": 18,
                    "color": "white",
                    "line": {"color": "black", "width": 2},
                },
                hovertemplate=f"next: {px.name}=%{{x}}, {py.name}=%{{y}}<extra></extra>",
                cliponaxis=False,  # a next point on the edge of the space is drawn whole
            )
        )
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 64, "b": 50 + LEGEND_ROOM},
        legend=BELOW_AXIS_TITLE,
        xaxis=axis_layout(px),
        yaxis=axis_layout(py),
    )
    return fig


def _ring(trial: Trial) -> str:
    """The outline of a trial's marker on the maps: black for the search's own."""
    return "black" if trial.label in ("random", "guided") else LABEL_COLOURS[trial.label]


def _at(p: Param, value: Any) -> Any:
    """A value where a 2-D chart's axis for ``p`` puts it (a category by its name)."""
    return p.shown(value)


#: The accuracy chart's colour for each kind of trial (:attr:`Trial.label`).
LABEL_COLOURS = {"random": "#7f7f7f", "guided": "#1f77b4", "chosen by you": "#ff7f0e",
                "added by you": "#2ca02c", "inherited": "#c7c7c7"}  # fmt: skip


def accuracy_figure(trials: Iterable[Trial]) -> go.Figure:
    """Validation accuracy per trial, random vs guided, with the best-so-far line."""
    done = [t for t in trials if t.finished]
    title = "Validation accuracy per trial"
    if not done:
        return empty_figure(title, "No trial has finished yet")
    numbers = [t.number for t in done]
    values = [t.value for t in done]
    complete = [t.value if t.status == TrialStatus.COMPLETE else None for t in done]
    fig = go.Figure()
    for label, colour in LABEL_COLOURS.items():
        pts = [t for t in done if t.label == label and t.status == TrialStatus.COMPLETE]
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
    pruned = [t for t in done if t.status == TrialStatus.PRUNED]
    if pruned:
        fig.add_trace(
            go.Scatter(
                x=[t.number for t in pruned],
                y=[t.value for t in pruned],
                mode="markers",
                name="pruned (accuracy when stopped)",
                marker={"symbol": "triangle-down-open", "size": 11, "color": "#9467bd"},
                text=[f"after epoch {len(t.history)}" for t in pruned],
                hovertemplate="trial %{x} pruned %{text}: %{y:.4f}<extra></extra>",
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
            y=best_so_far(complete),
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
        margin={"l": 60, "r": 20, "t": 50, "b": 50 + LEGEND_ROOM},
        legend=BELOW_AXIS_TITLE,
    )
    return fig


def convergence_figure(trials: Iterable[Trial]) -> go.Figure:
    """After each GP-guided trial: how much better than the best the search could still get
    (the regret bound) against one trial's noise, both as the GP estimates them."""
    est = [t for t in trials if t.regret_bound is not None]
    title = "Could more trials still pay?"
    if not est:
        return empty_figure(title, "Estimated after each GP-guided trial")
    numbers = [t.number for t in est]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=numbers,
            y=[t.regret_bound for t in est],
            mode="lines+markers",
            name="possible gain over the best (regret bound)",
            line={"color": "#1f77b4"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=numbers,
            y=[t.noise_std or 0.0 for t in est],
            mode="lines",
            name="one trial's noise",
            line={"color": "#7f7f7f", "dash": "dash"},
        )
    )
    fig.update_layout(
        title=title,
        height=HEIGHT,
        xaxis={"title": "trial", "dtick": 1 if len(est) <= 30 else None},
        yaxis={"title": "validation accuracy", "rangemode": "tozero"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50 + LEGEND_ROOM},
        legend=BELOW_AXIS_TITLE,
    )
    return fig


def compute_figure(trials: Iterable[Trial]) -> go.Figure:
    """Best validation accuracy against what the search has cost so far: epochs trained,
    training seconds (every finished trial's counted, pruned or not) and wall-clock time
    since the first trial started, in the order trials finished. Pruning shows in the first
    two (the same best for fewer epochs), parallel trials in the third."""
    done = sorted(
        (t for t in trials if t.finished),
        key=lambda t: (t.finished_at if t.finished_at is not None else math.inf, t.number),
    )
    title = "Best accuracy against compute and time"
    if not done:
        return empty_figure(title, "No trial has finished yet")
    epochs = np.cumsum([len(t.history) for t in done])
    seconds = np.cumsum([t.seconds or 0.0 for t in done])
    starts = [t.started_at for t in trials if t.started_at is not None]
    if starts and all(t.finished_at is not None for t in done):
        wall = np.array([t.finished_at - min(starts) for t in done])
    else:  # trials stored without times: one after the other
        wall = seconds
    best = best_so_far([t.value if t.status == TrialStatus.COMPLETE else None for t in done])
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True)
    # short axis titles: three panels share one chart's width; the subtitle says the rest
    panels = ((1, epochs, "epochs trained", "epochs"), (2, seconds, "training seconds", "train s"),
              (3, wall, "wall-clock seconds", "wall s"))  # fmt: skip
    for col, spent, unit, short in panels:
        fig.add_trace(
            go.Scatter(
                x=[float(v) for v in spent],
                y=best,
                mode="lines+markers",
                line={"shape": "hv", "color": "#2ca02c"},
                text=[f"trial {t.number} ({t.status})" for t in done],
                hovertemplate="%{text}<br>" + unit + " %{x:.0f}: best %{y:.4f}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text=short, row=1, col=col)
    fig.update_yaxes(title_text="best validation accuracy", row=1, col=1)
    fig.update_layout(
        title={"text": title, "subtitle": {"text": "cumulative epochs, training seconds, "
                                                   "and wall-clock seconds since the first trial"}},
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
    )  # fmt: skip
    return fig


def learning_curves(trial: Trial | None, epochs: int | None = None) -> go.Figure:
    """Train / validation accuracy and loss per epoch of one trial."""
    if trial is None or not trial.history:
        note = "Waiting for the first epoch to end" if trial is not None else "No trial selected"
        title = f"Learning curves, trial {trial.number}" if trial is not None else "Learning curves"
        return empty_figure(title, note)
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
    params = ", ".join(f"{k}={show(v)}" for k, v in trial.params.items())
    title = f"Learning curves, trial {trial.number} ({params})"
    if trial.status == TrialStatus.PRUNED:  # the curve stops short of the budget
        title += f", pruned after epoch {max(ep)}"
        fig.add_vline(x=max(ep) + 0.5, line={"dash": "dash", "color": "#9467bd"})
    fig.update_layout(
        title=title,
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 70, "b": 50 + LEGEND_ROOM},
        legend=BELOW_AXIS_TITLE,
    )
    return fig


def running_curves(trials: Sequence[Trial], epochs: int | None = None) -> go.Figure:
    """Validation accuracy per epoch of several trials training at once, one line each."""
    title = "Validation accuracy, running trials"
    if not any(t.history for t in trials):
        return empty_figure(title, "Waiting for the first epoch to end")
    fig = go.Figure()
    for t in trials:
        fig.add_trace(
            go.Scatter(
                x=[h["epoch"] for h in t.history],
                y=[h.get("val_accuracy") for h in t.history],
                mode="lines+markers",
                name=f"trial {t.number}",
                hovertemplate=f"trial {t.number}, epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    last = max((len(t.history) for t in trials), default=1)
    fig.update_xaxes(title_text="epoch", range=[0.5, (epochs or last) + 0.5], dtick=1)
    fig.update_yaxes(title_text="validation accuracy")
    fig.update_layout(
        title=title,
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 50 + LEGEND_ROOM},
        legend=BELOW_AXIS_TITLE,
    )
    return fig


def comparison_figure(curves: Mapping[str, Sequence[float | None]]) -> go.Figure:
    """Best-so-far validation accuracy of several studies on one chart."""
    title = "Best so far, by study"
    if not curves or not any(curves.values()):
        return empty_figure(title, "Choose studies with finished trials")
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


def calibration_figure(check: Calibration | None, numbers: Sequence[int] = ()) -> go.Figure:
    """Each complete trial's accuracy as the GP predicts it from all the other trials (± 2
    std, one more run's spread) against what it observed, on a diagonal of perfect
    predictions; trials outside their band in red. The subtitle says how many the band
    held. ``numbers``: the trials' numbers, for the hover."""
    title = "Does the GP know what it does not know?"
    if check is None:
        return empty_figure(
            title, "The check appears once two trials<br>have completed (a GP-guided study)"
        )
    numbers = list(numbers) or [i + 1 for i in check.trials]
    observed, predicted = np.asarray(check.observed), np.asarray(check.predicted)
    spread = 2 * np.asarray(check.std)
    inside = np.array(check.inside())
    low = float(min(observed.min(), (predicted - spread).min()))
    high = float(max(observed.max(), (predicted + spread).max()))
    fig = go.Figure(
        go.Scatter(
            x=[low, high], y=[low, high], mode="lines", name="prediction = observation",
            line={"color": "grey", "dash": "dot"}, hoverinfo="skip",
        )
    )  # fmt: skip
    for held, name, colour in ((True, "inside its band", "#1f77b4"),
                               (False, "outside its band", "crimson")):  # fmt: skip
        mask = inside == held
        if not mask.any():
            continue
        fig.add_trace(
            go.Scatter(
                x=observed[mask],
                y=predicted[mask],
                error_y={"type": "data", "array": spread[mask], "color": colour},
                mode="markers",
                name=name,
                marker={"color": colour, "size": 9},
                text=[
                    f"trial {n}: observed {o:.4f}<br>the GP from the other trials: "
                    f"{p:.4f} ± {2 * d:.4f}"
                    for n, o, p, d, m in zip(
                        numbers, observed, predicted, check.std, inside == held, strict=True
                    )
                    if m
                ],  # fmt: skip
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.update_layout(
        title={
            "text": title,
            "subtitle": {"text": check.sentence() + " Each trial predicted from the others."},
        },
        height=HEIGHT,
        xaxis={"title": "observed val accuracy"},
        yaxis={"title": "predicted without it (± 2 std)"},
        margin={"l": 60, "r": 20, "t": 64, "b": 50 + LEGEND_ROOM},
        legend=BELOW_AXIS_TITLE,
    )
    return fig
