"""Natural variation: accuracy under rotations, shifts, zoom, blur, noise and JPEG,
and the worst case over a grid of rotations and translations (Engstrom et al. 2019).

No attacker is needed to break a model: `feint.natural` measures accuracy against the
severity of each family of everyday transformations and, per input, the worst case over
the spatial grid. Only top-1 labels are used, so the model may be query-only. The
command line, on its own or as a section of the audit:

    feint natural --model runs/lenet --data digits --out natural/
    feint audit --model runs/lenet --data digits --preset quick --natural --out audit-nat/

Run: `python examples/natural.py` (about 15 s; `--small` for the tests' size).
"""

import sys

import feint

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
model = feint.train("lenet", train, test, epochs=3 if small else 10, progress=False).model

x, y = (test.x[:60], test.y[:60]) if small else (test.x, test.y)
report = feint.natural(model, x, y, out="natural-example")
print(report.summary())

measured = report["natural"]
clean, worst = measured["clean_accuracy"], measured["grid"]["worst_case_accuracy"]
assert worst < clean - 0.2, "a small rotation and shift break many inputs"
print(f"clean accuracy {clean:.3f}; worst over rotations x translations {worst:.3f}")
