import gzip
import struct

import numpy as np
import pytest

from core import data
from core.data import load_dataset, load_npz, split_indices


def check_splits(ds):
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.ndim == 4 and ds.x_train.shape[1:] == ds.input_shape
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert len(ds.x_train) == len(ds.y_train)
    assert len(ds.x_val) == len(ds.y_val) > 0
    assert len(ds.x_test) == len(ds.y_test) > 0
    assert ds.source


def test_digits_has_three_disjoint_stratified_splits():
    ds = load_dataset("digits", seed=1)
    check_splits(ds)
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    total = len(ds.y_train) + len(ds.y_val) + len(ds.y_test)
    assert total == 1797
    assert set(np.unique(ds.y_val)) == set(range(10))  # every class in validation
    assert len(ds.y_val) == pytest.approx(0.1 * (len(ds.y_train) + len(ds.y_val)), abs=10)


def test_mnist_5k_is_real_mnist_and_offline():
    ds = load_dataset("mnist-5k", seed=1)
    check_splits(ds)
    assert ds.input_shape == (28, 28, 1)
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 5000
    assert sum(ds.class_counts().values()) == 5000


def test_splits_are_seeded():
    a = load_dataset("digits", seed=3)
    b = load_dataset("digits", seed=3)
    c = load_dataset("digits", seed=4)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_val, c.y_val)


def test_split_indices_keeps_every_class_on_both_sides():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 2)
    keep, held = split_indices(labels, 0.1, seed=0)
    assert set(labels[held]) == {0, 1, 2}
    assert set(labels[keep]) == {0, 1, 2}
    assert sorted(np.concatenate([keep, held])) == list(range(15))


def test_mnist_falls_back_to_mnist_5k_with_a_warning_when_offline(monkeypatch, caplog):
    def no_network(name):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data, "keras_download", no_network)
    ds = load_dataset("mnist", seed=1)
    assert ds.name == "mnist-5k"
    assert len(ds.warnings) == 1 and "could not be downloaded" in ds.warnings[0]
    assert "mnist-5k" in ds.warnings[0]
    assert "could not be downloaded" in caplog.text


def test_mnist_uses_keras_when_the_download_works(monkeypatch):
    rng = np.random.default_rng(0)

    def fake_download(name):
        assert name == "mnist"
        x = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
        y = np.arange(200) % 10
        return (x, y), (x[:50], y[:50])

    monkeypatch.setattr(data, "keras_download", fake_download)
    ds = load_dataset("mnist", seed=1)
    assert ds.name == "mnist" and not ds.warnings
    assert len(ds.y_test) == 50 and len(ds.y_train) + len(ds.y_val) == 200
    assert ds.x_train.max() <= 1.0


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(
        ">" + "I" * array.ndim, *array.shape
    )
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_debians_idx_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (60, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(60) % 10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (20, 28, 28)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(20) % 10)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    ds = load_dataset("fashion-mnist", seed=1)
    check_splits(ds)
    assert len(ds.y_test) == 20 and str(tmp_path) in ds.source


def test_fashion_mnist_missing_and_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "absent"))

    def no_network(name):
        raise OSError("no network")

    monkeypatch.setattr(data, "keras_download", no_network)
    with pytest.raises(ValueError, match="dataset-fashion-mnist"):
        load_dataset("fashion-mnist")


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="unknown: expected one of"):
        load_dataset("cifar-1000")


def save(tmp_path, name="data.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def good_arrays(n=40, side=10):
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n, side, side), dtype=np.uint8),
        "y_train": np.arange(n) % 3,
    }


def test_a_good_npz_loads_with_and_without_a_test_split(tmp_path):
    ds = load_npz(save(tmp_path, **good_arrays()))
    check_splits(ds)
    assert ds.num_classes == 3 and ds.input_shape == (10, 10, 1)
    arrays = good_arrays()
    arrays["x_test"] = arrays["x_train"][:9].astype(np.float32) / 255
    arrays["y_test"] = arrays["y_train"][:9]
    ds = load_npz(save(tmp_path, "t.npz", **arrays))
    assert len(ds.y_test) == 9


def test_a_colour_npz_keeps_its_channels(tmp_path):
    arrays = good_arrays()
    arrays["x_train"] = np.repeat(arrays["x_train"][..., None], 3, axis=-1)
    assert load_npz(save(tmp_path, **arrays)).input_shape == (10, 10, 3)


def npz_case(name):
    arrays = good_arrays()
    if name == "missing y_train":
        del arrays["y_train"]
    elif name == "float labels":
        arrays["y_train"] = arrays["y_train"].astype(float)
    elif name == "string pixels":
        arrays["x_train"] = np.array([["a"] * 10] * 40)
    elif name == "flat images":
        arrays["x_train"] = arrays["x_train"].reshape(40, 100)
    elif name == "tiny images":
        arrays["x_train"] = arrays["x_train"][:, :4, :4]
    elif name == "mismatched lengths":
        arrays["y_train"] = arrays["y_train"][:30]
    elif name == "one class":
        arrays["y_train"] = np.zeros(40, dtype=int)
    elif name == "nan pixels":
        x = arrays["x_train"].astype(np.float32)
        x[0, 0, 0] = np.nan
        arrays["x_train"] = x
    elif name == "negative labels":
        arrays["y_train"] = arrays["y_train"] - 1
    elif name == "x_test without y_test":
        arrays["x_test"] = arrays["x_train"][:5]
    elif name == "test shape differs":
        arrays["x_test"] = arrays["x_train"][:5, :9, :9]
        arrays["y_test"] = arrays["y_train"][:5]
    elif name == "too few images":
        arrays = {"x_train": arrays["x_train"][:6], "y_train": np.array([0, 1] * 3)}
    return arrays


NPZ_ERRORS = {
    "missing y_train": "missing ['y_train']",
    "float labels": "y_train must hold integer class labels",
    "string pixels": "x_train must hold numbers",
    "flat images": "x_train must have shape (N, H, W)",
    "tiny images": "at least 8x8",
    "mismatched lengths": "x_train has 40 images but y_train has 30 labels",
    "one class": "only one class",
    "nan pixels": "NaN or infinite",
    "negative labels": "labels must be integers >= 0",
    "x_test without y_test": "x_test and y_test must be given together",
    "test shape differs": "they must match",
    "too few images": "at least 10 are needed",
}


@pytest.mark.parametrize("case", sorted(NPZ_ERRORS))
def test_npz_errors_say_what_is_wrong_and_what_is_expected(tmp_path, case):
    path = save(tmp_path, **npz_case(case))
    with pytest.raises(ValueError) as err:
        load_npz(path)
    assert NPZ_ERRORS[case] in str(err.value)


def test_npz_with_pickled_objects_is_refused_and_never_unpickled(tmp_path):
    arrays = good_arrays()
    arrays["y_train"] = np.array([{"evil": i} for i in range(40)], dtype=object)
    path = save(tmp_path, **arrays)
    with pytest.raises(ValueError, match="pickled array"):
        load_npz(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a zip archive at all", "not a readable .npz"),
        (b"PK\x03\x04" + b"\x00" * 40, "not a readable .npz"),
    ],
)
def test_corrupt_or_foreign_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_npz(path)


def test_a_truncated_npz_is_refused(tmp_path):
    path = save(tmp_path, **good_arrays(400, 28))
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="bad.npz|not a readable|corrupt|data.npz"):
        load_npz(path)


def test_a_plain_npy_is_refused(tmp_path):
    path = tmp_path / "x.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="single array"):
        load_npz(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_dataset(str(tmp_path / "none.npz"))
