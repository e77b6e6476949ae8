"""Corpus rows: `feint fool`, `feint physical`, the transforms and the fooling-image Python API."""

from __future__ import annotations

import torch

from corpus import Case, Ctx
from corpus.blackbox_rows import _skops
from corpus.models import linear
from feint.attacks.fooling import fool_cppn, fool_direct, fool_gradient, load_cppns
from feint.capabilities.physical.natural import natural
from feint.errors import InputError, OutputError
from feint.oracles import as_oracle
from feint.oracles.base import QueryBudgetExhausted
from feint.transforms import JPEG, Blur, Crop, Rotate, Scale, print_and_photo

FOOL = ("fool", "--model", "{run}", "--generations", "3", "--population", "4", "--quiet")
NO_FOOLING = ("feint.attacks.fooling.fool",)
PHYSICAL = ("physical", "--model", "{run}", "--n", "8", "--quiet")
NO_PHYSICAL = ("feint.capabilities.physical.run.physical_world",)
SHAPE = (1, 8, 8)
NATURAL = ("natural", "--model", "{run}", "--n", "8", "--quiet")
NO_NATURAL = ("feint.capabilities.physical.natural.natural_variation",)


def fool_row(id: str, phrase: str, *args: str, error: type[BaseException] = InputError, forbid: bool = True) -> Case:
    return Case(id, cli=(*FOOL, *args, "--out", "out"), error=error, phrase=phrase, forbid=NO_FOOLING if forbid else ())


def physical_row(id: str, phrase: str, *args: str, error: type[BaseException] = InputError) -> Case:
    return Case(id, cli=(*PHYSICAL, *args, "--out", "out"), error=error, phrase=phrase, forbid=NO_PHYSICAL)


def _a_file_named_out(c: Ctx) -> None:
    (c.tmp / "out").write_text("not a folder")


def _tanh_genome(c: Ctx) -> None:
    (c.tmp / "genomes.json").write_text(
        '{"format": "feint.cppn/1", "genomes": [{"channels": 1, "hidden": [[5, "tanh"]], "connections": []}]}'
    )


def py(id: str, call: object, phrase: str, error: type[BaseException] = InputError, make: object = None) -> Case:
    return Case(id, make=make, call=call, error=error, phrase=phrase)  # type: ignore[arg-type]


TINY = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
FOOL_ROWS = [
    fool_row("fool-generations-zero", r"--generations must be an integer >= 1, got 0", "--generations", "0"),
    fool_row("fool-generations-negative", r"--generations must be an integer >= 1, got -5", "--generations", "-5"),
    fool_row("fool-population-zero", r"population must be an integer >= 1, got 0", "--population", "0", forbid=False),
    fool_row("fool-input-shape-two-sizes", r"--input-shape '1,8' must be three positive sizes", "--input-shape", "1,8"),
    fool_row("fool-input-shape-text", r"--input-shape 'big' must be C,H,W", "--input-shape", "big"),
    fool_row(
        "fool-budget-below-one-population",
        r"would exceed the budget of 3",
        "--max-queries",
        "3",
        error=QueryBudgetExhausted,
        forbid=False,
    ),
    fool_row(
        "fool-gradient-blur-too-wide",
        r"images of 8x8 are too small for a blur",
        "--method",
        "gradient",
        "--blur-sigma",
        "5",
        forbid=False,
    ),
    Case(
        "fool-gradient-on-a-query-only-model",
        make=_skops,
        cli=("fool", "--model", "{tmp}/svc.skops", "--method", "gradient", "--input-shape", "1,8,8", "--out", "out"),
        phrase=r"--method gradient needs a white-box torch model, but .*svc.skops gives scores access",
        forbid=NO_FOOLING,
    ),
    Case(
        "fool-query-only-model-without-input-shape",
        make=_skops,
        cli=("fool", "--model", "{tmp}/svc.skops", "--out", "out"),
        phrase=r"does not record its input shape; pass --input-shape C,H,W",
        forbid=NO_FOOLING,
    ),
    Case(
        "fool-out-is-a-file",
        make=_a_file_named_out,
        cli=(*FOOL, "--out", "out"),
        error=OutputError,
        phrase=r"--out 'out' must be a folder",
        forbid=NO_FOOLING,
    ),
]
PHYSICAL_ROWS = [
    physical_row("physical-unknown-attack", r"unknown attack 'nope'", "--attacks", "fgsm,nope"),
    physical_row("physical-minimum-norm-attack", r"attack 'cw' does not take an Linf eps budget", "--attacks", "cw"),
    physical_row("physical-eps-zero", r"every eps must be above 0", "--eps", "0,0.1"),
    physical_row("physical-eps-text", r"--eps 'wide' is not a comma-separated list of numbers", "--eps", "wide"),
    physical_row("physical-draws-zero", r"--draws must be an integer >= 1 and <= 10,000, got 0", "--draws", "0"),
    physical_row(
        "physical-eot-samples-zero", r"--eot-samples must be an integer >= 1, got 0", "--eot", "--eot-samples", "0"
    ),
    physical_row("physical-sheet-zero", r"--sheet must be an integer >= 1, got 0", "--sheet", "0"),
    physical_row(
        "physical-sheet-too-many-attacks",
        r"a sheet row holds at most 11 images, got 12",
        "--attacks",
        "fgsm,bim,ll_class,pgd,fgsm_rs,mifgsm,ifgsm,apgd,apgd-t,rand_fgsm,square",
    ),
    Case(
        "physical-query-only-model",
        make=_skops,
        cli=("physical", "--model", "{tmp}/svc.skops", "--n", "8", "--out", "out"),
        phrase=r"feint physical runs gradient attacks .* gives scores access \(skops: SVC\); give a white-box",
        forbid=NO_PHYSICAL,
    ),
    Case(
        "physical-out-is-a-file",
        make=_a_file_named_out,
        cli=(*PHYSICAL, "--out", "out"),
        error=OutputError,
        phrase=r"--out 'out' must be a folder",
        forbid=NO_PHYSICAL,
    ),
]
NATURAL_ROWS = [
    Case(
        "natural-out-is-a-file",
        make=_a_file_named_out,
        cli=(*NATURAL, "--out", "out"),
        error=OutputError,
        phrase=r"--out 'out' must be a folder",
        forbid=NO_NATURAL,
    ),
    Case(
        "natural-n-inputs-zero",
        cli=(*NATURAL[:-3], "--n-inputs", "0", "--quiet", "--out", "out"),
        phrase=r"--n-inputs must be at least 1, got 0",
        forbid=NO_NATURAL,
    ),
    Case(
        "natural-python-labels-out-of-range",
        call=lambda c: natural(linear(), torch.rand(2, *SHAPE), torch.tensor([0, 99])),
        phrase=r"y has labels in \[0, 99\] but the model has 10 classes",
        forbid=NO_NATURAL,
    ),
    Case(
        "natural-python-images-out-of-bounds",
        call=lambda c: natural(linear(), torch.full((2, *SHAPE), 2.0), torch.tensor([0, 1])),
        phrase=r"x has values in \[2, 2\], outside the bounds",
        forbid=NO_NATURAL,
    ),
]
PY_ROWS = [
    py("transform-range-empty", lambda c: Rotate((10.0, -10.0)), r"rotation degrees range \(10, -10\) is empty"),
    py(
        "transform-jpeg-quality-zero",
        lambda c: JPEG((0, 90)),
        r"JPEG quality range \(0, 90\) leaves the domain \[1, 100\]",
    ),
    py("transform-jpeg-quality-above-100", lambda c: JPEG(101), r"JPEG quality range \(101, 101\) leaves the domain"),
    py("transform-blur-negative", lambda c: Blur(-1.0), r"blur sigma range \(-1, -1\) leaves the domain"),
    py("transform-scale-zero", lambda c: Scale((0.0, 1.0)), r"scale factor range \(0, 1\) leaves the domain \(0, 10\]"),
    py("transform-range-not-numbers", lambda c: Rotate("wide"), r"must be a number or a \(low, high\) pair"),  # type: ignore[arg-type]
    py("transform-image-too-small-blur", lambda c: Blur((0.0, 2.0))(TINY), r"images of 4x4 are too small for a blur"),
    py("transform-image-too-small-crop", lambda c: Crop((0.4, 1.0))(TINY), r"too small to crop to 0.4 of a side"),
    py("transform-pipeline-too-small", lambda c: print_and_photo(blur=(0.0, 2.0))(TINY), r"too small for a blur"),
    py("transform-not-a-batch", lambda c: Rotate(5.0)(torch.zeros(4, 4)), r"non-empty float batch \(N, C, H, W\)"),
    py(
        "fool-label-oracle",
        lambda c: fool_direct(as_oracle(linear(), access="labels", input_shape=SHAPE), generations=3),
        r"answers only labels, but evolving fooling images needs class scores",
    ),
    py(
        "fool-python-generations-zero",
        lambda c: fool_direct(linear(), generations=0, input_shape=SHAPE),
        r"generations must be an integer >= 1, got 0",
    ),
    py(
        "fool-python-cppn-generations-negative",
        lambda c: fool_cppn(linear(), generations=-1, input_shape=SHAPE),
        r"generations must be an integer >= 1, got -1",
    ),
    py("fool-python-no-input-shape", lambda c: fool_direct(linear(), generations=2), r"pass input_shape=\(C, H, W\)"),
    py(
        "fool-python-gradient-on-an-oracle",
        lambda c: fool_gradient(as_oracle(linear(), input_shape=SHAPE), input_shape=SHAPE),  # type: ignore[arg-type]
        r"gradient ascent needs a torch module",
    ),
    py(
        "fool-cppn-unknown-activation",
        lambda c: load_cppns(c.tmp / "genomes.json"),
        r"unknown CPPN activation 'tanh'",
        make=_tanh_genome,
    ),
]
ROWS = FOOL_ROWS + PHYSICAL_ROWS + NATURAL_ROWS + PY_ROWS
