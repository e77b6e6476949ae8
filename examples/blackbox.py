r"""The substitute attack (Papernot et al. 2017): fool a model seen only through labels.

The attacker holds a few held-out inputs and may only ask the target for labels (an
oracle that counts every query and refuses to exceed its budget). It trains a substitute
on the target's answers, grows its set by Jacobian-based augmentation, attacks the
substitute white-box and sends the adversarial inputs to the target. The command line:

    feint blackbox --target runs/lenet --data digits --max-queries 6400 --eps 0.1,0.3 \
        --out blackbox/

Run: `python examples/blackbox.py` (about 30 s; `--small` for the tests' size).
"""

import sys

import feint
from feint.oracles import as_oracle

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
target = feint.train("lenet", train, test, epochs=3 if small else 10, progress=False)

# no scores, no gradients, at most 20,000 queries
labels_only = as_oracle(target.model, access="labels", max_queries=20_000)
x_seed = test.x[:100]  # the attacker's seed set
x, y = test.x[100:], test.y[100:]  # held-out inputs, measured on the target
report = feint.blackbox(labels_only, x_seed, x, y, eps=[0.1, 0.3], out="blackbox-example")
print(report.summary())

r = report.to_dict()
error, noise = r["transfer"]["error_rate"], r["transfer"]["noise_error_rate"]
assert error[-1] > noise[-1] + 0.2, "the adversarial inputs fool far more than noise"
assert labels_only.queries <= 20_000, "the oracle's budget holds"
print(f"target error at eps 0.3: {error[-1]:.3f} (noise of that size: {noise[-1]:.3f})")
