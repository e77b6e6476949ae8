"""Options and parsing shared by the CLI commands.

Naming rule for options (every command, including ones added later): **no option may be the
beginning of a torchrun option.** ``torchrun ... -m feint COMMAND --opt`` passes everything after
``-m feint`` through argparse, which rejects an option that abbreviates several of its own before
feint ever runs: ``--n`` dies with "ambiguous option: --n could match --nnodes, --nproc-per-node,
--node-rank, --no-python, ...". torchrun's options (``torchrun --help``): --nnodes,
--nproc-per-node/--nproc_per_node, --node-rank, --master-addr, --master-port, --local-addr,
--rdzv-backend/-endpoint/-id/-conf, --standalone, --max-restarts, --monitor-interval,
--start-method, --event-log-handler, --role, --module, --no-python, --run-path, --log-dir,
--logs-specs, --redirects, --tee, --local-ranks-filter, --duplicate-stdout/stderr-filters,
--numa-binding, --signals-to-handle, --shutdown-timeout, --virtual-local-rank (and their
underscore spellings). So ``--n``, ``--no``, ``--ma``, ``--r``, ``--lo``, ``--run``, ``--st``,
``--mo`` ... are out; ``--n-inputs``, ``--norm``, ``--model``, ``--resume`` are fine (longer than
any torchrun option they start like). ``tests/test_cli_torchrun.py`` walks every registered
command and option against torchrun's own parser, so a new command is checked automatically.
An old spelling kept for scripts run without torchrun is declared with :class:`LegacyNames` (it
works, is hidden from ``--help`` and is listed in :data:`LEGACY_SPELLINGS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click
import torch
import yaml

from feint.data import Dataset, Source, is_named, is_streamable, load, open_source
from feint.data.stream import ON_BAD_FILE
from feint.errors import InputError

LEGACY_SPELLINGS = {"--n": "--n-inputs"}
MAX_SEED = 2**63 - 1


class Bounded(click.ParamType):
    """A number option checked where it is parsed: an int or a finite float (never NaN or inf) in
    ``[low, high]`` (``low_open``: above ``low``). A bad value is one :class:`InputError` that names
    the option, the range and the default to fall back on."""

    def __init__(
        self, kind: type = float, *, low: float | None = None, low_open: bool = False, high: float | None = None
    ) -> None:
        self.kind, self.low, self.low_open, self.high = kind, low, low_open, high
        self.name = "integer" if kind is int else "number"

    def _range(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:,}" if self.kind is int else f"<= {self.high:g}")
        return " and ".join(parts)

    def _parse(self, value: Any) -> float | None:
        """The value as ``kind``, or None when it is not one (a float must be finite)."""
        if isinstance(value, bool):
            return None
        try:
            number: float = value if isinstance(value, (int, float)) else self.kind(str(value).strip())
        except ValueError:
            return None
        return number if isinstance(number, int) or math.isfinite(number) else None

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = self._parse(value)
        bad = number is None
        if number is not None and self.low is not None:
            bad = number <= self.low if self.low_open else number < self.low
        if number is not None and self.high is not None:
            bad = bad or number > self.high
        if bad:
            option = param.opts[0] if param is not None and param.opts else "the option"
            wanted = f"{'an integer' if self.kind is int else 'a finite number'} {self._range()}".strip()
            default = param.default if param is not None else None
            fix = f" (its default: {default})" if default is not None and not callable(default) else ""
            raise InputError(f"{option} must be {wanted}, got {value}{fix}")
        return number


COUNT = Bounded(int, low=1)
SEED = Bounded(int, low=0, high=MAX_SEED)


class LegacyNames(click.Option):
    """An option whose old spellings (keys of :data:`LEGACY_SPELLINGS`) still work outside torchrun
    but are hidden from ``--help``; ``legacy`` lists them on the option."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.legacy = tuple(o for o in self.opts if o in LEGACY_SPELLINGS)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        every = self.opts
        self.opts = [o for o in every if o not in self.legacy]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = every


class RefusedOption(click.Option):
    """An option that no longer exists under this name: hidden, and giving it is one
    :class:`InputError` with ``refusal`` (what to use instead and why)."""

    def __init__(self, *args: Any, refusal: str, **kwargs: Any) -> None:
        kwargs.update(hidden=True, expose_value=False, default=None)
        super().__init__(*args, **kwargs)
        self.refusal = refusal

    def handle_parse_result(self, ctx: click.Context, opts: Any, args: list[str]) -> Any:
        if self.name in opts:
            raise InputError(self.refusal)
        return super().handle_parse_result(ctx, opts, args)


def n_inputs_option(
    verb: str, *, default: int | None = None, help: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--n-inputs N`` (old spelling ``--n``): a seeded random subset of N inputs (``help`` overrides the text)."""
    return click.option(
        "--n-inputs",
        "--n",
        "n",
        cls=LegacyNames,
        default=default,
        show_default=default is not None,
        type=int,
        help=help or f"{verb} a seeded random subset of N inputs",
    )


def parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    """``("steps=10", "norm=2")`` -> ``{"steps": 10, "norm": 2}``; values are read as YAML scalars/lists."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param {item!r} is not of the form key=value (e.g. --param steps=20)")
        name = key.strip().replace("-", "_")
        if name in params:
            raise InputError(f"--param {name} is given twice; give each option once")
        try:
            params[name] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise InputError(
                f"--param {item!r}: the value is not a number, word or [list] ({exc.__class__.__name__})"
            ) from exc
    return params


def parse_floats(text: str | None, name: str) -> list[float] | None:
    """``"0,0.1,0.2"`` -> ``[0.0, 0.1, 0.2]``; fractions like ``8/255`` are allowed."""
    if text is None:
        return None
    values = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            num, _, den = part.partition("/")
            values.append(float(num) / (float(den) if den else 1.0))
        except (ValueError, ZeroDivisionError) as exc:
            raise InputError(
                f"{name} {text!r} is not a comma-separated list of numbers (e.g. 0.05,0.1,8/255; no division by 0)"
            ) from exc
    if not values:
        raise InputError(f"{name} is empty; give at least one number")
    return values


DEVICE_HELP = "use --device auto, cpu, cuda or cuda:N"


def resolve_device(name: str | None) -> torch.device:
    """``auto`` (a CUDA GPU when one is visible, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    Under torchrun, ``cuda`` without an index means this rank's GPU (``cuda:LOCAL_RANK``)."""
    from feint.distributed import device_for_rank

    if name in (None, "auto"):
        return device_for_rank("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(str(name))
    except (RuntimeError, ValueError) as exc:
        raise InputError(f"unknown --device {name!r}; {DEVICE_HELP}") from exc
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {name} was asked for but no CUDA GPU is visible; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA GPU(s), cuda:0 up")
        return device_for_rank(device)
    if device.type == "mps" and torch.backends.mps.is_available():
        return device
    raise InputError(f"--device {name!r} is not available here; {DEVICE_HELP}")


def load_data(name: str, split: str, path: str | None, n: int | None = None, seed: int = 0) -> Dataset:
    """``name``'s ``split`` (then a seeded subset of ``n``); a user's own .npz file or image folder
    whole where the command says so (:class:`SplitOption`) and the command line gave no ``--split``."""
    if not is_named(name) and _whole_own_data():
        split = "all"
    data = load(name, split, path=path)
    if n is not None and n < 1:
        raise InputError(f"--n-inputs must be at least 1, got {n}")
    return data.sample(n, seed=seed)


def open_data(
    name: str, split: str, path: str | None, n: int | None = None, seed: int = 0, on_bad_file: str = "stop"
) -> Dataset | Source:
    """Like :func:`load_data`, but a folder (of class sub-folders or of ``.npz`` shards) is streamed
    (:func:`feint.data.open_source`): a seeded subset of ``n`` files, read batch by batch later."""
    if not is_streamable(name):
        return load_data(name, split, path, n, seed)
    if n is not None and n < 1:
        raise InputError(f"--n-inputs must be at least 1, got {n}")
    return open_source(name, "all" if _whole_own_data() else split, n=n, seed=seed, on_bad_file=on_bad_file)


def preview(data: Dataset | Source) -> Dataset:
    """A loaded dataset, or a stream's first input with its info (to check that a model fits it)."""
    return data.preview() if isinstance(data, Source) else data


def on_bad_file_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--on-bad-file``: a folder's unreadable file stops the run (default) or is skipped and counted."""
    return click.option(
        "--on-bad-file",
        default="stop",
        show_default=True,
        type=click.Choice(ON_BAD_FILE),
        help="a folder's file that cannot be read: stop with an error, or skip it and count it",
    )(fn)


def _whole_own_data() -> bool:
    """Whether the running command uses a user's own data whole: its ``--split`` says so and was not given."""
    ctx = click.get_current_context(silent=True)
    option = next((p for p in ctx.command.params if p.name == "split"), None) if ctx is not None else None
    if not isinstance(option, SplitOption) or not option.whole_own_data:
        return False
    return ctx is not None and ctx.get_parameter_source("split") is click.core.ParameterSource.DEFAULT


def check_model_fits_data(config: dict[str, Any] | None, data: Dataset, model_spec: str, model: Any = None) -> None:
    """A feint run records the data it was trained on: refuse data of another input shape or class count.
    ``model`` (a module or an oracle, any source) is checked for its class count as well."""
    trained = (config or {}).get("data") or {}
    shape, classes = trained.get("input_shape"), trained.get("class_names")
    have = data.info
    if data.split == "all" and trained.get("name") == have.name and _whole_own_data():
        raise InputError(
            f"the model in {model_spec} was trained on the train split of {have.name}; measuring on all of it "
            "would count its training inputs: pass --split test (the part it never saw)"
        )
    if shape is not None and tuple(shape) != tuple(have.input_shape):
        raise InputError(
            f"the model in {model_spec} was trained on {trained.get('name')} inputs of shape {tuple(shape)}, "
            f"but {have.name} has inputs of shape {tuple(have.input_shape)}; pass --data {trained.get('name')} "
            "or data of that shape"
        )
    if classes is not None and len(classes) != have.num_classes:
        raise InputError(
            f"the model in {model_spec} predicts {len(classes)} classes but {have.name} has {have.num_classes}; "
            "pass data with the classes it was trained on"
        )
    if model is not None:
        from feint.models.classes import check_classes

        check_classes(model, data, model_spec)


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

MODEL_HELP = "run dir, module:factory, file.onnx, file.skops or a v2 URL"
TRUST_HELP = "load a pickle/joblib model (runs code from the file)"


def stack(*options: Decorator) -> Decorator:
    """Several click options as one decorator, listed in ``--help`` in the order given."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return deco


def model_options(
    *, help: str = MODEL_HELP, required: bool = True, trust: bool = True, trust_help: str = TRUST_HELP
) -> Decorator:
    """The model attacked or served: ``--model`` (as ``model_spec``), ``--weights`` and (unless
    ``trust=False``) ``--trust-file``."""
    options: list[Decorator] = [
        click.option("--model", "model_spec", required=required, help=help),
        click.option("--weights", default=None, help="safetensors weights for a package.module:factory model"),
    ]
    if trust:
        options.append(trust_option(trust_help))
    return stack(*options)


def trust_option(help: str = TRUST_HELP) -> Decorator:
    """``--trust-file``: allow a pickle/joblib model (it runs code from the file)."""
    return click.option("--trust-file", is_flag=True, help=help)


class SplitOption(click.Option):
    """``--split``; ``whole_own_data``: a user's own .npz file or image folder is used whole unless
    the option is given (:func:`load_data`)."""

    def __init__(self, *args: Any, whole_own_data: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.whole_own_data = whole_own_data


def data_options(*, split: bool = True, default_split: str = "test", whole_own_data: bool = False) -> Decorator:
    """``--data``, ``--data-path`` and (unless ``split=False``) ``--split`` (default ``default_split``).

    ``whole_own_data`` (the commands that only measure a given model: attack, audit, physical): a
    user's own .npz file or image folder is used whole unless ``--split`` is given; the commands
    that fit something on the data (a detector, the transfer matrix's models) keep the held-out split."""
    options: list[Decorator] = [
        click.option(
            "--data",
            default="digits",
            show_default=True,
            help="digits, mnist, fashion-mnist, cifar10, a .npz file, an image folder or a folder of .npz shards",
        ),
        click.option("--data-path", default=None, help="folder holding the dataset files (IDX, CIFAR batches)"),
    ]
    if split:
        help = f"train, test or all [default: {default_split}; your own .npz or image folder: all]"
        options.append(
            click.option(
                "--split",
                cls=SplitOption,
                whole_own_data=whole_own_data,
                default=default_split,
                show_default=not whole_own_data,
                help=help if whole_own_data else "train, test or all",
            )
        )
    return stack(*options)


def output_options(
    help: str, *, required: bool = True, default: str | None = None, overwrite: str | None = None
) -> Decorator:
    """``--out`` (``help`` says what is written there) and, when ``overwrite`` names what it
    replaces, ``--overwrite``."""
    # no default=None: click 8.3 reads an explicit None as a value, and --out would stop being required
    out = (
        click.option("--out", required=required, help=help)
        if default is None
        else click.option("--out", required=required, default=default, show_default=True, help=help)
    )
    options: list[Decorator] = [out]
    if overwrite is not None:
        options.append(click.option("--overwrite", is_flag=True, help=overwrite))
    return stack(*options)


def seed_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--seed``: the run's one seed (a non-negative integer)."""
    return click.option("--seed", default=0, show_default=True, type=SEED)(fn)


def quiet_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--quiet``: no progress bars or live lines."""
    return click.option("--quiet", is_flag=True, help="no progress bars")(fn)


def resume_option(state: str) -> Decorator:
    """``--resume/--no-resume`` (default on): continue from the state a killed run left in ``out/<state>``."""
    return click.option("--resume/--no-resume", default=True, show_default=True, help=f"continue from out/{state}")


def device_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")(fn)


def batch_size_option(default: int | None, help: str | None = None) -> Decorator:
    """``--batch-size``: inputs processed together, each batch with its own seeds; under torchrun
    batch c runs on rank c % K, so the results equal one process's at the same batch size."""
    return click.option(
        "--batch-size",
        default=default,
        show_default=True,
        type=int,
        help=help
        or "inputs attacked together, each batch with its own seed (results depend on it; "
        "under torchrun batches are shared among the ranks)",
    )


def load_together(what: str, out: str, load: Callable[[], Any]) -> Any:
    """``load()`` on every rank (rank 0 first checks that ``out`` can be written and removes what a
    killed run left there, :func:`feint.io.prepare_out`): one failure is one clear error on every
    rank under torchrun."""
    from feint import distributed as fd
    from feint.io import prepare_out

    with fd.together(what):
        if fd.is_root():  # rank 0 alone writes --out
            prepare_out(out)
        return load()


def load_module_and_data(
    out: str, *, model_spec: str, weights: str | None, trust: bool, device: torch.device, data: str, split: str,
    data_path: str | None, n: int | None, seed: int, why: str,
) -> tuple[Any, Dataset]:  # fmt: skip
    """The model (it must be a white-box torch module: ``why`` says what needs one) and the data, loaded
    together (:func:`load_together`) and checked against each other."""
    from feint.models import resolve

    def load() -> tuple[Any, Dataset]:
        loaded = resolve(model_spec, weights=weights, device=str(device), trust=trust)
        if loaded.module is None:
            raise InputError(
                f"{why}, but {model_spec} gives {loaded.describe()}; give a white-box torch model (a run directory, "
                "module:factory or .onnx)"
            )
        dataset = load_data(data, split, data_path, n, seed)
        check_model_fits_data(loaded.config, dataset, model_spec, loaded.module)
        return loaded, dataset

    return load_together("loading the model and the data", out, load)  # type: ignore[no-any-return]
