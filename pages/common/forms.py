"""The Tune form: its raw values in, a validated study configuration (or every error) out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from core.executor import Parallel
from core.model import HYPERPARAMETERS
from core.settings import SETTINGS, Setting
from core.space import Param, SearchSpace
from core.study import StudyConfig, default_name, study_config
from core.trainer import Budget

#: The hyperparameters the blog tuned: ticked unless the form says otherwise.
BLOG_TUNED = ("dropout2_rate", "lr")
#: The form's keys for the blog's two (older forms and presets use these).
KEYS = {"dropout2_rate": "dropout", "lr": "lr"}

#: The GP-noise choice that fits the noise with the GP (the default); the others fix alpha.
FITTED = "fitted"


def form_value(name: str, value: Any) -> Any:
    """A setting's value as the form holds it (a fitted setting's None says "fitted", the
    sample cap's None 0)."""
    if name in SETTINGS and SETTINGS[name].offered:
        return FITTED if value is None else value
    if name == "max_train_samples":
        return value or 0
    return value


def setting_input(container: Any, setting: Setting) -> None:
    """The Tune page's input for ``setting``, drawn from its declaration (its value kept
    under ``tune_<name>``): a choice of its ``choices`` or its ``offered`` values, a box for
    a flag, a number otherwise."""
    key, label = f"tune_{setting.name}", setting.label or setting.name.replace("_", " ")
    if setting.choices:
        shown = setting.choice_labels or {}
        container.selectbox(label, list(setting.choices), key=key, help=setting.help,
                            format_func=lambda c: shown.get(c, c))  # fmt: skip
    elif setting.offered:
        options = [FITTED if v is None else v for v in setting.offered]
        container.selectbox(label, options, key=key, help=setting.help,
                            format_func=lambda v: v if v == FITTED else f"fixed {v:g}")  # fmt: skip
    elif setting.parse is bool:
        container.checkbox(label, key=key, help=setting.help)
    elif setting.parse is int:
        low = None if setting.minimum is None else int(setting.minimum)
        container.number_input(label, min_value=low, step=1, key=key, help=setting.help)
    else:
        container.number_input(label, min_value=setting.minimum, step=setting.step, key=key,
                               help=setting.help, format="%.4g")  # fmt: skip


def hyperparameter(name: str, inputs: dict[str, Any]) -> Param:
    """The ticked hyperparameter ``name`` with the range the form gives for it."""
    key = KEYS.get(name, name)
    search = HYPERPARAMETERS[name].search
    if search.choices:
        return replace(search, choices=tuple(inputs.get(f"{key}_choices") or ()))
    low, high = inputs[f"{key}_low"], inputs[f"{key}_high"]
    log = bool(inputs.get(f"{key}_log"))
    return replace(search, low=search.field_value(low), high=search.field_value(high), log=log)


def config_from_inputs(inputs: dict[str, Any]) -> tuple[StudyConfig | None, list[str]]:
    """Build a config from a form's raw values, collecting every error, not just the first.

    ``max_train_samples`` of 0 or None means no cap; an empty name gets a default one.
    """
    errors: list[str] = []

    def attempt(make: Any) -> Any:
        try:
            return make()
        except (ValueError, TypeError) as exc:
            errors.append(str(exc))
            return None

    params = [
        attempt(lambda name=name: hyperparameter(name, inputs))
        for name in HYPERPARAMETERS
        if inputs.get(f"use_{name}", name in BLOG_TUNED)
    ]
    if not params:
        errors.append("tick at least one hyperparameter to tune")
    parallel = attempt(
        lambda: Parallel(
            int(inputs.get("workers", 1)),
            str(inputs.get("ray_address", "") or "").strip(),
            int(inputs.get("cpus_per_trial", 1)),
            float(inputs.get("gpus_per_trial", 0.0)),
        )
    )
    values = {k: inputs[k] for k in SETTINGS if k in inputs}
    for k in [k for k in values if SETTINGS[k].offered]:  # "fitted" is its None
        values[k] = None if values[k] == FITTED else values[k]
    values["max_train_samples"] = values.get("max_train_samples") or None  # 0: no cap
    values = attempt(lambda: {k: SETTINGS[k].coerce(v) for k, v in values.items()})
    if values is not None:
        attempt(lambda: Budget(values["epochs"], values["batch_size"], values["max_train_samples"]))
    if errors:
        return None, errors
    optimizer = str(values.get("optimizer", SETTINGS["optimizer"].default))
    name = (inputs.get("name") or "").strip() or default_name(str(inputs["dataset"]), optimizer)
    config = attempt(
        lambda: study_config(
            name,
            str(inputs["dataset"]),
            SearchSpace(params),
            parallel=parallel,
            warm_start=str(inputs.get("warm_start", "") or ""),
            **values,
        )
    )
    return config, errors
