"""Dataset loaders: every format gives float32 NCHW in [0, 1] with int64 labels, or one clear DataError."""

from __future__ import annotations

import gzip
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from feint.data import NAMES, load
from feint.data import idx as idx_module
from feint.data.cifar import load_cifar10
from feint.data.folder import load_image_folder
from feint.data.idx import load_idx_dataset
from feint.data.npz import load_npz
from feint.errors import DataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_CODES[arr.dtype], arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + arr.tobytes()


def write_idx_set(folder: Path, *, gz: bool, n_train: int = 20, n_test: int = 10, seed: int = 0) -> dict:
    """Four IDX files of random 6x5 images; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 6, 5), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 6, 5), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        raw = idx_bytes(arr)
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(raw) if gz else raw)
    return arrays


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """No $FEINT_DATA_DIR and no Debian folders: only what a test writes exists."""
    monkeypatch.delenv("FEINT_DATA_DIR", raising=False)
    for name in idx_module.SYSTEM_DIRS:
        monkeypatch.setitem(idx_module.SYSTEM_DIRS, name, (tmp_path / "no-such-system-dir",))


# --- digits ---------------------------------------------------------------------------------------


def test_digits_split_is_stratified_fixed_and_complete():
    train, test, full = load("digits", "train"), load("digits", "test"), load("digits", "all")
    assert (len(train), len(test), len(full)) == (1437, 360, 1797)
    for d in (train, test, full):
        assert d.x.shape[1:] == (1, 8, 8) and d.x.dtype == torch.float32 and d.y.dtype == torch.int64
        assert float(d.x.min()) >= 0.0 and float(d.x.max()) <= 1.0
    per_class_all, per_class_test = torch.bincount(full.y), torch.bincount(test.y, minlength=10)
    assert torch.equal(torch.bincount(train.y, minlength=10) + per_class_test, per_class_all)
    assert ((per_class_test - 0.2 * per_class_all).abs() <= 1).all()  # stratified
    again = load("digits", "test")
    assert torch.equal(again.x, test.x) and torch.equal(again.y, test.y)


# --- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------------------


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_folder(monkeypatch):
    monkeypatch.delenv("FEINT_DATA_DIR", raising=False)
    train, test = load("fashion-mnist", "train"), load("fashion-mnist", "test")
    assert train.x.shape == (60000, 1, 28, 28) and test.x.shape == (10000, 1, 28, 28)
    assert train.x.dtype == torch.float32 and float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    assert torch.equal(torch.bincount(test.y), torch.full((10,), 1000))
    assert train.info.num_classes == 10 and train.info.class_names[0] == "T-shirt/top"
    assert train.info.source == str(DEBIAN_FASHION)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_explicit_path_and_env(tmp_path, monkeypatch, no_system_data, gz):
    arrays = write_idx_set(tmp_path / "mnist", gz=gz)
    expected = {
        "train": (arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]),
        "test": (arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]),
    }
    expected["all"] = tuple(np.concatenate([a, b]) for a, b in zip(expected["train"], expected["test"], strict=True))
    for split, (x, y) in expected.items():
        for d in (load("mnist", split, path=tmp_path / "mnist"), load("mnist", split, path=tmp_path)):
            assert d.x.shape == (len(x), 1, 6, 5) and d.info.input_shape == (1, 6, 5)
            assert torch.equal(d.x, torch.from_numpy(x[:, None].astype(np.float32) / 255))
            assert torch.equal(d.y, torch.from_numpy(y.astype(np.int64)))
    monkeypatch.setenv("FEINT_DATA_DIR", str(tmp_path))  # finds $FEINT_DATA_DIR/mnist
    assert torch.equal(load("mnist", "test").y, torch.from_numpy(expected["test"][1].astype(np.int64)))
    monkeypatch.setenv("FEINT_DATA_DIR", str(tmp_path / "mnist"))  # and $FEINT_DATA_DIR itself
    assert load("mnist", "all").info.class_names == tuple("0123456789")


def test_idx_dotted_names_and_cached_loads_are_independent(tmp_path, no_system_data):
    arrays = write_idx_set(tmp_path, gz=False)
    for name in arrays:  # some mirrors name the files train-images.idx3-ubyte
        stem, _, kind = name.rpartition("-idx")
        (tmp_path / name).rename(tmp_path / f"{stem}.idx{kind}")
    first = load_idx_dataset("fashion-mnist", "train", tmp_path)
    hits = idx_module._read_idx.cache_info().hits
    first.x.zero_()  # callers may change their tensors; the cache must not see it
    second = load_idx_dataset("fashion-mnist", "train", tmp_path)
    assert idx_module._read_idx.cache_info().hits >= hits + 2
    assert torch.equal(second.x, torch.from_numpy(arrays["train-images-idx3-ubyte"][:, None] / 255).float())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[:-7], "re-download"),  # truncated data
        (lambda raw: raw[:6], "IDX header"),  # truncated header
        (lambda raw: b"\x12\x34" + raw[2:], "magic"),  # bad magic
        (lambda raw: gzip.compress(raw)[:-20], "gzip"),  # truncated gzip stream
    ],
)
def test_damaged_idx_file_is_refused_by_name(tmp_path, no_system_data, damage, message):
    write_idx_set(tmp_path, gz=False)
    target = tmp_path / "train-images-idx3-ubyte"
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(DataError, match=message) as err:
        load("mnist", "train", path=tmp_path)
    assert "train-images-idx3-ubyte" in str(err.value)


def test_idx_count_mismatch_and_wrong_dtype(tmp_path, no_system_data):
    write_idx_set(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(DataError, match=r"10 images but .* 9 labels"):
        load("mnist", "test", path=tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(10, ">i4")))
    with pytest.raises(DataError, match="not uint8 labels"):
        load("mnist", "test", path=tmp_path)


def test_missing_idx_files_name_the_places_and_the_fix(tmp_path, monkeypatch, no_system_data):
    with pytest.raises(DataError, match="FEINT_DATA_DIR") as err:
        load("mnist", "train")
    assert "no-such-system-dir" in str(err.value) and "train-images-idx3-ubyte" in str(err.value)
    monkeypatch.setenv("FEINT_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as err:
        load("fashion-mnist", "test")
    assert str(tmp_path / "env") in str(err.value)
    write_idx_set(tmp_path / "only", gz=True)
    (tmp_path / "only" / "t10k-images-idx3-ubyte.gz").unlink()
    load("mnist", "train", path=tmp_path / "only")  # train files are all there
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load("mnist", "all", path=tmp_path / "only")  # an explicit path never falls back elsewhere


# --- CIFAR-10 -------------------------------------------------------------------------------------


def write_cifar(folder: Path, *, protocol: int, per_batch: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fake CIFAR-10 python batches; returns all images (N, 3072) and labels, train then test."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, 10, per_batch)]
        batch = {
            "batch_label": name,
            "data": x,
            "labels": y,
            "filenames": [f"{name}_{i}.png" for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        xs.append(x)
        ys += y
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return np.concatenate(xs), np.asarray(ys)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_fake_cifar_batches_load(tmp_path, monkeypatch, protocol):
    monkeypatch.delenv("FEINT_DATA_DIR", raising=False)
    x, y = write_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    full = load("cifar10", "all", path=tmp_path / "cifar-10-batches-py")
    assert full.x.shape == (18, 3, 32, 32) and full.info.input_shape == (3, 32, 32)
    assert torch.equal(full.x, torch.from_numpy(x.reshape(-1, 3, 32, 32).astype(np.float32) / 255))
    assert torch.equal(full.y, torch.from_numpy(y)) and full.info.class_names[3] == "class3"
    train = load_cifar10("train", tmp_path)  # the parent of cifar-10-batches-py works too
    assert len(train) == 15 and torch.equal(train.y, full.y[:15])
    monkeypatch.setenv("FEINT_DATA_DIR", str(tmp_path))
    assert torch.equal(load("cifar10", "test").x, full.x[15:])


def test_cifar_written_by_old_numpy_loads(tmp_path):
    """Python 2 era batches name numpy.core.multiarray (NumPy >= 2 writes numpy._core)."""
    _, y = write_cifar(tmp_path, protocol=2)
    raw = (tmp_path / "test_batch").read_bytes()
    (tmp_path / "test_batch").write_bytes(raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert b"numpy.core.multiarray" in (tmp_path / "test_batch").read_bytes()
    assert torch.equal(load_cifar10("test", tmp_path).y, torch.from_numpy(y[15:]))


class _Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_cifar_pickle_is_refused_without_running(tmp_path):
    write_cifar(tmp_path, protocol=4)
    marker = tmp_path / "pwned"
    batch = {"data": _Payload(marker), "labels": [0]}
    (tmp_path / "data_batch_3").write_bytes(pickle.dumps(batch))
    with pytest.raises(DataError, match="refusing to unpickle") as err:
        load_cifar10("train", tmp_path)
    assert "data_batch_3" in str(err.value)
    assert not marker.exists()


def test_cifar_missing_or_damaged(tmp_path, monkeypatch):
    monkeypatch.delenv("FEINT_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="FEINT_DATA_DIR"):
        load("cifar10", "test")
    write_cifar(tmp_path, protocol=4)
    (tmp_path / "test_batch").write_bytes((tmp_path / "test_batch").read_bytes()[:100])
    with pytest.raises(DataError, match=r"test_batch.*re-download"):
        load_cifar10("test", tmp_path)


# --- .npz -----------------------------------------------------------------------------------------


def save_npz(folder: Path, **arrays: np.ndarray) -> Path:
    path = folder / "data.npz"
    np.savez(path, **arrays)
    return path


@settings(max_examples=25, deadline=None)
@given(
    layout=st.sampled_from(["nchw", "nhwc", "nhw"]),
    dtype=st.sampled_from(["uint8", "float32", "float64"]),
    channels=st.sampled_from([1, 3]),
    n=st.integers(2, 12),
    hw=st.tuples(st.sampled_from([2, 4, 5, 7]), st.sampled_from([2, 4, 5, 7])),
    one_hot=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_npz_layouts_round_trip(layout, dtype, channels, n, hw, one_hot, seed):
    rng = np.random.default_rng(seed)
    c = 1 if layout == "nhw" else channels
    pixels = rng.integers(0, 256, (n, c, *hw), dtype=np.uint8)
    expected = torch.from_numpy(pixels.astype(np.float32) / 255)
    x = pixels if dtype == "uint8" else (pixels / 255).astype(dtype)
    x = {"nchw": x, "nhwc": x.transpose(0, 2, 3, 1), "nhw": x[:, 0]}[layout]
    y = rng.integers(0, 4, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_npz(Path(tmp), x=x, y=np.eye(4, dtype=np.float32)[y] if one_hot else y)
        d = load(str(path), "all")
        assert d.x.shape == (n, c, *hw) and d.x.dtype == torch.float32 and d.y.dtype == torch.int64
        assert torch.allclose(d.x, expected, atol=1e-6)
        assert torch.equal(d.y, torch.from_numpy(y))
        train, test = load_npz(path, "train"), load_npz(path, "test")
    assert len(train) + len(test) == n and len(test) >= 1 and len(train) >= 1
    both = torch.cat([train.x, test.x]).flatten(1)  # the two parts partition the samples
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, d.x.flatten(1).tolist()))


def test_npz_explicit_test_arrays_and_class_names(tmp_path):
    x, x_test = np.zeros((5, 1, 3, 4), np.uint8), np.full((2, 3, 4), 255, np.uint8)
    path = save_npz(
        tmp_path, x=x, y=np.arange(5) % 3, x_test=x_test, y_test=np.array([2, 1]), class_names=np.array(["a", "b", "c"])
    )
    train, test, full = (load_npz(path, s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(full)) == (5, 2, 7)
    assert float(test.x.min()) == 1.0 and test.x.shape == (2, 1, 3, 4)
    assert full.info.class_names == ("a", "b", "c") and full.info.name == "data"
    assert load_npz(path, "train").y.tolist() == train.y.tolist()  # fixed across calls


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"images": np.zeros((2, 4, 4)), "labels": np.zeros(2, int)}, "needs arrays 'x'.*found: images, labels"),
        ({"x": np.full((2, 4, 4), 255.0), "y": np.zeros(2, int)}, r"scale floats into \[0, 1\]"),
        ({"x": np.zeros((2, 4, 4), np.int32), "y": np.zeros(2, int)}, "dtype int32"),
        ({"x": np.zeros((2, 5, 4, 4)), "y": np.zeros(2, int)}, "1 or 3 channels"),
        ({"x": np.zeros((2, 4, 4)), "y": np.zeros(3, int)}, r"shape \(2,\)"),
        ({"x": np.zeros((2, 4, 4)), "y": np.zeros(2)}, "integer class indices"),
        ({"x": np.zeros((2, 4, 4)), "y": np.array([[1, 1], [0, 1]])}, "not one-hot"),
        ({"x": np.zeros((2, 4, 4)), "y": np.array([0, 1]), "x_test": np.zeros((1, 4, 4))}, "only one of"),
        ({"x": np.zeros((2, 4, 4)), "y": np.array([0, 2]), "class_names": np.array(["a", "b"])}, "class_names"),
    ],
)
def test_npz_bad_contents_are_named(tmp_path, arrays, message):
    with pytest.raises(DataError, match=message):
        load_npz(save_npz(tmp_path, **arrays), "all")


def test_npz_with_pickled_objects_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.zeros((2, 4, 4)), y=np.array([_Payload(marker), 0], dtype=object))
    with pytest.raises(DataError, match="plain arrays"):
        load(str(path), "all")
    assert not marker.exists()


# --- image folders --------------------------------------------------------------------------------


def write_images(root: Path, mode: str, per_class: int = 5, size: tuple[int, int] = (6, 4)) -> dict[str, list]:
    rng = np.random.default_rng(0)
    written: dict[str, list] = {}
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        written[cls] = []
        for i in range(per_class):
            shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
            arr = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(arr, mode=mode).save(root / cls / f"{i}.png")
            written[cls].append(arr)
    return written


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_image_folder_loads_classes_and_pixels(tmp_path, mode):
    written = write_images(tmp_path / "pets", mode)
    full = load(str(tmp_path / "pets"), "all")
    c = 1 if mode == "L" else 3
    assert full.x.shape == (10, c, 4, 6) and full.info.class_names == ("cat", "dog")
    assert full.y.tolist() == [0] * 5 + [1] * 5
    first = written["cat"][0].reshape(4, 6, c).transpose(2, 0, 1)
    assert torch.equal(full.x[0], torch.from_numpy(first.astype(np.float32) / 255))
    train, test = load_image_folder(tmp_path / "pets", "train"), load_image_folder(tmp_path / "pets", "test")
    assert (len(train), len(test)) == (8, 2) and sorted(test.y.tolist()) == [0, 1]  # stratified


def test_image_folder_mixed_modes_become_rgb_and_sizes_must_match(tmp_path):
    write_images(tmp_path / "pets", "L")
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "pets" / "dog" / "rgb.png")
    assert load_image_folder(tmp_path / "pets", "all").x.shape[1] == 3
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(tmp_path / "pets" / "cat" / "big.png")
    with pytest.raises(DataError, match=r"big.png is 6x5"):
        load_image_folder(tmp_path / "pets", "train")


def test_image_folder_without_classes_or_images(tmp_path):
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(DataError, match="no class sub-folders"):
        load(str(tmp_path / "flat"))
    (tmp_path / "flat" / "empty").mkdir()
    with pytest.raises(DataError, match="empty has no images"):
        load(str(tmp_path / "flat"))
    (tmp_path / "flat" / "empty" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*broken.png"):
        load(str(tmp_path / "flat"), "all")


# --- the dispatcher -------------------------------------------------------------------------------


def test_unknown_name_and_split(tmp_path):
    with pytest.raises(DataError) as err:
        load("imagenet")
    assert all(name in str(err.value) for name in NAMES)
    with pytest.raises(DataError, match="no dataset file or folder"):
        load(str(tmp_path / "missing.npz"))
    for call in (
        lambda: load("digits", "validation"),
        lambda: load_npz(tmp_path / "x.npz", "val"),
        lambda: load_cifar10("dev", tmp_path),
        lambda: load_idx_dataset("mnist", "eval", tmp_path),
        lambda: load_image_folder(tmp_path, "holdout"),
    ):
        with pytest.raises(DataError, match=r"unknown split .*train, test, all"):
            call()
    assert os.listdir(tmp_path) == []  # nothing was written while failing


def test_a_file_that_is_not_an_npz_archive_is_named(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("garbage")
    with pytest.raises(DataError, match=r"not a \.npz archive"):
        load(bad)


def test_your_own_data_loads_whole_unless_a_split_is_asked(tmp_path: Path) -> None:
    """feint.load of a user's file gives every sample by default; a named dataset its test split."""
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x=rng.random((40, 1, 8, 8), dtype=np.float32), y=np.arange(40) % 4)
    assert len(load(path)) == 40 and load(path).split == "all"
    assert len(load(path, "test")) == 8
    assert load("digits").split == "test" and len(load("digits")) == 360
