"""Command-line entry point. Thin: parse, call the library, print.

Exit codes: 0 ok, 1 failure, 2 bad input (one line saying what, where and how to fix it).
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.text import Text
from typer._click import Context
from typer.core import TyperArgument, TyperOption

from tipr_bench.cli.app import app
from tipr_bench.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, err_console
from tipr_bench.core.errors import UserError

# Each module registers its commands on `app`; this order is the order `--help` lists them: the pipeline's.
COMMAND_MODULES = ("data", "translate", "refine", "glossary", "release", "train", "evaluate", "demo")
for _module in COMMAND_MODULES:
    importlib.import_module(f"tipr_bench.cli.{_module}")


def command() -> typer.core.TyperGroup:
    """The command tree, its help reading like the README: a flag shows no value placeholder, a
    positional argument its name in capitals (or the metavar its command gives it)."""
    tree = typer.main.get_command(app)
    _tidy(tree)
    return tree


def _tidy(cmd) -> None:
    help_option = cmd.get_help_option(Context(cmd))  # made on first use; make it now to tidy it too
    for param in [*cmd.params, *([help_option] if help_option else [])]:
        if param.metavar is None and isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
        elif isinstance(param, TyperArgument):
            name = param.metavar = param.metavar or param.name.upper()
            param._usage_display_name = lambda name=name: name  # typer would write {NAME}
    for sub in getattr(cmd, "commands", {}).values():
        _tidy(sub)


def main() -> None:
    try:
        command()(prog_name="tipr-bench")
    except UserError as exc:
        _error(str(exc))
        sys.exit(EXIT_BAD_INPUT)
    except OSError as exc:  # a file or folder that cannot be read or written: say which, not a traceback
        if exc.filename is None:
            _error(f"{exc.strerror or exc}; check the disk and the network")
            sys.exit(EXIT_FAILURE)
        _error(f"cannot use {exc.filename}: {exc.strerror}; check the path and its permissions")
        sys.exit(EXIT_BAD_INPUT)


def _error(message: str) -> None:
    """One line on stderr. The message is plain text: brackets and colons in paths are not markup."""
    err_console.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
