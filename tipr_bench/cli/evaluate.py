"""CLI commands for evaluation: `evaluate` (a submission or the Bi-IRRA baseline) and `leaderboard`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tipr_bench.baselines import leaderboard as board
from tipr_bench.benchmark.store import Workspace
from tipr_bench.cli.app import app
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
from tipr_bench.core.languages import get_language

DIRECTION_CHOICES = {"t2i": ("t2i",), "i2t": ("i2t",), "both": ("t2i", "i2t")}


@app.command()
def evaluate(
    lang: LangOption,
    dataset: DatasetOption = None,
    split: SplitOption = None,
    embeddings: Annotated[Path | None, typer.Option(
        "--embeddings", "-e", help="Submission .npz: text_feats, text_keys, image_feats, image_paths.")] = None,
    similarity: Annotated[Path | None, typer.Option(
        "--similarity", help="Submission .npy: text-to-image similarity, rows = captions, columns = images.")] = None,
    query_keys: Annotated[Path | None, typer.Option(
        "--query-keys", help="With --similarity: the caption key of each row, one per line.")] = None,
    gallery_paths: Annotated[Path | None, typer.Option(
        "--gallery-paths", help="With --similarity: the image path of each column, one per line.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Method name on the leaderboard; `bi-irra` without a file runs the baseline.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="With --model bi-irra: the checkpoint (default: the workspace's latest).")] = None,
    train_lang: Annotated[str | None, typer.Option(
        "--train-lang", help="Language the submitted model was trained on (shown on the leaderboard).")] = None,
    direction: Annotated[str, typer.Option(
        "--direction", help="t2i (text-to-image, the published number), i2t, or both.")] = "t2i",
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda[:N].")] = "auto",
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    json_out: JsonOption = False,
) -> None:
    """Score a split (R@1, R@5, R@10, mAP, mINP in percent; --split defaults to test) and store the result.

    Example: tipr-bench evaluate --embeddings run1.npz --dataset cuhk-pedes --lang zh --split test --json
    Example: tipr-bench evaluate --model bi-irra --dataset cuhk-pedes --lang zh
    """
    lang = get_language(lang).code
    if train_lang is not None:
        train_lang = get_language(train_lang).code
    directions = DIRECTION_CHOICES.get(direction)
    if directions is None:
        raise UserError(f"--direction {direction!r}: use t2i, i2t or both")
    split = split or "test"
    sources = [name for name, given in (("--embeddings", embeddings), ("--similarity", similarity)) if given]
    if len(sources) > 1:
        raise UserError("give one submission: --embeddings FILE.npz or --similarity FILE.npy, not both")
    if similarity is not None and (query_keys is None or gallery_paths is None):
        raise UserError("--similarity needs --query-keys FILE.txt and --gallery-paths FILE.txt (one per line)")
    if not sources and model != "bi-irra":
        raise UserError("nothing to evaluate: pass --embeddings FILE.npz, --similarity FILE.npy "
                        "(with --query-keys and --gallery-paths), or --model bi-irra")
    if checkpoint is not None and (sources or model != "bi-irra"):
        raise UserError("--checkpoint goes with --model bi-irra (a submission file carries its own scores)")

    from tipr_bench.baselines import evaluator  # imports torch: only when a command needs it

    with Workspace.open(workspace, create=False) as ws:
        dataset = dataset or _only_dataset(ws)
        common = {"dataset": dataset, "split": split, "lang": lang}
        progress = not json_out
        if embeddings is not None:
            outcome = evaluator.evaluate_embeddings(
                ws, embeddings, model=model, train_lang=train_lang or "", directions=directions,
                device=device, progress=progress, **common)
        elif similarity is not None:
            outcome = evaluator.evaluate_similarity_file(
                ws, similarity, query_keys, gallery_paths, model=model, train_lang=train_lang or "",
                directions=directions, device=device, progress=progress, **common)
        else:
            outcome = evaluator.evaluate_bi_irra(
                ws, checkpoint=checkpoint, device=device, directions=directions, progress=progress, **common)

    if outcome.left_out:
        err_console.print(f"note: {outcome.left_out:,} {dataset}/{split} captions have no usable {lang} "
                          "translation (none yet, failed or empty) and are not among the queries", markup=False)
    counts = {"queries": outcome.n_queries, "gallery": outcome.n_gallery, "left_out": outcome.left_out,
              "selection": outcome.selection, "stored": outcome.stored}
    if json_out:
        print_json({**outcome.metrics, **counts})  # one shape: metrics by direction, for one direction or both
        return
    table = Table(title=f"{outcome.model} on {dataset}/{split}, queries in {lang}"
                        + (f", trained on {outcome.train_lang}" if outcome.train_lang else ""))
    table.add_column("direction")
    for metric in board.METRICS:
        table.add_column(board.METRIC_TITLES[metric], justify="right", overflow="fold")
    for name, values in outcome.metrics.items():
        table.add_row(name, *(f"{values[m]:.2f}" for m in board.METRICS))
    console.print(table)
    chosen = f"; epoch chosen on {outcome.selection}" if outcome.selection else ""
    kept = (f"stored in {workspace} (sha256 {outcome.checkpoint_sha256[:12]}); see `tipr-bench leaderboard`"
            if outcome.stored else f"not stored: {workspace} is read-only")
    console.print(f"{outcome.n_queries:,} captions x {outcome.n_gallery:,} images ({outcome.left_out:,} left out"
                  f"{chosen}); {kept}", markup=False)


@app.command("leaderboard")
def leaderboard_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, csv or json.")] = "md",
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a bar chart of R@1 to this .png or "
                                              ".svg file.")] = None,
    split: SplitOption = None,
    direction: Annotated[str | None, typer.Option("--direction", help="Only t2i or i2t results.")] = None,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
) -> None:
    """The latest result per method, training language, dataset and query language, one table per query
    language (R@1, R@5, R@10, mAP, mINP per dataset), as in the published tables.

    Example: tipr-bench leaderboard --format md --plot leaderboard.png
    """
    if fmt not in board.FORMATS:
        raise UserError(f"--format {fmt!r}: use {', '.join(board.FORMATS)}")
    if json_output:
        fmt = "json"
    if direction is not None and direction not in ("t2i", "i2t"):
        raise UserError(f"--direction {direction!r}: use t2i or i2t")
    if plot is not None:
        board.plot_format(plot)
    with Workspace.open(workspace, create=False) as ws:
        results = [r for r in ws.results()
                   if (split is None or r.split == split) and (direction is None or r.direction == direction)]
    if not results:
        raise UserError(f"no results in {workspace} yet: run `tipr-bench evaluate ...` first")
    rendered = board.render(results, fmt)
    if fmt == "json":
        print_json(rendered)
    else:
        typer.echo(rendered, nl=False)
    if plot is not None:
        panels = board.plot_r1(results, plot)
        err_console.print(f"plot: {panels} panel(s) -> {plot}")


def _only_dataset(ws: Workspace) -> str:
    slugs = [d.slug for d in ws.datasets()]
    if len(slugs) == 1:
        return slugs[0]
    raise UserError(f"--dataset is needed: the workspace {ws.root} holds "
                    f"{', '.join(slugs) if slugs else 'no dataset'}")
