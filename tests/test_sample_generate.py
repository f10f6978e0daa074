"""The bundled sample: CUHK-PEDES layout, determinism, resume, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tipr_bench.core.errors import UserError
from tipr_bench.sample import SampleSummary, generate_sample
from tipr_bench.sample import generate as generate_module
from tipr_bench.sample.captions import tokens, word_count

PERSONS = 10


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, SampleSummary]:
    out = tmp_path_factory.mktemp("sample") / "s"
    return out, generate_sample(out, persons=PERSONS, seed=7, progress=False)


def test_layout_and_records(sample):
    out, summary = sample
    records = json.loads((out / "reid_raw.json").read_text(encoding="utf-8"))
    assert {r["id"] for r in records} == set(range(1, PERSONS + 1))
    per_person: dict[int, int] = {}
    for r in records:
        assert set(r) == {"split", "captions", "file_path", "processed_tokens", "id"}
        assert r["file_path"].startswith("synth/") and r["file_path"].endswith(".png")
        assert len(r["captions"]) == 2 and r["captions"][0] != r["captions"][1]
        for caption, toks in zip(r["captions"], r["processed_tokens"], strict=True):
            assert 20 <= word_count(caption) <= 40, caption
            assert toks == tokens(caption) and all(t == t.lower() for t in toks)
        with Image.open(out / "imgs" / r["file_path"]) as img:
            assert img.format == "PNG" and img.size == (128, 384) and img.mode == "RGB"
        per_person[r["id"]] = per_person.get(r["id"], 0) + 1
    assert min(per_person.values()) >= 2

    ids_by_split: dict[str, set[int]] = {}
    for r in records:
        ids_by_split.setdefault(r["split"], set()).add(r["id"])
    assert set(ids_by_split) == {"train", "val", "test"}
    assert not (ids_by_split["train"] & ids_by_split["val"]) and not (
        ids_by_split["train"] & ids_by_split["test"]
    )
    assert not (ids_by_split["val"] & ids_by_split["test"])

    assert (
        summary.persons == PERSONS and summary.images == len(records) and summary.captions == 2 * len(records)
    )
    for split, ids in ids_by_split.items():
        assert summary.splits[split] == {
            "persons": len(ids),
            "images": sum(r["split"] == split for r in records),
            "captions": 2 * sum(r["split"] == split for r in records),
        }
    attributes = json.loads((out / "attributes.json").read_text(encoding="utf-8"))
    assert set(attributes) == {r["file_path"] for r in records}


def test_same_seed_same_bytes_other_seed_differs(sample, tmp_path):
    out, _ = sample
    again = tmp_path / "again"
    generate_sample(again, persons=PERSONS, seed=7, progress=False)
    assert _files(again) == _files(out)

    other = tmp_path / "other"
    generate_sample(other, persons=PERSONS, seed=8, progress=False)
    assert (other / "reid_raw.json").read_bytes() != (out / "reid_raw.json").read_bytes()
    first = "imgs/synth/0001_01.png"
    assert (other / first).read_bytes() != (out / first).read_bytes()


def test_images_of_one_person_differ(sample):
    out, _ = sample
    a, b = (out / "imgs/synth/0001_01.png").read_bytes(), (out / "imgs/synth/0001_02.png").read_bytes()
    assert a != b


def test_resume_redraws_only_missing_and_restores_bytes(sample, tmp_path):
    out, _ = sample
    copy = tmp_path / "copy"
    generate_sample(copy, persons=PERSONS, seed=7, progress=False)
    (copy / "reid_raw.json").unlink()  # as if killed before the end
    (copy / "imgs/synth/0002_01.png").unlink()
    kept = copy / "imgs/synth/0003_01.png"
    kept.write_bytes(b"kept")  # proves a resumed run does not redraw existing images
    generate_sample(copy, persons=PERSONS, seed=7, progress=False)
    assert kept.read_bytes() == b"kept"
    kept.write_bytes((out / "imgs/synth/0003_01.png").read_bytes())
    assert _files(copy) == _files(out)


def test_rerun_with_other_args_replaces_previous_sample(tmp_path):
    out = tmp_path / "s"
    generate_sample(out, persons=6, seed=1, progress=False)
    generate_sample(out, persons=3, seed=1, progress=False)
    records = json.loads((out / "reid_raw.json").read_text(encoding="utf-8"))
    on_disk = {str(p.relative_to(out / "imgs")) for p in (out / "imgs").rglob("*.png")}
    assert on_disk == {r["file_path"] for r in records}
    assert {r["id"] for r in records} == {1, 2, 3}


def test_parallel_drawing_gives_the_same_bytes(sample, tmp_path, monkeypatch):
    out, _ = sample
    monkeypatch.setattr(generate_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(generate_module, "CHUNK", 7)
    monkeypatch.setattr(generate_module, "_workers", lambda: 2)
    parallel = tmp_path / "parallel"
    generate_sample(parallel, persons=PERSONS, seed=7, progress=False)
    assert _files(parallel) == _files(out)


@pytest.mark.parametrize("persons", [2, 0, -5])
def test_too_few_persons_is_a_user_error(tmp_path, persons):
    with pytest.raises(UserError, match="--persons"):
        generate_sample(tmp_path / "s", persons=persons, progress=False)
    assert not (tmp_path / "s").exists()


def test_foreign_folder_is_refused_and_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious", encoding="utf-8")
    with pytest.raises(UserError, match="not empty"):
        generate_sample(out, persons=3, progress=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_out_is_a_file_is_a_user_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(UserError, match="is a file"):
        generate_sample(target, persons=3, progress=False)


def test_negative_seed_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="--seed"):
        generate_sample(tmp_path / "s", persons=3, seed=-1, progress=False)


def test_unwritable_target_is_a_user_error_naming_the_path(tmp_path):
    out = tmp_path / "s"
    generate_sample(out, persons=3, progress=False)
    (out / "reid_raw.json").unlink()
    for png in (out / "imgs/synth").iterdir():
        png.unlink()
    (out / "imgs/synth").rmdir()
    (out / "imgs/synth").write_text("in the way", encoding="utf-8")  # a file where the image folder goes
    with pytest.raises(UserError, match="could not write the sample at .*synth"):
        generate_sample(out, persons=3, progress=False)
