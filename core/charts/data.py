"""A dataset's charts: sample images and how many of each class."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.charts._base import empty_figure


def sample_grid(images: np.ndarray, labels: np.ndarray, n: int = 16) -> go.Figure:
    """The first ``n`` images of a dataset with their labels."""
    n = min(n, len(images))
    if n == 0:
        return empty_figure("Samples", "No images")
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
        return empty_figure("Class counts", "No labels")
    fig = go.Figure(go.Bar(x=[str(k) for k in counts], y=list(counts.values())))
    fig.update_layout(
        title="Images per class",
        height=250,
        xaxis={"title": "class"},
        yaxis={"title": "images"},
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
    )
    return fig
