"""Tune: choose the data, the search space, the optimizer and the budget, then start."""

import streamlit as st

from core import charts
from core.data import BUILTIN, DEFAULT_DATASET
from core.eta import seconds_left
from core.executor import MAX_WORKERS
from core.model import HYPERPARAMETERS
from core.options import default_init_points
from core.pruners import EXPLAINED as PRUNER_HELP
from core.settings import PRESETS as SETTING_PRESETS
from core.settings import SEARCH_SETTINGS, SETTINGS, defaults
from core.steer import inherited
from pages.common.data import (
    cached_dataset,
    dataset_label,
    offered_resources,
    save_upload,
    throughput,
)
from pages.common.forms import (
    BLOG_TUNED,
    KEYS,
    config_from_inputs,
    form_value,
    setting_input,
)
from pages.common.registry import registry, store
from pages.common.widgets import use_app_navigation

use_app_navigation()

UPLOAD = "upload"


SPACE = {  # the blog's search space, as the form holds it
    "dropout_low": 0.1,
    "dropout_high": 0.5,
    "lr_low": 1e-4,
    "lr_high": 1e-2,
    "lr_log": True,
    **{f"use_{name}": name in BLOG_TUNED for name in HYPERPARAMETERS},
}
DEFAULTS = {
    "dataset": DEFAULT_DATASET,
    **SPACE,
    **{name: form_value(name, value) for name, value in defaults().items()},
    "init_points": default_init_points(len(BLOG_TUNED)),
    "workers": 1,
    "ray_address": "",
    "cpus_per_trial": 1,
    "gpus_per_trial": 0.0,
    "name": "",
    "warm_start": "",
}
for _name, _h in HYPERPARAMETERS.items():  # each hyperparameter's range
    if _name not in KEYS:
        if _h.search.choices:
            DEFAULTS[f"{_name}_choices"] = list(_h.search.choices)
        else:
            DEFAULTS.update(
                {f"{_name}_low": _h.search.low, f"{_name}_high": _h.search.high,
                 f"{_name}_log": _h.search.log}
            )  # fmt: skip
PRESETS = {  # the command line's --preset, on the blog's search space
    p.label: {**SPACE, **{name: form_value(name, v) for name, v in p.values.items()}}
    for p in SETTING_PRESETS.values()
}
ACQ_HELP = {
    "ei": "Expected improvement: how much a point is expected to beat the best so far "
    "(ξ asks for a margin). A sound default.",
    "ucb": "Upper confidence bound: mean + κ·std. A larger κ explores more; the blog's "
    "2.576 explores a lot.",
    "poi": "Probability of improvement: the chance to beat the best by ξ. Greedy when ξ is small.",
}

for key, value in DEFAULTS.items():
    st.session_state.setdefault(f"tune_{key}", value)
# the preset whose values the form holds when the page opens (Quick look's are the defaults)
st.session_state.setdefault(
    "tune_preset",
    next(
        (label for label, values in PRESETS.items()
         if all(st.session_state[f"tune_{k}"] == v for k, v in values.items())),
        "Custom",
    ),
)  # fmt: skip


def apply_preset() -> None:
    for key, value in PRESETS.get(st.session_state["tune_preset"], {}).items():
        st.session_state[f"tune_{key}"] = value


def follow_ticks(name: str) -> None:
    """The random start follows the ticked hyperparameters (one more than them, at least 5)
    until a person sets it to something else."""
    dim = sum(bool(st.session_state[f"tune_use_{n}"]) for n in HYPERPARAMETERS)
    before = dim - 1 if st.session_state[f"tune_use_{name}"] else dim + 1
    if st.session_state["tune_init_points"] == default_init_points(before):
        st.session_state["tune_init_points"] = default_init_points(dim)


st.title("Tune a CNN with Bayesian optimization")
st.caption(
    "Each trial trains the blog's CNN and is scored on a validation split; the Gaussian "
    "process then picks the next values of the ticked hyperparameters. The test split is never used "
    "to choose: it is evaluated once at the end, if you ask for it."
)
st.selectbox(
    "Preset",
    ["Custom", *PRESETS],
    key="tune_preset",
    on_change=apply_preset,
    help=" ".join(f"{p.label}: {p.help}." for p in SETTING_PRESETS.values()),
)

# -- data -------------------------------------------------------------------------
st.subheader("Data")
choices = [*BUILTIN, UPLOAD]
data_col, preview_col = st.columns([2, 3])
with data_col:
    st.selectbox(
        "Dataset",
        choices,
        key="tune_dataset",
        format_func=lambda n: "Upload your own .npz" if n == UPLOAD else dataset_label(n),
    )
    dataset_name = st.session_state["tune_dataset"]
    st.number_input(
        "data split seed",
        min_value=0,
        step=1,
        key="tune_data_seed",
        help="Draws the train/validation/test split. It stays the same for every study on a "
        "dataset, so their accuracies are measured on the same validation images; the "
        "study's own seed (below) drives the search and the training, never the split.",
    )
    ds, data_error = None, None
    if dataset_name == UPLOAD:
        upload = st.file_uploader(
            "An .npz with x_train (N, H, W[, C]) and y_train (N,), optionally x_test, y_test",
            type=["npz"],
            key="tune_upload",
        )
        if upload is None:
            limit = st.get_option("server.maxUploadSize")
            data_error = (
                f"Upload an .npz file of at most {limit} MB, or choose a built-in dataset. "
                "A larger file is refused by the server (marked red above)."
            )
        else:
            dataset_name = str(save_upload(upload.name, upload.getvalue()))
    if data_error is None:
        try:
            ds = cached_dataset(dataset_name, int(st.session_state["tune_data_seed"]))
        except ValueError as exc:
            data_error = str(exc)
    if data_error:
        st.error(data_error)
    elif ds is not None:
        st.success(ds.summary())
        st.caption(ds.source)
        for warning in ds.warnings:
            st.warning(warning)
with preview_col:
    if ds is not None:
        st.plotly_chart(
            charts.sample_grid(ds.x_train, ds.y_train), key="tune-samples", width="stretch"
        )
        st.plotly_chart(
            charts.class_counts_figure(ds.class_counts()), key="tune-counts", width="stretch"
        )

# -- search space and optimizer ------------------------------------------------------
st.subheader("Search space")
st.caption(
    "Tick the hyperparameters to tune and set each one's range; the others keep the blog's "
    "values. The blog tuned the dropout before the output and the learning rate; the GP "
    "charts show any two ticked ones, the first two to begin with."
)
for name, h in HYPERPARAMETERS.items():
    key = KEYS.get(name, name)
    tick, low, high, scale = st.columns([3, 2, 2, 2])
    said = name if h.label == name.replace("_", " ") else f"{name} ({h.label})"
    tick.checkbox(said, key=f"tune_use_{name}", help=h.help, on_change=follow_ticks, args=(name,))
    if not st.session_state[f"tune_use_{name}"]:
        fixed = h.fixed if h.fixed is not None else f"the budget's {name.replace('_', ' ')}"
        low.caption(f"fixed: {fixed}")
        continue
    p = h.search
    if p.choices:
        low.multiselect("choices", list(p.choices), key=f"tune_{key}_choices")
        continue
    if p.discrete:
        low.number_input(f"{name} low", min_value=1, step=1, key=f"tune_{key}_low")
        high.number_input(f"{name} high", min_value=1, step=1, key=f"tune_{key}_high")
        scale.checkbox("powers of two", key=f"tune_{key}_log")
        continue
    fmt, step = ("%.1e", 1e-4) if name == "lr" else ("%.3f", 0.05)
    low.number_input(f"{name} low", key=f"tune_{key}_low", step=step, format=fmt)
    high.number_input(f"{name} high", key=f"tune_{key}_high", step=step, format=fmt)
    if name == "lr":
        scale.checkbox(
            "log scale",
            key="tune_lr_log",
            help="Searches lr evenly across decades. The blog searched a linear axis, where "
            "almost every trial lands near the top of the range.",
        )

st.subheader("Optimizer")
o1, o2, o3, o4 = st.columns(4)
o1.selectbox(
    "Strategy",
    ["bayes", "random", "grid"],
    key="tune_optimizer",
    help="bayes: Gaussian process + acquisition. random and grid are baselines.",
)
o2.number_input(
    "init_points (random trials first)",
    min_value=0,
    step=1,
    key="tune_init_points",
    help="One more than the ticked hyperparameters, at least 5, unless you set it: the GP "
    "fits a length scale for each, plus an amplitude and a noise.",
)
o3.number_input("n_iter (GP-guided trials)", min_value=0, step=1, key="tune_n_iter")
o4.number_input(
    "seed",
    min_value=0,
    step=1,
    key="tune_seed",
    help="Drives the random start, the search and each trial's training; the data split has "
    "its own seed (under Data).",
)
for column, name in zip(st.columns(len(SEARCH_SETTINGS)), SEARCH_SETTINGS, strict=True):
    setting_input(column, SETTINGS[name])  # each drawn from its declaration (core.settings)
st.caption(ACQ_HELP[st.session_state["tune_acquisition"]])

st.subheader("Training budget per trial")
b1, b2, b3, b4 = st.columns(4)
b1.number_input("epochs", min_value=1, step=1, key="tune_epochs")
b2.number_input(
    "batch size",
    min_value=1,
    step=16,
    key="tune_batch_size",
    help="Every trial's, unless batch_size is ticked above (then each trial's own).",
)
b3.number_input(
    "training-sample cap (0 = all)", min_value=0, step=500, key="tune_max_train_samples"
)
b4.checkbox(
    "final test",
    key="tune_final_test",
    help="After the search, retrain the best params on train+validation, evaluate once on "
    "the test split and save the model (.keras).",
)
p1, p2 = st.columns([1, 3])
p1.selectbox(
    "Pruner",
    list(PRUNER_HELP),
    key="tune_pruner",
    help="Stops trials that are plainly behind the others, so the budget goes to the rest. "
    "A pruned trial keeps its learning curve; the GP is told its last accuracy plus the gain "
    "the complete trials made from there to the end, with that gain's spread as extra "
    "uncertainty.",
)
p2.caption(PRUNER_HELP[st.session_state["tune_pruner"]])
p2.checkbox(
    "stop when converged",
    key="tune_stop_when_converged",
    help="End the study once the GP estimates that more trials are unlikely to beat the best "
    "by more than one trial's noise. Never before the random start is done.",
)
#: The settings this page places itself, each beside what it belongs with.
PLACED = {"optimizer", "init_points", "n_iter", "seed", "data_seed", *SEARCH_SETTINGS, "epochs",
          "batch_size", "max_train_samples", "final_test", "pruner", "stop_when_converged"}  # fmt: skip
more = [s for name, s in SETTINGS.items() if name not in PLACED]
if more:  # every other declared setting, drawn from its declaration
    with st.expander("More settings"):
        for column, setting in zip(st.columns(len(more)), more, strict=True):
            setting_input(column, setting)
st.subheader("Parallel trials")
w1, w2, w3, w4 = st.columns([1, 2, 1, 1])
w1.number_input(
    "parallel trials",
    min_value=1,
    max_value=MAX_WORKERS,
    step=1,
    key="tune_workers",
    help="Trials that train at once. 1: one at a time on this machine. More: on Ray, "
    "each trial with its own CPUs; the GP proposes around the trials still running.",
)
w2.text_input(
    "Ray address (blank = this machine)",
    key="tune_ray_address",
    placeholder="auto, host:6379 or ray://host:10001",
)
w3.number_input("CPUs per trial", min_value=1, step=1, key="tune_cpus_per_trial")
w4.number_input("GPUs per trial", min_value=0.0, step=0.5, key="tune_gpus_per_trial")
st.caption(offered_resources(st.session_state["tune_ray_address"]))
st.text_input("Study name (optional)", key="tune_name", placeholder="dataset-optimizer-time")
earlier = ["", *reversed(store().names())]
if st.session_state["tune_warm_start"] not in earlier:
    st.session_state["tune_warm_start"] = ""
st.selectbox(
    "Start from the trials of (warm start)",
    earlier,
    key="tune_warm_start",
    format_func=lambda n: n or "none: a fresh study",
    help="An earlier study with the same parameters: its finished trials inside these bounds "
    "are told to the GP first, shown as inherited, and not counted in this study's total.",
)

# -- validate, estimate, start ---------------------------------------------------------
inputs = {key: st.session_state[f"tune_{key}"] for key in DEFAULTS}
inputs["dataset"] = dataset_name
config, errors = config_from_inputs(inputs)
if config is not None and ds is not None:
    try:
        config.check_data(len(ds.y_train))
    except ValueError as exc:
        errors.append(str(exc))
if config is not None and config.warm_start:
    try:
        _, inherits = inherited(store(), config)
    except ValueError as exc:
        errors.append(str(exc))
    else:
        st.caption(f"This study {inherits}.")
for message in errors:
    st.error(message)

if config is not None and ds is not None and not errors:
    rate, how = throughput(config.dataset, ds.input_shape)
    seconds = seconds_left(
        config.largest_budget,
        len(ds.y_train),
        len(ds.y_val),
        rate,
        trials=config.total,
        final=config.final_test,
        workers=config.parallel.workers,
    )
    st.info(
        f"{config.total} trials x {config.budget.epochs} epochs on "
        f"{config.budget.train_size(len(ds.y_train)):,} images: about "
        f"{max(1, round(seconds / 60))} min at {rate:,.0f} samples/s ({how})."
    )

start = st.button("Start", type="primary", disabled=bool(errors) or ds is None or config is None)
if start and config is not None and ds is not None and not errors:
    try:
        # the data the study trains on is drawn for its own split, never the preview's
        data = cached_dataset(config.dataset, config.data_seed, config.val_fraction)
        registry().create(config, dataset=data)
    except (ValueError, RuntimeError) as exc:
        st.error(str(exc))
    else:
        st.session_state["study"] = config.name
        st.switch_page("pages/live.py")
