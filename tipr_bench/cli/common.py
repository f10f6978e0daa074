"""Options and output helpers shared by the command modules, so names match across commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer._click.globals import get_current_context

from tipr_bench.benchmark.store import Workspace

# Exit codes, the same for every command (documented in the README).
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

console = Console()
err_console = Console(stderr=True)

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        envvar="TIPR_WORKSPACE",
        help="Workspace folder (one SQLite database: state and cache).",
        show_default=True,
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
