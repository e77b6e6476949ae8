"""Corpus rows: .npz data files (damaged, lying headers, zip bombs, bad arrays)."""

from __future__ import annotations

import numpy as np

from corpus import Case, Ctx
from corpus import files as f
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


ROWS = NPZ
