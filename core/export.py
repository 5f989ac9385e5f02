"""Exports: best params as JSON, all trials as CSV, the optimizer state to resume elsewhere."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from core.replay import told_strategy
from core.status import TrialStatus
from core.study import Study


def best_params(study: Study) -> dict[str, Any]:
    """The best trial's params and scores, ready for one's own training code."""
    best = study.best_trial
    final = study.final or {}
    cfg = study.config
    return {
        "params": dict(best.params) if best else None,
        "val_accuracy": best.value if best else None,
        "test_accuracy": final.get("test_accuracy"),
        "study": study.name,
        "dataset": cfg.dataset,
        "trials": len(study.finished_trials),
        "completed_trials": sum(1 for t in study.trials if t.status == TrialStatus.COMPLETE),
        "failed_trials": sum(1 for t in study.trials if t.status == TrialStatus.FAILED),
        "pruned_trials": sum(1 for t in study.trials if t.status == TrialStatus.PRUNED),
        "pruner": cfg.pruning.to_dict(),
        "best_trial": best.number if best else None,
        "optimizer": cfg.optimizer,
        "acquisition": cfg.acquisition if cfg.optimizer == "bayes" else None,
        "budget": cfg.budget.to_dict(),
        "seed": cfg.seed,
        "search_space": cfg.space.to_dict(),
        "model_path": final.get("model_path"),
        "notes": (
            "val_accuracy is the accuracy on the validation split after the last epoch; "
            "test_accuracy (if not null) is from one evaluation on the held-out test split "
            "after retraining the best params on train+validation."
        ),
    }


def best_params_json(study: Study) -> str:
    return json.dumps(best_params(study), indent=2)


def trials_csv(study: Study) -> str:
    """One row per trial: params, status, value, epochs, seconds, error."""
    names = study.config.space.names
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["number", *names, "status", "val_accuracy", "guided", "epochs", "seconds", "error"]
    )
    for t in study.trials:
        writer.writerow(
            [
                t.number,
                *(t.params.get(n) for n in names),
                t.status,
                "" if t.value is None else t.value,
                int(t.guided),
                len(t.history),
                "" if t.seconds is None else round(t.seconds, 3),
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
    return told_strategy(study).state()


def optimizer_state_json(study: Study) -> str:
    return json.dumps(optimizer_state(study), indent=2)
