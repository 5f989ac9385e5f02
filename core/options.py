"""The optimizer's choices and their defaults, without the optimizer.

Configurations, forms and the CLI validate against these without importing bayes_opt or
scikit-learn. Why each default was chosen: docs/BENCHMARKS.md.
"""

from __future__ import annotations

KINDS = ("bayes", "random", "grid")
ACQUISITIONS = ("ucb", "ei", "poi")
#: How each acquisition is named on screen.
ACQUISITION_LABELS = {"ei": "EI", "ucb": "UCB", "poi": "PI"}
#: Expected improvement: UCB with the blog's kappa keeps exploring in two dimensions.
DEFAULT_ACQUISITION = "ei"
DEFAULT_KAPPA = 2.576
#: EI's and PI's required margin, in the objective's own units (bayes_opt does not scale
#: it): any margin asks for a gain the size of the noise before it exploits.
DEFAULT_XI = 0.0
#: ``None`` fits the observation noise with the other GP hyperparameters; a number fixes
#: it (``alpha``, in units of the standardised objective's variance), the GP bayes_opt
#: users know.
DEFAULT_NOISE: float | None = None
#: A study fails after this many trials in a row raised an error (a crash in the model's
#: code, not a bad result): KerasTuner's ``max_consecutive_failed_trials`` default.
MAX_CONSECUTIVE_ERRORS = 3
#: A trial whose worker was lost trains again this many times at most (KerasTuner's
#: ``max_retries_per_trial`` defaults to 0; a lost Ray node is not the trial's fault).
MAX_RETRIES = 1


#: The fewest random trials a default start has.
MIN_INIT_POINTS = 5


def default_init_points(dim: int) -> int:
    """How many random trials come first by default in a ``dim``-parameter space: at least
    5, and one more than the parameters, since the GP fits a length scale per parameter
    plus an amplitude and a noise (docs/BENCHMARKS.md, section 3: chosen on development
    seeds)."""
    return max(MIN_INIT_POINTS, dim + 1)
