"""The ``feint`` command line. Every user error prints one line and exits with status 2.

Under torchrun (``torchrun --nproc-per-node K -m feint COMMAND ...``) the commands in
:data:`DISTRIBUTED_COMMANDS` share their work among the ranks (see :mod:`feint.distributed`); the
others refuse to run K times over. torchrun stops the surviving ranks when one fails: they say so
in one line, with the command's resume hint.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, NoReturn

import click

from feint import __version__
from feint import distributed as fd
from feint.errors import DistributedError, FeintError, RankLostError

RESUME_HINTS = {
    "train": "add --resume to the same command to continue from the last finished epoch",
    "audit": "run the same command again to continue; the finished attacks are kept in --out",
    "demo": "run the same command again to continue where it stopped",
    "blackbox": "run the same command again to continue from the last finished substitute round",
    **dict.fromkeys(
        ("fool", "physical", "transfer", "detect", "natural", "patch"),
        "run the same command again; nothing half-written is kept in --out",
    ),
    "certify": "run the same command again to continue from the last certified group of inputs",
}
# Commands that share their work among the ranks of a torchrun job; wire a command in before adding it.
DISTRIBUTED_COMMANDS = frozenset({"audit", "train", "demo", "physical", "blackbox", "transfer", "detect"})


def _stopped_by_torchrun(signum: int, _frame: Any) -> NoReturn:
    launch = fd.Launch.from_env()  # this rank's number in the job, also while it works alone (fd.alone)
    rank = launch.rank if launch is not None else fd.rank()
    raise RankLostError(f"rank {rank} was stopped by torchrun (signal {signum}): another rank failed")


def _leaving(previous: Any) -> None:
    """This rank failed and says so once: torchrun's SIGTERM, which follows, now just ends it
    (``previous``: the handler replaced at the start, None when none was)."""
    if previous is not None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class FeintGroup(click.Group):
    """A click group that turns :class:`FeintError` into one line on stderr and exit code 2."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        if fd.launched() and name not in DISTRIBUTED_COMMANDS:
            raise DistributedError(
                f"feint {name} does not share its work among torchrun's ranks; run it without torchrun "
                f"(feint {name} ...). Under torchrun: {', '.join(sorted(DISTRIBUTED_COMMANDS))}"
            )
        return name, cmd, rest

    def invoke(self, ctx: click.Context) -> Any:
        previous, settled = None, False
        try:
            if fd.launched():  # torchrun stops the other ranks with SIGTERM when one fails: say so
                previous = signal.signal(signal.SIGTERM, _stopped_by_torchrun)
            result = super().invoke(ctx)
            settled = True
            return result
        except FeintError as exc:
            _leaving(previous)
            hint = RESUME_HINTS.get(ctx.invoked_subcommand or "", "") if isinstance(exc, RankLostError) else ""
            click.echo(f"error: {exc}{'; ' + hint if hint else ''}", err=True)
            sys.exit(2)
        except click.UsageError as exc:  # a bad option value: one line too, not click's usage block
            _leaving(previous)
            where = f"; see feint {ctx.invoked_subcommand} --help" if ctx.invoked_subcommand else ""
            click.echo(f"error: {exc.format_message().rstrip('.')}{where}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            _leaving(previous)
            hint = RESUME_HINTS.get(ctx.invoked_subcommand or "", "")
            click.echo(f"interrupted{'; ' + hint if hint else ''}", err=True)
            sys.exit(130)
        finally:
            fd.finish(settled=settled)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


@click.group(cls=FeintGroup)
@click.version_option(__version__, prog_name="feint")
def main() -> None:
    """feint: craft, defend against, detect and measure adversarial examples."""


def _register() -> None:
    from feint.cli.attack import attack_command
    from feint.cli.blackbox import blackbox_command
    from feint.cli.certify import certify_command
    from feint.cli.demo import demo_command
    from feint.cli.detect import detect_command
    from feint.cli.fool import fool_command
    from feint.cli.natural import natural_command
    from feint.cli.patch import patch_command
    from feint.cli.physical import physical_command
    from feint.cli.serve import serve_command
    from feint.cli.train import train_command
    from feint.cli.transfer import transfer_command

    main.add_command(demo_command, "demo")
    main.add_command(train_command, "train")
    main.add_command(attack_command, "attack")
    main.add_command(blackbox_command, "blackbox")
    main.add_command(transfer_command, "transfer")
    main.add_command(fool_command, "fool")
    main.add_command(physical_command, "physical")
    main.add_command(detect_command, "detect")
    main.add_command(serve_command, "serve")
    main.add_command(natural_command, "natural")
    main.add_command(certify_command, "certify")
    main.add_command(patch_command, "patch")
    try:
        from feint.cli.audit import audit_command
    except ImportError:  # the audit command lands separately
        return
    main.add_command(audit_command, "audit")


_register()
