"""Studies: every stored study, its replay, its best params, its downloads."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core import charts, export
from core.snapshot import Snapshot
from core.status import TrialStatus
from core.study import Study, convergence_note
from pages.common.figures import space_charts, surrogate_charts
from pages.common.registry import recommended, registry, replay_surrogate, store
from pages.common.steer import point_preview
from pages.common.widgets import (
    best_card,
    calibration_view,
    model_file,
    plain,
    resume_note,
    stop_if_no_studies,
    use_app_navigation,
)

use_app_navigation()

st.title("Studies")
studies = store().list()
stop_if_no_studies(bool(studies))


def handed(s: Study) -> dict | None:
    return recommended(s.name, len(s.finished_trials))


st.dataframe(
    pd.DataFrame(
        [
            {
                "study": s.name,
                "status": s.display_status,
                "trials": f"{len(s.counted_trials)}/{s.config.total}",
                "recommended trial": (picked := handed(s)) and picked["trial"],
                "its val accuracy (GP estimate)": picked and picked["estimated"],
                "its observed val accuracy": picked and picked["observed"],
                "best observed val accuracy": s.best_trial.value if s.best_trial else None,
                "test accuracy": (s.final or {}).get("test_accuracy"),
                "dataset": Path(s.config.dataset).name,
                "data split": s.config.data_seed,
                "optimizer": s.config.optimizer,
                "created": pd.Timestamp(s.created_at, unit="s").strftime("%Y-%m-%d %H:%M"),
            }
            for s in reversed(studies)
        ]
    ),
    hide_index=True,
    width="stretch",
)
st.caption(
    "The recommended trial is the one each study hands over (the GP's choice among its "
    "complete trials, shown with the GP's estimate of it); the best observed accuracy is "
    "the luckiest single run, which one training's noise may have flattered. Studies on "
    "different data splits are scored on different validation images."
)

by_name = {s.name: s for s in studies}
names = list(reversed(by_name))
chosen = st.session_state.get("study") if st.session_state.get("study") in by_name else names[0]
name = st.selectbox("Open a study", names, index=names.index(chosen), key="studies_open")
study = by_name[name]

st.subheader(f"{name} — {study.display_status}")
if study.note:
    st.markdown(f"*{plain(study.note)}*")
with st.popover("Note", help="A free-text note on this study: stored with it, in its exports."):
    text = st.text_area("Note on this study", value=study.note, key=f"note-{name}")
    if st.button("Save note", key=f"note-save-{name}"):
        store().set_note(name, text)
        st.rerun()
best_card(study)
if study.error:
    st.error(f"This study failed: {study.error}")
if study.resumable and resume_note(study):
    st.info(resume_note(study))
elif study.resumable and not registry().running():
    if st.button("Resume", type="primary", key="studies-resume"):
        try:
            registry().resume(name)
        except (RuntimeError, ValueError) as exc:
            st.error(str(exc))
        else:
            st.session_state["study"] = name
            st.switch_page("pages/live.py")

finished = len(study.finished_trials)
if finished >= 1:
    k = (
        st.slider("Replay: the surrogate after trial k", 1, finished, finished, key="replay")
        if finished > 1
        else 1
    )
    snap = Snapshot.of_study(study, replay_surrogate(name, k))
    shown = study.finished_trials[:k]
    snap = Snapshot(**{**snap.__dict__, "trials": shown})
    _, picked, version = surrogate_charts(snap, study.config.space, key="studies")
    left, mid, right = st.columns(3)
    left.plotly_chart(charts.accuracy_figure(study.trials), key="studies-acc", width="stretch")
    mid.plotly_chart(charts.compute_figure(study.trials), key="studies-compute", width="stretch")
    right.plotly_chart(
        charts.convergence_figure(study.trials), key="studies-convergence", width="stretch"
    )
    note = convergence_note(study.trials)
    if note:
        st.caption(note)
    space_charts(picked, study.config.space, version, key="studies")
    calibration_view(study, key="studies", k=k)
    point_preview(study, picked.surrogate.next_point if picked.surrogate else None)
    axes = None  # the replay is over the map's axes: the first two, or the picked pair
    if study.config.space.dim > 2 and picked.surrogate is not None:
        axes = (picked.surrogate.x_name, picked.surrogate.y_name)
    if finished > 1 and st.toggle(
        "Play the replay",
        key="replay-play",
        help="The GP mean map after each trial, stepping through the study on its own. "
        "'Replay (HTML)' below downloads it as one file that plays offline.",
    ):
        with st.spinner(f"Fitting the GP after each of {finished} trials..."):
            steps = [replay_surrogate(name, j, axes) for j in range(1, finished + 1)]
        st.plotly_chart(
            charts.replay_figure(steps, study.finished_trials, study.config.space),
            key="studies-replay",
            width="stretch",
        )

st.subheader("Downloads")
d1, d2, d3, d4, d5 = st.columns(5)
d1.download_button(
    "Best params (JSON)",
    export.best_params_json(study),
    file_name=f"{name}-best-params.json",
    mime="application/json",
    disabled=study.best_trial is None,
)
d2.download_button(
    "All trials (CSV)", export.trials_csv(study), file_name=f"{name}-trials.csv", mime="text/csv"
)
# The optimizer state refits the GP and the model is a file read: both are made only when
# their button is clicked, not on every rerun of the page.
if study.config.optimizer == "bayes":
    d3.download_button(
        "Optimizer state (JSON)",
        lambda: export.optimizer_state_json(study),
        file_name=f"{name}-optimizer-state.json",
        mime="application/json",
        help="bayes_opt's save_state format, in unit-cube coordinates (see search_space).",
    )
model = model_file(study)
if model is not None:
    d4.download_button(
        "Retrained model (.keras)",
        model.read_bytes,
        file_name=f"{name}-model.keras",
        mime="application/octet-stream",
    )
else:
    d4.caption("No retrained model: run with 'final test' to get one.")
if finished >= 1 and study.config.space.dim >= 2:
    d5.download_button(
        "Replay (HTML)",
        lambda: export.replay_html(
            study, [replay_surrogate(name, j, axes) for j in range(1, finished + 1)]
        ),
        file_name=f"{name}-replay.html",
        mime="text/html",
        help="The GP mean map after each trial, with Play and a slider: one file, "
        "Plotly included, that plays offline in any browser.",
    )

st.subheader("Compare studies")
picked = st.multiselect(
    "Best so far, side by side", names, default=names[: min(2, len(names))], key="compare"
)
splits = {(Path(by_name[n].config.dataset).name, by_name[n].config.split) for n in picked}
if len(splits) > 1:
    st.warning(
        "These studies were scored on different validation images ("
        + ", ".join(f"{d} {s}" for d, s in sorted(splits))
        + "): part of any difference between them belongs to the split, not to the search."
    )
st.plotly_chart(
    charts.comparison_figure(
        {
            n: [
                t.value if t.status == TrialStatus.COMPLETE else None
                for t in by_name[n].finished_trials
            ]
            for n in picked
        }
    ),
    key="studies-compare",
    width="stretch",
)
