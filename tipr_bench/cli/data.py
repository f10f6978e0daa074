"""CLI commands for data: the bundled sample, ingest, and workspace status."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tipr_bench.benchmark.ingest import prepare_ingest, write_ingest
from tipr_bench.benchmark.manifest import ReleaseNotIntact
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
    open_to_write,
    print_json,
)


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the sample into (CUHK-PEDES layout).")],
    persons: Annotated[int, typer.Option(help="Number of synthetic persons.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same bytes.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Write a deterministic synthetic TIPR dataset (reid_raw.json + imgs/).

    Example: tipr-bench sample --out sample --persons 200
    """
    from tipr_bench.sample import generate_sample

    summary = generate_sample(out, persons=persons, seed=seed, progress=not json_out)
    if json_out:
        print_json(asdict(summary))
        return
    console.print(
        f"sample: {summary.persons} persons, {summary.images} images, {summary.captions} captions -> {out}"
    )


@app.command()
def ingest(
    root: Annotated[Path, typer.Option("--root", "-r", help="Dataset folder holding its annotation file.")],
    dataset: DatasetOption = None,
    images: Annotated[
        Path | None, typer.Option("--images", help="Image folder, if not ROOT/imgs (e.g. for a downloaded release).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail if any image is missing, also for a release or a "
                                         "Hub download (text only: read without images otherwise).")] = False,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Read a release without checking it against "
                                            "its MANIFEST.json (a damaged release can lose captions).")] = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    json_out: JsonOption = False,
) -> None:
    """Read a dataset's annotations into the workspace. Ingesting the same data again changes nothing.

    A tipr-bench release is verified against its MANIFEST.json first and refused if damaged.
    Bad input writes nothing, not even an empty workspace.

    Example: tipr-bench ingest --dataset cuhk-pedes --root /data/CUHK-PEDES --workspace tipr-work
    """
    try:
        prepared = prepare_ingest(root, dataset, image_root=images, strict=strict, verify=not no_verify)
    except ReleaseNotIntact as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        for problem in exc.report.problems:
            err_console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None
    if prepared.unverified_release:
        err_console.print(f"warning: --no-verify: the release at {root} was NOT checked against its MANIFEST.json; "
                          f"check it with `tipr-bench verify {root}`", markup=False, highlight=False, soft_wrap=True)
    with open_to_write(workspace, create=True) as ws:
        report = write_ingest(ws, prepared)
    if json_out:
        print_json(asdict(report))
        return
    table = Table(title=f"{report.dataset} ({report.annotation})")
    for column in ("split", "images", "captions", "person ids", "missing images"):
        table.add_column(column, justify="left" if column == "split" else "right", overflow="fold")
    for s in report.splits:
        table.add_row(s.split, str(s.images), str(s.captions), str(s.persons), str(s.missing_images))
    console.print(table)
    c = report.captions
    console.print(
        f"captions: {c.added} added, {c.updated} updated, {c.unchanged} unchanged; "
        f"translations from source files: {report.translations_added} added -> {workspace}"
    )
    if report.first_missing:
        missing, images = sum(s.missing_images for s in report.splits), sum(s.images for s in report.splits)
        console.print(f"text only: {missing} of {images} images are not below {report.image_root}; translate and "
                      "refine need none, train and evaluate do: ingest again with --images DIR", markup=False,
                      highlight=False, soft_wrap=True)


@app.command()
def status(workspace: WorkspaceOption = DEFAULT_WORKSPACE, json_out: JsonOption = False) -> None:
    """What the workspace holds: datasets, splits, languages, translation progress, results.

    Example: tipr-bench status --workspace tipr-work
    """
    with Workspace.open(workspace, create=False) as ws:
        rows = ws.summary()
        results = len(ws.results())
    if json_out:
        print_json({"workspace": str(workspace), "splits": rows, "results": results})
        return
    langs = sorted({lang for r in rows for lang in r["languages"]})
    table = Table(title=f"workspace {workspace}")
    for column in ("dataset", "split", "images", "captions", "persons", *langs):
        table.add_column(column, justify="left" if column in ("dataset", "split") else "right",
                         overflow="fold")
    for r in rows:
        cells = []
        for lang in langs:
            s = r["languages"].get(lang, {"ok": 0, "flagged": 0, "failed": 0})
            done = s["ok"] + s["flagged"] + s["failed"]
            cells.append(f"{done}/{r['captions']}" + (f" ({s['flagged']} flagged)" if s["flagged"] else ""))
        table.add_row(r["dataset"], r["split"], str(r["images"]), str(r["captions"]), str(r["persons"]), *cells)
    console.print(table)
    console.print(f"evaluation results: {results}")
