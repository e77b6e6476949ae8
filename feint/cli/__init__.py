"""The ``feint`` command line. Every user error prints one line and exits with status 2."""

from __future__ import annotations

import sys
from typing import Any

import click

from feint import __version__
from feint.errors import FeintError

RESUME_HINTS = {
    "train": "add --resume to the same command to continue from the last finished epoch",
    "audit": "run the same command again to continue; the finished attacks are kept in --out",
    "demo": "run the same command again to continue where it stopped",
    "blackbox": "run the same command again to continue from the last finished substitute round",
}


class FeintGroup(click.Group):
    """A click group that turns :class:`FeintError` into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FeintError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.UsageError as exc:  # a bad option value: one line too, not click's usage block
            where = f"; see feint {ctx.invoked_subcommand} --help" if ctx.invoked_subcommand else ""
            click.echo(f"error: {exc.format_message().rstrip('.')}{where}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            hint = RESUME_HINTS.get(ctx.invoked_subcommand or "", "")
            click.echo(f"interrupted{'; ' + hint if hint else ''}", err=True)
            sys.exit(130)


@click.group(cls=FeintGroup)
@click.version_option(__version__, prog_name="feint")
def main() -> None:
    """feint: craft, defend against, detect and measure adversarial examples."""


def _register() -> None:
    from feint.cli.attack import attack_command
    from feint.cli.blackbox import blackbox_command
    from feint.cli.demo import demo_command
    from feint.cli.detect import detect_command
    from feint.cli.fool import fool_command
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
    try:
        from feint.cli.audit import audit_command
    except ImportError:  # the audit command lands separately
        return
    main.add_command(audit_command, "audit")


_register()
