"""CLI commands for evaluation: `evaluate` (a submission or the Bi-IRRA baseline) and `leaderboard`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tipr_bench.baselines import leaderboard as board
from tipr_bench.baselines.eval_request import EvalRequest
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

if TYPE_CHECKING:  # evaluator imports torch: loaded only when a command needs it
    from tipr_bench.baselines.evaluator import Outcome


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
    from tipr_bench.baselines import evaluator  # imports torch: only once the request is checked

    request = EvalRequest(
        lang=lang, dataset=dataset, split=split, embeddings=embeddings, similarity=similarity, query_keys=query_keys,
        gallery_paths=gallery_paths, model=model, checkpoint=checkpoint, train_lang=train_lang, direction=direction,
        device=device, progress=not json_out)
    with Workspace.open(workspace, create=False) as ws:
        outcome = evaluator.evaluate(ws, request)
    if outcome.left_out:
        err_console.print(f"note: {outcome.left_out:,} {outcome.dataset}/{outcome.split} captions have no usable "
                          f"{outcome.query_lang} translation (none yet, failed or empty) and are not among the "
                          "queries", markup=False)
    counts = {"queries": outcome.n_queries, "gallery": outcome.n_gallery, "left_out": outcome.left_out,
              "selection": outcome.selection, "stored": outcome.stored}
    if json_out:
        print_json({**outcome.metrics, **counts})  # one shape: metrics by direction, for one direction or both
        return
    _print_outcome(outcome, workspace)


def _print_outcome(outcome: Outcome, workspace: Path) -> None:
    """The metrics table, then the counts and where the result was stored."""
    table = Table(title=f"{outcome.model} on {outcome.dataset}/{outcome.split}, queries in {outcome.query_lang}"
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
