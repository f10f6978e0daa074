"""The review round trip (export, correct, import as human) and malformed sheets that change nothing."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from tests.conftest import run_cli
from tests.support.openai_server import OpenAIServer
from tests.support.refine_fixtures import BAD_3, GOOD, SOURCES, WORSE_3, glossary, key, make_workspace, responder
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError
from tipr_bench.refine.pipeline import refine_language
from tipr_bench.refine.report import write_report
from tipr_bench.refine.review import COLUMNS, export_review, import_review
from tipr_bench.translate import BackendOptions, build_backend


def served(server: OpenAIServer) -> BackendOptions:
    return BackendOptions(backend="openai", model="test-model", base_urls=(server.base_url,))


@pytest.fixture(scope="module")
def _refined_once(tmp_path_factory):
    """A workspace after one refine run whose rewrite failed: p/3 stays flagged."""
    root = tmp_path_factory.mktemp("refined")
    ws = make_workspace(root)
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: WORSE_3})) as server:
        summary = refine_language(ws, "zh", build_backend(served(server)),
                                  glossary=glossary(), threshold=0.5, progress=False, report_dir=root / "report")
    ws.close()
    return root, summary


@pytest.fixture
def refined(_refined_once, tmp_path):
    """A private copy of the refined workspace (SQLite file and report) for one test."""
    root, summary = _refined_once
    shutil.copytree(root / "ws", tmp_path / "ws")
    shutil.copytree(root / "report", tmp_path / "report")
    ws = Workspace.open(tmp_path / "ws", create=False)
    yield ws, summary, tmp_path
    ws.close()


def _read(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path, rows, columns=COLUMNS):
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_report_has_every_section_and_histograms(refined):
    ws, summary, tmp = refined
    (page,) = summary.report
    md = (tmp / "report" / "refine-zh-test.md").read_text(encoding="utf-8")
    assert page.endswith("refine-zh-test.md")
    for section in ("## Run", "## Verdicts", "## Scores", "## Histograms", "## Worst examples",
                    "## Rewritten by refine: before and after", "## Missed glossary terms, confirmed",
                    "## Soft misses"):
        assert section in md
    assert "term-match signature | lang:zh\\|glossary:" in md and "matcher:" in md
    assert "colour of coat: grey -> black" in md and BAD_3 in md  # the worst example, side by side
    assert "| grey | 灰色 | 1 |" in md  # the most missed term with its approved target
    assert "chrF signature | nrefs:1" in md
    html = (tmp / "report" / "refine-zh-test.html").read_text(encoding="utf-8")
    assert "<h2>Worst examples</h2>" in html and "refine-zh-test-qe.png" in html
    for name in ("chrf", "qe", "noise"):
        assert (tmp / "report" / f"refine-zh-test-{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = json.loads((tmp / "report" / "refine-zh-summary.json").read_text(encoding="utf-8"))
    assert run["signatures"]["BLEU"].startswith("nrefs:1|case:lc") and run["verdicts"]["flagged"] == 1
    # rebuilt from the workspace alone, the page is the same
    write_report(ws, "zh", tmp / "again", splits=["test"], run_info={}, term_targets={"grey": "灰色"})
    assert "| grey | 灰色 | 1 |" in (tmp / "again" / "refine-zh-test.md").read_text(encoding="utf-8")


def test_review_round_trip_marks_rows_human(refined):
    ws, _, tmp = refined
    sheet = tmp / "review.csv"
    assert export_review(ws, "zh", sheet) == 3
    rows = _read(sheet)
    assert list(rows[0]) == list(COLUMNS)
    by_key = {r["key"]: r for r in rows}
    flagged = by_key[key("p/3.png")]
    assert flagged["verdict"] == "flagged" and "colour of coat: grey -> black" in flagged["reasons"]
    assert flagged["back_translation"].startswith("A man wearing a black coat")
    flagged["corrected"] = GOOD["p/3.png"]
    _write(sheet, rows)
    result = import_review(ws, sheet)
    assert (result.rows, result.corrected, result.approved) == (3, 1, 2)
    current = ws.translations("zh")
    assert current[key("p/3.png")].text == GOOD["p/3.png"]
    assert {t.provenance for t in current.values()} == {"human"}
    assert current[key("p/1.png")].text == GOOD["p/1.png"]  # approved as is
    assert [t.text for t in ws.translation_history(key("p/3.png"), "zh")] == [BAD_3]
    assert ws.qa("zh")[key("p/3.png")].verdict == "reviewed"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("drop_column", "row 1: missing column(s) corrected"),
        ("unknown_key", "row 3: unknown key 'cuhk-pedes/p/9.png#0'"),
        ("no_correction", "row 4: verdict 'flagged' needs a correction"),
        ("latin1", "row 4: not UTF-8 text"),
        ("shifted", "row 2: the source cell differs"),
        ("duplicate", "row 4: key 'cuhk-pedes/p/1.png#0' already appears on row 2"),
    ],
)
def test_malformed_sheet_is_refused_with_its_row_and_changes_nothing(refined, damage, message):
    ws, _, tmp = refined
    sheet = tmp / "review.csv"
    export_review(ws, "zh", sheet)
    rows = _read(sheet)
    for r in rows:
        r["corrected"] = GOOD[r["key"].split("/", 1)[1].rsplit("#", 1)[0]] if "3" in r["key"] else ""
    columns = COLUMNS
    if damage == "drop_column":
        columns = tuple(c for c in COLUMNS if c != "corrected")
    elif damage == "unknown_key":
        rows[1]["key"] = "cuhk-pedes/p/9.png#0"
    elif damage == "no_correction":
        rows[2]["corrected"] = ""
    elif damage == "latin1":
        rows[2]["corrected"] = "Homme à veste"
    elif damage == "shifted":
        rows[0]["source"], rows[1]["source"] = rows[1]["source"], rows[0]["source"]
    elif damage == "duplicate":
        rows[2] = dict(rows[0])
    _write(sheet, rows, columns)
    if damage == "latin1":  # as saved by a spreadsheet in a legacy code page
        sheet.write_bytes(sheet.read_bytes().replace("à".encode(), b"\xe0"))
    before = {k: (t.text, t.provenance) for k, t in ws.translations("zh").items()}
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_review(ws, sheet)
    assert {k: (t.text, t.provenance) for k, t in ws.translations("zh").items()} == before


@pytest.mark.slow
def test_cli_refine_and_review(tmp_path):
    ws = make_workspace(tmp_path)
    ws.close()
    w = str(tmp_path / "ws")
    user_glossary = tmp_path / "g.tsv"
    from tests.support.refine_fixtures import GLOSSARY_TSV

    user_glossary.write_text(GLOSSARY_TSV, encoding="utf-8")
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        done = run_cli("refine", "--lang", "zh", "--base-url", server.base_url, "--model", "test-model",
                       "--glossary", user_glossary, "--threshold", "0.5", "--report", tmp_path / "rep", "-w", w)
    assert done.returncode == 0, done.stderr
    assert "improved 1" in done.stdout and "report:" in done.stdout
    page = next((tmp_path / "rep").glob("refine-zh*.md")).read_text(encoding="utf-8")
    rewritten = page.split("## Rewritten by refine: before and after")[1].split("##")[0]
    assert BAD_3 in rewritten and GOOD["p/3.png"] in rewritten  # the replaced text beside its rewrite
    sheet = tmp_path / "r.csv"
    exported = run_cli("review", "export", "--lang", "zh", "--out", sheet, "-w", w)
    assert exported.returncode == 0, exported.stderr
    bad = run_cli("review", "import", tmp_path / "missing.csv", "-w", w)
    assert bad.returncode == 2 and "not found" in bad.stderr
    imported = run_cli("review", "import", sheet, "--lang", "zh", "--json", "-w", w)
    assert imported.returncode == 0, imported.stderr
    assert '"approved": 3' in imported.stdout


def test_refine_never_rewrites_a_human_row(refined):
    ws, _, tmp = refined
    sheet = tmp / "review.csv"
    export_review(ws, "zh", sheet)
    rows = _read(sheet)
    for r in rows:  # the reviewer keeps the flagged text on purpose (copied into `corrected`)
        r["corrected"] = r["translation"] if r["verdict"] != "ok" else ""
    _write(sheet, rows)
    import_review(ws, sheet, lang="zh")
    with OpenAIServer(responder=responder({SOURCES["p/3.png"]: GOOD["p/3.png"]})) as server:
        summary = refine_language(ws, "zh", build_backend(served(server)),
                                  glossary=glossary(), threshold=0.5, progress=False)
        rewrites = [b for b in server.requests if "What went wrong" in str(b)]
    assert rewrites == [] and summary.rewritten == 0
    kept = ws.translations("zh")[key("p/3.png")]
    assert (kept.text, kept.provenance) == (BAD_3, "human")
    assert ws.qa("zh")[key("p/3.png")].verdict == "flagged"  # still judged, so the report shows it


def test_export_never_replaces_a_sheet_unless_forced(refined):
    """A sheet on disk may hold corrections nobody has imported yet."""
    ws, _, tmp = refined
    sheet = tmp / "review.csv"
    export_review(ws, "zh", sheet)
    rows = _read(sheet)
    rows[0]["corrected"] = "人工修正"
    _write(sheet, rows)
    with pytest.raises(UserError, match="may hold corrections not imported yet"):
        export_review(ws, "zh", sheet)
    assert _read(sheet)[0]["corrected"] == "人工修正"
    assert export_review(ws, "zh", sheet, force=True) == 3 and _read(sheet)[0]["corrected"] == ""


def test_a_correction_in_the_wrong_script_is_refused_with_its_row(refined):
    """Issue 16 item 4: a human correction passes the same output checks as a machine answer."""
    ws, _, tmp = refined
    sheet = tmp / "review.csv"
    export_review(ws, "zh", sheet)
    rows = _read(sheet)
    rows[2]["corrected"] = "Un homme portant un manteau gris et un pantalon noir."
    _write(sheet, rows)
    before = {k: (t.text, t.provenance) for k, t in ws.translations("zh").items()}
    with pytest.raises(UserError, match=r"row 4: the correction fails the output check for Chinese \(wrong script"):
        import_review(ws, sheet)
    assert {k: (t.text, t.provenance) for k, t in ws.translations("zh").items()} == before


def test_a_correction_equal_to_the_translation_counts_as_approved(refined):
    ws, _, tmp = refined
    sheet = tmp / "review.csv"
    export_review(ws, "zh", sheet)
    rows = _read(sheet)
    for r in rows:  # the flagged row is corrected; the others copy their translation, as the error advises
        r["corrected"] = GOOD["p/3.png"] if r["key"] == key("p/3.png") else r["translation"]
    _write(sheet, rows)
    result = import_review(ws, sheet)
    assert (result.rows, result.corrected, result.approved, result.untouched) == (3, 1, 2, 0)
    current = ws.translations("zh")
    assert len(current[key("p/1.png")].prompt_sha256) == 64  # the sheet's full sha256, as every prompt sha
    assert str(ws.qa("zh")[key("p/1.png")].reasons[0]) == "approved by a reviewer"


def test_an_untouched_sheet_of_a_never_refined_split_imports_nothing(tmp_path):
    """Rows refine never checked, left without a correction, were not reviewed: they stay machine rows."""
    ws = make_workspace(tmp_path)
    try:
        sheet = tmp_path / "review.csv"
        assert export_review(ws, "zh", sheet) == 3
        with pytest.raises(UserError, match="nothing to import: no row has a correction and no row was checked"):
            import_review(ws, sheet)
        rows = _read(sheet)
        rows[0]["corrected"] = rows[0]["translation"]  # one reviewed row, confirmed as it is
        _write(sheet, rows)
        result = import_review(ws, sheet)
        assert (result.rows, result.corrected, result.approved, result.untouched) == (1, 0, 1, 2)
        assert sorted(t.provenance for t in ws.translations("zh").values()) == ["human", "machine", "machine"]
    finally:
        ws.close()
