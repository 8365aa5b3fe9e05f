"""A Typer group whose sub-commands are imported only when they run.

``spikesat --help`` lists every command from a static table (name, module, short help), so it
imports neither torch nor any area of the library; ``spikesat <name> ...`` imports one module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click
import typer
from typer.core import TyperGroup


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
