"""Options and output helpers shared by the command modules, so names match across commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer._click.globals import get_current_context

from tipr_bench.benchmark.store import DB_NAME, Workspace
from tipr_bench.core.errors import UserError

# Exit codes, the same for every command (documented in the README).
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

# Written to a pipe or a file, output is as wide as it needs to be (rich would cut it at 80 columns).
UNBOUNDED_WIDTH = 10_000


def _console(stderr: bool = False) -> Console:
    """Never wraps what a user copies (a sha256, a URL, a suggested command): long lines are left to the
    terminal to wrap, and to a pipe or file they go whole; tables take their natural width there, and fit
    a terminal's width, their figures folding (overflow="fold") rather than cut short."""
    terminal = Console(stderr=stderr).is_terminal
    return Console(stderr=stderr, soft_wrap=True, width=None if terminal else UNBOUNDED_WIDTH)


console = _console()
err_console = _console(stderr=True)


def _workspace_folder(path: Path) -> Path:
    """A workspace is a folder: a file in its place (or in its path) is named, not left to mkdir's errno."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"--workspace {path}: {existing} is a file, and a workspace is a folder (it holds "
                        f"{DB_NAME}); pass a folder path")
    return path


WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="TIPR_WORKSPACE",
        help="Workspace folder (one SQLite database: state and cache).",
        show_default=True,
        callback=_workspace_folder,
    ),
]
DEFAULT_WORKSPACE = Path("tipr-work")

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
LangOption = Annotated[str, typer.Option("--lang", "-l", help="Target language code (zh, fr, de, ja, ...).")]
DatasetOption = Annotated[
    str | None, typer.Option("--dataset", "-d", help="Dataset slug (cuhk-pedes, icfg-pedes, rstpreid, ufinebench).")
]
SplitOption = Annotated[str | None, typer.Option("--split", "-s", help="Split: train, val or test.")]


def print_json(obj: Any) -> None:
    """JSON on stdout, nothing else, so `--json` output pipes into jq."""
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def open_to_write(workspace: Path, create: bool = False) -> Workspace:
    """The workspace for a command that writes to it: a read-only one is refused now, in one line, and a
    second writing command on it is refused while this one runs (it names this one)."""
    return Workspace.open(workspace, create=create, writer=get_current_context().command_path)
