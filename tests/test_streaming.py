"""Streamed data (feint.data.stream): image folders, .npz shards and torch Datasets read batch by
batch; the audit reads its rows from disk and gives the report of the loaded data, figure for figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from streaming_model import linear
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from feint.capabilities.audit.run import audit
from feint.cli import main
from feint.data import load, open_source
from feint.data.rows import Rows, spool
from feint.data.stream import pick
from feint.errors import DataError

EPS = [0.0, 0.1]


@pytest.fixture(scope="module")
def digits60() -> tuple[np.ndarray, np.ndarray]:
    d = load("digits", "test")
    return (d.x[:60, 0].numpy() * 255).round().astype(np.uint8), d.y[:60].numpy()


def write_folder(root: Path, pixels: np.ndarray, labels: np.ndarray) -> list[Path]:
    files = []
    for i, (p, c) in enumerate(zip(pixels, labels, strict=True)):
        (root / str(c)).mkdir(parents=True, exist_ok=True)
        files.append(root / str(c) / f"{i:03d}.png")
        Image.fromarray(p).save(files[-1])
    return files


@pytest.fixture
def folder(tmp_path: Path, digits60: tuple[np.ndarray, np.ndarray]) -> Path:
    write_folder(tmp_path / "imgs", *digits60)
    return tmp_path / "imgs"


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return linear()


def figures(report) -> dict:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(report.data, default=str))
    for key in ("timings", "created"):
        data.pop(key, None)
    for section in ("attacks", "baselines"):
        for entry in data.get(section, {}).values():
            entry.pop("seconds", None)
    return data


def test_a_streamed_folder_audit_reads_rows_from_disk_and_equals_the_loaded_audit(folder, model, monkeypatch):
    source = open_source(folder, n=40, seed=1)
    loaded = source.materialize(workers=0)
    assert len(loaded) == 40 and loaded.x.shape[1:] == (1, 8, 8)

    def refuse(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the audit read every streamed input at once")

    monkeypatch.setattr(Rows, "materialize", refuse)
    streamed = audit(model, source, eps=EPS, preset="quick", batch_size=16)
    assert streamed["clean_accuracy"] > 0.5 and streamed["worst_case"]["accuracy"][1] < streamed["clean_accuracy"]
    assert figures(streamed) == figures(audit(model, loaded, eps=EPS, preset="quick", batch_size=16))


def test_a_seeded_subset_picks_files_and_never_opens_the_others(tmp_path, digits60):
    files = write_folder(tmp_path / "imgs", *digits60)
    listed = sorted(files)  # the source's order: class folder, then name
    chosen = pick(60, 10, 3).tolist()
    left_out = next(p for p in range(60) if p not in chosen)
    listed[left_out].write_bytes(b"not an image")  # a file outside the subset is never read
    source = open_source(tmp_path / "imgs", n=10, seed=3)
    x, y = next(source.batches(64, workers=0))
    assert x.shape == (10, 1, 8, 8) and [int(c) for c in y] == [int(listed[p].parent.name) for p in chosen]


def test_an_unreadable_file_stops_the_stream_or_is_skipped_and_counted(tmp_path, digits60, model):
    files = write_folder(tmp_path / "imgs", *digits60)
    files[30].write_bytes(b"\x89PNG broken")  # its header does not read: found before any decoding
    with pytest.raises(DataError, match=r"cannot read image .*030\.png .*--on-bad-file skip"):
        open_source(tmp_path / "imgs")
    files[30].unlink()
    files[40].write_bytes(files[40].read_bytes()[:60])  # a header that reads, pixel data cut short
    with pytest.raises(DataError, match=r"image .*040\.png cannot be decoded .*--on-bad-file skip"):
        list(open_source(tmp_path / "imgs").batches(16, workers=0))
    files[30].write_bytes(b"\x89PNG broken")
    report = audit(model, open_source(tmp_path / "imgs", on_bad_file="skip"), eps=EPS, preset="quick")
    assert report["data"]["n"] == 58 and any("skipped 2 unreadable file" in note for note in report.notes)


def test_the_cli_names_a_bad_file_in_one_line_and_writes_nothing(tmp_path, digits60, monkeypatch):
    files = write_folder(tmp_path / "imgs", *digits60)
    files[7].write_bytes(b"broken")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    args = ["audit", "--model", "streaming_model:linear", "--data", str(tmp_path / "imgs"), "--eps", "0,0.1"]
    args += ["--preset", "quick", "--quiet", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: cannot read image") and "007.png" in result.output
    assert not (tmp_path / "out" / "report.json").exists()
    result = CliRunner().invoke(main, [*args, "--on-bad-file", "skip"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["data"]["n"] == 59


def test_a_source_that_changes_shape_or_dtype_mid_stream_is_one_error() -> None:
    class Drifting(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, bad: dict) -> None:
            self.bad = bad

        def __len__(self) -> int:
            return 8

        def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
            return self.bad.get(i, torch.zeros(1, 4, 4)), 0

    with pytest.raises(DataError, match=r"item 6 of the dataset is \(1, 5, 5\) .* but item 4 is \(1, 4, 4\)"):
        list(open_source(Drifting({6: torch.zeros(1, 5, 5)}), classes=2).batches(4, workers=0))
    with pytest.raises(DataError, match=r"batch 1 .* shape \(1, 5, 5\) but the first batch had \(1, 4, 4\)"):
        list(open_source(Drifting({i: torch.zeros(1, 5, 5) for i in range(4, 8)}), classes=2).batches(4, workers=0))
    bad_dtype = {i: torch.zeros(1, 4, 4, dtype=torch.uint8) for i in range(4, 8)}
    with pytest.raises(DataError, match=r"batch 1 .* dtype torch.uint8 but the first batch had torch.float32"):
        list(open_source(Drifting(bad_dtype), classes=2).batches(4, workers=0))


def test_npz_shards_stream_in_order_and_refuse_a_shard_of_another_shape(tmp_path, digits60, model):
    x, y = digits60
    root = tmp_path / "shards"
    root.mkdir()
    for k in range(3):
        np.savez(root / f"part-{k}.npz", x=x[k * 20 : (k + 1) * 20], y=y[k * 20 : (k + 1) * 20])
    whole = load(root)  # the other commands read the folder whole
    assert torch.equal(whole.x, torch.from_numpy(x[:, None]).float() / 255)
    sub = open_source(root, n=25, seed=0)
    streamed = torch.cat([b for b, _ in sub.batches(7)])
    assert torch.equal(streamed, whole.x[torch.as_tensor(pick(60, 25, 0))])
    spooled = spool(sub, batch_size=7)
    assert torch.equal(spooled.x[torch.tensor([24, 0, 3])], streamed[[24, 0, 3]])
    spooled.x.close()
    np.savez(root / "part-9.npz", x=np.zeros((4, 1, 9, 9), np.uint8), y=np.zeros(4, np.int64))
    with pytest.raises(DataError, match=r"part-9\.npz holds inputs of shape \(1, 9, 9\)"):
        audit(model, open_source(root), eps=EPS, preset="quick")


def test_a_users_dataloader_and_the_attack_command_stream(tmp_path, digits60, model, monkeypatch):
    x, y = digits60
    data = TensorDataset(torch.from_numpy(x[:, None]).float() / 255, torch.from_numpy(y))
    from_loader = audit(model, open_source(DataLoader(data, batch_size=9), classes=10), eps=EPS, preset="quick")
    from_tensors = audit(model, data.tensors[0], data.tensors[1], eps=EPS, preset="quick")
    assert from_loader["worst_case"] == from_tensors["worst_case"]
    write_folder(tmp_path / "imgs", x, y)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    out = tmp_path / "adv.npz"
    args = ["attack", "--model", "streaming_model:linear", "--data", str(tmp_path / "imgs"), "--attack", "pgd"]
    result = CliRunner().invoke(main, [*args, "--eps", "0.1", "--batch-size", "16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with np.load(out, allow_pickle=False) as saved:
        assert saved["x_adv"].shape == (60, 1, 8, 8) and saved["success"].shape == (60,)
        assert np.abs(saved["x_adv"] - saved["x"]).max() <= 0.1 + 1e-6


def test_a_resnet18_from_module_factory_and_safetensors_audits_a_colour_folder(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from feint.models import resolve

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from resnet import resnet18

    torch.manual_seed(1)
    weights = {k: v.clone() for k, v in resnet18().state_dict().items()}
    weights["head.bias"] = torch.randn(10)  # other weights than the factory's: the file must be read
    save_file(weights, str(tmp_path / "w.safetensors"))
    assert torch.equal(
        resolve("resnet:resnet18", weights=str(tmp_path / "w.safetensors")).target.head.bias, weights["head.bias"]
    )
    rng = np.random.default_rng(0)

    def images(first: int, last: int, classes: int) -> None:
        for i in range(first, last):
            (tmp_path / "imgs" / f"c{i % classes}").mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / f"c{i % classes}" / f"{i}.png")

    images(0, 4, 2)
    args = ["audit", "--model", "resnet:resnet18", "--weights", str(tmp_path / "w.safetensors")]
    args += ["--data", str(tmp_path / "imgs"), "--eps", "0,0.01", "--preset", "quick", "--batch-size", "5"]
    args += ["--quiet", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "predicts 10 classes but imgs has 2" in result.output  # checked on one image
    images(4, 14, 10)  # ten classes, as the model predicts
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["data"]["n"] == 14 and report["data"]["input_shape"] == [3, 16, 16]
