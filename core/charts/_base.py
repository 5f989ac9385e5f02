"""What every chart shares: its height and the figure drawn when there is nothing to show."""

from __future__ import annotations

import plotly.graph_objects as go

HEIGHT = 380


def empty_figure(title: str, note: str, height: int = HEIGHT) -> go.Figure:
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


#: A horizontal legend at the figure's foot (its container's bottom), below the x-axis
#: title instead of over it; a figure that uses it keeps LEGEND_ROOM px more bottom margin.
LEGEND_ROOM = 30
BELOW_AXIS_TITLE = {"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom",
                    "x": 0.0}  # fmt: skip
