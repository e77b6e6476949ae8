"""Attacks: plain functions ``attack(model, x, y, *, eps, ...) -> AttackResult``."""

from feint.attacks.fgsm import fgsm
from feint.attacks.fgsm_rs import fgsm_rs
from feint.attacks.registry import ATTACKS, AttackSpec, get_attack, register_attack, run_attack
from feint.attacks.result import AttackResult, best_of, finalize, predict_logits

__all__ = [
    "ATTACKS",
    "AttackResult",
    "AttackSpec",
    "best_of",
    "fgsm",
    "fgsm_rs",
    "finalize",
    "get_attack",
    "predict_logits",
    "register_attack",
    "run_attack",
]
