"""A saved audit or substitute state is only resumed by the code that made it (issue 20, item 6)."""

from __future__ import annotations

import pytest

import feint
from feint.capabilities.audit import state
from feint.capabilities.blackbox import run as blackbox_run
from feint.capabilities.blackbox import state as blackbox_state
from feint.oracles import as_oracle
from feint.training.substitute import SubstituteConfig


def test_state_from_another_code_version_is_not_resumed(lenet_digits, digits_test, tmp_path, monkeypatch) -> None:
    data = digits_test.head(16)
    run = dict(eps=[0.1], preset="quick", out=tmp_path, data_info=data.info, progress=False)
    feint.audit(lenet_digits, data.x, data.y, **run)
    same = feint.audit(lenet_digits, data.x, data.y, **run)
    assert any(n.startswith("resumed") for n in same.notes)
    monkeypatch.setattr(state, "code_digest", lambda: "0" * 64)  # as if feint's sources had changed
    with pytest.warns(UserWarning, match="feint code"):
        other = feint.audit(lenet_digits, data.x, data.y, **run)
    assert not any(n.startswith("resumed") for n in other.notes)


def test_the_code_digest_covers_feints_sources() -> None:
    digest = state.code_digest()
    assert len(digest) == 64 and digest == state.code_digest() == blackbox_state.code_digest()


def test_a_substitute_from_another_code_version_is_not_resumed(lenet_digits, digits_test, tmp_path, monkeypatch):
    seeds, x, y = digits_test.x[:20], digits_test.x[100:130], digits_test.y[100:130]
    run = dict(config=SubstituteConfig(arch="softmax", rounds=1, epochs=1), eps=[0.1], out=tmp_path, progress=False)
    blackbox_run.blackbox(as_oracle(lenet_digits, access="labels"), seeds, x, y, **run)
    same = blackbox_run.blackbox(as_oracle(lenet_digits, access="labels"), seeds, x, y, **run)
    assert any("resumed 1 finished substitute round" in n for n in same.notes)
    monkeypatch.setattr(blackbox_state, "code_digest", lambda: "0" * 64)  # as if feint's sources had changed
    other = blackbox_run.blackbox(as_oracle(lenet_digits, access="labels"), seeds, x, y, **run)
    assert not any("resumed" in n for n in other.notes)
    assert any("feint code" in n for n in other.notes)
