"""ITM re-ranking of the ITC top-k, and the score_split contract, on a real workspace and images."""

import torch

from tests.support.bi_irra_micro import MICRO
from tests.support.bi_irra_sample import build_workspace
from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra.inference import (
    OUTSIDE_TOP_K,
    RERANK_OFFSET,
    LoadedModel,
    encode_gallery,
    gallery_of,
    rerank_row,
    score_split,
    score_texts,
)
from tipr_bench.baselines.bi_irra.model import BiIRRA
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.core.atomic import sha256_file


def _model(ws, rerank_score: str = "itc+itm") -> LoadedModel:
    torch.manual_seed(0)
    texts = [c.text for c in ws.captions("synth", None, "en")] + [c.text for c in ws.captions("synth", None, "zh")]
    tokenizer = Tokenizer.train(texts, 120)
    config = MICRO.with_overrides(vocab_size=tokenizer.vocab_size, rerank_score=rerank_score)
    model = BiIRRA(config).eval()
    with torch.no_grad():  # make the image count in the fused state, so ITM scores differ between images
        for layer in model.fusion.layer:
            layer.cross_attn.out.weight.mul_(50)
    return LoadedModel(model, tokenizer, config, "zh", ws.root / "none.pt", "0" * 64)


def test_combined_scores_sit_above_every_cosine_and_follow_the_sum():
    cos = torch.tensor([0.9, 0.5, -1.0, 0.95])
    logits = torch.log(torch.tensor([[1.0, 1e-9], [0.4, 0.6], [1e-9, 1.0]]))  # p_match 0, 0.6, 1
    scores = rerank_row(cos, torch.tensor([0, 1, 2]), logits, "itc+itm")
    assert (scores[:3] > 1.0).all() and scores[3] == cos[3]
    assert scores.argsort(descending=True).tolist() == [1, 0, 2, 3]


def test_reference_scores_are_the_match_logit_and_minus_100_outside_the_top_k():
    cos = torch.tensor([0.9, 0.5, -1.0, 0.95])
    logits = torch.tensor([[0.0, -2.0], [0.0, 3.0], [5.0, 1.0]])
    scores = rerank_row(cos, torch.tensor([0, 1, 2]), logits, "itm")
    assert scores.tolist() == [-2.0, 3.0, 1.0, OUTSIDE_TOP_K]


def test_itm_reorders_the_top_k_and_leaves_the_rest_in_itc_order(tmp_path):
    ws = build_workspace(tmp_path, persons=10)
    lm = _model(ws)
    _, paths, _ = gallery_of(ws, "synth", "test")
    texts = [c.text for c in ws.captions("synth", "test", "zh")]
    cpu = torch.device("cpu")
    tokens, feats = encode_gallery(lm, paths, cpu)
    itc = score_texts(lm, texts, True, tokens, feats, cpu, rerank_k=0)
    k = 3
    reranked = score_texts(lm, texts, True, tokens, feats, cpu, rerank_k=k)
    for q, text in enumerate(texts):
        top = itc[q].topk(k).indices
        assert set(reranked[q].topk(k).indices.tolist()) == set(top.tolist())
        ids, att = lm.tokenizer.encode([text], lm.config.max_text_len)
        with torch.no_grad():
            text_tokens = lm.model.encode_text(ids, att)
            prob = lm.model.itm_logits(text_tokens.expand(k, -1, -1), att.expand(k, -1), tokens[top]).softmax(-1)[:, 1]
        assert torch.allclose(reranked[q, top], RERANK_OFFSET + itc[q, top] + prob, atol=1e-5)
        rest = torch.ones(itc.shape[1], dtype=torch.bool)
        rest[top] = False
        assert torch.equal(reranked[q, rest], itc[q, rest])


def test_when_itc_ties_the_itm_head_decides_the_order(tmp_path):
    ws = build_workspace(tmp_path, persons=10)
    lm = _model(ws)
    with torch.no_grad():  # every image gets the same ITC feature: only ITM can separate them
        lm.model.vision_proj.weight.zero_()
        lm.model.vision_proj.bias.fill_(1.0)
    _, paths, _ = gallery_of(ws, "synth", "test")
    texts = [c.text for c in ws.captions("synth", "test", "en")]
    cpu = torch.device("cpu")
    tokens, feats = encode_gallery(lm, paths, cpu)
    reranked = score_texts(lm, texts, False, tokens, feats, cpu, rerank_k=len(paths))
    for q, text in enumerate(texts):
        ids, att = lm.tokenizer.encode([text], lm.config.max_text_len)
        with torch.no_grad():
            text_tokens = lm.model.encode_text(ids, att)
            n = len(paths)
            prob = lm.model.itm_logits(text_tokens.expand(n, -1, -1), att.expand(n, -1), tokens).softmax(-1)[:, 1]
        assert prob.max() - prob.min() > 1e-3
        assert reranked[q].argsort(descending=True).tolist() == prob.argsort(descending=True).tolist()


def test_score_split_returns_the_contract_with_the_workspace_checkpoint(tmp_path):
    ws = build_workspace(tmp_path, persons=10)
    lm = _model(ws)
    path = ckpt.run_dir(ws.root, "zh", "synth", "micro") / "best.pt"
    ckpt.save(path, {"model_name": ckpt.MODEL, "lang": "zh", "config": lm.config.to_dict(),
                     "tokenizer": lm.tokenizer.spec(), "model": lm.model.state_dict()})
    scored = score_split(ws, dataset="synth", split="test", lang="en", device="cpu", rerank_k=4, progress=False)
    assert scored.checkpoint == path and scored.train_lang == "zh" and scored.checkpoint_sha256 == sha256_file(path)
    assert scored.similarity.shape == (len(scored.query_keys), len(scored.gallery_paths)) == (8, 4)
    assert len(scored.query_pids) == 8 and sorted(set(scored.gallery_pids)) == sorted(set(scored.query_pids))
    assert all(key.startswith("synth/") for key in scored.query_keys)


def test_the_reference_score_ranks_the_top_k_by_itm_logit_and_the_rest_last(tmp_path):
    ws = build_workspace(tmp_path, persons=10)
    lm = _model(ws, rerank_score="itm")
    _, paths, _ = gallery_of(ws, "synth", "test")
    texts = [c.text for c in ws.captions("synth", "test", "zh")]
    cpu = torch.device("cpu")
    tokens, feats = encode_gallery(lm, paths, cpu)
    itc = score_texts(lm, texts, True, tokens, feats, cpu, rerank_k=0)
    reranked = score_texts(lm, texts, True, tokens, feats, cpu, rerank_k=2)
    for q, text in enumerate(texts):
        top = itc[q].topk(2).indices
        ids, att = lm.tokenizer.encode([text], lm.config.max_text_len)
        with torch.no_grad():
            logit = lm.model.itm_logits(lm.model.encode_text(ids, att).expand(2, -1, -1), att.expand(2, -1),
                                        tokens[top])[:, 1]
        assert torch.allclose(reranked[q, top], logit, atol=1e-5)
        assert sorted(reranked[q].tolist()).count(OUTSIDE_TOP_K) == len(paths) - 2


def test_evaluation_scores_in_fp32_unless_bf16_is_asked_for(tmp_path):
    ws = build_workspace(tmp_path, persons=10)
    lm = _model(ws, rerank_score="itm")
    assert lm.config.eval_precision == "fp32"  # the reference's cclm_test runs outside autocast
    _, paths, _ = gallery_of(ws, "synth", "test")
    texts = [c.text for c in ws.captions("synth", "test", "zh")]
    cpu = torch.device("cpu")
    tokens, feats = encode_gallery(lm, paths, cpu)
    assert tokens.dtype == torch.float32
    scores = score_texts(lm, texts, True, tokens, feats, cpu, rerank_k=len(paths))
    with torch.no_grad():
        ids, att = lm.tokenizer.encode(texts[:1], lm.config.max_text_len)
        text_tokens = lm.model.encode_text(ids, att)
        sim = lm.model.text_features(text_tokens, True) @ feats.t()
        top = sim[0].topk(len(paths)).indices
        logits = lm.model.itm_logits(text_tokens.expand(len(paths), -1, -1), att.expand(len(paths), -1), tokens[top])
    assert torch.allclose(scores[0, top], logits[:, 1], atol=1e-6, rtol=0)

    bf16 = lm.config.with_overrides(eval_precision="bf16")
    fast = LoadedModel(lm.model, lm.tokenizer, bf16, "zh", lm.path, lm.sha256)
    bf16_tokens, bf16_feats = encode_gallery(fast, paths, cpu)
    rounded = score_texts(fast, texts, True, bf16_tokens, bf16_feats, cpu, rerank_k=len(paths))
    assert not torch.allclose(rounded, scores, atol=1e-6, rtol=0)
