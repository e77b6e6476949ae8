"""How benchmarks/detectors.py's detector settings were chosen: on a validation split, never on the test set.

The Fashion-MNIST CNN of benchmarks/detectors.py. Validation inputs are training inputs the detectors
are not fitted on (``--start``, default 50,000 onwards; the detectors fit on the first 1,000 / 6,000),
so the test split, and the adversarial inputs crafted from it, play no part. On the ones the model
classifies correctly, FGSM, PGD and DeepFool (mutation testing) or FGSM, BIM and PGD (KDE + BU) at
eps 0.1; printed per candidate: the ROC-AUC against those clean inputs, and for reference the
ROC-AUC of the model's own softmax margin (the label change rate follows it).

1. Mutation testing: the mutation rate of NAI and, for comparison, the other operators:
   ``--mutation`` candidates ``operator:rate`` (``--mutants`` per pool).
2. KDE + BU: feature layer, reduction and its dimension, where MC dropout is inserted:
   ``--kde`` candidates ``layer:reduce:components:dropout`` (the log density and the uncertainty
   alone are printed beside the combined score).
3. With ``--fgsm-eps``: why no setting meets the FGSM targets of benchmarks/detectors.py. For FGSM at
   each eps, the ROC-AUC of the label change rate (NAI at the first ``--mutation`` rate) and of the
   softmax margin, for FGSM's cross-entropy step and for the step of Wang et al.'s artifact (its
   ``F.nll_loss`` on the LeNet's raw logits is minus the true class's logit, so the step only lowers
   that logit and leaves lower-margin examples).

``--model DIR`` measures another saved model (e.g. ``feint train --data fashion-mnist --arch lenet
--epochs 10 --out DIR``) instead of the benchmark's CNN.

    python benchmarks/detector_selection.py [--n 300] [--mutation nai:0.01,nai:0.02] [--kde 2:pca:16:auto,0:pca:16:auto]
        [--fgsm-eps 0.02,0.05,0.1,0.2,0.3] [--model DIR]

Measured (moved here from the README in issue 21; docs/benchmarks.md has the tables):

How those settings were chosen, on 300 training inputs the
detectors are not fitted on (from #50,000), with FGSM, PGD, DeepFool and BIM at eps 0.1 crafted
there (`flock /tmp/feint-heavy.lock python benchmarks/detector_selection.py`, 277 of them
correctly classified). The softmax margin alone: FGSM 0.769, PGD 0.964, DeepFool 1.000. Mutation
testing, mean ROC-AUC over FGSM / PGD / DeepFool (100 mutants): NAI at rate 0.01 0.907 (0.767 /
0.954 / 1.000), 0.02 0.908, 0.03 0.899; GF 0.875, WS 0.889, NS 0.881 (rate 0.01): NAI is the best
operator, and the rates tie within the noise of 277 inputs; 0.01 was kept (the lower rate, whose
mutants stay closer to the model). No operator or rate lifts FGSM above its
margin. KDE + BU, combined ROC-AUC for FGSM / BIM / PGD (fitted on 6,000 inputs): last hidden
layer, PCA 16 (the default) 0.841 / 0.930 / 0.925; flattened convolution features, PCA 16 0.830 /
0.951 / 0.937, PCA 32 0.838 / 0.945 / 0.933; last hidden layer, PCA 8 0.830 / 0.943 / 0.933;
dropout inserted after the hidden layer instead 0.838 / 0.882 / 0.886. The convolution features'
mean is 0.007 higher, within the noise and lower on FGSM, so the default stays the last hidden
layer, as Feinman et al. and the issue specify; no candidate reaches 0.90 on FGSM at eps 0.1.
Why no setting meets the FGSM targets (section 3 of the same script, on 372 validation inputs,
NAI rate 0.01, 200 mutants: `flock /tmp/feint-heavy.lock python benchmarks/detector_selection.py --n 400
--mutation nai:0.01 --mutants 200 --kde "" --fgsm-eps 0.02,0.05,0.1,0.2,0.3`): ROC-AUC of the label
change rate / of the softmax margin for FGSM at eps 0.02, 0.05, 0.1, 0.2, 0.3: 0.882 / 0.906,
0.780 / 0.804, 0.778 / 0.768, 0.818 / 0.765, 0.845 / 0.765. Wang et al.'s artifact crafts FGSM with
`F.nll_loss` on the LeNet's raw logits, a loss that only lowers the true class's logit and leaves
lower-margin examples; that step does better here but still not 0.95: 0.915, 0.880, 0.867, 0.873,
0.881. A larger Fashion-MNIST CNN trained longer (`feint train --data fashion-mnist --arch lenet
--epochs 10 --out DIR`, 32/64 channels, 91.5%; `--model DIR`) is more confident and worse: 0.635
at eps 0.1 (margin 0.676), artifact step 0.830. On Fashion-MNIST's overlapping classes (shirt,
T-shirt, pullover, coat) many correctly classified clean inputs sit near a boundary, as close as
FGSM's examples; Wang et al.'s 0.96-0.99 were measured on an MNIST LeNet, and MNIST is not on this
machine.
"""

from __future__ import annotations

import argparse

import torch
from detectors import CACHE, low_margin, trained

from feint.attacks.result import predict_logits
from feint.data import Dataset, load
from feint.detectors import DensityUncertaintyDetector, MutationDetector
from feint.detectors.crafting import craft
from feint.detectors.metrics import roc
from feint.models import load_model


def auc(clean: torch.Tensor, adversarial: torch.Tensor) -> float:
    return roc(clean, adversarial)["roc_auc"] or 0.0


def artifact_fgsm(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """FGSM as Wang et al.'s artifact crafts it (its loss is minus the true logit); the inputs it fools."""
    x_adv = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(-model(x_adv).gather(1, y[:, None]).sum(), x_adv)
    x_adv = (x + eps * grad.sign()).clamp(0, 1).detach()
    return x_adv[predict_logits(model, x_adv).argmax(1) != y]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="validation inputs")
    parser.add_argument("--start", type=int, default=50000, help="first training input of the validation split")
    parser.add_argument("--mutation", default="nai:0.01,nai:0.02,nai:0.03,gf:0.01,ws:0.01,ns:0.01")
    parser.add_argument("--mutants", type=int, default=100)
    parser.add_argument("--kde", default="2:pca:16:auto,0:pca:16:auto,0:pca:32:auto,2:pca:8:auto,2:pca:16:2")
    parser.add_argument("--kde-fit", type=int, default=6000, help="training inputs KDE + BU is fitted on here")
    parser.add_argument("--fgsm-eps", default="", help="FGSM eps to sweep (section 3), comma-separated")
    parser.add_argument("--model", default=None, help="a saved model folder instead of the benchmark's CNN")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, test = load("fashion-mnist", "train"), load("fashion-mnist", "test")
    assert args.start >= max(1000, args.kde_fit), "the validation split must not overlap the fitting inputs"
    model = trained(train, test, 6) if args.model is None else load_model(args.model)
    x, y = train.x[args.start : args.start + args.n], train.y[args.start : args.start + args.n]
    correct = predict_logits(model, x).argmax(1) == y
    x, y = x[correct], y[correct]
    adversarial = {}
    for i, name in enumerate(("fgsm", "pgd", "deepfool", "bim")):
        result = craft(name, model, x, y, eps=0.1, seed=100 + i)
        adversarial[name] = result.x_adv[result.success]

    print(f"validation: {x.shape[0]} correctly classified training inputs from #{args.start} (cache {CACHE})")
    print(
        "softmax margin alone: "
        + ", ".join(f"{k} {auc(low_margin(model, x), low_margin(model, a)):.3f}" for k, a in adversarial.items())
    )
    print("\n== mutation testing: ROC-AUC of the label change rate")
    detectors = {}
    for candidate in args.mutation.split(","):
        operator, rate = candidate.split(":")
        det = MutationDetector(model, operator=operator, rate=float(rate), n_mutants=args.mutants).fit(
            train.x[:1000], train.y[:1000]
        )
        detectors[candidate] = det
        clean = det.score(x)
        aucs = {k: auc(clean, det.score(adversarial[k])) for k in ("fgsm", "pgd", "deepfool")}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in aucs.items())
        print(f"  {operator} rate {rate}: {shown}; mean {sum(aucs.values()) / 3:.3f} (threshold {det.threshold_:.3f})")
    if args.fgsm_eps:
        first = args.mutation.split(",")[0]
        fgsm_sweep(model, detectors[first], x, y, [float(e) for e in args.fgsm_eps.split(",")], first)
    if args.kde:
        kde_candidates(model, train, x, adversarial, args.kde.split(","), args.kde_fit)


def fgsm_sweep(
    model: torch.nn.Module, det: MutationDetector, x: torch.Tensor, y: torch.Tensor, eps: list[float], name: str
) -> None:
    """Section 3: FGSM at each eps, its cross-entropy step and the step of Wang et al.'s artifact."""
    print(f"\n== FGSM by eps: ROC-AUC of the label change rate ({name}) / of the softmax margin")
    lcr, margin = det.score(x), low_margin(model, x)
    for i, e in enumerate(eps):
        result = craft("fgsm", model, x, y, eps=e, seed=200 + i)
        parts = []
        for label, adv in (
            ("cross-entropy", result.x_adv[result.success]),
            ("artifact", artifact_fgsm(model, x, y, e)),
        ):
            parts.append(
                f"{label} ({adv.shape[0]} fooled) {auc(lcr, det.score(adv)):.3f} / {auc(margin, low_margin(model, adv)):.3f}"
            )
        print(f"  eps {e:g}: " + "; ".join(parts))


def kde_candidates(
    model: torch.nn.Module, train: Dataset, x: torch.Tensor, adversarial: dict, candidates: list[str], fit: int
) -> None:
    print("\n== KDE + BU: ROC-AUC of the combined score (log density alone / uncertainty alone)")
    for candidate in candidates:
        layer, reduce, components, dropout = candidate.split(":")
        det = DensityUncertaintyDetector(
            model, layer=layer, reduce=reduce, components=int(components), dropout=dropout,
            max_per_class=fit, lr_fraction=1500 / fit,
        ).fit(train.x[:fit], train.y[:fit])  # fmt: skip
        clean = det.signals(x)
        parts = []
        for k in ("fgsm", "bim", "pgd"):
            s = det.signals(adversarial[k])
            density = auc(-clean["log_density"], -s["log_density"])
            parts.append(
                f"{k} {auc(clean['score'], s['score']):.3f} ({density:.3f} / {auc(clean['uncertainty'], s['uncertainty']):.3f})"
            )
        print(f"  {candidate}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
