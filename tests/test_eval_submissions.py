"""Submissions: real .npz/.npy files on disk, checked against a real workspace split. Every way a
file can be wrong is refused with one line that names the problem."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.eval_split import DATASET, build_split, perfect_features, split_items, write_submission
from tipr_bench.baselines.eval_request import EvalRequest
from tipr_bench.baselines.evaluator import (
    evaluate_embeddings,
    evaluate_similarity_file,
    load_split,
)
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError


@pytest.fixture
def split(tmp_path):
    ws_root = build_split(tmp_path)
    keys, cap_pids, paths, img_pids = split_items(ws_root)
    return ws_root, keys, cap_pids, paths, img_pids


def good_arrays(split):
    _, keys, cap_pids, paths, img_pids = split
    return perfect_features(cap_pids), keys, perfect_features(img_pids), paths


def run(ws_root, path, **kw):
    with Workspace.open(ws_root) as ws:
        return evaluate_embeddings(ws, path, dataset=DATASET, split="test", lang="zh", **kw)


def refused(ws_root, path, match: str) -> str:
    with pytest.raises(UserError, match=match) as info:
        run(ws_root, path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_load_split_queries_and_gallery(split):
    ws_root = split[0]
    with Workspace.open(ws_root) as ws:
        data = load_split(ws, DATASET, "test", "zh")
        english = load_split(ws, DATASET, "test", "en")
    assert len(data.query_keys) == 16 and len(data.gallery_paths) == 8
    assert data.query_texts[0].startswith("第10人")
    assert english.query_texts[0] == "person 10 image 0 caption 0"
    assert sorted(set(data.gallery_pids.tolist())) == [10, 11, 12, 13]
    assert data.left_out == 0 and data.query_keys == english.query_keys


def test_perfect_submission_scores_100_and_is_stored(split, tmp_path):
    path = write_submission(tmp_path / "perfect.npz", *good_arrays(split))
    outcome = run(split[0], path, train_lang="zh", directions=("t2i", "i2t"))
    for direction in ("t2i", "i2t"):
        assert outcome.metrics[direction] == {"R1": 100.0, "R5": 100.0, "R10": 100.0, "mAP": 100.0, "mINP": 100.0}
    with Workspace.open(split[0]) as ws:
        stored = ws.results()
    assert [(r.model, r.dataset, r.query_lang, r.train_lang, r.split, r.direction) for r in stored] == [
        ("perfect", DATASET, "zh", "zh", "test", "t2i"), ("perfect", DATASET, "zh", "zh", "test", "i2t")]
    assert len(stored[0].checkpoint_sha256) == 64 and stored[0].created_at


def test_row_order_does_not_matter(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    rng = np.random.default_rng(0)
    text = text + 0.3 * rng.standard_normal(text.shape).astype(np.float32)
    base = run(split[0], write_submission(tmp_path / "a.npz", text, keys, image, paths))
    p, r = rng.permutation(len(keys)), rng.permutation(len(paths))
    shuffled = run(split[0], write_submission(tmp_path / "b.npz", text[p], [keys[i] for i in p], image[r],
                                              [paths[i] for i in r]))
    assert shuffled.metrics["t2i"] == pytest.approx(base.metrics["t2i"], abs=1e-9)


def test_missing_file_and_not_an_archive(split, tmp_path):
    refused(split[0], tmp_path / "nope.npz", "not found")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive at all")
    refused(split[0], garbage, "not an .npz \\(zip\\) archive")
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((2, 2)))
    refused(split[0], single, "not an .npz archive")
    truncated = tmp_path / "truncated.npz"
    write_submission(truncated, *good_arrays(split))
    truncated.write_bytes(truncated.read_bytes()[:300])
    refused(split[0], truncated, "cannot read|cannot be read")


def test_missing_array(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    path = tmp_path / "s.npz"
    np.savez(path, text_feats=text, text_keys=np.array(keys), image_feats=image)
    assert "image_paths" in refused(split[0], path, "missing array")


@pytest.mark.parametrize("name", ["text_feats", "image_feats"])
def test_features_must_be_2d(split, tmp_path, name):
    arrays = dict(zip(["text_feats", "text_keys", "image_feats", "image_paths"], good_arrays(split), strict=True))
    arrays[name] = arrays[name][:, 0]
    refused(split[0], write_submission(tmp_path / "s.npz", **arrays), f"{name} must be 2-D")
    arrays[name] = np.zeros((2, 2, 2), dtype=np.float32)
    refused(split[0], write_submission(tmp_path / "s.npz", **arrays), f"{name} must be 2-D")


def test_dimension_mismatch(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    path = write_submission(tmp_path / "s.npz", text, keys, np.hstack([image, image]), paths)
    refused(split[0], path, "dimension 16 but image_feats has 32")


def test_nan_inf_and_zero_rows(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    bad = text.copy()
    bad[3, 1] = np.nan
    assert "(3, 1)" in refused(split[0], write_submission(tmp_path / "s.npz", bad, keys, image, paths), "NaN/inf")
    bad = image.copy()
    bad[0, 0] = np.inf
    refused(split[0], write_submission(tmp_path / "s.npz", text, keys, bad, paths), "image_feats has 1 NaN/inf")
    bad = text.copy()
    bad[5] = 0
    refused(split[0], write_submission(tmp_path / "s.npz", bad, keys, image, paths), "row 5 .* all zeros")


def test_non_numeric_features_and_pickled_keys(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    words = np.array([["a"] * 16] * len(keys))
    refused(split[0], write_submission(tmp_path / "s.npz", words, keys, image, paths), "must hold numbers")
    path = tmp_path / "o.npz"
    np.savez(path, text_feats=text, text_keys=np.array(keys, dtype=object), image_feats=image,
             image_paths=np.array(paths))
    refused(split[0], path, "text_keys cannot be read")


def test_length_mismatch_and_duplicates(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    refused(split[0], write_submission(tmp_path / "s.npz", text, keys[:-1], image, paths),
            "15 entries but text_feats has 16 rows")
    dup = [*keys[:-1], keys[0]]
    refused(split[0], write_submission(tmp_path / "s.npz", text, dup, image, paths), "duplicate text_keys")
    dup_paths = [*paths[:-1], paths[1]]
    refused(split[0], write_submission(tmp_path / "s.npz", text, keys, image, dup_paths), "duplicate image_paths")


def test_missing_and_extra_keys(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    message = refused(split[0], write_submission(tmp_path / "s.npz", text[1:], keys[1:], image, paths),
                      "1 of the 16 caption keys .* missing")
    assert keys[0] in message
    extra = [*keys[:-1], f"{DATASET}/CUHK01/0001000.png#0"]  # a train caption
    refused(split[0], write_submission(tmp_path / "s.npz", text, extra, image, paths),
            "1 of the 16 caption keys .* missing")
    more = np.vstack([text, text[:1]])
    refused(split[0], write_submission(tmp_path / "s.npz", more, [*keys, "cuhk-pedes/x.png#0"], image, paths),
            "1 caption keys are not in cuhk-pedes/test")
    refused(split[0], write_submission(tmp_path / "s.npz", text, keys, image[1:], paths[1:]),
            "1 of the 8 image paths .* missing")
    refused(split[0], write_submission(tmp_path / "s.npz", text, keys, np.vstack([image, image[:1]]),
                                       [*paths, "CUHK01/9999.png"]), "image paths are not in")


def test_split_problems(split, tmp_path):
    path = write_submission(tmp_path / "s.npz", *good_arrays(split))
    with Workspace.open(split[0]) as ws:
        with pytest.raises(UserError, match="not in workspace"):
            evaluate_embeddings(ws, path, dataset="icfg-pedes", split="test", lang="zh")
        with pytest.raises(UserError, match="no 'val' split"):
            evaluate_embeddings(ws, path, dataset=DATASET, split="val", lang="zh")
        with pytest.raises(UserError, match="no usable fr captions"):
            evaluate_embeddings(ws, path, dataset=DATASET, split="test", lang="fr")
        with pytest.raises(UserError, match="unknown direction"):
            evaluate_embeddings(ws, path, dataset=DATASET, split="test", lang="zh", directions=("x2y",))


def write_similarity(tmp_path, sim, keys, paths):
    np.save(tmp_path / "sim.npy", sim)
    (tmp_path / "q.txt").write_text("\n".join(keys) + "\n", encoding="utf-8")
    (tmp_path / "g.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
    return tmp_path / "sim.npy", tmp_path / "q.txt", tmp_path / "g.txt"


def run_similarity(ws_root, files, **kw):
    with Workspace.open(ws_root) as ws:
        return evaluate_similarity_file(ws, *files, dataset=DATASET, split="test", lang="zh", **kw)


def test_similarity_submission(split, tmp_path):
    text, keys, image, paths = good_arrays(split)
    rng = np.random.default_rng(1)
    text = text + 0.5 * rng.standard_normal(text.shape).astype(np.float32)
    sim = (text / np.linalg.norm(text, axis=1, keepdims=True)) @ (image / np.linalg.norm(image, axis=1)[:, None]).T
    files = write_similarity(tmp_path, sim, keys, paths)
    from_sim = run_similarity(split[0], files, model="m", directions=("t2i", "i2t"))
    from_feats = run(split[0], write_submission(tmp_path / "f.npz", text, keys, image, paths),
                     directions=("t2i", "i2t"))
    for direction in ("t2i", "i2t"):
        assert from_sim.metrics[direction] == pytest.approx(from_feats.metrics[direction], abs=1e-4)


def test_similarity_refusals(split, tmp_path):
    _, keys, image, paths = good_arrays(split)
    sim = np.zeros((len(keys), len(paths)), dtype=np.float32)
    with pytest.raises(UserError, match=r"shape \(16, 7\) does not match 16 query keys"):
        run_similarity(split[0], write_similarity(tmp_path, sim[:, 1:], keys, paths))
    bad = sim.copy()
    bad[2, 3] = np.nan
    with pytest.raises(UserError, match="NaN/inf"):
        run_similarity(split[0], write_similarity(tmp_path, bad, keys, paths))
    files = write_similarity(tmp_path, sim, keys, paths)
    files[1].write_text("\n".join(keys[:3]) + "\n\n" + "\n".join(keys[3:]), encoding="utf-8")
    with pytest.raises(UserError, match="line 4 is blank"):
        run_similarity(split[0], files)
    files = write_similarity(tmp_path, sim, keys, [*paths[:-1], paths[0]])
    with pytest.raises(UserError, match="duplicate gallery path"):
        run_similarity(split[0], files)
    files = write_similarity(tmp_path, sim[:-1], keys[:-1], paths)
    with pytest.raises(UserError, match="caption keys of .* are missing"):
        run_similarity(split[0], files)
    np.savez(tmp_path / "sim.npy", a=sim)
    with pytest.raises(UserError, match="npz"):
        run_similarity(split[0], (tmp_path / "sim.npy.npz", files[1], files[2]))


def test_captions_with_no_usable_translation_are_not_queries_and_the_result_counts_them(tmp_path):
    """None yet, failed (empty text), flagged for empty output (empty text, as older workspaces stored
    it) and blank: all four are left out, counted, and stored with the result."""
    ws_root = build_split(tmp_path)
    keys, cap_pids, paths, img_pids = split_items(ws_root)
    with Workspace.open(ws_root) as ws:
        ws.conn.execute("DELETE FROM translations WHERE key = ?", (keys[0],))
        ws.conn.execute("UPDATE translations SET status = 'failed', text = '' WHERE key = ?", (keys[1],))
        ws.conn.execute("UPDATE translations SET status = 'flagged', reason = 'empty output', text = '' "
                        "WHERE key = ?", (keys[2],))
        ws.conn.execute("UPDATE translations SET text = '  ' WHERE key = ?", (keys[3],))
        data = load_split(ws, DATASET, "test", "zh")
        assert data.left_out == 4 and not set(keys[:4]) & set(data.query_keys) and len(data.gallery_paths) == 8
        path = write_submission(tmp_path / "s.npz", perfect_features(cap_pids[4:]), keys[4:],
                                perfect_features(img_pids), paths)
        outcome = evaluate_embeddings(ws, path, dataset=DATASET, split="test", lang="zh")
        stored = ws.results()[-1]
    assert outcome.left_out == 4 and outcome.n_queries == 12 and outcome.n_gallery == 8
    assert (stored.n_queries, stored.n_gallery, stored.n_left_out) == (12, 8, 4)


def test_an_evaluate_request_is_checked_whole_and_names_its_languages_once(tmp_path):
    request = EvalRequest(lang="CH", train_lang=" ZH ", model="bi-irra", direction="t2i")
    assert (request.lang, request.train_lang, request.split, request.directions) == ("zh", "zh", "test", ("t2i",))
    npz = tmp_path / "s.npz"
    for kwargs, message in (
        ({"model": "bi-irra", "device": "tpu"}, "--device 'tpu'"),
        ({"model": "bi-irra", "direction": "sideways"}, "--direction 'sideways'"),
        ({"embeddings": npz, "similarity": tmp_path / "s.npy"}, "not both"),
        ({"similarity": tmp_path / "s.npy"}, "--query-keys"),
        ({}, "nothing to evaluate"),
        ({"embeddings": npz, "checkpoint": tmp_path / "best.pt"}, "--checkpoint goes with --model bi-irra"),
        ({"model": "bi-irra", "lang": "xx"}, "unknown language 'xx'"),
    ):
        with pytest.raises(UserError, match=message):
            EvalRequest(**{"lang": "zh", **kwargs})
