"""A person's hand on the search, on Live: a point to train next, a result to tell."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core import steer
from core.space import Param, SearchSpace
from core.study import Study
from pages.common.registry import store


def try_key(study: str, name: str) -> str:
    """The session key of the "try here next" input of parameter ``name`` (a click on the
    GP mean map sets it)."""
    return f"try-{study}-{name}"


def _field(form: Any, p: Param, default: Any, key: str) -> Any:
    """One input for parameter ``p``, starting at ``default`` unless the session holds a
    value for it (a spot picked on the map)."""
    if key not in st.session_state:
        st.session_state[key] = p.field_value(default)
    if p.choices:
        return form.selectbox(p.name, list(p.choices), key=key)
    if p.discrete:
        return form.number_input(p.name, min_value=int(p.low), max_value=int(p.high), step=1,
                                 key=key, help=p.describe())  # fmt: skip
    # no min/max here: a value outside the range gets the core's message naming it
    return form.number_input(p.name, format="%.6g", key=key, help=p.describe())


def tell_key(study: str, name: str) -> str:
    return f"tell-{study}-{name}"


def _point(
    form: Any, space: SearchSpace, start: dict[str, Any], study: str, key: Any
) -> dict[str, Any]:
    columns = form.columns(min(len(space.params), 4))
    return {
        p.name: _field(columns[i % len(columns)], p, start[p.name], key(study, p.name))
        for i, p in enumerate(space.params)
    }


def hand_on_search(study: Study, next_point: dict[str, Any] | None) -> None:
    """Two forms: "try here next" (starting at the GP's next point) and "add a known
    result". What they send goes through :mod:`core.steer`, which checks it."""
    if study.config.optimizer != "bayes":
        return
    space = study.config.space
    start = _start(space, next_point)
    with st.expander("Your hand on the search: try a point next, or add a result"):
        left, right = st.columns(2)
        with left.form(f"try-{study.name}"):
            st.markdown("**Try here next.** The next trial trains at this point, marked "
                        "'chosen by you'; it starts at the GP's next point.")  # fmt: skip
            point = _point(st, space, start, study.name, try_key)
            train, ask = st.columns(2)
            if train.form_submit_button("Train this point next"):
                _say(lambda: steer.try_next(store(), study.name, point))
            ask.form_submit_button("What does the GP expect here?")
        # the points typed or picked on the map (a click fills the form and reruns the page)
        try:
            left.caption(expected(study.name, len(study.finished_trials), _key(point)))
        except ValueError as exc:
            left.error(str(exc))
        with right.form(f"tell-{study.name}"):
            st.markdown("**Add a known result** trained elsewhere: told to the GP, marked "
                        "'added by you', not counted in the study's total.")  # fmt: skip
            point = _point(st, space, start, study.name, tell_key)
            value = st.number_input("validation accuracy", min_value=0.0, max_value=1.0,
                                    value=None, format="%.4f", key=f"tell-{study.name}-value")  # fmt: skip
            if st.form_submit_button("Tell the GP"):
                if value is None:
                    st.error("Type the result's validation accuracy, between 0 and 1.")
                else:
                    _say(lambda: steer.tell_result(store(), study.name, point, value))
        waiting = store().queued(study.name)
        if waiting:
            st.caption(f"Waiting in the queue: {len(waiting)} "
                       "(taken before the study's next trial).")  # fmt: skip


def ask_key(study: str, name: str) -> str:
    return f"ask-{study}-{name}"


def point_preview(study: Study, next_point: dict[str, Any] | None) -> None:
    """What the GP expects at a point a person types, for a study that is only looked at
    (Studies): the "try here next" form's word, without the training."""
    if study.config.optimizer != "bayes":
        return
    space = study.config.space
    start = _start(space, next_point)
    with st.form(f"ask-{study.name}"):
        st.markdown("**What does the GP expect at a point?** Its mean ± std and acquisition "
                    "there, beside its own next point.")  # fmt: skip
        point = _point(st, space, start, study.name, ask_key)
        st.form_submit_button("What does the GP expect here?")
    try:
        st.caption(expected(study.name, len(study.finished_trials), _key(point)))
    except ValueError as exc:
        st.error(str(exc))


def _start(space: SearchSpace, next_point: dict[str, Any] | None) -> dict[str, Any]:
    """Where a form's point starts: the GP's next point, else the middle of the space."""
    return next_point or {p.name: p.from_unit(0.5) for p in space.params}


def _key(point: dict[str, Any]) -> tuple:
    return tuple(sorted(point.items()))


@st.cache_data(show_spinner=False, max_entries=64)
def expected(name: str, k: int, point: tuple) -> str:
    """The GP's word at ``point`` after the study's k-th finished trial, cached per
    (study, k, point)."""
    return steer.expected_at(store().load(name), dict(point))


def _say(action: Any) -> None:
    try:
        said = action()
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.success(said[0].upper() + said[1:] + ".")
