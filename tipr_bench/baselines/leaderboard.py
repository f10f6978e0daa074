"""The leaderboard: the latest stored result per (model, training language, epoch selection, dataset,
query language, split, direction), laid out like the published tables: one table per query language
(and split and direction), a row per method, training language and epoch-selection protocol, R@1 R@5
R@10 mAP mINP per dataset. A result whose epoch was chosen on the test split (the reference's
protocol, optimistic) is its own row, marked "test", never mixed with one chosen on val.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tipr_bench.benchmark.store_results import EvalResult
from tipr_bench.core.atomic import write_bytes
from tipr_bench.core.errors import UserError
from tipr_bench.core.languages import LANGUAGES

METRICS = ("R1", "R5", "R10", "mAP", "mINP")
METRIC_TITLES = {"R1": "R@1", "R5": "R@5", "R10": "R@10", "mAP": "mAP", "mINP": "mINP"}
DATASET_TITLES = {
    "cuhk-pedes": "CUHK-PEDES", "icfg-pedes": "ICFG-PEDES", "rstpreid": "RSTPReid", "ufinebench": "UFineBench",
}
DIRECTION_TITLES = {"t2i": "text-to-image", "i2t": "image-to-text"}
SELECTION_TITLES = {"val": "val", "test": "test (optimistic)", "": "-"}
# Published tables list the datasets in this order; others follow alphabetically.
DATASET_ORDER = tuple(DATASET_TITLES)
FORMATS = ("md", "csv", "json")


@dataclass(frozen=True)
class Table:
    query_lang: str
    split: str
    direction: str
    datasets: list[str]
    rows: list[tuple[str, str, str, dict[str, dict]]]  # (model, train_lang, selection, dataset -> metrics)

    @property
    def title(self) -> str:
        lang = LANGUAGES[self.query_lang].name if self.query_lang in LANGUAGES else self.query_lang
        return (f"Queries in {lang} ({self.query_lang}), {self.split} split, "
                f"{DIRECTION_TITLES.get(self.direction, self.direction)}")


def latest(results: Iterable[EvalResult]) -> list[EvalResult]:
    """The newest result per (model, train_lang, selection, dataset, query_lang, split, direction);
    `results` come in storage order, so a later one replaces an earlier one."""
    newest: dict[tuple, EvalResult] = {}
    for r in results:
        key = (r.model, r.train_lang, r.selection, r.dataset, r.query_lang, r.split, r.direction)
        if key not in newest or r.created_at >= newest[key].created_at:
            newest[key] = r
    return sorted(newest.values(), key=lambda r: (*_table_order(r), r.model, r.train_lang, _dataset_order(r.dataset)))


def tables(results: Iterable[EvalResult]) -> list[Table]:
    grouped: dict[tuple[str, str, str], list[EvalResult]] = {}
    for r in latest(results):
        grouped.setdefault((r.query_lang, r.split, r.direction), []).append(r)
    out = []
    for (lang, split, direction), rows in grouped.items():
        datasets = sorted({r.dataset for r in rows}, key=_dataset_order)
        methods: dict[tuple[str, str, str], dict[str, dict]] = {}
        for r in rows:
            methods.setdefault((r.model, r.train_lang, r.selection), {})[r.dataset] = r.metrics
        out.append(Table(lang, split, direction, datasets,
                         [(model, train, chosen, cells) for (model, train, chosen), cells in methods.items()]))
    return out


def to_markdown(results: Iterable[EvalResult]) -> str:
    parts = []
    for table in tables(results):
        header = ["Method", "Train", "Epoch chosen on"] + [
            f"{dataset_title(d)} {METRIC_TITLES[m]}" for d in table.datasets for m in METRICS
        ]
        lines = [f"### {table.title}", "", _md_row(header), _md_row(["---"] * 3 + ["---:"] * (len(header) - 3))]
        for model, train, chosen, cells in table.rows:
            values = [_fmt(cells.get(d, {}).get(m)) for d in table.datasets for m in METRICS]
            lines.append(_md_row([model, train or "-", SELECTION_TITLES.get(chosen, chosen), *values]))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + ("\n" if parts else "")


def to_rows(results: Iterable[EvalResult]) -> list[dict]:
    """One flat record per latest result (the csv and json formats)."""
    return [
        {
            "query_lang": r.query_lang, "split": r.split, "direction": r.direction, "model": r.model,
            "train_lang": r.train_lang, "selection": r.selection, "dataset": r.dataset,
            **{m: r.metrics.get(m) for m in METRICS},
            "queries": r.n_queries, "gallery": r.n_gallery, "left_out": r.n_left_out,
            "checkpoint_sha256": r.checkpoint_sha256, "created_at": r.created_at,
        }
        for r in latest(results)
    ]


def to_csv(results: Iterable[EvalResult]) -> str:
    rows = to_rows(results)
    buffer = io.StringIO()
    fields = ["query_lang", "split", "direction", "model", "train_lang", "selection", "dataset", *METRICS,
              "queries", "gallery", "left_out", "checkpoint_sha256", "created_at"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def render(results: Iterable[EvalResult], fmt: str) -> str | list[dict]:
    if fmt == "md":
        return to_markdown(results)
    if fmt == "csv":
        return to_csv(results)
    if fmt == "json":
        return to_rows(results)
    raise UserError(f"unknown leaderboard format {fmt!r}: use {', '.join(FORMATS)}")


PLOT_FORMATS = {".png": "png", ".svg": "svg"}


def plot_format(path: str | Path) -> str:
    """The image format a --plot path asks for by its suffix (png or svg); anything else is refused, so
    an .svg never holds PNG bytes."""
    fmt = PLOT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UserError(f"--plot {path}: write a .png or .svg file (the suffix picks the format)")
    return fmt


def plot_r1(results: Iterable[EvalResult], path: str | Path) -> int:
    """A grouped bar chart of R@1 (one panel per table, a group per dataset, a bar per method, each method
    one colour in every panel), written atomically as PNG or SVG by the path's suffix. Returns the number
    of panels."""
    fmt = plot_format(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = tables(results)
    if not panels:
        raise UserError("no results to plot yet: run `tipr-bench evaluate ...` first")
    colours = method_colours(panels)
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 3.2 * len(panels)), squeeze=False)
    for ax, table in zip(axes[:, 0], panels, strict=True):
        n = len(table.rows)
        width = min(0.8 / max(n, 1), 0.3)
        for i, (model, train, chosen, cells) in enumerate(table.rows):
            xs = [j + width * (i - (n - 1) / 2) for j in range(len(table.datasets))]
            heights = [cells.get(d, {}).get("R1", 0.0) or 0.0 for d in table.datasets]
            label = f"{model} (trained on {train})" if train else model
            label += ", epoch chosen on test" if chosen == "test" else ""
            bars = ax.bar(xs, heights, width=width, label=label, color=colours[model, train, chosen])
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
        ax.set_xticks(range(len(table.datasets)), [dataset_title(d) for d in table.datasets])
        ax.set_ylabel("R@1 (%)")
        ax.set_ylim(0, 100)
        ax.set_title(table.title, fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120)
    plt.close(fig)
    try:
        write_bytes(path, buffer.getvalue())
    except OSError as exc:
        raise UserError(f"cannot write the plot to {path} ({exc.strerror or exc}); pick a writable path") from None
    return len(panels)


def method_colours(panels) -> dict[tuple, str]:
    """One colour per (method, training language, epoch protocol) across all panels, in order of first
    appearance; matplotlib's default cycle would restart in each panel and recolour a method."""
    seen: dict[tuple, str] = {}
    for table in panels:
        for model, train, chosen, _ in table.rows:
            seen.setdefault((model, train, chosen), f"C{len(seen) % 10}")
    return seen


def dataset_title(slug: str) -> str:
    return DATASET_TITLES.get(slug, slug)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _dataset_order(slug: str) -> tuple[int, str]:
    return (DATASET_ORDER.index(slug), slug) if slug in DATASET_ORDER else (len(DATASET_ORDER), slug)


def _table_order(r: EvalResult) -> tuple:
    return (r.query_lang != "en", r.query_lang, r.split != "test", r.split, r.direction != "t2i", r.direction)


def to_frame(results: Iterable[EvalResult]):
    """The records of `to_rows` as a pandas DataFrame, with the csv format's columns even when empty."""
    import pandas as pd

    return pd.DataFrame(to_rows(results), columns=to_csv([]).strip().split(","))
