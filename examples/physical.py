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
attacks = ["fgsm", "bim", "ll_class"]  # Kurakin et al.'s three
report = feint.physical(model, x, y, attacks=attacks, eps=[0.1, 0.2], out="physical-ex")
print(report.summary())

# the destruction rate through the whole pipeline, top-1, per attack and eps
rows = report["destruction"]
rates = [r["rate"] for r in rows if r["transform"] == "pipeline" and r["k"] == 1]
rates = [rate for rate in rates if rate is not None]
assert rates and all(0.0 <= rate <= 1.0 for rate in rates)
assert min(rates) < 1.0, "some adversarial inputs survive print and photo"
assert Path("physical-ex/sheet.pdf").is_file(), "a printable sheet to photograph"
