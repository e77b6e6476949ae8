r"""Stickers, patches and universal perturbations: one pattern that fools a model on images
it has never seen.

`feint.patch` trains an adversarial patch (Brown et al. 2017: a square that works wherever
it is put), an RP2 sticker (Eykholt et al. 2018: a printable pattern inside a mask, robust
to the print and photo) or a universal perturbation (Moosavi-Dezfooli et al. 2017: one
small perturbation for a whole data set) on part of the data, and measures it on the
held-out rest, beside a random pattern of the same size. The pattern is saved in
`pattern.npz` so another tool can apply it. The command line:

    feint patch --model runs/lenet --data digits --kind patch --area 0.2 --out patch/
    feint patch --model runs/lenet --kind sticker --source 3 --target 5 --area 0.25 --out sticker/

Run: `python examples/patch.py` (about 20 s; `--small` for the tests' size).
"""

import sys

import numpy as np

import feint

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
model = feint.train("lenet", train, test, epochs=4 if small else 10, progress=False).model

# a patch covering a fifth of the image, trained on half the test split, measured on the rest
report = feint.patch(model, test.x, test.y, kind="patch", area=0.2, steps=60 if small else 200,
                     data_info=test.info, out="patch-ex")  # fmt: skip
print(report.summary())
success = report["success"]
assert success["rate"] > success["baseline"] + 0.1, "the trained patch beats a random one"

# a universal perturbation: one Linf perturbation of at most 0.2 for every digit
universal = feint.patch(model, test.x, test.y, kind="universal", eps=0.2, steps=5,
                        data_info=test.info, out="universal-ex")  # fmt: skip
print(universal.summary())
saved = np.load("universal-ex/pattern.npz")
assert np.abs(saved["pattern"]).max() <= 0.2 + 1e-6, "it stays inside its budget"
