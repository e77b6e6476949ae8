"""Corpus rows: starts under torchrun that cannot work (its environment is set as torchrun sets it).

What needs several live ranks (arguments, data or versions that differ between ranks, more ranks
than inputs, an output folder not shared) is in ``tests/test_distributed.py``.
"""

from __future__ import annotations

import feint
from corpus import Case
from corpus.fool_physical_rows import NO_PHYSICAL, PHYSICAL
from corpus.models import digits_batch, linear
from corpus.transfer_rows import BLACKBOX, MATRIX, NO_MATRIX, NO_SUBSTITUTE
from feint.errors import DistributedError, InputError

TORCHRUN = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}
AUDIT = ("audit", "--model", "{run}", "--n-inputs", "8", "--eps", "0.1", "--preset", "quick", "--out", "a")
X, Y = digits_batch()
BATCH_SIZE = r"batch_size \(--batch-size\) must be an integer >= 1"

ROWS = [
    Case(
        "torchrun-command-that-does-not-share-its-work",
        cli=("attack", "--model", "{run}", "--n-inputs", "8"),
        env=TORCHRUN,
        error=DistributedError,
        phrase="feint attack does not share its work among torchrun's ranks; run it without torchrun",
    ),
    Case(
        "torchrun-rank-not-a-number",
        cli=AUDIT,
        env={**TORCHRUN, "RANK": "first"},
        error=DistributedError,
        phrase="RANK/WORLD_SIZE/LOCAL_RANK must be integers",
    ),
    Case(
        "torchrun-timeout-not-a-number",
        cli=AUDIT,
        env={**TORCHRUN, "FEINT_DIST_TIMEOUT": "soon"},
        error=DistributedError,
        phrase="FEINT_DIST_TIMEOUT='soon' must be a number of seconds",
    ),
    Case(
        "audit-batch-size-zero",
        cli=(*AUDIT[:-2], "--batch-size", "0", "--out", "a"),
        error=InputError,
        phrase=r"batch_size \(--batch-size\) must be an integer >= 1",
    ),
    Case(
        "py-audit-distributed-without-torchrun",
        call=lambda c: feint.audit(linear(), X, Y, distributed=True, progress=False),
        error=DistributedError,
        phrase="distributed=True needs the environment torchrun sets",
    ),
    Case(
        "py-train-distributed-without-torchrun",
        call=lambda c: feint.train(linear(), feint.load("digits", "train").head(16), distributed=True, progress=False),
        error=DistributedError,
        phrase="distributed=True needs the environment torchrun sets",
    ),
    Case(
        "torchrun-transfer-pair-is-not-shared",
        cli=("transfer", "--source", "{run}", "--target", "{run}", "--out", "t"),
        env=TORCHRUN,
        error=DistributedError,
        phrase="feint transfer --source/--target does not share its work among torchrun's ranks",
    ),
    Case(
        "torchrun-detect-fit-is-not-shared",
        cli=("detect", "fit", "--model", "{run}", "--detector", "kde-bu", "--out", "d"),
        env=TORCHRUN,
        error=DistributedError,
        phrase="feint detect fit does not share its work among torchrun's ranks",
    ),
    Case(
        "physical-batch-size-zero",
        cli=(*PHYSICAL, "--batch-size", "0", "--out", "p"),
        error=InputError,
        phrase=BATCH_SIZE,
        forbid=NO_PHYSICAL,
    ),
    Case(
        "blackbox-batch-size-zero",
        cli=(*BLACKBOX, "--batch-size", "0", "--out", "b"),
        error=InputError,
        phrase=BATCH_SIZE,
        forbid=NO_SUBSTITUTE,
    ),
    Case(
        "matrix-batch-size-zero",
        cli=(*MATRIX, "--batch-size", "0", "--out", "m"),
        error=InputError,
        phrase=BATCH_SIZE,
        forbid=NO_MATRIX,
    ),
]
