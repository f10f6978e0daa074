"""Command-line entry point. Thin: parse, call the library, print.

Exit codes: 0 ok, 1 failure, 2 bad input (one line saying what, where and how to fix it).
"""

from __future__ import annotations

import sys

from tipr_bench.benchmark.errors import UserError
from tipr_bench.cli import (  # noqa: F401  (each module registers its commands)
    data,
    demo,
    evaluate,
    glossary,
    refine,
    release,
    train,
    translate,
)
from tipr_bench.cli.app import app
from tipr_bench.cli.common import err_console

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def main() -> None:
    try:
        app()
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished work is saved; run the same command again to resume")
        sys.exit(130)
