r"""Train a model and a defended one (fast adversarial training), save the second, load it
back, and measure what the defense buys against PGD.

`feint.train` takes an architecture name (or any `nn.Module`) and a `recipe` from
`feint.defenses` (`FastAT`, `PGDAT`, `TRADES`, `EnsembleAT`, `Distill`, ...); with `out`
it writes a run folder (config, safetensors weights, one checkpoint per epoch) that
every feint command takes as `--model` and `feint.models.load_model` loads in Python.
The command line:

    feint train --data digits --arch lenet --recipe fast-at --adv-eps 0.1 --epochs 10 \
        --out runs/fast

Run: `python examples/defend.py` (about 20 s; `--small` for the tests' size).
"""

import sys

import feint
from feint.attacks import pgd
from feint.defenses import FastAT
from feint.models import load_model

small = "--small" in sys.argv
epochs = 4 if small else 10
train, test = feint.load("digits", "train"), feint.load("digits", "test")

plain = feint.train("lenet", train, test, epochs=epochs, progress=False)
# Wong et al. 2020: FGSM from a random start, a cyclic learning rate; saved as a run
# folder (config, weights, a checkpoint per epoch)
recipe = FastAT(eps=0.1)
fast = feint.train("lenet", train, test, epochs=epochs, recipe=recipe, progress=False,
                   out="runs/fast-at", overwrite=True)  # fmt: skip

defended = load_model("runs/fast-at")  # the saved run, loaded back as a torch module
x, y = test.x, test.y
undefended_adv = pgd(plain.model, x, y, eps=0.1, steps=40).accuracy
defended_adv = pgd(defended, x, y, eps=0.1, steps=40).accuracy
print(f"{'':>12} {'clean':>6} {'PGD-40 at Linf 0.1':>19}")
print(f"{'plain':>12} {plain.test_accuracy:>6.3f} {undefended_adv:>19.3f}")
print(f"{'fast AT':>12} {fast.test_accuracy:>6.3f} {defended_adv:>19.3f}")

assert defended_adv > undefended_adv + 0.05, "training on attacks makes the model robust"
