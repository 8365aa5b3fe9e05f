"""The CLI starts without the library: ``--help`` imports no torch, and units survive rich."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
import typer
from typer.testing import CliRunner

from spikesat.cli import SpikesatGroup, app

runner = CliRunner()
NAMES = [spec.name for spec in SpikesatGroup.lazy_commands]


def _imported_after(code: str) -> set[str]:
    script = f"import sys; {code}; print(','.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.strip().split(","))


def test_help_lists_every_command_without_importing_torch() -> None:
    modules = _imported_after(
        "from typer.testing import CliRunner; from spikesat.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output"
    )
    assert "torch" not in modules and "numpy" not in modules
    result = runner.invoke(app, ["--help"])
    for name in NAMES:
        assert name in result.output


def test_import_spikesat_is_lazy_and_curated() -> None:
    modules = _imported_after("import spikesat")
    assert "torch" not in modules
    import spikesat

    assert "models" in spikesat.__all__ and "models" in dir(spikesat)
    assert spikesat.models.create is not None
    with pytest.raises(AttributeError, match="its areas are"):
        spikesat.no_such_area  # noqa: B018


@pytest.mark.parametrize("name", NAMES)
def test_every_command_loads_and_its_help_keeps_units(name: str) -> None:
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    command = next(s for s in SpikesatGroup.lazy_commands if s.name == name).load()
    commands = [command, *getattr(command, "commands", {}).values()]
    for cmd in commands:
        for param in cmd.params:
            help_text = getattr(param, "help", None) or ""
            # rich would swallow "[s]" as markup; units are written "(s)".
            assert not re.search(r"\[[a-z /]+\]", help_text), (cmd.name, param.name, help_text)


def test_unknown_command_is_one_line() -> None:
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code != 0
    assert "No such command" in result.output
    assert "Traceback" not in result.output


def test_lazy_command_builds_a_click_command() -> None:
    spec = SpikesatGroup.lazy_commands[0]
    assert isinstance(spec.load(), click.Command)
    assert isinstance(app, typer.Typer)
