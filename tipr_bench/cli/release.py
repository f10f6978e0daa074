"""CLI commands for releases: export, download, verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tipr_bench.benchmark.release import download_release, export_release, verify_release
from tipr_bench.benchmark.release.download import check_against_index
from tipr_bench.benchmark.release.export import parse_list
from tipr_bench.benchmark.release.fetch import IntegrityError
from tipr_bench.benchmark.store import Workspace
from tipr_bench.cli.app import app
from tipr_bench.cli.common import (
    DEFAULT_WORKSPACE,
    EXIT_FAILURE,
    DatasetOption,
    JsonOption,
    WorkspaceOption,
    console,
    err_console,
    print_json,
)
from tipr_bench.refine.rewrite import REWRITE_PROMPTS
from tipr_bench.translate.prompts import prompt_texts


@app.command()
def export(
    name: Annotated[str, typer.Option("--name", "-n", help="Release name, e.g. cuhk-pedes-m.")],
    version: Annotated[str, typer.Option("--version", "-V", help="Semantic version, e.g. 1.0.0; never reused.")],
    langs: Annotated[
        str | None, typer.Option("--langs", help="Comma-separated languages (default: every language present).")
    ] = None,
    formats: Annotated[
        str | None, typer.Option("--formats", help="Comma-separated: parquet,jsonl,irra,bi-irra "
                                 "(default parquet,irra,bi-irra; parquet is always needed).")
    ] = None,
    dataset: DatasetOption = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Releases folder; gets NAME/VERSION/ and index.json.")]
    = Path("releases"),
    include_flagged: Annotated[
        bool, typer.Option("--include-flagged", help="Also export translations QA flagged (failed ones never).")
    ] = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    json_out: JsonOption = False,
) -> None:
    """Write an immutable, checksummed release (captions only) with a dataset card, and update index.json.

    Example: tipr-bench export --name cuhk-pedes-m --version 1.0.0 --langs en,zh,fr,de --out releases
    """
    with Workspace.open(workspace, create=False) as ws:
        result = export_release(
            ws, name, version, out, langs=parse_list(langs, "--langs"), formats=parse_list(formats, "--formats"),
            dataset=dataset, include_flagged=include_flagged, prompt_texts=prompt_texts(REWRITE_PROMPTS),
            progress=not json_out,
        )
    if json_out:
        print_json(result.as_dict())
        return
    table = Table(title=f"{result.name}@{result.version} ({result.dataset})")
    splits = sorted({s for by in result.counts.values() for s in by})
    for column in ("language", *splits, "missing"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for lang, by in result.counts.items():
        table.add_row(lang, *(str(by.get(s, 0)) for s in splits), str(result.missing[lang]))
    console.print(table)
    console.print(f"{len(result.files)} files + MANIFEST.json -> {result.path}")
    console.print(f"manifest sha256 {result.manifest_sha256}; index {result.index}")


@app.command()
def download(
    spec: Annotated[str, typer.Argument(help="NAME[@VERSION], VERSION a semantic version or 'latest'.")],
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="index.json URL or path (http(s)://, file://, a folder, or a "
                                 "Hugging Face dataset repo URL); default $TIPR_BENCH_INDEX or ./releases.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Install folder (default ~/.cache/tipr-bench/releases).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Download a release, verify the manifest and every file's sha256, and install it atomically.

    Example: tipr-bench download cuhk-pedes-m@1.0.0 --index http://host/releases/index.json
    """
    try:
        result = download_release(spec, index, out, progress=not json_out)
    except IntegrityError as exc:
        err_console.print(f"[bold red]integrity check failed:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None
    if json_out:
        print_json(result.as_dict())
        return
    what = "already installed and intact" if result.already_present else "downloaded and verified"
    console.print(f"{result.name}@{result.version}: {what}, {result.files} files + MANIFEST.json, "
                  f"{result.bytes} bytes -> {result.path}")


@app.command()
def verify(
    root: Annotated[Path, typer.Argument(help="A release folder (holding MANIFEST.json).")],
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="Also check the manifest is the one this index publishes.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Re-check a release on disk against its MANIFEST.json (and the index); exit 1 listing every difference.

    Example: tipr-bench verify ~/.cache/tipr-bench/releases/cuhk-pedes-m/1.0.0 --index http://host/index.json
    """
    report = verify_release(root)
    if index is not None:
        check_against_index(report, index)
    if json_out:
        print_json(report.as_dict())
    elif report.ok:
        console.print(f"{report.name}@{report.version}: intact, {report.files_checked} files + MANIFEST.json, "
                      f"{report.bytes_checked} bytes (manifest sha256 {report.manifest_sha256})")
    else:
        err_console.print(f"[bold red]{report.name}@{report.version} at {root} is not intact:[/]", highlight=False)
        for problem in report.problems:
            err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(EXIT_FAILURE)
