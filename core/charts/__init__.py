"""Chart builders: plain data in (surrogate grids, trials), a Plotly figure out.

One module per subject, as Optuna's ``visualization`` package has: :mod:`.study`,
:mod:`.learn` and :mod:`.data`. Pure functions: no Streamlit, no training, no database.
An empty study still draws a titled figure with a note, never an exception.
"""

from core.charts.data import class_counts_figure, sample_grid
from core.charts.learn import acquisition_1d_figure, playground_figure, regret_figure
from core.charts.replay import replay_figure
from core.charts.space import (
    IMPORTANCE_METHOD,
    importance_figure,
    parallel_figure,
    slice_figure,
    surface3d_figure,
)
from core.charts.study import (
    accuracy_figure,
    best_so_far,
    calibration_figure,
    colour_range,
    comparison_figure,
    compute_figure,
    convergence_figure,
    learning_curves,
    running_curves,
    surrogate_figure,
)

__all__ = [
    "calibration_figure",
    "colour_range",
    "IMPORTANCE_METHOD",
    "importance_figure",
    "parallel_figure",
    "slice_figure",
    "surface3d_figure",
    "accuracy_figure",
    "acquisition_1d_figure",
    "best_so_far",
    "class_counts_figure",
    "comparison_figure",
    "compute_figure",
    "convergence_figure",
    "learning_curves",
    "playground_figure",
    "regret_figure",
    "replay_figure",
    "running_curves",
    "sample_grid",
    "surrogate_figure",
]
