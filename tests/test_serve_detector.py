"""``feint serve --detector``: a real server (a subprocess on 127.0.0.1) with the digits LeNet's
mutation-testing detector in front, met by real HTTP clients (tritonclient, httpx, feint's HTTP
oracle and ``feint attack``). Every loop is bounded; every server is stopped."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from serving import feint_server

from feint.attacks import hopskipjump, pgd
from feint.attacks.result import predict_logits
from feint.cli import main
from feint.detectors import MutationDetector
from feint.models import resolve, save_model

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_torch_thread")]
FLAGGED_SUMMARY = r"stopped after answering \d+ rows in \d+ requests; the detector flagged \d+ rows"


@pytest.fixture(scope="module")
def files(lenet_digits, digits_train, mutation_detector: MutationDetector, tmp_path_factory) -> Path:
    """The LeNet as a run directory and its mutation detector (fitted on it) as a detector folder."""
    root = tmp_path_factory.mktemp("guarded")
    save_model(lenet_digits, root / "lenet", arch="lenet", data=digits_train.info.to_dict())
    mutation_detector.save(root / "det")
    return root


@pytest.fixture(scope="module")
def clean_and_adversarial(lenet_digits, digits_test) -> tuple[torch.Tensor, torch.Tensor]:
    """48 test inputs the LeNet gets right, and 48 PGD (eps 0.1) inputs that fool it."""
    x, y = digits_test.x[:150], digits_test.y[:150]
    correct = predict_logits(lenet_digits, x).argmax(1) == y
    result = pgd(lenet_digits, x[correct], y[correct], eps=0.1, seed=0)
    assert int(result.success.sum()) >= 48
    return x[correct][:48], result.x_adv[result.success][:48]


def _args(files: Path, *more: str) -> tuple[str, ...]:
    return ("--model", str(files / "lenet"), "--name", "lenet", "--detector", str(files / "det"), *more)


def _stats(base: str) -> dict:
    return httpx.get(base + "/v2/models/lenet/stats", timeout=30).json()


@pytest.fixture(scope="module")
def marking_server(files: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    with feint_server(*_args(files, "--on-flag", "mark"), summary=FLAGGED_SUMMARY) as started:
        yield started


def test_flags_adversarial_inputs_not_clean_ones(
    marking_server, clean_and_adversarial, lenet_digits, mutation_detector
) -> None:
    import tritonclient.http as triton

    base, _ = marking_server
    client = triton.InferenceServerClient(base.removeprefix("http://"))
    assert client.get_model_metadata("lenet")["outputs"][1] == {"name": "flagged", "datatype": "BOOL", "shape": [-1]}

    def ask(x: torch.Tensor, who: str) -> tuple[np.ndarray, np.ndarray]:
        item = triton.InferInput("input", list(x.shape), "FP32")
        item.set_data_from_numpy(x.numpy(), binary_data=True)
        outputs = [triton.InferRequestedOutput(name, binary_data=True) for name in ("logits", "flagged")]
        reply = client.infer("lenet", [item], outputs=outputs, headers={"X-Feint-Client": who})
        return reply.as_numpy("logits"), reply.as_numpy("flagged")

    clean, adversarial = clean_and_adversarial
    logits, clean_flags = ask(clean, "user")
    _, adversarial_flags = ask(adversarial, "attacker")
    assert clean_flags.mean() < 0.1 and adversarial_flags.mean() > 0.9
    assert np.array_equal(adversarial_flags, mutation_detector.predict(adversarial).numpy())  # the detector's verdicts
    with torch.no_grad():
        assert np.abs(logits - lenet_digits(clean).numpy()).max() < 1e-5  # marking leaves the answers as they are
    stats = _stats(base)
    assert stats["detector"] == {"kind": "mutation", "on_flag": "mark", "threshold": mutation_detector.threshold_}
    assert stats["flagged_clients"].get("attacker") == int(adversarial_flags.sum())
    assert stats["flagged_clients"].get("user", 0) == int(clean_flags.sum())


def test_a_black_box_attack_through_the_server_meets_the_detector(marking_server, digits_test) -> None:
    base, _ = marking_server
    x, y = digits_test.x[200:208], digits_test.y[200:208]
    remote = resolve(f"{base}/v2/models/lenet")  # feint's HTTP oracle reads the logits and ignores the flag
    before = _stats(base)
    result = hopskipjump(remote.target, x, y, max_queries=150, seed=3)
    after = _stats(base)
    queries, flagged = after["queries"] - before["queries"], after["flagged"] - before["flagged"]
    assert queries == result.queries
    assert flagged > 0.5 * queries  # most of the attack's queries were flagged, and counted
    found = result.x_adv[result.success]
    assert len(found) >= 4
    reply = httpx.post(
        f"{base}/v2/models/lenet/infer",
        json={"inputs": [{"name": "input", "shape": list(found.shape), "datatype": "FP32", "data": found.flatten().tolist()}],
              "outputs": [{"name": "flagged"}]},
        timeout=60,
    )  # fmt: skip
    assert reply.status_code == 200 and [o["name"] for o in reply.json()["outputs"]] == ["flagged"]
    assert np.mean(reply.json()["outputs"][0]["data"]) > 0.75  # the examples it found are flagged


def test_refusing_server_withholds_only_the_flagged_inputs(
    files, clean_and_adversarial, mutation_detector, lenet_digits, digits_test
) -> None:
    """Default ``--on-flag refuse``: a flagged input costs no other input its answer (issue 19, class 9),
    its own row carries nothing, and ``feint attack --model URL`` runs to the end through the server."""
    clean, adversarial = clean_and_adversarial
    clean = clean[~mutation_detector.predict(clean)][:8]
    mixed = torch.cat([clean[:4], adversarial[:2], clean[4:]])
    want_flags = mutation_detector.predict(mixed).numpy()
    assert want_flags[4:6].all() and not want_flags[[0, 1, 2, 3, 6, 7, 8, 9]].any()

    def body(x: torch.Tensor) -> dict:
        return {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.flatten().tolist()}]}

    with feint_server(*_args(files), summary=FLAGGED_SUMMARY) as (base, _):
        url = f"{base}/v2/models/lenet"
        reply = httpx.post(url + "/infer", json=body(mixed), timeout=60)
        assert reply.status_code == 200
        outputs = {o["name"]: o for o in reply.json()["outputs"]}
        logits = np.reshape(outputs["logits"]["data"], (len(mixed), -1))
        assert outputs["flagged"]["data"] == want_flags.tolist()
        with torch.no_grad():
            true_logits = lenet_digits(mixed).numpy()
        assert np.abs(logits[~want_flags] - true_logits[~want_flags]).max() < 1e-4  # the others are answered
        assert (logits[want_flags] == 0).all()  # the flagged rows carry nothing
        only = httpx.post(url + "/infer", json=body(adversarial[:3]), timeout=60)  # all flagged: still a full reply
        assert only.status_code == 200 and (np.asarray(only.json()["outputs"][0]["data"]) == 0).all()
        before = _stats(base)
        args = ["attack", "--model", url, "--attack", "hopskipjump", "--n-inputs", "4", "--queries-per-input", "60"]
        res = CliRunner().invoke(main, args)
        stats = _stats(base)
    assert res.exit_code == 0, res.output
    assert stats["detector"]["on_flag"] == "refuse" and stats["flagged"] - before["flagged"] > 0  # it met the detector
    assert stats["flagged"] >= int(want_flags.sum()) + 3
