"""Every adapter on small files written in its format, and every bad-input case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tipr_bench.benchmark.adapters import detect_format, load_dataset
from tipr_bench.core.errors import UserError


def write(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


CUHK = [
    {"split": "train", "captions": ["A man in a red jacket.", "He wears blue jeans."],
     "file_path": "CUHK01/0363004.png", "processed_tokens": [], "id": 1},
    {"split": "test", "captions": ["A woman with a black backpack."], "file_path": "CUHK03/1_2.png", "id": 2},
]


def test_cuhk_pedes_keys_and_fields(tmp_path):
    write(tmp_path / "reid_raw.json", CUHK)
    loaded = load_dataset(tmp_path)
    assert loaded.info.slug == "cuhk-pedes"
    assert [c.key for c in loaded.captions] == [
        "cuhk-pedes/CUHK01/0363004.png#0", "cuhk-pedes/CUHK01/0363004.png#1", "cuhk-pedes/CUHK03/1_2.png#0",
    ]
    assert loaded.captions[2].split == "test" and loaded.captions[2].person_id == 2


@pytest.mark.parametrize("name", ["ICFG-PEDES.json", "ICFG_PEDES.json"])
def test_icfg_pedes_either_name(tmp_path, name):
    write(tmp_path / name, [{"id": 7, "file_path": "test/0007/a.jpg", "captions": ["A girl."], "split": "test"}])
    loaded = load_dataset(tmp_path, "icfg-pedes")
    assert loaded.captions[0].key == "icfg-pedes/test/0007/a.jpg#0"


def test_rstpreid_uses_img_path(tmp_path):
    write(tmp_path / "data_captions.json",
          [{"id": 0, "img_path": "0000_c14_0031.jpg", "captions": ["One.", "Two."], "split": "val"}])
    loaded = load_dataset(tmp_path)
    assert loaded.info.slug == "rstpreid"
    assert [c.key for c in loaded.captions] == ["rstpreid/0000_c14_0031.jpg#0", "rstpreid/0000_c14_0031.jpg#1"]


def test_ufinebench_split_from_file_name(tmp_path):
    write(tmp_path / "ufine6926_train.json", [{"id": 3, "file_path": "a/1.jpg", "captions": ["A long caption."]}])
    write(tmp_path / "ufine6926_test.json", [{"id": 4, "file_path": "b/2.jpg", "captions": ["Another."]}])
    loaded = load_dataset(tmp_path)
    assert {(c.split, c.person_id) for c in loaded.captions} == {("train", 3), ("test", 4)}


def test_multilingual_files_are_index_aligned(tmp_path):
    en = [{"file_path": "CUHK01/1.png", "id": 1, "captions": ["A man.", "A red coat."]}]
    zh = [{"file_path": "CUHK01/1.png", "id": 1, "captions": ["一个男人。", "一件红色外套。"]}]
    write(tmp_path / "test_reid_en.json", en)
    write(tmp_path / "test_reid_ch.json", zh)
    assert detect_format(tmp_path) == ("multilingual", None)
    loaded = load_dataset(tmp_path, "cuhk-pedes")
    assert [c.key for c in loaded.captions] == ["cuhk-pedes/CUHK01/1.png#0", "cuhk-pedes/CUHK01/1.png#1"]
    assert [(t.key, t.lang, t.text, t.provenance) for t in loaded.translations] == [
        ("cuhk-pedes/CUHK01/1.png#0", "zh", "一个男人。", "source"),
        ("cuhk-pedes/CUHK01/1.png#1", "zh", "一件红色外套。", "source"),
    ]


def test_multilingual_needs_dataset_name(tmp_path):
    write(tmp_path / "train_reid_en.json", [{"file_path": "x.png", "id": 1, "captions": ["A."]}])
    with pytest.raises(UserError, match="pass --dataset"):
        load_dataset(tmp_path)


def test_multilingual_misaligned(tmp_path):
    write(tmp_path / "test_reid_en.json", [{"file_path": "a.png", "id": 1, "captions": ["A.", "B."]}])
    write(tmp_path / "test_reid_fr.json", [{"file_path": "a.png", "id": 1, "captions": ["A."]}])
    with pytest.raises(UserError, match=r"test_reid_fr.json: record 0: .*index-aligned"):
        load_dataset(tmp_path, "cuhk-pedes")


BAD_RECORDS = [
    ({"captions": ["A."], "file_path": "a.png", "id": 1}, r"record 0: missing field 'split'"),
    ({"split": "train", "file_path": "a.png", "id": 1}, r"record 0: missing field 'captions'"),
    ({"split": "train", "captions": "A man.", "file_path": "a.png", "id": 1}, r"'captions' should be list"),
    ({"split": "train", "captions": ["A.", "   "], "file_path": "a.png", "id": 1}, r"caption 1 is empty"),
    ({"split": "train", "captions": ["A."], "file_path": "a.png", "id": "x1"}, r"'id' should be an integer"),
    ({"split": "train", "captions": ["A."], "file_path": "a.png", "id": True}, r"'id' should be int or str"),
    ({"split": "dev", "captions": ["A."], "file_path": "a.png", "id": 1}, r"unknown split 'dev'"),
    ({"split": "train", "captions": [3], "file_path": "a.png", "id": 1}, r"caption 0 should be a string"),
]


@pytest.mark.parametrize("record,message", BAD_RECORDS)
def test_bad_records_name_file_and_record(tmp_path, record, message):
    path = write(tmp_path / "reid_raw.json", [record])
    with pytest.raises(UserError, match=message) as info:
        load_dataset(tmp_path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_duplicate_image(tmp_path):
    rec = {"split": "train", "captions": ["A."], "file_path": "a.png", "id": 1}
    write(tmp_path / "reid_raw.json", [rec, dict(rec)])
    with pytest.raises(UserError, match=r"record 1: duplicate image 'a.png' \(first at record 0\)"):
        load_dataset(tmp_path)


def test_malformed_json(tmp_path):
    (tmp_path / "reid_raw.json").write_text('[{"split": "train",', encoding="utf-8")
    with pytest.raises(UserError, match=r"invalid JSON at line 1"):
        load_dataset(tmp_path)


def test_not_utf8(tmp_path):
    (tmp_path / "reid_raw.json").write_bytes('[{"captions": ["caf\xe9"]}]'.encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        load_dataset(tmp_path)


def test_not_a_list_and_empty(tmp_path):
    write(tmp_path / "reid_raw.json", {"images": []})
    with pytest.raises(UserError, match="expected a JSON list"):
        load_dataset(tmp_path)
    write(tmp_path / "reid_raw.json", [])
    with pytest.raises(UserError, match="holds no records"):
        load_dataset(tmp_path)


def test_unknown_dataset_and_wrong_dataset(tmp_path):
    write(tmp_path / "reid_raw.json", CUHK)
    with pytest.raises(UserError, match="unknown dataset 'cuhk'"):
        load_dataset(tmp_path, "cuhk")
    with pytest.raises(UserError, match="holds cuhk-pedes annotations"):
        load_dataset(tmp_path, "rstpreid")


def test_no_annotation_file(tmp_path):
    with pytest.raises(UserError, match="no annotation file found"):
        load_dataset(tmp_path)
