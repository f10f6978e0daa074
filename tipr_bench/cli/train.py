"""CLI command `train`: fit the Bi-IRRA baseline on a workspace dataset for one target language."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from tipr_bench.baselines.bi_irra.run_log import EpochLog, TrainResult  # no torch: cheap at start-up
from tipr_bench.benchmark.store import Workspace
from tipr_bench.cli.app import app
from tipr_bench.cli.common import (
    DEFAULT_WORKSPACE,
    DatasetOption,
    JsonOption,
    LangOption,
    WorkspaceOption,
    console,
    print_json,
)
from tipr_bench.core.errors import UserError


@app.command()
def train(
    lang: LangOption,
    model: Annotated[str, typer.Option("--model", "-m", help="Baseline to train (bi-irra).")] = "bi-irra",
    config: Annotated[str, typer.Option("--config", help="tiny (CPU, minutes) or base (the published size).")] = "tiny",
    init: Annotated[Path | None, typer.Option(
        "--init", help="Checkpoint file: CCLM-X2VLM, or the authors' Bi-IRRA (e.g. LUPerson-pretrained); "
                       "prints a load report.")] = None,
    xlmr: Annotated[Path | None, typer.Option(
        "--xlmr", help="Local Hugging Face XLM-R folder: text weights and tokenizer.")] = None,
    dataset: DatasetOption = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Epochs (default: the config's).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", help="Global batch, split over the processes (base: 128, the reference's 32 x 4).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Peak learning rate (default: the config's).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda[:N].")] = "auto",
    amp: Annotated[bool, typer.Option("--amp/--no-amp", help="bf16 autocast on CUDA.")] = True,
    accum: Annotated[int, typer.Option("--accum", help="Gradient accumulation steps.")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run's last.pt.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    comet: Annotated[bool, typer.Option("--comet", help="Log to comet-ml (offline without COMET_API_KEY).")] = False,
    threads: Annotated[int | None, typer.Option(
        "--threads", help="CPU threads for torch (1 is fastest on a busy shared machine).")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Data loader worker processes.")] = 0,
    test: Annotated[bool, typer.Option("--test/--no-test", help="Score the best checkpoint on the test split.")] = True,
    select_on: Annotated[str, typer.Option(
        "--select-on", help="Split that picks the best epoch: val, or test (the reference's protocol: by the ITM "
                            "re-ranked R@1, per language; optimistic).")] = "val",
    settings: Annotated[list[str] | None, typer.Option(
        "--set", help="Another config field, FIELD=VALUE (repeatable), e.g. augment=irra (docs/FIDELITY.md).")] = None,
    save_every: Annotated[int | None, typer.Option(
        "--save-every", help="Also write last.pt every N optimizer steps, so --resume continues mid-epoch.")] = None,
    max_steps: Annotated[int | None, typer.Option(
        "--max-steps", help="Stop after N optimizer steps (last.pt keeps the place; --resume continues).")] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    json_out: JsonOption = False,
) -> None:
    """Train Bi-IRRA (ITC + 4*A-ITM + MLM + 4*D-MIM) and print the best checkpoint's path last.

    Example: tipr-bench train --model bi-irra --lang zh --config tiny --epochs 12
    Example: torchrun --nproc-per-node 4 $(which tipr-bench) train --lang zh --config base --xlmr XLMR --init X.th
    """
    if model != "bi-irra":
        raise UserError(f"--model {model}: only bi-irra can be trained here")
    from tipr_bench.baselines.bi_irra.config import parse_settings
    from tipr_bench.baselines.bi_irra.train import TrainOptions
    from tipr_bench.baselines.bi_irra.train import train as run_training

    opts = TrainOptions(
        lang=lang, dataset=dataset, config=config, init=init, xlmr=xlmr, epochs=epochs, batch_size=batch_size, lr=lr,
        settings=parse_settings(settings or []), select_on=select_on, save_every=save_every, max_steps=max_steps,
        device=device, amp=amp, accum=accum, resume=resume, seed=seed, comet=comet, workers=workers,
        progress=not json_out, test=test, threads=threads,
    )
    with Workspace.open(workspace, create=False) as ws:
        result = run_training(ws, opts, on_epoch=None if json_out else _print_epoch)
    if json_out:
        print_json({
            "best": str(result.best), "last": str(result.last), "dataset": result.dataset,
            "val_split": result.val_split, "selection": result.selection, "seconds": result.seconds,
            "notes": result.notes,
            "epochs": [asdict(e) for e in result.epochs], "test": result.test,
        })
        return
    _print_result(result)


def _print_epoch(log: EpochLog) -> None:
    parts = " ".join(f"{k} {v:.3f}" for k, v in log.parts.items())
    console.print(
        f"epoch {log.epoch}: loss {log.loss:.3f} ({parts})  {log.measured_on} R@1 {log.val['R1']:.1f} "
        f"(chance {log.val['chance_R1']:.1f})  {log.seconds:.0f}s {log.images_per_s:.0f} img/s",
        soft_wrap=True,
    )


def _print_result(result: TrainResult) -> None:
    """The notes, the test scores per query language, and the best checkpoint's path last."""
    for note in result.notes:
        console.print(f"note: {note}", soft_wrap=True)
    for query_lang, m in result.test.items():
        console.print(
            f"test {query_lang} queries: R@1 {m['R1']:.1f} (ITC only {m['R1_itc']:.1f}, "
            f"chance {m['chance_R1']:.1f})  R@5 {m['R5']:.1f}  R@10 {m['R10']:.1f}  mAP {m['mAP']:.1f}  "
            f"[{m['queries']} queries, {m['gallery']} images, {m['left_out']} left out; "
            f"epoch chosen on {result.selection}]",
            soft_wrap=True,
        )
    console.print(f"trained in {result.seconds:.0f}s")
    typer.echo(str(result.best))
