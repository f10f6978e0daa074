"""Retrieval metrics against rankings whose answers are worked out by hand, and against a
brute-force implementation of the definitions on random data with ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tipr_bench.baselines.metrics import (
    feature_retrieval_metrics,
    l2_normalise,
    positive_ranks_cpu,
    positive_ranks_torch,
    positive_table,
    retrieval_metrics,
    transposed_retrieval_metrics,
)


def approx(expected: dict) -> dict:
    return {k: pytest.approx(v, abs=1e-9) for k, v in expected.items()}


def brute_force(sim: np.ndarray, q_pids, g_pids, ks=(1, 5, 10)) -> dict:
    """The definitions, one query at a time: order by descending score then gallery index."""
    out = {f"R{k}": 0.0 for k in ks} | {"mAP": 0.0, "mINP": 0.0}
    for i, row in enumerate(sim):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        ranks = [r + 1 for r, j in enumerate(order) if g_pids[j] == q_pids[i]]
        for k in ks:
            out[f"R{k}"] += ranks[0] <= k
        out["mAP"] += sum((n + 1) / r for n, r in enumerate(ranks)) / len(ranks)
        out["mINP"] += len(ranks) / ranks[-1]
    return {k: 100.0 * v / len(sim) for k, v in out.items()}


# Two text queries over five images. Query 0 (person 7) ranks images 0, 1, 3, 4, 2: its positives
# (images 0 and 2) sit at ranks 1 and 5, so AP = (1/1 + 2/5) / 2 = 0.7 and INP = 2/5.
# Query 1 (person 8) ranks images 2, 3, 4, 0, 1: positives (4 and 1) at ranks 3 and 5,
# AP = (1/3 + 2/5) / 2 = 11/30 and INP = 2/5.
HAND_SIM = np.array([[0.9, 0.8, 0.1, 0.5, 0.3],
                     [0.2, 0.1, 0.9, 0.4, 0.3]], dtype=np.float32)
HAND_Q = [7, 8]
HAND_G = [7, 8, 7, 9, 8]


def test_hand_made_ranking():
    got = retrieval_metrics(HAND_SIM, HAND_Q, HAND_G, ks=(1, 3, 5, 10))
    assert got == approx({"R1": 50.0, "R3": 100.0, "R5": 100.0, "R10": 100.0,
                          "mAP": 100 * (0.7 + 11 / 30) / 2, "mINP": 40.0})


def test_default_keys_and_percent():
    got = retrieval_metrics(HAND_SIM, HAND_Q, HAND_G)
    assert list(got) == ["R1", "R5", "R10", "mAP", "mINP"]
    assert got["mAP"] == pytest.approx(53.333333333, abs=1e-6)


def test_query_with_one_positive():
    # Only image 3 shows person 5; it is ranked 4th: AP = INP = 1/4, R@1 = R@3 = 0, R@5 = 1.
    sim = np.array([[0.4, 0.9, 0.3, 0.35, 0.6, 0.1]])
    got = retrieval_metrics(sim, [5], [1, 2, 3, 5, 4, 6], ks=(1, 3, 5))
    assert got == approx({"R1": 0.0, "R3": 0.0, "R5": 100.0, "mAP": 25.0, "mINP": 25.0})


def test_ties_go_to_the_lower_gallery_index():
    # All three images score the same: the order is 0, 1, 2. Person 3's images (1 and 2) rank 2 and 3:
    # AP = (1/2 + 2/3) / 2, INP = 2/3, R@1 = 0.
    sim = np.full((1, 3), 0.5, dtype=np.float32)
    got = retrieval_metrics(sim, [3], [4, 3, 3], ks=(1, 2))
    assert got == approx({"R1": 0.0, "R2": 100.0, "mAP": 100 * (1 / 2 + 2 / 3) / 2, "mINP": 100 * 2 / 3})
    # The same positives first in the gallery rank first.
    got = retrieval_metrics(sim, [3], [3, 3, 4], ks=(1,))
    assert got == approx({"R1": 100.0, "mAP": 100.0, "mINP": 100.0})


def test_negative_zero_ties_with_zero():
    # -0.0 == 0.0, so the tie goes to gallery index 0 (a negative) and the positive ranks 2nd.
    sim = np.array([[-0.0, 0.0, -0.5]], dtype=np.float64)
    got = retrieval_metrics(sim, [1], [2, 1, 3], ks=(1,))
    assert got == approx({"R1": 0.0, "mAP": 50.0, "mINP": 50.0})


def test_image_to_text_by_hand():
    # 3 captions (persons A=1, A=1, B=2) x 2 images (A, B).
    sim = np.array([[0.9, 0.1], [0.2, 0.3], [0.8, 0.7]], dtype=np.float32)
    captions, images = [1, 1, 2], [1, 2]
    # Image A ranks captions 0 (A), 2 (B), 1 (A): AP = (1 + 2/3) / 2, INP = 2/3. Image B ranks caption 2 first.
    i2t = transposed_retrieval_metrics(sim, images, captions, ks=(1,))
    assert i2t == approx({"R1": 100.0, "mAP": 100 * ((1 + 2 / 3) / 2 + 1) / 2, "mINP": 100 * (2 / 3 + 1) / 2})
    assert retrieval_metrics(sim.T.copy(), images, captions, ks=(1,)) == i2t
    # Text-to-image: caption 0 finds A first; captions 1 and 2 find the other person first.
    t2i = retrieval_metrics(sim, captions, images, ks=(1,))
    assert t2i == approx({"R1": 100 / 3, "mAP": 100 * 2 / 3, "mINP": 100 * 2 / 3})


def random_case(seed: int, n_q: int = 37, n_g: int = 23, ids: int = 6, decimals: int = 1):
    rng = np.random.default_rng(seed)
    g_pids = np.concatenate([np.arange(ids), rng.integers(0, ids, n_g - ids)])
    q_pids = rng.integers(0, ids, n_q)
    sim = np.round(rng.uniform(-1, 1, (n_q, n_g)), decimals)  # rounding makes many ties
    return sim, q_pids, g_pids


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_definitions_with_ties(seed):
    sim, q, g = random_case(seed)
    expected = brute_force(sim, q, g)
    assert retrieval_metrics(sim, q, g) == approx(expected)
    assert retrieval_metrics(sim.astype(np.float32), q, g) == approx(expected)


def test_all_scores_equal():
    sim = np.zeros((8, 10), dtype=np.float32)
    q, g = np.arange(8) % 3, np.arange(10) % 3
    assert retrieval_metrics(sim, q, g) == approx(brute_force(sim, q, g))


@pytest.mark.parametrize("chunk_size", [1, 4, 36, 1000])
def test_chunked_equals_unchunked(chunk_size):
    sim, q, g = random_case(7, n_q=40, n_g=30, decimals=2)
    whole = retrieval_metrics(sim, q, g)
    assert retrieval_metrics(sim, q, g, chunk_size=chunk_size) == whole
    assert transposed_retrieval_metrics(sim.T.copy(), q, g, chunk_size=chunk_size) == whole


def test_torch_tensors_and_features():
    rng = np.random.default_rng(3)
    text, image = rng.standard_normal((30, 8)), rng.standard_normal((12, 8))
    q, g = rng.integers(0, 4, 30), np.arange(12) % 4
    unit_t = text / np.linalg.norm(text, axis=1, keepdims=True)
    unit_i = image / np.linalg.norm(image, axis=1, keepdims=True)
    sim = unit_t @ unit_i.T
    expected = brute_force(sim, q, g)
    assert retrieval_metrics(torch.from_numpy(sim), torch.from_numpy(q), g.tolist()) == approx(expected)
    assert feature_retrieval_metrics(text, image, q, g, chunk_size=7) == approx(expected)
    assert feature_retrieval_metrics(image, text, g, q) == approx(brute_force(sim.T, g, q))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="no positive"):
        retrieval_metrics(HAND_SIM, [7, 99], HAND_G)
    nan = HAND_SIM.copy()
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        retrieval_metrics(nan, HAND_Q, HAND_G)
    with pytest.raises(ValueError, match="do not match"):
        retrieval_metrics(HAND_SIM, HAND_Q, HAND_G[:4])
    with pytest.raises(ValueError, match="2-D"):
        retrieval_metrics(HAND_SIM[0], HAND_Q, HAND_G)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accelerator_path_agrees_with_the_cpu_path(dtype):
    # positive_ranks_torch is what runs on a GPU; it runs on CPU tensors too, so it is checked here.
    sim, q, g = random_case(11, n_q=25, n_g=40, decimals=1)
    sim = sim.astype(dtype)
    table, counts = positive_table(q, g).rows(0, len(q))
    scores = torch.from_numpy(sim)
    np.testing.assert_array_equal(positive_ranks_torch(scores, table, counts),
                                  positive_ranks_cpu(scores, table, counts))


def test_progress_bar_changes_nothing():
    sim, q, g = random_case(5)
    assert retrieval_metrics(sim, q, g, chunk_size=5, progress=True) == retrieval_metrics(sim, q, g)


def test_normalising_in_place_gives_the_same_numbers_as_the_copy():
    feats = torch.randn(37, 16, generator=torch.Generator().manual_seed(3)) * 5
    copy = l2_normalise(feats)
    assert l2_normalise(feats, in_place=True) is feats
    assert torch.equal(feats, copy)
