"""Attacks: plain functions ``attack(model, x, y, *, eps, ...) -> AttackResult``."""

from feint.attacks.apgd import apgd, apgd_t
from feint.attacks.bim import bim, ll_class
from feint.attacks.cw import cw
from feint.attacks.deepfool import deepfool
from feint.attacks.eot import eot_pgd
from feint.attacks.fgsm import fgsm
from feint.attacks.fgsm_rs import fgsm_rs
from feint.attacks.fmn import fmn
from feint.attacks.hopskipjump import hopskipjump
from feint.attacks.ifgsm import ifgsm
from feint.attacks.jsma import jsma
from feint.attacks.mifgsm import mifgsm
from feint.attacks.pgd import pgd
from feint.attacks.rand_fgsm import rand_fgsm
from feint.attacks.registry import ATTACKS, AttackSpec, attack, get_attack, register_attack, run_attack
from feint.attacks.result import AttackResult, best_of, finalize, predict_logits
from feint.attacks.square import square
from feint.attacks.surrogate import surrogate_transfer
from feint.attacks.sweep import SweepResult, sweep
from feint.attacks.targets import least_likely_targets, next_class_targets, random_targets

__all__ = [
    "ATTACKS",
    "AttackResult",
    "AttackSpec",
    "SweepResult",
    "apgd",
    "apgd_t",
    "attack",
    "best_of",
    "bim",
    "cw",
    "deepfool",
    "eot_pgd",
    "fgsm",
    "fgsm_rs",
    "finalize",
    "fmn",
    "get_attack",
    "hopskipjump",
    "ifgsm",
    "jsma",
    "least_likely_targets",
    "ll_class",
    "mifgsm",
    "next_class_targets",
    "pgd",
    "predict_logits",
    "rand_fgsm",
    "random_targets",
    "register_attack",
    "run_attack",
    "square",
    "surrogate_transfer",
    "sweep",
]
