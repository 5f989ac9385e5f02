"""Live: watch the Gaussian process learn while each trial trains."""

import time

import streamlit as st

from core.eta import format_duration
from core.status import StudyStatus
from core.store import StudyNotFound
from core.study import convergence_note
from pages.common.figures import space_charts, surrogate_charts
from pages.common.registry import live_snapshot, registry, store
from pages.common.steer import hand_on_search
from pages.common.widgets import (
    best_card,
    calibration_view,
    resume_note,
    stop_if_no_studies,
    trials_frame,
    use_app_navigation,
)

use_app_navigation()

st.title("Live")
names = store().names()
stop_if_no_studies(bool(names))

running = registry().running()
default = st.session_state.get("study") or (running[0] if running else names[-1])
if default not in names:
    default = names[-1]
st.session_state["study"] = st.selectbox(
    "Study", list(reversed(names)), index=list(reversed(names)).index(default)
)


def controls(name: str) -> None:
    """Stop or Resume, drawn outside the fragment that redraws the study, so a click never
    lands on a button being replaced; the fragment reruns the page when the study starts or
    ends, and these follow."""
    try:
        snap = live_snapshot(name)
        study = store().load(name)
    except StudyNotFound:
        return
    st.session_state["live-active"] = (name, snap.active)
    runner = registry().get(name)
    if snap.active and runner is not None:
        if st.button("Stop", type="primary", key="live-stop"):
            runner.cancel()
            st.toast("Stopping: running trials end at their next batch.")
    elif snap.active and study.owner_pid:
        st.caption(
            f"Process {study.owner_pid} runs this study (the command line, or another "
            "dashboard): stop it there, with Ctrl+C on the command line."
        )
    elif study.resumable and resume_note(study):
        st.caption(resume_note(study))
    elif study.resumable:
        if st.button("Resume", key="live-resume"):
            try:
                registry().resume(name)
            except (RuntimeError, ValueError) as exc:
                st.error(str(exc))
            else:
                st.rerun()


#: How often Live redraws, in seconds: while the study runs, and while it does not (only to
#: notice a start from another tab or the command line). Each redraw of a changed chart
#: costs the browser CPU that trials train on, and a click on a chart being redrawn is lost.
REDRAW_ACTIVE, REDRAW_STILL = 2.0, 10.0


def live_view() -> None:
    name = st.session_state["study"]
    try:
        snap = live_snapshot(name)
        study = store().load(name)
    except StudyNotFound:
        st.error(f"Study {name!r} no longer exists.")
        return
    if st.session_state.get("live-active") != (name, snap.active):
        st.rerun()  # the study started or ended: the whole page, so Stop/Resume follow
    space = study.config.space

    top = st.columns([3, 1, 1])
    top[0].markdown(f"**{name}** — {snap.status}" + (f": {snap.message}" if snap.message else ""))
    top[1].metric("elapsed", format_duration(snap.elapsed))
    top[2].metric("ETA", format_duration(snap.eta) if snap.active else "—")
    for warning in snap.warnings:
        st.warning(warning)
    if snap.error:
        st.error(f"The study failed: {snap.error}")

    st.progress(
        min(1.0, snap.finished / snap.total) if snap.total else 0.0,
        text=f"trials {snap.finished}/{snap.total}",
    )
    for trial in snap.running:  # one bar per trial training now
        epoch, epochs = len(trial.history), study.config.budget.for_params(trial.params).epochs
        st.progress(min(1.0, epoch / epochs), text=f"trial {trial.number}: epoch {epoch}/{epochs}")
    if not snap.running and snap.status == StudyStatus.RETRAINING:
        st.progress(1.0, text="retraining the best params on train+validation")

    figs, picked, version = surrogate_charts(snap, space, key="live", pickable=True)
    left, right = st.columns(2)
    left.plotly_chart(figs["accuracy"], key="live-acc", width="stretch")
    right.plotly_chart(figs["curves"], key="live-curves", width="stretch")
    left, right = st.columns(2)
    left.plotly_chart(figs["compute"], key="live-compute", width="stretch")
    right.plotly_chart(figs["convergence"], key="live-convergence", width="stretch")
    note = convergence_note(snap.trials)
    if note:
        st.info(note)
    space_charts(picked, space, version, key="live")
    best_card(study)
    calibration_view(study, key="live")
    trials = (*snap.trials, *snap.running)
    st.dataframe(trials_frame(trials, study.config.objective), hide_index=True, width="stretch")
    st.caption(f"Refreshed {time.strftime('%H:%M:%S')}")


def steering(name: str) -> None:
    """The forms that put a person's hand on the search, outside the redrawn fragment."""
    try:
        study = store().load(name)
    except StudyNotFound:
        return
    surrogate = live_snapshot(name).surrogate
    hand_on_search(study, surrogate.next_point if surrogate else None)


controls(st.session_state["study"])
active = st.session_state.get("live-active", (None, True))[1]
st.fragment(run_every=REDRAW_ACTIVE if active else REDRAW_STILL)(live_view)()
steering(st.session_state["study"])
