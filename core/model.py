"""The models a study trains: the seed's CNN with its tunable hyperparameters, or a user's own.

Fixes to the seed: sparse categorical cross-entropy (it used MSE on a softmax),
and ``Adam(learning_rate=...)`` (it used the removed ``lr`` argument).

A user's model is a Python function ``build(params, input_shape, n_classes)`` that
returns a Keras model, named as ``path/to/file.py:build`` (or ``package.module:build``).
It is checked before a study starts (:func:`check_builder`): a missing file or function,
a wrong signature, or a model whose output does not match the classes is refused with
a message that names it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.space import Param, SearchSpace, Value

MIN_SIDE = 8
OPTIMIZERS = ("adam", "sgd", "rmsprop")
#: SGD's momentum when the optimizer is "sgd" (plain SGD at these budgets barely moves).
SGD_MOMENTUM = 0.9

#: What a model spec names: a function of (params, input_shape, n_classes) -> keras.Model.
Builder = Callable[[Mapping[str, Value], tuple[int, ...], int], Any]


@dataclass(frozen=True)
class Hyperparameter:
    """One of the CNN's tunable hyperparameters: its value when not tuned, and the range
    the Tune page offers first."""

    name: str
    label: str
    fixed: Value | None  # None: the training budget's value (batch size, epochs)
    search: Param
    help: str


HYPERPARAMETERS: dict[str, Hyperparameter] = {
    h.name: h
    for h in (
        Hyperparameter(
            "dropout2_rate",
            "dropout before the output",
            0.3,
            Param("dropout2_rate", 0.1, 0.5),
            "The blog's tuned dropout, after the dense layer. Fixed at 0.3 when not tuned.",
        ),
        Hyperparameter(
            "lr",
            "learning rate",
            1e-3,
            Param("lr", 1e-4, 1e-2, log=True),
            "The optimizer's learning rate, on a log scale. Fixed at 1e-3 when not tuned.",
        ),
        Hyperparameter(
            "dropout1_rate",
            "dropout after the convolutions",
            0.25,
            Param("dropout1_rate", 0.0, 0.5),
            "The blog's first dropout (0.25), after the max-pooling.",
        ),
        Hyperparameter(
            "batch_size",
            "batch size",
            None,
            Param("batch_size", 16, 256, log=True, kind="int"),
            "Powers of two; when not tuned, the training budget's batch size.",
        ),
        Hyperparameter(
            "dense_units",
            "dense units",
            128,
            Param("dense_units", 32, 512, log=True, kind="int"),
            "Units of the hidden dense layer (the blog's 128).",
        ),
        Hyperparameter(
            "filters1",
            "filters, first convolution",
            32,
            Param("filters1", 8, 64, log=True, kind="int"),
            "Filters of the first 3x3 convolution (the blog's 32).",
        ),
        Hyperparameter(
            "filters2",
            "filters, second convolution",
            64,
            Param("filters2", 16, 128, log=True, kind="int"),
            "Filters of the second 3x3 convolution (the blog's 64).",
        ),
        Hyperparameter(
            "optimizer",
            "Keras optimizer",
            "adam",
            Param("optimizer", kind="categorical", choices=OPTIMIZERS),
            f"Adam (the blog's), SGD with momentum {SGD_MOMENTUM}, or RMSprop.",
        ),
        Hyperparameter(
            "epochs",
            "a trial's epochs",
            None,
            Param("epochs", 1, 10, kind="int"),
            "When not tuned, the training budget's epochs. Tuned, a trial's cost varies.",
        ),
    )
}


#: The CNN's dropout rates: each must lie in [0, 1).
DROPOUTS = ("dropout1_rate", "dropout2_rate")


def check_cnn_space(space: SearchSpace) -> None:
    """Raise ValueError unless ``space`` tunes only the CNN's hyperparameters, each with a
    type and a range the CNN can take."""
    for p in space.params:
        h = HYPERPARAMETERS.get(p.name)
        if h is None:
            raise ValueError(
                f"the CNN has no hyperparameter {p.name!r}: choose from "
                f"{', '.join(HYPERPARAMETERS)} (or tune your own model with --model)"
            )
        if type(p) is not type(h.search):
            raise ValueError(f"{p.name}: the CNN takes it as {h.search.kind}, got {p.kind}")
        if p.choices:
            unknown = [c for c in p.choices if c not in OPTIMIZERS]
            if unknown:
                raise ValueError(
                    f"{p.name}: unknown choice {unknown[0]!r}, expected some of {list(OPTIMIZERS)}"
                )
        elif p.discrete and p.low < 1:
            raise ValueError(f"{p.name}: must be at least 1, got low = {p.low}")
        elif p.name == "lr" and p.low <= 0:
            raise ValueError(f"lr: must be > 0, got low = {p.low:g}")
        elif p.name in DROPOUTS and not (0 <= p.low and p.high < 1):
            raise ValueError(
                f"{p.name}: a dropout rate must lie in [0, 1), got [{p.low:g}, {p.high:g}]"
            )
    if "epochs" in space.names and space["epochs"].high > 1000:
        raise ValueError(f"epochs: at most 1000, got high = {space['epochs'].high}")


def cnn_settings(params: Mapping[str, Value]) -> dict[str, Value]:
    """The CNN's model hyperparameters: the tuned ones from ``params``, the rest fixed."""
    return {
        name: params.get(name, h.fixed)
        for name, h in HYPERPARAMETERS.items()
        if h.fixed is not None
    }


def make_optimizer(name: str, lr: float) -> Any:
    """A fresh Keras optimizer by name, at learning rate ``lr``."""
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate=float(lr))
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=float(lr), momentum=SGD_MOMENTUM)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=float(lr))
    raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")


def build_model(
    input_shape: tuple[int, int, int],
    num_classes: int,
    dropout2_rate: float = 0.3,
    lr: float = 1e-3,
    *,
    dropout1_rate: float = 0.25,
    dense_units: int = 128,
    filters1: int = 32,
    filters2: int = 64,
    optimizer: str = "adam",
) -> Any:  # keras.Model
    """Conv(filters1)-Conv(filters2)-MaxPool-Dropout(dropout1_rate)-Flatten-Dense(dense_units)-
    Dropout(dropout2_rate)-Dense(classes); the seed's values by default."""
    import keras

    h, w = input_shape[0], input_shape[1]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ValueError(f"input images must be at least {MIN_SIDE}x{MIN_SIDE}, got {h}x{w}")
    for name, rate in (("dropout1_rate", dropout1_rate), ("dropout2_rate", dropout2_rate)):
        if not 0 <= rate < 1:
            raise ValueError(f"{name} must lie in [0, 1), got {rate!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes!r}")
    for name, count in (
        ("dense_units", dense_units),
        ("filters1", filters1),
        ("filters2", filters2),
    ):
        if int(count) < 1:
            raise ValueError(f"{name} must be at least 1, got {count!r}")
    model = keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            keras.layers.Conv2D(int(filters1), (3, 3), activation="relu", name="conv2d_1"),
            keras.layers.Conv2D(int(filters2), (3, 3), activation="relu", name="conv2d_2"),
            keras.layers.MaxPooling2D((2, 2), name="maxpool2d_1"),
            keras.layers.Dropout(float(dropout1_rate), name="dropout_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(int(dense_units), activation="relu", name="dense_1"),
            keras.layers.Dropout(float(dropout2_rate), name="dropout_2"),
            keras.layers.Dense(num_classes, activation="softmax", name="dense_2"),
        ]
    )
    model.compile(
        optimizer=make_optimizer(str(optimizer), float(lr)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_cnn(params: Mapping[str, Value], input_shape: tuple[int, ...], n_classes: int) -> Any:
    """The seed's CNN with ``params`` (a :data:`Builder`)."""
    return build_model(tuple(input_shape), n_classes, **cnn_settings(params))


# -- a user's own model -------------------------------------------------------------------


def _load_file(path: Path) -> Any:
    if path.suffix != ".py":
        raise ValueError(f"model file {str(path)!r}: expected a .py file")
    if not path.is_file():
        raise ValueError(f"model file {str(path)!r} does not exist")
    module_name = f"user_model_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pickling and dataclasses look it up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ValueError(
            f"model file {str(path)!r} failed to load: {type(exc).__name__}: {exc}"
        ) from None
    return module


def split_spec(spec: str) -> tuple[str, str]:
    """``"file.py:build"`` -> ``("file.py", "build")``, or ValueError naming the form."""
    where, sep, name = str(spec).rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise ValueError(
            f"model {spec!r}: expected path/to/file.py:FUNCTION or package.module:FUNCTION"
        )
    return where, name


def normalize_spec(spec: str) -> str:
    """A model spec with its file made absolute, so a study resumes from any folder."""
    where, name = split_spec(spec)
    if where.endswith(".py"):
        where = str(Path(where).expanduser().resolve())
    return f"{where}:{name}"


@functools.lru_cache(maxsize=16)
def _resolve_spec(spec: str) -> Builder:
    where, name = split_spec(spec)
    if where.endswith(".py"):
        module = _load_file(Path(where).expanduser())
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ValueError(f"model {spec!r}: cannot import {where!r}: {exc}") from None
    fn = getattr(module, name, None)
    if fn is None:
        defined = sorted(
            n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")
        )
        raise ValueError(
            f"model {spec!r}: {where} has no function {name!r}"
            + (f" (it defines {', '.join(defined)})" if defined else "")
        )
    if not callable(fn):
        raise ValueError(f"model {spec!r}: {name!r} is not a function")
    try:
        inspect.signature(fn).bind({}, (8, 8, 1), 2)
    except TypeError:
        raise ValueError(
            f"model {spec!r}: {name}{inspect.signature(fn)} must take "
            "(params, input_shape, n_classes)"
        ) from None
    except ValueError:  # no signature to read (a builtin): calling it will tell
        pass
    return fn


def builder_for(model: str | Builder | None) -> Builder:
    """The function that builds a trial's model: the CNN for ``None`` or ``""``, a
    callable as given, or the function a spec names (loaded once per process)."""
    if not model:
        return build_cnn
    if callable(model):
        return model
    return _resolve_spec(str(model))


def fresh_model(
    model: str | Builder | None,
    params: Mapping[str, Value],
    input_shape: tuple[int, ...],
    n_classes: int,
) -> Any:
    """Build, check and compile a trial's model.

    A user's model that is not compiled is compiled with Adam at ``params["lr"]`` (1e-3
    without one) and sparse categorical cross-entropy; one compiled without an accuracy
    metric cannot be scored and is refused.
    """
    import keras

    build = builder_for(model)
    try:
        net = build(dict(params), tuple(input_shape), int(n_classes))
    except Exception as exc:
        if build is build_cnn:
            raise
        raise ValueError(f"the model's builder raised {type(exc).__name__}: {exc}") from None
    if not isinstance(net, keras.Model):
        raise ValueError(f"the model's builder must return a keras.Model, got {type(net).__name__}")
    outputs = net.outputs or []
    width = outputs[0].shape[-1] if len(outputs) == 1 else None
    if width != n_classes:
        raise ValueError(
            f"the model's output has shape {tuple(outputs[0].shape) if outputs else None}, "
            f"but the data has {n_classes} classes: end the model with Dense({n_classes})"
        )
    if getattr(net, "optimizer", None) is None or not getattr(net, "compiled", True):
        lr = float(params.get("lr", 1e-3))
        net.compile(
            optimizer=make_optimizer(str(params.get("optimizer", "adam")), lr),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    # Keras creates an optimizer's slots and the compiled metrics' totals on the first
    # training step, and a variable created inside a tf.function makes TensorFlow trace it
    # twice: both made here, each trial traces its training step once (the larger part of
    # a short trial's cost)
    if not net.optimizer.built:
        net.optimizer.build(net.trainable_variables)
    _build_metrics(net, input_shape)
    return net


def _build_metrics(net: Any, input_shape: tuple[int, ...]) -> None:
    """The compiled metrics' variables, made by one update on a blank image, then reset."""
    import numpy as np

    blank = np.zeros((1, *input_shape), dtype="float32")
    net.compute_metrics(blank, np.zeros(1, dtype="int64"), net(blank, training=False))
    net.reset_metrics()


def check_builder(
    model: str | Builder, space: SearchSpace, input_shape: tuple[int, ...], n_classes: int
) -> None:
    """Build the model once at the middle of ``space`` and check it trains on this data:
    ValueError with what is wrong (a missing file or function, a wrong signature, an
    exception in the builder, an output that does not match the classes)."""
    from core.tensorflow_setup import quiet_tensorflow

    quiet_tensorflow()  # the first model of a process that trains none: its lines muted
    import keras

    fresh_model(model, space.from_unit([0.5] * space.width), input_shape, n_classes)
    keras.backend.clear_session()
