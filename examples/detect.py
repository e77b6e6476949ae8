r"""Detect adversarial inputs: mutation testing (Wang et al. 2019) in front of a model.

An adversarial input sits near a decision boundary, so small random mutations of the
model flip its label far more often than a clean input's. `MutationDetector` follows
scikit-learn: the constructor stores settings, `fit` learns the clean label-change rate.
`feint.detect` crafts attacks on the inputs the model gets right and reports, per
attack, ROC-AUC, the true-positive rate at 5% false positives and the share flagged. The
command line:

    feint detect fit --model runs/lenet --data digits --detector mutation \
        --out detector/
    feint detect eval --detector detector/ --model runs/lenet --data digits \
        --n-inputs 200 --out detect-eval/

Run: `python examples/detect.py` (about 30 s; `--small` for the tests' size).
"""

import sys

import feint
from feint.detectors import MutationDetector

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
model = feint.train("lenet", train, test, epochs=5 if small else 10, progress=False).model

detector = MutationDetector(model, n_mutants=50 if small else 200)
detector.fit(train.x[:500], train.y[:500])  # clean inputs only
x, y = (test.x[:60], test.y[:60]) if small else (test.x, test.y)
report = feint.detect(detector, x, y, attacks=["fgsm", "pgd"], eps=0.1, out="detect-ex")
print(report.summary())

pgd, clean = report["attacks"]["pgd"], report["clean"]
assert pgd["roc_auc"] > 0.9, "PGD's adversarial inputs are told apart from clean ones"
assert pgd["flagged"] > clean["flagged"] + 0.5, "far more adversarial inputs flagged"
for entry in report["adaptive"]:  # an attack that knows the detector: the honest figure
    print(f"adaptive {entry['name']}: ROC-AUC {entry['adaptive']['roc_auc']:.3f}")
