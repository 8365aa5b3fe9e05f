"""A Typer group whose sub-commands are imported only when they run, and whose errors are one line.

``spikesat --help`` lists every command from a static table (name, module, short help), so it
imports neither torch nor any area of the library; ``spikesat <name> ...`` imports one module.

Bad input never shows a traceback: a usage error (a bad option, an unknown command) prints one
``Error: ...`` line and exits 2, and so does a ``ValueError``, ``TypeError``,
``FileNotFoundError`` or ``ImportError`` (a missing extra) that the library raises while a
command runs. Any other exception is a bug and keeps its traceback; ``SPIKESAT_TRACEBACK=1``
shows the traceback of the caught ones too.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
import typer
from typer.core import TyperGroup

# CompressAI still calls torch.jit.script, which torch deprecates; the warning is about
# CompressAI's code, not the user's, so the CLI keeps it off the screen
# (set here, before any command module imports CompressAI).
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script", category=FutureWarning)

#: Exceptions the library raises for bad input; the CLI reports them as one line.
INPUT_ERRORS = (ValueError, TypeError, FileNotFoundError, ImportError)


class InputError(click.ClickException):
    """A library error about the user's input, reported like a usage error (exit 2)."""

    exit_code = 2


def one_line(error: click.ClickException) -> str:
    """``Error: <message>`` on one line (newlines and runs of spaces collapsed)."""
    return "Error: " + " ".join(error.format_message().split())


@dataclass(frozen=True)
class LazyCommand:
    """Where a sub-command lives: ``module:attribute`` is a Typer app or a command function."""

    name: str
    module: str
    attribute: str
    short_help: str

    def load(self) -> click.Command:
        """Import the module and build the click command (a group for a Typer app)."""
        target = getattr(importlib.import_module(self.module), self.attribute)
        if isinstance(target, typer.Typer):
            command = typer.main.get_command(target)
        else:
            single = typer.Typer(add_completion=False)
            single.command(self.name)(target)
            command = typer.main.get_command(single)
        command.name = self.name
        return command


class LazyGroup(TyperGroup):
    """A group that lists ``lazy_commands`` without importing them and loads one on use."""

    lazy_commands: tuple[LazyCommand, ...] = ()

    def _spec(self, name: str) -> LazyCommand | None:
        return next((spec for spec in self.lazy_commands if spec.name == name), None)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [spec.name for spec in self.lazy_commands]

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run as click does, but print a usage or input error as one line (exit 2)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as error:
            click.echo(one_line(error), err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        # click returns the exit code of an explicit exit (``--help``: 0), else the result
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the sub-command; a library error about the input becomes :class:`InputError`."""
        try:
            return super().invoke(ctx)
        except INPUT_ERRORS as error:
            if os.environ.get("SPIKESAT_TRACEBACK"):
                raise
            raise InputError(str(error) or type(error).__name__) from error

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A light stand-in carrying the short help (for listings and completion)."""
        spec = self._spec(cmd_name)
        if spec is None:
            return None
        return click.Command(spec.name, short_help=spec.short_help, help=spec.short_help)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The real command, imported now that it is about to run."""
        name = click.utils.make_str(args[0])
        spec = self._spec(name)
        if spec is None:
            return super().resolve_command(ctx, args)
        return name, spec.load(), args[1:]
