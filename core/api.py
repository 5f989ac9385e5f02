"""Tune from Python: the seed's CNN or your own model, in a notebook or a script.

    from core.api import tune

    def build(params, input_shape, n_classes):
        import keras
        model = keras.Sequential([
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(params["units"], activation="relu"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(params["lr"]),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    study = tune(build, {"lr": "float:1e-4:1e-2:log", "units": "int:16:256:log2"},
                 dataset="digits", init_points=4, n_iter=6, epochs=3)
    study.best_trial.params   # {'lr': 0.0031..., 'units': 64}

The study is stored in the same SQLite file as the dashboard's (``runs/studies.db`` by
default), so it shows on the Live and Studies pages like any other. A builder given as a
function is used in this process; to resume such a study later, give its spec instead
(``"path/to/file.py:build"``), which any process can load.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from core.data import DEFAULT_DATASET
from core.model import Builder
from core.settings import preset_values
from core.space import Param, SearchSpace, load_space_file, parse_param
from core.store import DEFAULT_DB, Store
from core.study import Study, StudyConfig, default_name, study_config


def start(
    config: StudyConfig,
    store: Store,
    *,
    runs_dir: str | os.PathLike = "runs",
    model: Builder | None = None,
    log: TextIO | None = None,
) -> Any:  # a core.runner.Runner, started
    """Check everything, store the study, start it; nothing is stored when a check fails.

    Joins Ray if asked, loads and validates the data, checks that each trial's budget fits
    it and, for a user's model, builds it once to check it (ValueError naming the problem).
    """
    from core.data import load_dataset
    from core.model import builder_for
    from core.runner import Registry, Runner
    from core.steer import inherited

    if config.model and model is None:
        builder_for(config.model)  # a missing file or function is told before the data loads
    inherited(store, config)  # so is a missing warm-start source
    dataset = load_dataset(config.dataset, val_fraction=config.val_fraction, seed=config.data_seed)
    runner = Registry(store, runs_dir=runs_dir).create(
        config, dataset=dataset, model=model, runner_factory=functools.partial(Runner, model=model)
    )
    if log is not None:
        log.write(f"study {config.name}: {dataset.summary()}\n{dataset.source}\n")
        if runner.inherits:
            log.write(f"study {config.name} {runner.inherits}\n")
    return runner


def as_space(space: SearchSpace | Mapping[str, Any] | Sequence[str] | str | Path) -> SearchSpace:
    """A search space from any of the forms :func:`tune` takes."""
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, str | Path):
        return load_space_file(space)
    if isinstance(space, Mapping):
        params = []
        for name, spec in space.items():
            if isinstance(spec, Param):
                params.append(spec)
            elif isinstance(spec, str):
                params.append(parse_param(f"{name}={spec}"))
            else:
                params.append(Param.from_dict({"name": name, **spec}))
        return SearchSpace(params)
    return SearchSpace(p if isinstance(p, Param) else parse_param(p) for p in space)


def tune(
    model: Builder | str | None,
    space: SearchSpace | Mapping[str, Any] | Sequence[str] | str | Path,
    *,
    dataset: str | None = None,
    name: str | None = None,
    db: str | os.PathLike = DEFAULT_DB,
    preset: str | None = None,
    **settings: Any,
) -> Study:
    """Tune ``model`` over ``space`` and return the finished study.

    ``model``: ``build(params, input_shape, n_classes)`` returning a Keras model (compiled,
    or compiled here with Adam at ``params["lr"]``), its spec ``"file.py:build"``, or None
    for the seed's CNN. ``dataset``: a built-in's name or a ``.npz`` path (the preset's,
    else mnist-5k). ``space``: a :class:`SearchSpace`, a dict of one-line specs
    (``{"lr": "float:1e-4:1e-2:log", "units": "int:16:256:log2", "act": "cat:relu,tanh"}``)
    or of settings, a list of ``"NAME=SPEC"`` strings, or a TOML/JSON file. ``settings``:
    any of :data:`core.settings.SETTINGS` (``init_points``, ``n_iter``, ``epochs``,
    ``acquisition``, ``seed``, ...), over a ``preset``'s values ("quick", "seed"), over
    each one's default (the command line's and the Tune page's: ``init_points`` one more
    than the parameters, at least 5). Raises ValueError for bad input, before anything is
    stored.
    """
    space = as_space(space)
    spec = model if isinstance(model, str) else ""
    if callable(model):
        label = model.__name__ if model.__name__.isidentifier() else "function"
        spec = f"{model.__module__}:{label}"
    values = {**(preset_values(preset) if preset else {}), **settings}
    dataset = dataset or values.pop("dataset", DEFAULT_DATASET)
    values.pop("dataset", None)
    config = study_config(
        name or default_name(dataset, values.get("optimizer", "bayes")),
        dataset,
        space,
        model=spec,
        **values,
    )
    store = Store(db)
    try:
        runner = start(
            config, store, runs_dir=Path(db).parent, model=model if callable(model) else None
        )
        runner.join()
        return store.load(config.name)
    finally:
        store.close()
