"""CLI command for the offline demo: the whole pipeline on the bundled sample."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from tipr_bench.cli.app import app
from tipr_bench.cli.common import JsonOption, LangOption, console, print_json


@app.command()
def demo(
    work: Annotated[Path, typer.Option("--work", help="Folder for the sample, workspace, release and "
                                       "report (the workspace is WORK/workspace).")] = Path("demo-work"),
    persons: Annotated[int, typer.Option(help="Synthetic persons in the sample.")] = 100,
    refine_split: Annotated[
        str, typer.Option(help="Split to refine (the one people review), or 'all'.")
    ] = "test",
    lang: LangOption = "zh",
    backend: Annotated[
        str, typer.Option(help="transformers (offline Gemma-3-270M), openai (any compatible server) or vllm.")
    ] = "transformers",
    model: Annotated[str | None, typer.Option(help="Model name or local path for the backend.")] = None,
    base_urls: Annotated[
        list[str] | None, typer.Option("--base-url", help="OpenAI-compatible server URL (repeatable).")
    ] = None,
    api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key.")] = "OPENAI_API_KEY",
    epochs: Annotated[int, typer.Option(help="Bi-IRRA training epochs.")] = 15,
    json_output: JsonOption = False,
) -> None:
    """Run the whole pipeline offline on the bundled sample: sample, ingest, translate, refine,
    export, download, train, evaluate, leaderboard. A second run reuses everything finished.

    Example: tipr-bench demo --work demo-work
    """
    from tipr_bench.demo import DemoOptions, plan_demo, run_demo
    from tipr_bench.translate import BackendOptions

    opts = DemoOptions(work=work, persons=persons, refine_split=None if refine_split == "all" else refine_split,
                       lang=lang, epochs=epochs, progress=not json_output,
                       backend=BackendOptions(backend=backend, model=model, base_urls=tuple(base_urls or ()),
                                              api_key_env=api_key_env))
    if json_output:
        result = run_demo(opts)
        print_json({"stages": [asdict(s) for s in result.stages], "leaderboard": result.leaderboard,
                    "report": result.report, "chance_r1": result.chance_r1,
                    "minutes": round(result.seconds / 60, 2)})
        return

    plan = plan_demo(opts)
    labels = {"train": "train (beside refine)"}
    stages = ", ".join(labels.get(name, name) if seconds is None or seconds < 30 else f"{name} ~{seconds / 60:.0f} min"
                       for name, seconds in plan.stages.items())
    server = "" if all(s is not None for s in plan.stages.values()) else " plus the server's time"
    console.print(f"[bold]plan[/]: {stages}: about {max(1, round(plan.minutes))} minutes on this machine{server} "
                  f"(a matmul probe runs at {plan.gflops:.1f} GFLOP/s now)"
                  + ("; a previous run's work is reused, so less" if plan.reused else "")
                  + ("; translate includes converting the bundled translator, once per machine" if plan.converts
                     else ""), highlight=False)

    def show(stage) -> None:
        console.print(f"[bold green]✓ {stage.name:<9}[/] {stage.summary} [dim]({stage.seconds:.0f} s)[/]",
                      highlight=False)
        console.print(f"  [dim]→ {stage.output}[/]", highlight=False, soft_wrap=True)

    result = run_demo(opts, on_stage=show)
    console.print()
    typer.echo(result.leaderboard, nl=False)  # the Markdown as `leaderboard` prints it: whole, ready to paste
    console.print(f"\nQA report: {result.report}")
    console.print(f"demo finished in {result.seconds / 60:.1f} min; run it again to see the cache at work")
