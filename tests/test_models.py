"""Architectures, save/load round trips and loading user models."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from feint.errors import ModelError
from feint.models import ARCHITECTURES, create_model, load_model, resolve_model, save_model

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("shape", SHAPES)
def test_architectures_adapt_to_shape_and_classes(arch, shape):
    model = create_model(arch, input_shape=shape, num_classes=7).eval()
    assert model(torch.rand(3, *shape)).shape == (3, 7)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_save_load_round_trip_gives_identical_logits(arch, tmp_path, digits_test):
    torch.manual_seed(0)
    model = create_model(arch, input_shape=(1, 8, 8), num_classes=10).eval()
    save_model(model, tmp_path / arch, arch=arch, data=digits_test.info.to_dict())
    loaded = load_model(tmp_path / arch)
    with torch.no_grad():
        assert torch.equal(model(digits_test.x[:32]), loaded(digits_test.x[:32]))
    assert not any(p.name.endswith((".pt", ".pkl")) for p in (tmp_path / arch).iterdir())


def test_arch_kwargs_survive_the_round_trip(tmp_path, digits_test):
    model = create_model("mlp", input_shape=(1, 8, 8), num_classes=10, hidden=(32,)).eval()
    save_model(model, tmp_path / "m", arch="mlp", arch_kwargs={"hidden": [32]}, data=digits_test.info.to_dict())
    assert load_model(tmp_path / "m")[1].out_features == 32


def test_unknown_architecture():
    with pytest.raises(ModelError, match=r"unknown architecture 'vgg99'.*lenet"):
        create_model("vgg99", input_shape=(1, 8, 8), num_classes=10)


def test_missing_and_corrupt_weights(tmp_path, digits_test):
    model = create_model("softmax", input_shape=(1, 8, 8), num_classes=10)
    save_model(model, tmp_path / "m", arch="softmax", data=digits_test.info.to_dict())
    (tmp_path / "m" / "weights.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(ModelError, match="corrupt"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "weights.safetensors").unlink()
    with pytest.raises(ModelError, match=r"missing|not found"):
        load_model(tmp_path / "m")
    with pytest.raises(ModelError, match="no model directory"):
        load_model(tmp_path / "nowhere")


def test_weights_of_another_architecture_are_refused(tmp_path, digits_test):
    model = create_model("softmax", input_shape=(1, 8, 8), num_classes=10)
    save_model(model, tmp_path / "m", arch="softmax", data=digits_test.info.to_dict())
    other = create_model("mlp", input_shape=(1, 8, 8), num_classes=10)
    save_file(other.state_dict(), str(tmp_path / "m" / "weights.safetensors"))
    with pytest.raises(ModelError, match="does not fit"):
        load_model(tmp_path / "m")


def test_factory_spec_with_weights(tmp_path, monkeypatch):
    (tmp_path / "usernet.py").write_text(
        "import torch.nn as nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    save_file(reference.state_dict(), str(tmp_path / "w.safetensors"))
    model, config = resolve_model("usernet:build", weights=tmp_path / "w.safetensors")
    x = torch.rand(4, 1, 8, 8)
    assert config is None
    assert torch.equal(model(x), reference(x))
    with pytest.raises(ModelError, match="no callable"):
        resolve_model("usernet:missing")
    with pytest.raises(ModelError, match="cannot import"):
        resolve_model("no_such_module_xyz:build")
