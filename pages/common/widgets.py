"""Small pieces several pages show: navigation, the empty state, the best card, tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import streamlit as st

from core import charts
from core.objective import Objective
from core.runner import user_model_refusal
from core.space import show
from core.study import Study, Trial, repeats
from pages.common.registry import db_path, explained, recommended


def use_app_navigation() -> None:
    """Route through app.py's st.navigation even on a server's very first request.

    Streamlit runs a folder named pages/ the old way (each file a page, app.py
    skipped) until some session has called st.navigation; a bookmark to /live
    opened right after a server start would otherwise show every module in
    pages/ as a page. On a session's first run, flip that switch and rerun through
    app.py (a first run carries no widget event that a rerun could lose).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if "_navigation_checked" in st.session_state:
        return
    st.session_state["_navigation_checked"] = True
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def plain(text: str) -> str:
    """``text`` with Markdown's special characters escaped: shown as typed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|>~<])", r"\\\1", text)


def stop_if_no_studies(has_studies: bool) -> None:
    """On an empty database, point to Tune and end the page."""
    if not has_studies:
        st.info("No study yet: start one on the Tune page.")
        st.page_link("pages/tune.py", label="Go to Tune", icon=":material/tune:")
        st.stop()


def trials_frame(trials: Iterable[Trial], objective: Objective | None = None) -> pd.DataFrame:
    """The trials table: each trial's origin, params, status, the objective's value (named
    after it), epochs, seconds and error."""
    label = (objective or Objective()).label
    trials = tuple(trials)
    again = repeats(trials)
    rows = []
    for t in trials:
        kind = t.label
        rows.append(
            {
                "trial": t.number,
                "kind": f"{kind}, repeat of {again[t.number]}" if t.number in again else kind,
                **{k: v for k, v in t.params.items()},
                "status": t.status,
                label: t.value,
                "epochs": len(t.history),
                "seconds": None if t.seconds is None else round(t.seconds, 1),
                "error": t.error or "",
            }
        )
    return pd.DataFrame(rows)


def calibration_view(study: Study, key: str, k: int | None = None) -> None:
    """The GP's own evidence after its k-th finished trial (all by default): each complete
    trial predicted from the others, and the plain sentence of how many its 95% band held."""
    k = len(study.finished_trials) if k is None else k
    check = explained(study.name, k, "calibration")
    numbers = [study.finished_trials[i].number for i in check.trials] if check else []
    st.plotly_chart(charts.calibration_figure(check, numbers), key=f"{key}-calibration",
                    width="stretch")  # fmt: skip
    if check is not None:
        st.caption(
            f"{check.sentence()} Each complete trial is predicted by the GP conditioned on "
            "every other trial (the hyperparameters fitted to all): a band that holds about "
            "95% of them is one to trust; far fewer, and the map claims more than it knows."
        )


def best_card(study: Study) -> None:
    """The recommended trial: the GP's estimate of its accuracy with its std beside what it
    observed, the best observed trial if that is another one, and its params."""
    picked = recommended(study.name, len(study.finished_trials))
    if picked is None:
        st.info("No trial has completed yet.")
        return
    final = study.final or {}
    estimate, std = picked["estimated"], picked["estimated_std"]
    cols = st.columns(3)
    cols[0].metric(
        "Recommended: estimated accuracy",
        f"{estimate:.4f} ± {std:.4f}" if estimate is not None else "—",
        help=f"Trial {picked['trial']}, recommended by the {picked['rule']}: what the GP "
        "expects a training run there to score, ± one standard deviation. One run's "
        "accuracy carries about 0.01 of noise on mnist-5k (docs/BENCHMARKS.md), so the "
        "highest observed value is usually a lucky draw.",
    )
    cols[1].metric(
        "Observed accuracy",
        f"{picked['observed']:.4f}",
        help=f"Trial {picked['trial']}'s validation accuracy after its last epoch.",
    )
    test = final.get("test_accuracy")
    cols[2].metric(
        "Test accuracy",
        f"{test:.4f}" if test is not None else "not evaluated",
        help="One evaluation on the held-out test split after retraining the recommended "
        "params on train+validation. The test split never guides the search.",
    )
    other = picked["best_observed"]
    note = f"Recommended: trial {picked['trial']}."
    if other["trial"] != picked["trial"]:
        note += (
            f" The best observed is trial {other['trial']} ({other['value']:.4f}), "
            "which the GP believes the noise of one run flattered."
        )
    st.caption(note)
    best = next(t for t in study.trials if t.number == picked["trial"])
    names = study.config.space.names
    for start in range(0, len(names), 4):
        for col, name in zip(st.columns(4), names[start : start + 4], strict=False):
            col.metric(name, show(best.params[name]))
    if study.config.model:
        st.caption(f"Model: {study.config.model} (the user's own)")


def resume_note(study: Study) -> str | None:
    """Why the dashboard will not resume ``study`` itself, or None if it may.

    A study of a user's own model runs that user's code: the dashboard never does; the
    command line that started it resumes it."""
    return user_model_refusal(study.name) if study.config.model else None


def model_file(study: Study) -> Path | None:
    """The study's retrained model, only if it lies inside this app's runs folder."""
    path = (study.final or {}).get("model_path")
    if not path:
        return None
    root = db_path().parent.resolve()
    resolved = Path(path).resolve()
    if root not in resolved.parents or not resolved.is_file():
        return None
    return resolved
