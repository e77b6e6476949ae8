"""Corpus rows: IDX files, image folders, CIFAR-10 batches and dataset names."""

from __future__ import annotations

import gzip

import numpy as np

from corpus import Case, Ctx
from corpus import files as f
from corpus.npz_rows import attack_on
from feint.data import load
from feint.errors import DataError, InputError


def _idx(c: Ctx, **kw: object) -> None:
    f.idx_set(c.tmp / "mnist", **kw)  # type: ignore[arg-type]


def _damage(name: str, change: object) -> object:
    def make(c: Ctx) -> None:
        _idx(c)
        target = c.tmp / "mnist" / name
        target.write_bytes(change(target.read_bytes()))  # type: ignore[operator]

    return make


def _truncated_gzip(c: Ctx) -> None:
    _idx(c)
    plain = c.tmp / "mnist" / "train-images-idx3-ubyte"
    raw = plain.read_bytes()
    plain.unlink()
    (c.tmp / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw)[:-20])


MNIST = ("--data", "mnist", "--data-path", "mnist")
TRAIN_MNIST = ("train", *MNIST, "--arch", "softmax", "--epochs", "1", "--out", "run", "--quiet")
HEADER = bytes([0, 0, 0x08, 3])

IDX = [
    Case(
        "idx-missing",
        cli=("attack", "--model", "{run}", "--data", "mnist", "--data-path", "."),
        error=DataError,
        phrase=r"mnist files .* not found \(searched",
    ),
    Case(
        "idx-bad-magic",
        make=_damage("train-images-idx3-ubyte", lambda r: b"\x12\x34" + r[2:]),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase="bad magic number",
    ),
    Case(
        "idx-truncated-header",
        make=_damage("train-images-idx3-ubyte", lambda r: r[:6]),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase="ends inside its IDX header",
    ),
    Case(
        "idx-truncated-data",
        make=_damage("train-images-idx3-ubyte", lambda r: r[:-7]),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase=r"holds 593 data bytes but its header declares \(shape \(20, 6, 5\)",
    ),
    Case(
        "idx-trailing-bytes",
        make=_damage("t10k-labels-idx1-ubyte", lambda r: r + b"\0"),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase="holds more data than its header declares",
    ),
    Case(
        "idx-header-claims-terabytes",
        make=_damage(
            "train-images-idx3-ubyte", lambda r: HEADER + np.asarray((60000, 99999, 99999), ">u4").tobytes() + r[16:]
        ),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase=r"holds 600 data bytes but its header declares \(shape \(60000, 99999, 99999\)",
        defect=3,
    ),
    Case(
        "idx-gzip-bomb-header",
        make=lambda c: (
            _idx(c),
            (c.tmp / "mnist" / "train-images-idx3-ubyte").unlink(),
            f.gz(
                c.tmp / "mnist" / "train-images-idx3-ubyte.gz", HEADER + np.asarray((30000, 300, 300), ">u4").tobytes()
            ),
        ),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase=r"declares 2\.51 GiB of data, more than feint reads",
        defect=3,
    ),
    Case("idx-damaged-gzip", make=_truncated_gzip, cli=TRAIN_MNIST, error=DataError, phrase="damaged gzip file"),
    Case(
        "idx-count-mismatch",
        make=_damage("t10k-labels-idx1-ubyte", lambda r: f.idx_bytes(np.zeros(9, np.uint8))),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase="10 images but .* 9 labels",
    ),
    Case(
        "idx-labels-wrong-dtype",
        make=_damage("t10k-labels-idx1-ubyte", lambda r: f.idx_bytes(np.zeros(10, ">i4"))),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase="not uint8 labels",
    ),
    Case(
        "idx-images-2d",
        make=_damage("train-images-idx3-ubyte", lambda r: f.idx_bytes(np.zeros((20, 30), np.uint8))),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase=r"not uint8 images \(N, H, W\)",
    ),
    Case(
        "idx-label-out-of-range",
        make=_damage("train-labels-idx1-ubyte", lambda r: f.idx_bytes(np.full(20, 12, np.uint8))),
        cli=TRAIN_MNIST,
        error=DataError,
        phrase=r"has label 12, expected 0\.\.9",
    ),
    Case(
        "idx-train-test-sizes-differ",
        make=lambda c: _idx(c, test_hw=(4, 4)),
        cli=TRAIN_MNIST,
        error=InputError,
        phrase=r"test data \(mnist: inputs \(1, 4, 4\).*does not match",
        defect=5,
        forbid=("feint.training.trainer.create_model",),
    ),
]


FOLDER = [
    Case(
        "folder-no-classes",
        make=lambda c: (c.tmp / "imgs").mkdir(),
        cli=attack_on("imgs/"),
        error=DataError,
        phrase="no class sub-folders",
    ),
    Case(
        "folder-empty-class",
        make=lambda c: (f.image_folder(c.tmp / "imgs", {"a": [(8, 8)] * 2}), (c.tmp / "imgs" / "b").mkdir()),
        cli=attack_on("imgs/"),
        error=DataError,
        phrase="has no images",
    ),
    Case(
        "folder-mixed-sizes",
        make=lambda c: f.image_folder(c.tmp / "imgs", {"a": [(8, 8)] * 2, "b": [(8, 8), (9, 8)]}),
        cli=attack_on("imgs/"),
        error=DataError,
        phrase="images of one size",
    ),
    Case(
        "folder-corrupt-image",
        make=lambda c: (
            f.image_folder(c.tmp / "imgs", {"a": [(8, 8)] * 2, "b": [(8, 8)]}),
            (c.tmp / "imgs" / "b" / "9.png").write_bytes(b"\x89PNG garbage"),
        ),
        cli=attack_on("imgs/"),
        error=DataError,
        phrase="cannot read image",
    ),
    Case(
        "folder-one-class-train",
        make=lambda c: f.image_folder(c.tmp / "imgs", {"cat": [(8, 8)] * 6}),
        cli=("train", "--data", "imgs/", "--arch", "softmax", "--epochs", "1", "--out", "run", "--quiet"),
        error=InputError,
        phrase=r"1 class \(cat\); a classifier needs at least 2",
        defect=4,
    ),
]

CIFAR_PATH = ("--data", "cifar10", "--data-path", "cifar")
CIFAR = [
    Case(
        "cifar-missing",
        cli=("attack", "--model", "{run}", *CIFAR_PATH),
        error=DataError,
        phrase="CIFAR-10 batches .* not found",
    ),
    Case(
        "cifar-archive-not-extracted",
        make=lambda c: (c.tmp / "c.tar.gz").write_bytes(b"x"),
        cli=("attack", "--model", "{run}", "--data", "cifar10", "--data-path", "c.tar.gz"),
        error=DataError,
        phrase="extract it first",
    ),
    Case(
        "cifar-malicious-pickle",
        make=lambda c: f.cifar(c.tmp / "cifar", batch={"data": f.Payload(c.tmp / "pwned"), "labels": [0]}),
        cli=("attack", "--model", "{run}", *CIFAR_PATH),
        error=DataError,
        phrase="refusing to unpickle",
    ),
    Case(
        "cifar-not-a-dict",
        make=lambda c: f.cifar(c.tmp / "cifar", batch=[1, 2, 3]),
        cli=("attack", "--model", "{run}", *CIFAR_PATH),
        error=DataError,
        phrase="not a dict with 'data' and 'labels'",
    ),
    Case(
        "cifar-wrong-data-shape",
        make=lambda c: f.cifar(c.tmp / "cifar", batch={"data": np.zeros((2, 10), np.uint8), "labels": [0, 1]}),
        cli=("attack", "--model", "{run}", *CIFAR_PATH),
        error=DataError,
        phrase=r"not a uint8 array \(N, 3072\)",
    ),
    Case(
        "cifar-label-out-of-range",
        make=lambda c: f.cifar(c.tmp / "cifar", batch={"data": np.zeros((1, 3072), np.uint8), "labels": [10]}),
        cli=("attack", "--model", "{run}", *CIFAR_PATH),
        error=DataError,
        phrase=r"labels outside 0\.\.9",
    ),
    Case(
        "cifar-garbage-bytes",
        make=lambda c: (f.cifar(c.tmp / "cifar"), (c.tmp / "cifar" / "test_batch").write_bytes(b"\x80\x04garbage")),
        cli=("attack", "--model", "{run}", *CIFAR_PATH),
        error=DataError,
        phrase="cannot unpickle",
    ),
]

NAMES = [
    Case("data-unknown-name", cli=attack_on("imagenet"), error=DataError, phrase="unknown dataset 'imagenet'"),
    Case(
        "data-unknown-split",
        cli=attack_on("digits", "--split", "validation"),
        error=DataError,
        phrase="unknown split 'validation'",
    ),
    Case(
        "data-n-zero",
        cli=attack_on("digits", "--n-inputs", "0"),
        error=InputError,
        phrase="--n-inputs must be at least 1",
    ),
    Case(
        "data-python-unknown-split", call=lambda c: load("digits", "dev"), error=DataError, phrase="unknown split 'dev'"
    ),
]


ROWS = IDX + FOLDER + CIFAR + NAMES
