"""The Typer app every command module registers on. Kept apart so modules import it, not each other."""

from typing import Annotated

import typer

from tipr_bench import __version__

app = typer.Typer(
    name="tipr-bench",
    help="Multilingual text-to-image person retrieval benchmarks: translate, refine, release, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"tipr-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Options of `tipr-bench` itself, before any command (the help text is the app's)."""
