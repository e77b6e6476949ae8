"""Fixture generators for the corpus: small damaged files written on the fly (no binary blobs in git)."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def npz(path: Path, **arrays: Any) -> Path:
    np.savez(path, **arrays)
    return path


def images(n: int = 12, hw: int = 8, *, classes: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays x (n, hw, hw) uint8 and y (n,) covering ``classes`` classes (digits-sized by default)."""
    rng = np.random.default_rng(seed)
    return {"x": rng.integers(0, 256, (n, hw, hw), dtype=np.uint8), "y": np.arange(n) % classes}


def npy_member(array_header: dict[str, Any], payload: bytes) -> bytes:
    """A ``.npy`` file with the given header (shape, descr) over ``payload``: its header may lie."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"fortran_order": False, **array_header})
    return out.getvalue() + payload


def zip_members(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return path


def declare_size(path: Path, member: str, size: int) -> Path:
    """Rewrite the uncompressed size a zip declares for ``member`` (local header and central directory):
    a zip bomb's signature, without writing gigabytes."""
    raw = bytearray(path.read_bytes())
    name = member.encode()
    local = raw.index(b"PK\x03\x04")
    while raw[local + 30 : local + 30 + len(name)] != name:
        local = raw.index(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", raw, local + 22, size)
    central = raw.index(b"PK\x01\x02")
    while raw[central + 46 : central + 46 + len(name)] != name:
        central = raw.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", raw, central + 24, size)
    path.write_bytes(bytes(raw))
    return path


def idx_bytes(arr: np.ndarray, *, dims: tuple[int, ...] | None = None) -> bytes:
    shape = arr.shape if dims is None else dims
    header = bytes([0, 0, IDX_CODES[arr.dtype], len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()
    return header + arr.tobytes()


def idx_set(folder: Path, *, hw: tuple[int, int] = (6, 5), test_hw: tuple[int, int] | None = None) -> Path:
    """Four IDX files (20 train, 10 test images); the test images may have another size."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [
        rng.integers(0, 256, (20, *hw), dtype=np.uint8),
        (np.arange(20) % 10).astype(np.uint8),
        rng.integers(0, 256, (10, *(test_hw or hw)), dtype=np.uint8),
        (np.arange(10) % 10).astype(np.uint8),
    ]
    for name, arr in zip(IDX_NAMES, arrays, strict=True):
        (folder / name).write_bytes(idx_bytes(arr))
    return folder


def gz(path: Path, raw: bytes) -> Path:
    path.write_bytes(gzip.compress(raw))
    return path


class Payload:
    """Unpickling this would create the marker file: proof that nothing in a file is executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def cifar(folder: Path, *, batch: Any = None) -> Path:
    """The CIFAR-10 python batches (3 images each); ``batch`` replaces the content of ``test_batch``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        content = {"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), "labels": [0, 1, 2]}
        if name == "test_batch" and batch is not None:
            content = batch
        (folder / name).write_bytes(pickle.dumps(content, protocol=4))
    return folder


def image_folder(root: Path, sizes: dict[str, list[tuple[int, int]]]) -> Path:
    from PIL import Image

    for cls, shapes in sizes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i, (w, h) in enumerate(shapes):
            Image.fromarray(np.full((h, w), 40 * i, dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


def run_dir(folder: Path, config: Any, *, weights_from: Path | None = None) -> Path:
    """A model directory with ``config`` (a dict, or raw text) and the weights of another run."""
    folder.mkdir(parents=True, exist_ok=True)
    text = config if isinstance(config, str) else json.dumps(config)
    (folder / "config.json").write_text(text)
    if weights_from is not None:
        (folder / "weights.safetensors").write_bytes((weights_from / "weights.safetensors").read_bytes())
    return folder


def config_of(run: Path, **changes: Any) -> dict[str, Any]:
    """The run's config.json with top-level keys or ``data__key`` entries replaced."""
    cfg = json.loads((run / "config.json").read_text())
    for key, value in changes.items():
        if key.startswith("data__"):
            cfg["data"][key[6:]] = value
        else:
            cfg[key] = value
    return cfg


def module_file(folder: Path, name: str, source: str) -> str:
    """Write ``name.py`` (a user's model module) into ``folder``; returns ``name`` for ``name:factory``."""
    (folder / f"{name}.py").write_text(source)
    return name
