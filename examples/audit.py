"""The robustness audit: train a small CNN on digits, audit it, read the report.

`feint.audit` runs a preset of strong attacks at every eps, takes each input's worst
case over them, checks for gradient masking and escalates where an attack has not
converged; it returns a `Report` (`summary()`, `to_dict()`) and, given `out`, writes
`report.json` and a self-contained `report.html`. The command line does the same:

    feint audit --model runs/lenet --data digits --preset quick --out audit/

Run: `python examples/audit.py` (about 15 s on one CPU; `--small` for the tests' size).
"""

import sys
from pathlib import Path

import feint

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
model = feint.train("lenet", train, test, epochs=3 if small else 10, progress=False).model

x, y = (test.x[:60], test.y[:60]) if small else (test.x, test.y)
report = feint.audit(model, x, y, eps=[0.05, 0.1], preset="quick", out="audit-example")
print(report.summary())

r = report.to_dict()
clean, worst = r["clean_accuracy"], r["worst_case"]["accuracy"]
assert worst[-1] < clean, "the attacks fooled the model on inputs it got right"
assert worst[0] >= worst[-1], "a larger eps leaves no more inputs robust (worst case)"
assert Path("audit-example/report.html").is_file(), "the page a person reads"
print(f"clean {clean:.3f}, worst case {worst}; open audit-example/report.html")
