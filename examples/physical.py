r"""The physical world: do adversarial inputs survive being printed and photographed?

`feint.physical` attacks (FGSM, BIM, least-likely class; Kurakin et al. 2017) and passes
the adversarial inputs through a simulated print-and-photo pipeline (blur, noise, JPEG,
small rotations and shifts, contrast and brightness). The destruction rate is the
fraction of inputs that were adversarial before and are classified correctly after; the
report also holds `sheet.pdf`, a printable page of the inputs to photograph for real.
The command line:

    feint physical --model runs/lenet --data digits --attacks fgsm,bim,ll_class \
        --eps 0.1,0.2 --out physical/

Run: `python examples/physical.py` (about 20 s; `--small` for the tests' size).
"""

import sys
from pathlib import Path

import feint

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
model = feint.train("lenet", train, test, epochs=3 if small else 10, progress=False).model

x, y = (test.x[:60], test.y[:60]) if small else (test.x, test.y)
report = feint.physical(
    model,
    x,
    y,
    attacks=["fgsm", "bim", "ll_class"],
    eps=[0.1, 0.2],
    out="physical-example",
)
print(report.summary())

whole = [
    row
    for row in report["destruction"]
    if row["transform"] == "pipeline" and row["k"] == 1
]
rates = [row["rate"] for row in whole if row["rate"] is not None]
assert rates and all(0.0 <= r <= 1.0 for r in rates)
assert min(rates) < 1.0, (
    "some adversarial inputs stay adversarial through print and photo"
)
assert Path("physical-example/sheet.pdf").is_file(), "a printable sheet to photograph"
