"""CLI commands for releases: export, download (an index or the Hub), verify, publish (to the Hub)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tipr_bench.benchmark.adapters import DATASETS
from tipr_bench.benchmark.hub_source import HUB_SOURCE_NAME
from tipr_bench.benchmark.ingest import prepare_ingest, write_ingest
from tipr_bench.benchmark.manifest import IntegrityError, NoManifest
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
from tipr_bench.core.errors import UserError
from tipr_bench.refine import REWRITE_PROMPTS
from tipr_bench.release import download_release, export_release, verify_release
from tipr_bench.release.export import parse_list
from tipr_bench.release.hub import HubUnreachable, is_hub_spec
from tipr_bench.release.hub_download import dataset_folder, download_from_hub
from tipr_bench.release.index_download import check_against_index
from tipr_bench.translate import prompt_texts


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
        table.add_column(column, justify="left" if column == "language" else "right", overflow="fold")
    for lang, by in result.counts.items():
        table.add_row(lang, *(str(by.get(s, 0)) for s in splits), str(result.missing[lang]))
    console.print(table)
    for lang, by in result.bi_irra_left_out.items():
        total = sum(result.counts["en"].values())
        if sum(by.values()):
            console.print(f"bi-irra en-{lang}: {sum(by.values())} of {total} English captions left out (no {lang} "
                          f"translation: {', '.join(f'{s} {n}' for s, n in by.items())})", highlight=False)
    console.print(f"{len(result.files)} files + MANIFEST.json -> {result.path}")
    console.print(f"manifest sha256 {result.manifest_sha256}; index {result.index}")


@app.command()
def download(
    spec: Annotated[str, typer.Argument(metavar="NAME[@VERSION]", help="NAME\\[@VERSION] (a semantic version or "
                                        "'latest') from an index, or hf://datasets/OWNER/NAME\\[@REVISION] from the "
                                        "Hugging Face Hub.")],
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="index.json URL or path (http(s)://, file://, a folder, or a "
                                 "Hugging Face dataset repo URL); default $TIPR_BENCH_INDEX or ./releases.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Install folder (default ~/.cache/tipr-bench/releases, or "
                                  "~/.cache/tipr-bench/hub/OWNER/NAME/COMMIT for hf://).")
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="hf:// only: download just the files matching this glob "
                                       "(repeatable), e.g. 'CUHK-PEDES/*'.")
    ] = None,
    ingest: Annotated[
        bool, typer.Option("--ingest", help="Then ingest the downloaded dataset into the workspace (--dataset names "
                           "it where the files do not, as the published multilingual files do not).")
    ] = False,
    dataset: DatasetOption = None,
    images: Annotated[
        Path | None, typer.Option("--images", help="With --ingest: your copy of the dataset's images.")
    ] = None,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    json_out: JsonOption = False,
) -> None:
    """Download a release (verified against its manifest) or a Hub dataset repo (verified against the Hub's
    checksums), and install it atomically; --ingest also reads it into the workspace.

    Example: tipr-bench download cuhk-pedes-m@1.0.0 --index http://host/releases/index.json
    Example: tipr-bench download hf://datasets/zzhugging/Bi-IRRA --include 'CUHK-PEDES/*' --ingest -d cuhk-pedes
    """
    hub = is_hub_spec(spec)
    check_download_options(spec, hub, index, include, ingest, dataset, images)
    with _failures_exit_1():
        if hub:
            result = download_from_hub(spec, out, include=include, progress=not json_out)
            root = dataset_folder(result, dataset) if ingest else None
        else:
            result = download_release(spec, index, out, progress=not json_out)
            root = result.path
    report = None
    if ingest:
        prepared = prepare_ingest(root, dataset, image_root=images)  # checked before a workspace exists
        with open_to_write(workspace, create=True) as ws:
            report = write_ingest(ws, prepared)
    if json_out:
        print_json({**result.as_dict(), **({"ingest": asdict(report)} if report else {})})
        return
    if hub:
        _print_hub_download(result, ingested=report is not None)
    else:
        what = "already installed and intact" if result.already_present else "downloaded and verified"
        console.print(f"{result.name}@{result.version}: {what}, {result.files} files + MANIFEST.json, "
                      f"{result.bytes} bytes -> {result.path}")
    if report:
        c = report.captions
        console.print(f"ingested {report.dataset} from {root}: captions {c.added} added, {c.updated} updated, "
                      f"{c.unchanged} unchanged; {report.translations_added} source translations -> {workspace}")


@contextmanager
def _failures_exit_1() -> Iterator[None]:
    """What is not the input's fault (a file that fails its checksum, a Hub that cannot be reached): one
    plain-text line, exit 1."""
    try:
        yield
    except IntegrityError as exc:
        err_console.print(Text.assemble(("integrity check failed: ", "bold red"), str(exc)), highlight=False,
                          soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None
    except HubUnreachable as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None


def check_download_options(spec: str, hub: bool, index: str | None, include: list[str] | None, ingest: bool,
                           dataset: str | None, images: Path | None) -> None:
    """Every option mistake is reported before anything is fetched."""
    if hub and index is not None:
        raise UserError(f"--index goes with a release NAME[@VERSION], not {spec}: a hf:// spec names the repo itself")
    if include and not hub:
        raise UserError("--include goes with hf://datasets/OWNER/NAME: a release is downloaded whole")
    if dataset is not None and dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r} in --dataset: use one of {', '.join(DATASETS)}")
    if dataset is not None and not ingest:
        raise UserError("--dataset goes with --ingest (it names the dataset to ingest)")
    if images is not None and not ingest:
        raise UserError("--images goes with --ingest (it names your copy of the dataset's images)")


def _print_hub_download(result, ingested: bool) -> None:
    state = "already there and intact" if result.already_present else "downloaded"
    checked = f"{result.verified} checked against the Hub's checksums"
    if result.from_cache:
        state = f"{'already there and intact' if result.already_present else 'copied'}, from the Hub cache (the " \
                "Hub was not reached)"
        checked = f"{result.verified} checked against the checksums the Hub listed when the cache was filled"
    console.print(f"hf://datasets/{result.repo_id}@{result.revision or 'main'} = commit {result.commit}: {state}, "
                  f"{result.files} files, {result.bytes} bytes, {checked} -> {result.path}", highlight=False,
                  soft_wrap=True)
    table = Table(title="datasets found")
    for column in ("folder", "format", "dataset", "splits", "languages"):
        table.add_column(column)
    for f in result.found:
        table.add_row(f.folder or ".", f.format, f.dataset or "(not named)", ",".join(f.splits) or "-",
                      ",".join(f.languages) or "-")
    console.print(table)
    console.print(f"commit recorded in {result.path / HUB_SOURCE_NAME}" + ("" if ingested else
                  f"; ingest with `tipr-bench ingest --root {result.path}/FOLDER --dataset NAME`"))


@app.command()
def verify(
    root: Annotated[Path, typer.Argument(metavar="RELEASE_DIR", help="A release folder (holding MANIFEST.json).")],
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="Also check the manifest is the one this index publishes.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Re-check a release on disk against its MANIFEST.json (and the index); exit 1 listing every difference.

    Example: tipr-bench verify ~/.cache/tipr-bench/releases/cuhk-pedes-m/1.0.0 --index http://host/index.json
    """
    try:
        report = verify_release(root)
    except NoManifest as exc:
        err_console.print(Text.assemble(("not intact: ", "bold red"), str(exc)), highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILURE) from None
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


@app.command()
def publish(
    release_dir: Annotated[Path, typer.Argument(help="A release folder (NAME/VERSION, holding MANIFEST.json).")],
    repo: Annotated[str, typer.Option("--repo", help="Hub dataset repo OWNER/NAME; created if it does not exist.")],
    revision: Annotated[
        str | None, typer.Option("--revision", help="Branch to commit to (default main; created from main if new).")
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repo private (an existing repo keeps its "
                                          "visibility).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Publish a version that is already published again.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Publish a verified release to the Hugging Face Hub as one commit, tagged vVERSION. The token comes from
    HF_TOKEN or `hf auth login` and is never written anywhere.

    Example: tipr-bench publish releases/cuhk-pedes-m/1.0.0 --repo my-lab/cuhk-pedes-m
    """
    from tipr_bench.release.hub_publish import publish_release

    with _failures_exit_1():
        result = publish_release(release_dir, repo, revision=revision, private=private, force=force)
    if json_out:
        print_json(result.as_dict())
        return
    removed = f", {len(result.deleted)} files of an earlier version removed" if result.deleted else ""
    console.print(f"published {release_dir} to {result.repo_id}@{result.branch}: commit {result.commit}, tag "
                  f"{result.tag}, {result.files} files, {result.bytes} bytes{removed}")
    console.print(f"{result.commit_url}\nload it: datasets.load_dataset({result.repo_id!r}, LANG)  "
                  f"or  tipr-bench download hf://datasets/{result.repo_id}@{result.tag}")
