r"""White-box attacks: FGSM, PGD, a targeted PGD and a minimum-norm attack on a small CNN.

Every attack is a plain function `attack(model, x, y, *, eps, ...) -> AttackResult` over
any `torch.nn.Module` that returns logits for inputs in [0, 1]. The result is checked
outside the attack: `x_adv` is projected onto the threat model and the model is run
again, so `success` and `accuracy` are what the model says, not what the attack claims.
The command line:

    feint attack --model runs/lenet --data digits --attack pgd --norm inf --eps 0.1 \
        --out adv.npz

Run: `python examples/attack.py` (a few seconds; `--small` for the tests' size).
"""

import sys

import feint
from feint.attacks import deepfool, fgsm, next_class_targets, pgd

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
model = feint.train("lenet", train, test, epochs=3 if small else 10, progress=False).model
x, y = (test.x[:100], test.y[:100]) if small else (test.x, test.y)

# Goodfellow et al. 2015, one step; Madry et al. 2018, 40 steps from a random start
one_step = fgsm(model, x, y, eps=0.1, norm="inf")
strong = pgd(model, x, y, eps=0.1, norm="inf", steps=40)
target = next_class_targets(y, 10)  # aim every input at the next class
aimed = pgd(model, x, y, eps=0.3, norm="inf", steps=40, targeted=True, target=target)
smallest = deepfool(model, x, y)  # the smallest L2 change that flips each label

clean = float((model(x).argmax(1) == y).float().mean())
print(f"clean accuracy          {clean:.3f}")
print(f"FGSM, Linf 0.1          {one_step.accuracy:.3f}")
print(f"PGD-40, Linf 0.1        {strong.accuracy:.3f}")
print(f"targeted PGD, Linf 0.3  {aimed.success_rate:.3f} of inputs reach their target")
print(f"DeepFool median L2      {smallest.distance[smallest.success].median():.3f}")

assert strong.accuracy < clean, "PGD fools the model"
assert strong.accuracy <= one_step.accuracy + 0.05, "PGD fools at least as many as FGSM"
assert aimed.success_rate > 0.5, "most inputs reach their target class"
assert bool((strong.distance <= 0.1 + 1e-6).all()), "every input stays within eps"
