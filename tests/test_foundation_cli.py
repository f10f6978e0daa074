"""The data commands through the real CLI: counts, idempotence, one-line errors with exit 2."""

from __future__ import annotations

import json

from tests.test_foundation_store import make_dataset


def test_ingest_prints_counts_and_reingest_adds_nothing(tmp_path, cli):
    make_dataset(tmp_path / "data")
    first = cli("ingest", "--dataset", "cuhk-pedes", "--root", tmp_path / "data", "--workspace", tmp_path / "ws")
    assert first.returncode == 0, first.stderr
    assert "12 added" in first.stdout and "train" in first.stdout
    again = cli("ingest", "--root", tmp_path / "data", "--workspace", tmp_path / "ws", "--json")
    report = json.loads(again.stdout)
    assert report["captions"] == {"added": 0, "updated": 0, "unchanged": 12}
    status = cli("status", "--workspace", tmp_path / "ws", "--json")
    assert {r["split"]: r["captions"] for r in json.loads(status.stdout)["splits"]} == {"test": 4, "train": 8}


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, cli):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "reid_raw.json").write_text('[{"split": "train", "id": 1}]', encoding="utf-8")
    result = cli("ingest", "--root", tmp_path / "data", "--workspace", tmp_path / "ws")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "record 0: missing field" in lines[0] and "Traceback" not in result.stderr
    assert cli("status", "--workspace", tmp_path / "ws2").returncode == 2


def test_env_workspace(tmp_path, cli):
    make_dataset(tmp_path / "data")
    result = cli("ingest", "--root", tmp_path / "data", env={"TIPR_WORKSPACE": str(tmp_path / "envws")})
    assert result.returncode == 0 and (tmp_path / "envws" / "tipr.sqlite").exists()


def test_an_unwritable_output_path_is_one_line_not_a_traceback(tmp_path, cli):
    make_dataset(tmp_path / "data")
    (tmp_path / "file").write_text("not a folder")
    result = cli("sample", "--out", tmp_path / "file" / "sub", "--persons", "3")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and str(tmp_path / "file") in result.stderr


def test_error_text_is_printed_as_is_not_as_markup(tmp_path, cli):
    root = tmp_path / "data[1]:smile:"
    root.mkdir()
    result = cli("ingest", "--root", root, "--workspace", tmp_path / "ws")
    assert result.returncode == 2 and f"{root}: no annotation file found" in result.stderr


def _authors_layout(root, with_images=True):
    """The Bi-IRRA authors' folder: CUHK-PEDES/annos/{train,test}_reid_{en,ch}.json beside CUHK-PEDES/imgs."""
    (root / "annos").mkdir(parents=True)
    for split, pids in (("train", (1, 2)), ("test", (3,))):
        for lang, words in (("en", "A person {} in a red coat."), ("ch", "一个穿红色外套的人{}。")):
            records = [{"file_path": f"CUHK01/{pid:04d}001.png", "id": pid, "captions": [words.format(pid)]}
                       for pid in pids]
            (root / "annos" / f"{split}_reid_{lang}.json").write_text(json.dumps(records, ensure_ascii=False),
                                                                        encoding="utf-8")
            if with_images:
                for pid in pids:
                    (root / "imgs" / "CUHK01").mkdir(parents=True, exist_ok=True)
                    (root / "imgs" / "CUHK01" / f"{pid:04d}001.png").write_bytes(b"png")


def test_the_bi_irra_authors_layout_is_recognised_from_either_folder(tmp_path, cli):
    root = tmp_path / "CUHK-PEDES"
    _authors_layout(root)
    for n, where in enumerate((root, root / "annos")):
        result = cli("ingest", "--root", where, "--dataset", "cuhk-pedes", "-w", tmp_path / f"ws{n}", "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["image_root"] == str((root / "imgs").resolve()) and report["first_missing"] is None
        assert report["captions"]["added"] == 3 and report["translations_added"] == 3


def test_missing_images_stop_ingest_with_the_count_and_the_images_hint(tmp_path, cli):
    root = tmp_path / "CUHK-PEDES"
    _authors_layout(root, with_images=False)
    result = cli("ingest", "--root", root / "annos", "--dataset", "cuhk-pedes", "-w", tmp_path / "ws")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "3 of 3 images are missing below" in result.stderr and "pass --images" in result.stderr
    assert not (tmp_path / "ws").exists()
    (root / "pictures" / "CUHK01").mkdir(parents=True)
    for pid in (1, 2, 3):
        (root / "pictures" / "CUHK01" / f"{pid:04d}001.png").write_bytes(b"png")
    joined = cli("ingest", "--root", root, "--dataset", "cuhk-pedes", "--images", root / "pictures", "-w",
                 tmp_path / "ws")
    assert joined.returncode == 0, joined.stderr
