"""Corpus rows: data files (npz, IDX, image folders, CIFAR batches) and dataset names."""

from __future__ import annotations

import gzip

import numpy as np

from corpus import Case, Ctx
from corpus import files as f
from feint.data import load
from feint.errors import DataError, InputError


def attack_on(data: str, *extra: str) -> tuple[str, ...]:
    return ("attack", "--model", "{run}", "--eps", "0.1", "--data", data, *extra)


def npz_row(id: str, phrase: str, defect: int | None = None, **arrays: object) -> Case:
    return Case(
        id,
        make=lambda c: f.npz(c.tmp / "d.npz", **arrays),
        cli=attack_on("d.npz", "--split", "all"),
        error=DataError,
        phrase=phrase,
        defect=defect,
    )


X = np.zeros((4, 8, 8), np.uint8)
Y = np.arange(4)


def _huge_header(c: Ctx) -> None:
    """An .npz whose x.npy header claims 292 GiB but holds 16 bytes."""
    member = f.npy_member({"shape": (292 * 2**30,), "descr": "|u1"}, b"\0" * 16)
    f.zip_members(c.tmp / "d.npz", {"x.npy": member, "y.npy": f.npy_member({"shape": (0,), "descr": "<i8"}, b"")})


def _zip_bomb(c: Ctx) -> None:
    """An .npz whose zip directory declares a 3.6 GiB member (what a zip bomb looks like from outside)."""
    f.npz(c.tmp / "d.npz", x=X, y=Y)
    f.declare_size(c.tmp / "d.npz", "x.npy", 3_900_000_000)


def _flipped(c: Ctx) -> None:
    raw = bytearray(f.npz(c.tmp / "d.npz", x=X, y=Y).read_bytes())
    raw[100:110] = b"\xff" * 10  # inside x.npy's data: the CRC no longer matches
    (c.tmp / "d.npz").write_bytes(bytes(raw))


NPZ = [
    Case(
        "npz-not-a-zip",
        make=lambda c: (c.tmp / "d.npz").write_text("garbage"),
        cli=attack_on("d.npz"),
        error=DataError,
        phrase=r"not a \.npz archive",
    ),
    Case(
        "npz-single-npy",
        make=lambda c: np.save(c.tmp / "d.npy", X) or (c.tmp / "d.npy").rename(c.tmp / "d.npz"),
        cli=attack_on("d.npz"),
        error=DataError,
        phrase="single array",
    ),
    Case(
        "npz-truncated",
        make=lambda c: (c.tmp / "d.npz").write_bytes(f.npz(c.tmp / "d.npz", x=X, y=Y).read_bytes()[:300]),
        cli=attack_on("d.npz"),
        error=DataError,
        phrase="cannot read",
    ),
    Case("npz-bad-crc", make=_flipped, cli=attack_on("d.npz"), error=DataError, phrase="damaged"),
    Case(
        "npz-pickled-objects",
        make=lambda c: f.npz(c.tmp / "d.npz", x=X, y=np.array([f.Payload(c.tmp / "pwned"), 0, 1, 2], dtype=object)),
        cli=attack_on("d.npz"),
        error=DataError,
        phrase="plain arrays",
    ),
    Case(
        "npz-label-1e9",
        make=lambda c: f.npz(c.tmp / "d.npz", x=X, y=np.array([0, 1, 2, 10**9])),
        cli=attack_on("d.npz", "--split", "all"),
        error=DataError,
        phrase=r"label 1000000000.*class indices",
        defect=3,
    ),
    Case(
        "npz-header-claims-292GiB",
        make=_huge_header,
        cli=attack_on("d.npz"),
        error=DataError,
        phrase=r"declares an array of shape \(313532612608,\)",
        defect=3,
    ),
    Case(
        "npz-zip-bomb",
        make=_zip_bomb,
        cli=attack_on("d.npz"),
        error=DataError,
        phrase=r"x\.npy declares 3\.63 GiB.*FEINT_MAX_DATA_BYTES",
        defect=3,
    ),
    Case(
        "npz-limit-env-not-a-number",
        make=lambda c: f.npz(c.tmp / "d.npz", x=X, y=Y),
        cli=attack_on("d.npz"),
        env={"FEINT_MAX_DATA_BYTES": "lots"},
        error=DataError,
        phrase="not a number of bytes",
    ),
    Case(
        "npz-over-a-lowered-limit",
        make=lambda c: f.npz(c.tmp / "d.npz", x=X, y=Y),
        cli=attack_on("d.npz"),
        env={"FEINT_MAX_DATA_BYTES": "100"},
        error=DataError,
        phrase="more than feint reads",
        defect=3,
    ),
    npz_row("npz-missing-x", r"needs arrays 'x'.*found: images, labels", images=X, labels=Y),
    npz_row("npz-floats-over-1", r"scale floats into \[0, 1\]", x=np.full((4, 8, 8), 255.0), y=Y),
    npz_row("npz-int32-pixels", "dtype int32", x=np.zeros((4, 8, 8), np.int32), y=Y),
    npz_row("npz-uint16-pixels", "dtype uint16", x=np.zeros((4, 8, 8), np.uint16), y=Y),
    npz_row("npz-five-channels", "1 or 3 channels", x=np.zeros((4, 5, 8, 8)), y=Y),
    npz_row("npz-flat-vectors", r"\(N, C, H, W\)", x=np.zeros((4, 64)), y=Y),
    npz_row("npz-nan-pixels", "NaN or infinite", x=np.full((4, 8, 8), np.nan), y=Y),
    npz_row("npz-inf-pixels", "NaN or infinite", x=np.full((4, 8, 8), np.inf), y=Y),
    npz_row("npz-no-images", "holds no images", x=np.zeros((0, 8, 8), np.uint8), y=np.zeros(0, int)),
    npz_row("npz-too-few-labels", r"shape \(3,\) for 4 images", x=X, y=np.arange(3)),
    npz_row("npz-float-labels", "integer class indices", x=X, y=np.zeros(4)),
    npz_row("npz-bool-labels", "integer class indices", x=X, y=np.array([True, False, True, False])),
    npz_row("npz-not-one-hot", "not one-hot", x=X, y=np.ones((4, 3), int)),
    npz_row("npz-negative-label", "negative label -1", x=X, y=np.array([0, 1, -1, 2])),
    npz_row("npz-only-x-test", "only one of", x=X, y=Y, x_test=X),
    npz_row("npz-test-size-differs", "x_test images are", x=X, y=Y, x_test=np.zeros((2, 6, 6), np.uint8), y_test=Y[:2]),
    npz_row("npz-too-few-class-names", "add the missing names", x=X, y=Y, class_names=np.array(["a", "b"])),
    Case(
        "npz-other-image-size",
        make=lambda c: f.npz(c.tmp / "d.npz", **f.images(12, 12)),
        cli=attack_on("d.npz"),
        error=InputError,
        phrase=r"trained on digits inputs of shape \(1, 8, 8\)",
    ),
    Case(
        "npz-other-class-count",
        make=lambda c: f.npz(c.tmp / "d.npz", **f.images(12, classes=3)),
        cli=attack_on("d.npz"),
        error=InputError,
        phrase="predicts 10 classes but d has 3",
    ),
    Case(
        "npz-one-class-train",
        make=lambda c: f.npz(c.tmp / "d.npz", **f.images(12, classes=1)),
        cli=("train", "--data", "d.npz", "--arch", "softmax", "--epochs", "1", "--out", "run", "--quiet"),
        error=InputError,
        phrase="1 class .*a classifier needs at least 2",
        defect=4,
        forbid=("feint.training.trainer.create_model",),
    ),
    Case("npz-missing-file", cli=attack_on("no/such.npz"), error=DataError, phrase="no dataset file or folder"),
]


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
    Case("data-n-zero", cli=attack_on("digits", "--n", "0"), error=InputError, phrase="--n must be at least 1"),
    Case(
        "data-python-unknown-split", call=lambda c: load("digits", "dev"), error=DataError, phrase="unknown split 'dev'"
    ),
]

ROWS = NPZ + IDX + FOLDER + CIFAR + NAMES
