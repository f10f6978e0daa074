"""The QA report a reviewer reads: one Markdown and one HTML page per language and split.

Built from what the workspace stores (latest QA round per caption, current translations), so it
always matches the data and can be rebuilt. Histograms are PNGs drawn with matplotlib's Agg canvas
(no display, no global pyplot state); every file is written atomically.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tipr_bench.benchmark.records import QARecord, ReasonKind
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.atomic import write_bytes, write_text
from tipr_bench.refine.verdict import VERDICTS

SEVERITY = {"failed": 0, "flagged": 1, "noisy": 2, "ok": 3, "reviewed": 4}
WORST = 20


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    source: str
    translation: str
    provenance: str
    round: int
    qa: QARecord | None

    @property
    def problems(self) -> str:
        """The reasons behind the verdict, soft misses left out (the report lists those apart)."""
        if self.qa is None:
            return ""
        return "; ".join(str(r) for r in self.qa.reasons if r.kind is not ReasonKind.SOFT_MISS)


def _rows(ws: Workspace, lang: str, dataset: str | None, split: str) -> list[Row]:
    translations = ws.translations(lang, dataset, split)
    qa = ws.qa(lang, dataset, split)
    return [Row(c.key, c.text, t.text, t.provenance, t.round, qa.get(c.key))
            for c in ws.captions(dataset, split, "en") if (t := translations.get(c.key)) is not None]


def _histogram(values: Sequence[float], title: str, xlabel: str, line: float | None = None,
               line_label: str = "theta") -> bytes:
    fig = Figure(figsize=(5, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.hist(values, bins=30, color="#4878a8")
    if line is not None:
        ax.axvline(line, color="#c0392b", linestyle="--", label=f"{line_label} = {line:g}")
        ax.legend()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("captions")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def write_report(
    ws: Workspace,
    lang: str,
    out_dir: Path,
    *,
    dataset: str | None = None,
    splits: Sequence[str] | None = None,
    run_info: dict | None = None,
    term_targets: dict[str, str] | None = None,
) -> list[Path]:
    """Write the pages (and their histograms) for each split; returns the page paths."""
    out_dir = Path(out_dir)
    run_info = run_info or {}
    term_targets = term_targets or {}
    if splits is None:
        splits = sorted({s for _, s in ws.splits(dataset)})
    theta = run_info.get("qe_threshold")
    written: list[Path] = []
    for split in splits:
        rows = _rows(ws, lang, dataset, split)
        if not rows:
            continue
        stem = "-".join(p for p in ("refine", dataset, lang, split) if p)
        scored = [r for r in rows if r.qa is not None and r.qa.verdict != "reviewed"]
        chrf = [r.qa.chrf for r in scored if r.qa.chrf is not None]
        qe = [r.qa.qe for r in scored if r.qa.qe is not None]
        images: dict[str, str] = {}
        for name, values, title, xlabel, line, label in (
            ("chrf", chrf, "back-translation chrF", "chrF", run_info.get("chrF minimum"), "--chrf-min"),
            ("qe", qe, f"QE score ({run_info.get('qe', 'qe')})", "score", None, ""),
            ("noise", [round(1 - v, 6) for v in qe], "QE noise = 1 - score", "noise", theta, "theta"),
        ):
            if values:
                file = f"{stem}-{name}.png"
                write_bytes(out_dir / file, _histogram(values, title, xlabel, line, label))
                images[title] = file
        verdicts = Counter(r.qa.verdict if r.qa else "unscored" for r in rows)
        provenance = Counter(r.provenance for r in rows)
        expected = sum(len(r.qa.terms_expected) for r in scored)
        met = sum(len(r.qa.terms_met) for r in scored)
        confirmed = Counter(x.term for r in scored for x in r.qa.reasons if x.kind is ReasonKind.MISSED_TERM)
        soft = Counter(x.term for r in scored for x in r.qa.reasons if x.kind is ReasonKind.SOFT_MISS)
        worst = sorted(
            (r for r in scored if r.qa.verdict != "ok"),
            key=lambda r: (SEVERITY.get(r.qa.verdict, 9), -sum(x.flags for x in r.qa.reasons), r.qa.chrf or 0.0),
        )[:WORST]
        rewritten = [r for r in rows if r.provenance == "machine" and r.round > 0][:WORST]
        page = _Page(f"tipr-bench refine report: {lang}, {dataset or 'all datasets'}, split {split}")
        page.table("Run", ["setting", "value"], [[k, str(v)] for k, v in run_info.items()])
        order = [v for v in (*VERDICTS, "reviewed", "unscored") if verdicts.get(v)]
        page.table("Verdicts", ["verdict", "captions", "share"],
                   [[v, str(verdicts[v]), f"{verdicts[v] / len(rows):.1%}"] for v in order])
        page.table("Provenance", ["provenance", "captions"], [[p, str(n)] for p, n in provenance.most_common()])
        page.table("Scores", ["measure", "value"], [
            ["captions", str(len(rows))],
            ["term-match rate", "n/a" if not expected else f"{met / expected:.1%} ({met}/{expected})"],
            ["mean back-translation chrF", _fmt(_mean(chrf), 1)],
            ["mean QE score", _fmt(_mean(qe), 3)],
        ])
        page.images("Histograms", images)
        page.table("Worst examples", ["key", "source", "translation", "back-translation", "verdict: reasons"],
                   [[r.key, r.source, r.translation, r.qa.back_translation, f"{r.qa.verdict}: {r.problems}"]
                    for r in worst])
        page.table("Rewritten by refine: before and after", ["key", "source", "before", "after", "verdict now"],
                   [[r.key, r.source, _before(ws, r, lang), r.translation, r.qa.verdict if r.qa else ""]
                    for r in rewritten])
        page.table("Missed glossary terms, confirmed (these flag)", ["term", "approved target", "captions"],
                   [[t, term_targets.get(t, ""), str(n)] for t, n in confirmed.most_common(20)])
        page.table("Soft misses: approved term absent, but the back-translation has it (these do not flag)",
                   ["term", "approved target", "captions"],
                   [[t, term_targets.get(t, ""), str(n)] for t, n in soft.most_common(20)])
        write_text(out_dir / f"{stem}.md", page.markdown())
        write_text(out_dir / f"{stem}.html", page.html())
        written.append(out_dir / f"{stem}.md")
    return written


def _before(ws: Workspace, row: Row, lang: str) -> str:
    """The translation refine replaced: the newest history row from an earlier round."""
    older = [t for t in ws.translation_history(row.key, lang) if t.round < row.round]
    return older[-1].text if older else ""


class _Page:
    """Sections rendered twice, as Markdown and as a standalone HTML page."""

    def __init__(self, title: str):
        self.title = title
        self.sections: list[tuple[str, str, object]] = []

    def table(self, heading: str, header: list[str], rows: list[list[str]]) -> None:
        self.sections.append(("table", heading, (header, rows)))

    def images(self, heading: str, images: dict[str, str]) -> None:
        self.sections.append(("images", heading, images))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, heading, body in self.sections:
            out += [f"## {heading}", ""]
            if kind == "images":
                out += [f"![{alt}]({file})" for alt, file in body.items()] or ["(no scores)"]
            else:
                header, rows = body
                if not rows:
                    out.append("(none)")
                else:
                    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
                    out.append("| " + " | ".join(header) + " |")
                    out.append("|" + "---|" * len(header))
                    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
            out.append("")
        return "\n".join(out)

    def html(self) -> str:
        e = html.escape
        out = [
            "<!doctype html>", '<html><head><meta charset="utf-8">', f"<title>{e(self.title)}</title>",
            "<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;"
            "margin-bottom:1em}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
            "th{background:#f0f0f0}img{margin:0 1em 1em 0}</style>",
            "</head><body>", f"<h1>{e(self.title)}</h1>",
        ]
        for kind, heading, body in self.sections:
            out.append(f"<h2>{e(heading)}</h2>")
            if kind == "images":
                out += [f'<img src="{e(file)}" alt="{e(alt)}">' for alt, file in body.items()] or ["<p>(no scores)</p>"]
            else:
                header, rows = body
                if not rows:
                    out.append("<p>(none)</p>")
                    continue
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
                out.append("</table>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"
