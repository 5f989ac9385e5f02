"""Exports: best params as JSON, all trials as CSV, the optimizer state to resume elsewhere,
and the replay as one HTML file."""

from __future__ import annotations

import csv
import html
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from bayes_opt import BayesianOptimization
from sklearn.gaussian_process.kernels import Matern

from core.gp import kernel_parts
from core.optimizer import BayesStrategy
from core.replay import recommendation, replay_steps, told_strategy
from core.status import TrialStatus
from core.study import Study
from core.views import Surrogate


def handed_over(study: Study) -> dict[str, Any] | None:
    """The recommended trial with the GP's estimate of it, beside the best observed one.

    A GP-guided study recommends the complete trial whose posterior mean is highest (the
    best estimate: of two trials a noise apart, the one the GP believes better, not the
    luckier draw); a random or grid study the best observed. None before any complete trial.
    """
    picked = recommendation(study)
    if picked is None:
        return None
    trial, rec = picked
    observed = study.best_trial
    sign = study.config.objective.sign  # the optimizer was told signed values
    return {
        "trial": trial.number,
        "params": dict(trial.params),
        "observed": trial.value,
        "metrics": dict(trial.metrics),
        "estimated": None if rec.mean is None else sign * rec.mean,
        "estimated_std": rec.std,
        "rule": rec.rule,
        "best_observed": {
            "trial": observed.number,
            "params": dict(observed.params),
            "value": observed.value,
        },
    }


def estimate_text(picked: dict[str, Any]) -> str:
    """ "estimated 0.9512 ± 0.0041, observed 0.9575", or the observed value alone."""
    observed = f"observed {picked['observed']:.4f}"
    if picked["estimated"] is None:
        return observed
    return f"estimated {picked['estimated']:.4f} ± {picked['estimated_std']:.4f}, {observed}"


def best_params(study: Study) -> dict[str, Any]:
    """The recommended params and scores, ready for one's own training code."""
    picked = handed_over(study)
    final = study.final or {}
    cfg = study.config
    metric = cfg.objective.metric
    observed = picked and dict(picked["best_observed"])
    if observed:
        observed[metric] = observed.pop("value")
    return {
        "params": picked["params"] if picked else None,
        metric: picked["observed"] if picked else None,
        f"estimated_{metric}": picked["estimated"] if picked else None,
        "estimated_std": picked["estimated_std"] if picked else None,
        "recommended_by": picked["rule"] if picked else None,
        "best_trial": picked["trial"] if picked else None,
        "best_observed": observed or None,
        "objective": cfg.objective.to_dict(),
        "metrics": picked["metrics"] if picked else None,
        "test_accuracy": final.get("test_accuracy"),
        "study": study.name,
        "note": study.note,
        "dataset": cfg.dataset,
        "trials": len(study.counted_trials),
        "completed_trials": sum(1 for t in study.trials if t.status == TrialStatus.COMPLETE),
        "failed_trials": sum(1 for t in study.trials if t.status == TrialStatus.FAILED),
        "pruned_trials": sum(1 for t in study.trials if t.status == TrialStatus.PRUNED),
        "pruner": cfg.pruning.to_dict(),
        "optimizer": cfg.optimizer,
        "acquisition": cfg.search.acquisition if cfg.optimizer == "bayes" else None,
        "budget": cfg.budget.to_dict(),
        "seed": cfg.seed,
        "data_seed": cfg.data_seed,
        "search_space": cfg.space.to_dict(),
        "model_path": final.get("model_path"),
        "notes": (
            "params are the recommended trial's (best_trial; recommended_by says by which "
            "rule): its val_accuracy is what it observed on the validation split after the "
            "last epoch, estimated_val_accuracy +- estimated_std what the GP expects there; "
            "best_observed is the trial with the highest observed accuracy, which the noise "
            "of one training run may have flattered. test_accuracy (if not null) is from one "
            "evaluation on the held-out test split after retraining the recommended params "
            "on train+validation."
        ),
    }


def best_params_json(study: Study) -> str:
    return json.dumps(best_params(study), indent=2)


def trials_csv(study: Study) -> str:
    """One row per trial: params, status, the objective's value, epochs, seconds, the
    model's parameter count, error."""
    names = study.config.space.names
    metric = study.config.objective.metric
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", *names, "status", metric, "guided", "epochs", "seconds",
                     "params", "error"])  # fmt: skip
    for t in study.trials:
        count = t.metrics.get("params")
        writer.writerow(
            [
                t.number,
                *(t.params.get(n) for n in names),
                t.status,
                "" if t.value is None else t.value,
                int(t.guided),
                len(t.history),
                "" if t.seconds is None else round(t.seconds, 3),
                "" if count is None else int(count),
                t.error or "",
            ]
        )
    return out.getvalue()


def optimizer_state(study: Study) -> dict[str, Any]:
    """bayes_opt's saved state, with the study's trials told (bayes studies only)."""
    if study.config.optimizer != "bayes":
        raise ValueError(
            f"optimizer state exists only for bayes studies; {study.name!r} used "
            f"{study.config.optimizer!r}"
        )
    return bayes_opt_state(told_strategy(study))


def optimizer_state_json(study: Study) -> str:
    return json.dumps(optimizer_state(study), indent=2)


def replay_html(study: Study, steps: list[Surrogate | None] | None = None) -> str:
    """The replay (:func:`core.charts.replay.replay_figure`) as one self-contained HTML page:
    Plotly's JavaScript inline, so it plays offline in any browser. ``steps``: the surrogate
    after each finished trial, computed here when not given."""
    from core.charts.replay import TITLE, replay_figure

    steps = replay_steps(study) if steps is None else steps
    title = f"{study.name}: {TITLE}" + (
        f"<br><sup>{html.escape(study.note)}</sup>" if study.note else ""
    )
    fig = replay_figure(steps, study.finished_trials, study.config.space, title=title)
    return fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False)


def bayes_opt_state(strategy: BayesStrategy) -> dict[str, Any]:
    """bayes_opt's own saved state (unit-cube coordinates), plus how to map them back.

    bayes_opt's ``load_state`` rebuilds a plain Matern GP with a fixed ``alpha``, so the
    fitted GP is exported as its equivalent: the fitted length scales (frozen) and the
    fitted noise over the fitted amplitude as ``alpha``. That GP has the same posterior
    mean; ``fitted_kernel`` records the kernel as fitted.
    """
    fitted = strategy.fit()
    optimizer = BayesianOptimization(
        f=None,
        pbounds={name: (0.0, 1.0) for name in strategy.space.columns},
        acquisition_function=strategy.acquisition_function().stock(),
        random_state=np.random.RandomState([strategy.seed, len(strategy.observations)]),
        verbose=0,
        allow_duplicate_points=True,
    )
    for unit, value, _ in strategy.history.weighted_targets():
        optimizer.register(dict(zip(strategy.space.columns, unit, strict=True)), value)
    if len(fitted.space):
        description = str(fitted.gp.kernel_)
        matern, amplitude, noise = kernel_parts(fitted.gp.kernel_)
        alpha = noise / amplitude if strategy.search.noise is None else strategy.search.noise
    else:
        description = "not fitted (no trials yet)"
        matern = kernel_parts(fitted.gp.kernel)[0]
        alpha = 1e-2 if strategy.search.noise is None else strategy.search.noise
    optimizer.set_gp_params(
        kernel=Matern(
            nu=matern.nu,
            length_scale=[float(v) for v in np.atleast_1d(matern.length_scale)],
            length_scale_bounds="fixed",
        ),
        alpha=max(alpha, 1e-10),
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.json"
        optimizer.save_state(path)
        state = json.loads(path.read_text(encoding="utf-8"))
    state["fitted_kernel"] = description
    state["coordinates"] = (
        "unit cube; map back with search_space (log params via log10, an int's values in "
        "equal bins, a categorical one-hot)"
    )
    state["search_space"] = strategy.space.to_dict()
    return state
