"""`tipr-bench glossary`: how well a domain glossary covers a user's captions (check), what it contains
(show), and a first glossary for any other language, drafted by a model for review (build)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tipr_bench.benchmark.store import Workspace
from tipr_bench.cli.app import app
from tipr_bench.cli.backend_options import with_backend_options
from tipr_bench.cli.common import (
    DEFAULT_WORKSPACE,
    DatasetOption,
    JsonOption,
    LangOption,
    SplitOption,
    WorkspaceOption,
    console,
    err_console,
    print_json,
)
from tipr_bench.core.errors import UserError
from tipr_bench.core.progress import make_progress
from tipr_bench.refine import (
    build_glossary,
    check_out_path,
    estimate_build,
    load_glossary,
    read_texts_jsonl,
    target_language,
    write_built_glossary,
)
from tipr_bench.translate import BackendOptions, backend_identity, build_backend, completion_style, is_base_model

glossary_app = typer.Typer(
    help="Domain glossaries: coverage on your captions (check), their entries (show), a draft for any "
    "other language (build).",
    no_args_is_help=True,
)
app.add_typer(glossary_app, name="glossary")

GlossaryFileOption = Annotated[
    Path | None,
    typer.Option("--glossary", "-g", help="Your glossary TSV (en, target, wrong, category, note); merged over "
                 "the shipped one, your entries win."),
]


PROGRESS_FROM = 20_000  # captions; below this the scan takes well under a second


def _with_progress(texts: list[str]) -> Iterable[str]:
    """Matching a full dataset (CUHK-PEDES has 80k captions) takes seconds: show rate and ETA on stderr."""
    if len(texts) < PROGRESS_FROM or not err_console.is_terminal:
        return texts

    def advance() -> Iterator[str]:
        with make_progress(unit="captions") as bar:
            task = bar.add_task("matching terms", total=len(texts))
            for i, text in enumerate(texts, start=1):
                yield text
                if i % 1000 == 0 or i == len(texts):
                    bar.update(task, completed=i)

    return advance()


def _workspace_texts(workspace: Path, dataset: str | None, split: str | None) -> list[str]:
    with Workspace.open(workspace, create=False) as ws:
        if dataset is not None and ws.dataset(dataset) is None:
            known = ", ".join(d.slug for d in ws.datasets()) or "none yet"
            raise UserError(f"dataset {dataset!r} is not in workspace {workspace} (ingested: {known})")
        return [c.text for c in ws.captions(dataset=dataset, split=split, lang="en")]


@glossary_app.command("check")
def check(
    lang: LangOption,
    input_file: Annotated[Path | None, typer.Option("--input", "-i", help="JSONL file, one {\"text\": ...} "
                                                    "per line.")] = None,
    dataset: DatasetOption = None,
    split: SplitOption = None,
    glossary: GlossaryFileOption = None,
    top: Annotated[int, typer.Option(help="How many uncovered words to list.")] = 30,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Coverage of the --lang glossary on English captions: the share with at least one term, and the
    commonest domain words no entry covers (add them to your --glossary file).

    Example: tipr-bench glossary check --lang zh --input captions.jsonl --json
    """
    if input_file is not None and (dataset or split):
        raise UserError("give either --input FILE.jsonl or --dataset/--split (a workspace split), not both")
    if top < 0:
        raise UserError(f"--top must be 0 or more, got {top}")
    gloss = load_glossary(lang, glossary)
    texts = read_texts_jsonl(input_file) if input_file is not None else _workspace_texts(workspace, dataset, split)
    if not texts:
        where = input_file if input_file is not None else f"workspace {workspace}"
        raise UserError(f"no captions found in {where}; ingest a dataset or pass a non-empty --input file")
    report = gloss.coverage(_with_progress(texts), top=top)
    if json_output:
        print_json(report.to_json())
        return
    console.print(
        f"glossary {gloss.lang} version {gloss.version} ({len(gloss)} terms): {report.with_term}/{report.captions} "
        f"captions have at least one term, coverage [bold]{report.coverage:.1%}[/]"
    )
    if report.uncovered:
        console.print("most frequent words no entry covers (candidates for your --glossary file):")
        table = Table()
        table.add_column("word")
        table.add_column("uses", justify="right", overflow="fold")
        for word, count in report.uncovered:
            table.add_row(word, str(count))
        console.print(table)


@glossary_app.command("show")
def show(
    lang: LangOption,
    category: Annotated[str | None, typer.Option("--category", "-c", help="Only this category "
                                                 "(colour, garment, footwear, ...).")] = None,
    glossary: GlossaryFileOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the glossary's entries: English term and aliases, approved and wrong target terms.

    Example: tipr-bench glossary show --lang fr --category colour
    """
    gloss = load_glossary(lang, glossary)
    entries = list(gloss.entries)
    if category is not None:
        entries = [e for e in entries if e.category == category.lower()]
        if not entries:
            raise UserError(f"no entries in category {category!r}; categories: {', '.join(gloss.categories())}")
    if json_output:
        print_json(
            {
                "lang": gloss.lang,
                "version": gloss.version,
                "entries": [
                    {
                        "term": e.term,
                        "aliases": list(e.aliases[1:]),
                        "targets": list(e.targets),
                        "wrong": list(e.wrong),
                        "category": e.category,
                        "note": e.note,
                        "source": e.source,
                    }
                    for e in entries
                ],
            }
        )
        return
    table = Table(title=f"glossary {gloss.lang} version {gloss.version}: {len(entries)} entries", title_justify="left")
    for name in ("term", "also", "approved", "wrong", "category"):
        table.add_column(name)
    for e in entries:
        table.add_row(e.term, ", ".join(e.aliases[1:]), " | ".join(e.targets), " | ".join(e.wrong), e.category)
    console.print(table)


@glossary_app.command("build")
@with_backend_options
def build(
    lang: LangOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the drafted glossary TSV (must not "
                                      "exist).")],
    input_file: Annotated[Path | None, typer.Option("--input", "-i", help="JSONL of English captions to take the "
                                                    "examples from (default: the workspace's).")] = None,
    dataset: DatasetOption = None,
    split: SplitOption = None,
    dry_run_: Annotated[bool, typer.Option("--dry-run", help="Count tokens and cost; send nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Ask the model again instead of answering from the "
                                        "cache.")] = False,
    price_in: Annotated[float, typer.Option(help="Price per 1M input tokens.")] = 0.0,
    price_out: Annotated[float, typer.Option(help="Price per 1M output tokens.")] = 0.0,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    backend_options: BackendOptions = None,
) -> None:
    """Draft a glossary for --lang: the model renders each English term (with its category and two of your
    captions as context), each rendering is back-translated, and the TSV's `check` column says what came
    back. Review it, then use it with --glossary FILE. Cached and resumable like translate.

    Example: tipr-bench glossary build --lang it --out it.tsv --base-url http://localhost:8000/v1 --model qwen2.5-7b
    """
    if input_file is not None and (dataset or split):
        raise UserError("give either --input FILE.jsonl or --dataset/--split (a workspace split), not both")
    for option, value in (("--price-in", price_in), ("--price-out", price_out)):
        if value < 0:
            raise UserError(f"{option} must be zero or more, got {value}")
    code = target_language(lang)
    path = None if dry_run_ else check_out_path(out)
    texts = read_texts_jsonl(input_file) if input_file is not None else _workspace_texts(workspace, dataset, split)
    base_model = is_base_model(backend_options)
    with Workspace.open(workspace, create=True) as ws:
        if dry_run_:
            name, model = backend_identity(backend_options)
            est, cached = estimate_build(ws, code, name, model, texts, base_model=base_model,
                                         params=backend_options.decoding, force=force, price_in=price_in,
                                         price_out=price_out)
            summary = {"lang": code, "dry_run": True, "cached": cached, "requests": est.requests,
                       "tokens_in": est.tokens_in, "tokens_out": est.tokens_out, "cost": round(est.cost, 6),
                       "estimator": est.estimator}
        else:
            engine = build_backend(backend_options)
            result = build_glossary(ws, code, engine, texts, base_model=completion_style(engine),
                                    params=backend_options.decoding, force=force, price_in=price_in,
                                    price_out=price_out, progress=not json_output)
            write_built_glossary(path, result, engine.name, engine.model)
            summary = {**result.summary(), "out": str(path)}
    if json_output:
        print_json(summary)
        return
    if dry_run_:
        console.print(f"dry run (nothing sent): {summary['requests']:,} requests for {code} "
                      f"({summary['cached']} terms cached) · tokens in {summary['tokens_in']:,} · out "
                      f"{summary['tokens_out']:,} · cost ${summary['cost']:,.4f} ({summary['estimator']})",
                      highlight=False)
        return
    console.print(f"glossary for {code}: {summary['terms']} terms → {path}; back-check: {summary['same']} same, "
                  f"{summary['synonym']} synonym, {summary['other']} other term, {summary['none']} no term, "
                  f"{summary['failed']} failed · requests {summary['requests']:,} ({summary['cached']} cached) · "
                  f"cost ${summary['cost']:,.4f}", highlight=False)
    console.print(f"review it (the `check` column), then: tipr-bench refine --lang {code} --glossary {path}",
                  highlight=False)
