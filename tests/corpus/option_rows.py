"""Corpus rows: every numeric option of the newer commands checked where it is parsed, allocations an
option sizes estimated before they are made, and ``--out`` paths that cannot be written (issue 19,
classes 5 and 6). Each is one line naming the option and the fix, exit 2, before any work."""

from __future__ import annotations

import re
from pathlib import Path

from corpus import Case, Ctx
from feint.errors import InputError, OutputError

FOOL = ("fool", "--model", "{run}", "--generations", "3", "--population", "4", "--quiet", "--out", "out")
GRADIENT = (*FOOL, "--method", "gradient")
PHYSICAL = ("physical", "--model", "{run}", "--n-inputs", "8", "--quiet", "--out", "out")
BLACKBOX = ("blackbox", "--target", "{run}", "--seed-size", "20", "--n-inputs", "20", "--rounds", "2", "--epochs", "1")
BLACKBOX = (*BLACKBOX, "--substitute", "softmax", "--quiet", "--out", "out")
TRANSFER = ("transfer", "--source", "{run}", "--target", "{run}", "--n-inputs", "20", "--quiet", "--out", "out")
MATRIX = ("transfer", "--matrix", "--techniques", "lr", "--n-inputs", "20", "--quiet", "--out", "out")
FIT = ("detect", "fit", "--model", "{run}", "--detector", "kde-bu", "--n-inputs", "200", "--quiet")
EVAL = ("detect", "eval", "--detector", "det", "--model", "{run}", "--n-inputs", "20", "--quiet", "--out", "out")
TRAIN = ("train", "--arch", "softmax", "--epochs", "1", "--quiet", "--out", "run")
NATURAL = ("natural", "--model", "{run}", "--n-inputs", "8", "--quiet", "--out", "out")

NO_FOOLING = ("feint.attacks.fooling.fool",)
NO_PHYSICAL = ("feint.capabilities.physical.run.physical_world",)
NO_SUBSTITUTE = ("feint.training.substitute.start_substitute",)
NO_TRANSFER = ("feint.capabilities.transfer.pair.transfer",)
NO_MATRIX = ("feint.capabilities.transfer.matrix.fit_techniques",)
NO_FIT = ("feint.detectors.kde_bu.DensityUncertaintyDetector.fit",)
NO_EVAL = ("feint.capabilities.detect.run.evaluate_detector",)
NO_TRAINING = ("feint.training.trainer.create_model",)
NO_NATURAL = ("feint.capabilities.physical.natural.natural_variation",)
MEMORY = r"would need about [\d.e+]+ TiB of memory, more than the [\d.,]+ \w+ this machine has"


def row(id: str, base: tuple[str, ...], forbid: tuple[str, ...], phrase: str, *args: str, **kw: object) -> Case:
    kw.setdefault("error", InputError)
    return Case(f"opt-{id}", cli=(*base, *args), phrase=phrase, forbid=forbid, defect=5, **kw)  # type: ignore[arg-type]


def bounded(option: str, wanted: str, value: str) -> str:
    """The phrase of the one-line error of a number option out of its range."""
    return re.escape(f"{option} must be {wanted}, got {value}") + r" \(its default: [^)]*\)$"


COUNT, SEED = "an integer >= 1", "an integer >= 0 and <= 9,223,372,036,854,775,807"

FOOL_ROWS = [
    row(
        "fool-population-1e12",
        FOOL,
        NO_FOOLING,
        "1,000,000,000,000 image" + ".*" + MEMORY,
        "--population",
        "10" + "0" * 11,
    ),
    row(
        "fool-input-shape-1e12",
        FOOL,
        NO_FOOLING,
        r"1x1000000x1000000 at once " + MEMORY,
        "--input-shape",
        "1,1000000,1000000",
    ),
    row(
        "fool-blur-sigma-nan",
        GRADIENT,
        NO_FOOLING,
        bounded("--blur-sigma", "a finite number >= 0", "nan"),
        "--blur-sigma",
        "nan",
    ),
    row(
        "fool-blur-sigma-negative",
        GRADIENT,
        NO_FOOLING,
        bounded("--blur-sigma", "a finite number >= 0", "-2"),
        "--blur-sigma",
        "-2",
    ),
    row(
        "fool-blur-sigma-inf",
        GRADIENT,
        NO_FOOLING,
        bounded("--blur-sigma", "a finite number >= 0", "inf"),
        "--blur-sigma",
        "inf",
    ),
    row("fool-l2-nan", GRADIENT, NO_FOOLING, bounded("--l2", "a finite number >= 0", "nan"), "--l2", "nan"),
    row("fool-l2-negative", GRADIENT, NO_FOOLING, bounded("--l2", "a finite number >= 0", "-1"), "--l2", "-1"),
    row("fool-seed-negative", FOOL, NO_FOOLING, bounded("--seed", SEED, "-1"), "--seed", "-1"),
    row("fool-seed-2-64", FOOL, NO_FOOLING, bounded("--seed", SEED, str(2**64)), "--seed", str(2**64)),
    row(
        "fool-max-queries-zero",
        FOOL,
        NO_FOOLING,
        r"--max-queries must be an integer >= 1, got 0$",
        "--max-queries",
        "0",
    ),
    row(
        "fool-max-queries-negative",
        FOOL,
        NO_FOOLING,
        r"--max-queries must be an integer >= 1, got -5$",
        "--max-queries",
        "-5",
    ),
    row("fool-population-fraction", FOOL, NO_FOOLING, bounded("--population", COUNT, "2.5"), "--population", "2.5"),
    row("fool-population-negative", FOOL, NO_FOOLING, bounded("--population", COUNT, "-4"), "--population", "-4"),
    row("fool-generations-text", FOOL, NO_FOOLING, bounded("--generations", COUNT, "many"), "--generations", "many"),
    row("fool-population-nan", FOOL, NO_FOOLING, bounded("--population", COUNT, "nan"), "--population", "nan"),
]

PHYSICAL_ROWS = [
    row(
        "physical-eps-inf",
        PHYSICAL,
        NO_PHYSICAL,
        r"every eps must be above 0 and finite \(--eps\), got \[inf\]",
        "--eps",
        "inf",
    ),
    row(
        "physical-eps-nan",
        PHYSICAL,
        NO_PHYSICAL,
        r"every eps must be above 0 and finite \(--eps\), got \[nan\]",
        "--eps",
        "nan",
    ),
    row("physical-eps-negative", PHYSICAL, NO_PHYSICAL, r"every eps must be above 0 and finite", "--eps", "0.1,-0.1"),
    row(
        "physical-eot-samples-1e9",
        PHYSICAL,
        (),
        r"EOT-PGD on batches of 8 inputs x 1,000,000,000 samples \(--eot-samples\) " + MEMORY,
        "--eot",
        "--eot-samples",
        "1000000000",
    ),
    row(
        "physical-draws-1e12",
        PHYSICAL,
        NO_PHYSICAL,
        bounded("--draws", "an integer >= 1 and <= 10,000", "1" + "0" * 12),
        "--draws",
        "1" + "0" * 12,
    ),
    row(
        "physical-draws-negative",
        PHYSICAL,
        NO_PHYSICAL,
        bounded("--draws", "an integer >= 1 and <= 10,000", "-3"),
        "--draws",
        "-3",
    ),
    row(
        "physical-eot-steps-zero",
        PHYSICAL,
        NO_PHYSICAL,
        bounded("--eot-steps", COUNT, "0"),
        "--eot",
        "--eot-steps",
        "0",
    ),
    row(
        "physical-eot-samples-nan",
        PHYSICAL,
        NO_PHYSICAL,
        bounded("--eot-samples", COUNT, "nan"),
        "--eot",
        "--eot-samples",
        "nan",
    ),
    row("physical-sheet-negative", PHYSICAL, NO_PHYSICAL, bounded("--sheet", COUNT, "-1"), "--sheet", "-1"),
    row("physical-seed-negative", PHYSICAL, NO_PHYSICAL, bounded("--seed", SEED, "-7"), "--seed", "-7"),
]

BLACKBOX_ROWS = [
    row(
        "blackbox-lambda-inf",
        BLACKBOX,
        NO_SUBSTITUTE,
        bounded("--lambda", "a finite number > 0", "inf"),
        "--lambda",
        "inf",
    ),
    row(
        "blackbox-lambda-nan",
        BLACKBOX,
        NO_SUBSTITUTE,
        bounded("--lambda", "a finite number > 0", "nan"),
        "--lambda",
        "nan",
    ),
    row(
        "blackbox-rounds-1e8",
        BLACKBOX,
        NO_SUBSTITUTE,
        r"the substitute's training set after 100,000,000 rounds \(--rounds; over 1e270 inputs.*"
        + MEMORY
        + r".*; lower --rounds, or bound it",
        "--rounds",
        "100000000",
    ),
    row("blackbox-rounds-60", BLACKBOX, NO_SUBSTITUTE, r"training set after 60 rounds .*" + MEMORY, "--rounds", "60"),
    row("blackbox-rounds-zero", BLACKBOX, NO_SUBSTITUTE, bounded("--rounds", COUNT, "0"), "--rounds", "0"),
    row(
        "blackbox-sigma-negative", BLACKBOX, NO_SUBSTITUTE, r"--sigma must be an integer >= 0, got -2$", "--sigma", "-2"
    ),
    row("blackbox-kappa-zero", BLACKBOX, NO_SUBSTITUTE, bounded("--kappa", COUNT, "0"), "--kappa", "0"),
    row("blackbox-epochs-fraction", BLACKBOX, NO_SUBSTITUTE, bounded("--epochs", COUNT, "0.5"), "--epochs", "0.5"),
    row("blackbox-seed-size-zero", BLACKBOX, NO_SUBSTITUTE, bounded("--seed-size", COUNT, "0"), "--seed-size", "0"),
    row(
        "blackbox-max-queries-negative",
        BLACKBOX,
        NO_SUBSTITUTE,
        r"--max-queries must be an integer >= 1, got -1$",
        "--max-queries",
        "-1",
    ),
    row("blackbox-seed-negative", BLACKBOX, NO_SUBSTITUTE, bounded("--seed", SEED, "-1"), "--seed", "-1"),
    row(
        "blackbox-eps-inf", BLACKBOX, NO_SUBSTITUTE, r"every eps must be a finite number >= 0, got inf", "--eps", "inf"
    ),
    row(
        "blackbox-eps-nan", BLACKBOX, NO_SUBSTITUTE, r"every eps must be a finite number >= 0, got nan", "--eps", "nan"
    ),
]

TRANSFER_ROWS = [
    row(
        "transfer-steps-zero",
        TRANSFER,
        NO_TRANSFER,
        r"--steps '0,1' must list step counts from 1 to 10,000",
        "--steps",
        "0,1",
    ),
    row(
        "transfer-steps-1e11",
        TRANSFER,
        NO_TRANSFER,
        r"--steps '100000000000' must list step counts from 1 to 10,000",
        "--steps",
        "100000000000",
    ),
    row("transfer-eps-inf", TRANSFER, (), r"every eps must be a finite number >= 0, got inf", "--eps", "inf"),
    row(
        "transfer-param-steps",
        TRANSFER,
        (),
        r"--param steps: set by transfer itself \(--steps, --eps, --targeted\)",
        "--param",
        "steps=-3",
    ),
    row("transfer-seed-negative", TRANSFER, NO_TRANSFER, bounded("--seed", SEED, "-1"), "--seed", "-1"),
    row("transfer-matrix-eps-inf", MATRIX, NO_MATRIX, r"eps must be a finite number >= 0, got inf", "--eps", "inf"),
    row("transfer-matrix-eps-negative", MATRIX, NO_MATRIX, r"eps must be a finite number >= 0, got -1", "--eps", "-1"),
    row("transfer-matrix-seed-negative", MATRIX, NO_MATRIX, bounded("--seed", SEED, "-1"), "--seed", "-1"),
]

DETECT_ROWS = [
    row(
        "detect-eval-param-eps-yaml-inf",
        EVAL,
        NO_EVAL,
        r"fgsm.eps \(--param fgsm.eps\) must be a finite number > 0, got inf$",
        "--param",
        "fgsm.eps=.inf",
    ),
    row("detect-eval-eps-inf", EVAL, NO_EVAL, r"--eps takes one finite positive number, got 'inf'", "--eps", "inf"),
    row(
        "detect-eval-param-eps-inf",
        EVAL,
        NO_EVAL,
        r"fgsm.eps \(--param fgsm.eps\) must be a finite number > 0, got 'inf'",
        "--param",
        "fgsm.eps=inf",
    ),
    row(
        "detect-eval-param-eps-nan",
        EVAL,
        NO_EVAL,
        r"pgd.eps \(--param pgd.eps\) must be a finite number > 0, got 'nan'",
        "--param",
        "pgd.eps=nan",
    ),
    row(
        "detect-eval-param-eps-text",
        EVAL,
        NO_EVAL,
        r"fgsm.eps \(--param fgsm.eps\) must be a finite number > 0, got 'big'",
        "--param",
        "fgsm.eps=big",
    ),
    row("detect-eval-kappa-nan", EVAL, NO_EVAL, bounded("--kappa", "a finite number >= 0", "nan"), "--kappa", "nan"),
    row("detect-eval-kappa-negative", EVAL, NO_EVAL, bounded("--kappa", "a finite number >= 0", "-1"), "--kappa", "-1"),
    row(
        "detect-eval-adaptive-steps-1e12",
        EVAL,
        NO_EVAL,
        bounded("--adaptive-steps", "an integer >= 1 and <= 10,000", "1" + "0" * 12),
        "--adaptive-steps",
        "1" + "0" * 12,
    ),
    row(
        "detect-eval-adaptive-steps-zero",
        EVAL,
        NO_EVAL,
        bounded("--adaptive-steps", "an integer >= 1 and <= 10,000", "0"),
        "--adaptive-steps",
        "0",
    ),
    row("detect-eval-seed-negative", EVAL, NO_EVAL, bounded("--seed", SEED, "-1"), "--seed", "-1"),
    row("detect-fit-seed-negative", (*FIT, "--out", "det"), NO_FIT, bounded("--seed", SEED, "-1"), "--seed", "-1"),
    row(
        "detect-fit-mc-samples-zero",
        (*FIT, "--out", "det"),
        (),
        r"mc_samples must be an integer >= 1, got 0",
        "--param",
        "mc_samples=0",
    ),
]

RECIPE_ROWS = [
    row(
        "train-distill-temperature-inf",
        TRAIN,
        NO_TRAINING,
        r"temperature must be a finite number > 0",
        "--recipe",
        "distill",
        "--temperature",
        "inf",
    ),
    row(
        "train-distill-temperature-nan",
        TRAIN,
        NO_TRAINING,
        r"temperature must be a finite number > 0",
        "--recipe",
        "distill",
        "--temperature",
        "nan",
    ),
    row(
        "train-distill-teacher-epochs-zero",
        TRAIN,
        NO_TRAINING,
        r"teacher_epochs must be an integer >= 1, got 0",
        "--recipe",
        "distill",
        "--teacher-epochs",
        "0",
    ),
    row(
        "train-pgd-at-eps-inf",
        TRAIN,
        NO_TRAINING,
        r"pgd-at needs a finite eps, got inf",
        "--recipe",
        "pgd-at",
        "--adv-eps",
        "inf",
    ),
    row(
        "train-trades-beta-inf",
        TRAIN,
        NO_TRAINING,
        r"beta must be a finite number >= 0, got inf",
        "--recipe",
        "trades",
        "--beta",
        "inf",
    ),
    row(
        "train-pgd-at-step-size-nan",
        TRAIN,
        NO_TRAINING,
        r"step_size must be a finite number >= 0, got nan",
        "--recipe",
        "pgd-at",
        "--step-size",
        "nan",
    ),
]


def _memory_env(value: str) -> dict[str, str]:
    return {"FEINT_MAX_MEMORY_BYTES": value}


MEMORY_ROWS = [
    row(
        "memory-limit-not-a-number",
        FOOL,
        NO_FOOLING,
        r"\$FEINT_MAX_MEMORY_BYTES='lots' is not a number of bytes",
        env=_memory_env("lots"),
    ),
    row(
        "memory-limit-lowered",
        FOOL,
        NO_FOOLING,
        r"4 image\(s\) of 1x8x8 at once would need about 2 KiB of memory, more than the 1,000 B this machine has",
        env=_memory_env("1000"),
    ),
]


def _a_file(c: Ctx) -> None:
    (c.tmp / "afile").write_text("not a folder")


OUT_COMMANDS = {
    "fool": (FOOL[:-1], NO_FOOLING),
    "physical": (PHYSICAL[:-1], NO_PHYSICAL),
    "blackbox": (BLACKBOX[:-1], NO_SUBSTITUTE),
    "transfer": (TRANSFER[:-1], NO_TRANSFER),
    "transfer-matrix": (MATRIX[:-1], NO_MATRIX),
    "detect-fit": ((*FIT, "--out"), NO_FIT),
    "detect-eval": (EVAL[:-1], NO_EVAL),
    "train-distill": ((*TRAIN[:-2], "--recipe", "distill", "--out"), NO_TRAINING),
    "natural": (NATURAL[:-1], NO_NATURAL),
}
OUT_ROWS = [
    Case(
        f"opt-{name}-out-under-a-file",
        make=_a_file,
        cli=(*base, "afile/out"),
        error=OutputError,
        phrase=r"^--out 'afile/out' lies under 'afile', which is a file, not a folder$",
        forbid=forbid,
        defect=6,
    )
    for name, (base, forbid) in OUT_COMMANDS.items()
]
if Path("/proc/self").is_dir():  # Linux: /proc takes no new files, not even for root
    OUT_ROWS += [
        Case(
            f"opt-{name}-out-under-proc",
            cli=(*base, "/proc/feint-out"),
            error=OutputError,
            phrase=r"^--out '/proc/feint-out' cannot be written \(.*\); choose another path$",
            forbid=forbid,
            defect=6,
        )
        for name, (base, forbid) in OUT_COMMANDS.items()
    ]

ROWS = [*FOOL_ROWS, *PHYSICAL_ROWS, *BLACKBOX_ROWS, *TRANSFER_ROWS, *DETECT_ROWS, *RECIPE_ROWS, *MEMORY_ROWS, *OUT_ROWS]
