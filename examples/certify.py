"""Randomized smoothing: a certified lower bound on robust accuracy beside the attacks' upper bound.

Cohen, Rosenfeld & Kolter 2019: train a model with Gaussian noise (the `gaussian-noise` recipe),
smooth it (`feint.smooth`: the class it gives most often under the same noise), and CERTIFY each
input: a class and an L2 radius within which the smoothed classifier provably keeps it, each
certificate wrong with probability at most alpha. `feint.certify` writes the certified accuracy
against radius; an L2 audit of the smoothed model puts that lower bound and the attacks' worst
case (EOT over the noise) on one chart, the gap between them named "unknown". The command line:

    feint train --data digits --arch lenet --recipe gaussian-noise --recipe-param sigma=0.25 --out runs/noise
    feint certify --model runs/noise --data digits --sigma 0.25 --n-samples 10000 --out certify/
    feint audit --model runs/noise --data digits --norm 2 --certify 0.25 --preset quick --out audit-interval/

Run: `python examples/certify.py` (about a minute; `--small` for the tests' size).
"""

import sys

import feint

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
noise = {"sigma": 0.25}
model = feint.train(
    "lenet",
    train,
    recipe="gaussian-noise",
    recipe_options=noise,
    epochs=3 if small else 10,
).model
data = test.head(16) if small else test

smoothed = feint.smooth(model, 0.25, n=300 if small else 10_000)
report = feint.certify(smoothed, data, radii=(0, 0.25, 0.5), out="certify-example")
print(report.summary())
certified = report["certified"]["accuracy"]
assert certified[0] >= certified[1] >= certified[2] and certified[1] > 0, (
    "some inputs are certified at 0.25"
)

# The interval: the attacks (EOT over the noise) on the same smoothed classifier bound it from above.
draws = {"eot_samples": 2, "redraws": 2} if small else {}
eps = [0, 0.25] if small else [0, 0.25, 0.5]
audit = feint.audit(
    smoothed,
    data,
    norm="2",
    eps=eps,
    preset="quick",
    out="audit-interval",
    **draws,
)
interval = audit["interval"]
for radius, low, high in zip(
    interval["eps"], interval["certified"], interval["empirical"], strict=True
):
    print(
        f"L2 eps {radius:g}: robust accuracy of the smoothed classifier in [{low:.3f}, {high:.3f}]"
    )
    assert low <= high, "the certified lower bound never exceeds what the attacks leave"
