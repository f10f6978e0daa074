"""The Typer app every command module registers on. Kept apart so modules import it, not each other."""

import typer

app = typer.Typer(
    name="tipr-bench",
    help="Multilingual text-to-image person retrieval benchmarks: translate, refine, release, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
