"""No tensor leaves its device inside a loop: ``.cpu()``, ``.item()``, ``.tolist()`` and ``.numpy()``
inside a ``for``/``while`` loop wait for a GPU on every pass. The few loops whose job is to hand
tensors to the host (saving, hashing, reading points from disk) are named here with the reason.

There is no GPU on the test machine, so this is checked on the source; the rest of the suite
runs the same code on the CPU.
"""

from __future__ import annotations

import ast
from pathlib import Path

import feint

HOST_CALLS = {"cpu", "item", "tolist", "numpy"}
ALLOWED = {
    ("distributed/checks.py", "digest_tensors"): "hashes bytes on the host, once per job",
    ("data/dataset.py", "fingerprint"): "hashes bytes on the host, once per training run",
    ("training/checkpoint.py", "_flatten_optimizer"): "writes a checkpoint, once per epoch",
    ("capabilities/audit/state.py", "worst_points"): "reads a few gallery points from disk, once per report",
    ("oracles/v2protocol.py", "encode"): "numpy arrays (already on the host) into an HTTP body",
    # Mutation testing keeps its pool of mutant weights on the host by design (issue 12):
    ("detectors/base.py", "model_fingerprint"): "hashes bytes on the host, once per save or load",
    ("detectors/mutants.py", "generate_pool"): "keeps or drops each chunk of candidate mutants, while fitting",
    ("detectors/mutants.py", "mutant_labels"): "mutant ids index the host-resident pool, once per group",
    ("detectors/operators.py", "gaussian_fuzzing"): "builds a mutant from host copies of weights, while fitting",
    ("detectors/operators.py", "weight_shuffling"): "builds a mutant from host copies of weights, while fitting",
    ("detectors/operators.py", "_with_rows"): "builds a mutant from host copies of weights, while fitting",
    ("detectors/pool.py", "from_mutations"): "packs the mutants into the host-resident pool, once per fit",
    # Issues 10 and 13: work that lives on the host by nature.
    ("attacks/fooling/evolution.py", "map_elites"): "genomes are host objects (numpy rng); one sync per generation",
    ("attacks/tree_path.py", "tree_path_attack"): "a scikit-learn tree's paths, host tensors throughout",
    ("capabilities/blackbox/state.py", "fingerprint"): "hashes bytes on the host, once per run",
    ("transforms/jpeg.py", "jpeg"): "Pillow's JPEG codec runs on the host, once per image",
    # Issue 23: streaming writes each batch to disk as it goes, so that memory stays flat.
    ("cli/attack.py", "attack_command"): "appends each batch's results to the .npz on disk, once per batch",
    ("data/rows.py", "spool"): "copies a decoded (host) stream into the row file, once per audit",
}


def host_calls_in_loops() -> list[tuple[str, str, int, str]]:
    root = Path(feint.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for loop in ast.walk(fn):
                if not isinstance(loop, (ast.For, ast.While)):
                    continue
                calls = [n for n in ast.walk(loop) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
                found += [(rel, fn.name, n.lineno, n.func.attr) for n in calls if n.func.attr in HOST_CALLS]
    return found


def test_no_tensor_leaves_its_device_inside_a_loop() -> None:
    offending = [
        f"{f}:{line} {fn}() calls .{call}()" for f, fn, line, call in host_calls_in_loops() if (f, fn) not in ALLOWED
    ]
    assert offending == []


def test_the_allowed_loops_still_exist() -> None:
    seen = {(f, fn) for f, fn, _, _ in host_calls_in_loops()}
    assert set(ALLOWED) <= seen  # drop an entry when its loop goes
