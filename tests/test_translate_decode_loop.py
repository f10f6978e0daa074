"""The transformers backend's own decode loop (shared prefix encoded once, finished rows dropped, output
layer cut to the scripts asked for) against transformers' `generate`, on tiny real models."""

from __future__ import annotations

import pytest

from tests.support.translate_local_models import local_backend, save_causal, save_seq2seq
from tipr_bench.core.errors import UserError
from tipr_bench.translate.backends.base import DecodingParams
from tipr_bench.translate.backends.decode_loop import PREFILL_ROWS
from tipr_bench.translate.backends.script_vocab import allowed_token_ids
from tipr_bench.translate.backends.transformers_backend import TransformersBackend
from tipr_bench.translate.prompts import PRESETS

SOURCES = [
    "A man wearing a black jacket.",
    "The woman has long brown hair and wears a white shirt with a black skirt.",
    "A young man in a grey hoodie.",
    "She is wearing a yellow dress, black high heels and carries a small brown handbag.",
    "red backpack",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_causal(tmp_path_factory.mktemp("causal"))


@pytest.fixture(scope="module")
def causal(folder) -> TransformersBackend:
    return local_backend(str(folder), device="cpu", batch_size=8)


def fewshot(source: str) -> list[dict]:
    return PRESETS["fewshot"].render(source, "zh")


def test_the_loop_gives_generates_answers_with_rows_that_end_at_different_steps(causal):
    assert causal._loop is not None  # a Llama's logits are its body through lm_head
    conversations = [fewshot(s) for s in SOURCES]
    prompts = causal.encode(conversations)
    assert len({len(p) for p in prompts}) > 2 and len({p[0] for p in prompts}) == 1  # padded, shared prefix
    for params in (DecodingParams(max_tokens=12), DecodingParams(max_tokens=12, stop=("A",))):
        fast = causal.complete_batch(conversations, params)
        plain = causal.generate_plain(prompts, params)
        assert fast == plain
    assert {c.finish_reason for c in fast} == {"stop", "length"}  # rows left the batch at different steps


def test_rows_prefilled_a_few_at_a_time_give_generates_answers(causal):
    conversations = [fewshot(s) for s in SOURCES]
    params = DecodingParams(max_tokens=12)
    causal._loop.prefill_rows = 2  # 5 rows in passes of 2, 2 and 1, their caches joined
    try:
        assert causal.complete_batch(conversations, params) == causal.generate_plain(causal.encode(conversations),
                                                                                     params)
    finally:
        causal._loop.prefill_rows = PREFILL_ROWS


def test_prefix_cache_is_reused_only_for_the_same_prefix(causal):
    params = DecodingParams(max_tokens=6)
    first = causal.complete_batch([fewshot(s) for s in SOURCES[:2]], params)
    other = causal.complete_batch([[{"role": "user", "content": s}] for s in SOURCES[2:]], params)
    again = causal.complete_batch([fewshot(s) for s in SOURCES[:2]], params)
    assert first == again
    assert other == causal.generate_plain(causal.encode([[{"role": "user", "content": s}] for s in SOURCES[2:]]),
                                          params)


def test_sampling_in_the_loop_is_reproducible_with_a_seed(causal):
    conversations = [fewshot(s) for s in SOURCES]
    params = DecodingParams(temperature=0.9, top_p=0.8, max_tokens=8, seed=7)
    assert causal.complete_batch(conversations, params) == causal.complete_batch(conversations, params)


def test_output_layer_cut_to_latin_never_writes_han_and_says_so_in_the_model_id(folder, causal):
    latin = local_backend(str(folder), device="cpu", batch_size=8, output_langs=("en",))
    assert latin.model == causal.model + "+vocab:latin"
    allowed = set(allowed_token_ids(latin._tokenizer, ("latin",)).tolist())
    vocab = latin._tokenizer.get_vocab()
    han = [i for tok, i in vocab.items() if any("\u4e00" <= c <= "\u9fff"
                                                  for c in latin._tokenizer.convert_tokens_to_string([tok]))]
    assert han and not allowed & set(han)
    assert latin._tokenizer.convert_tokens_to_ids("man") in allowed
    out = latin.complete_batch([fewshot(s) for s in SOURCES], DecodingParams(max_tokens=16))
    assert all(c.text and not any("\u4e00" <= ch <= "\u9fff" for ch in c.text) for c in out)


def test_a_cut_output_layer_needs_a_causal_lm(tmp_path):
    with pytest.raises(UserError, match="restricted output vocabulary"):
        local_backend(str(save_seq2seq(tmp_path / "t5")), device="cpu", output_langs=("en",))


def test_a_shortlist_gives_the_float32_heads_answers_and_says_so_in_the_model_id(folder, causal):
    short = local_backend(str(folder), device="cpu", batch_size=8, shortlist=8)
    assert short.model == causal.model + "+shortlist:8"
    assert short._loop.head.shortlist == 8 < short._loop.head.linear.out_features
    conversations = [fewshot(s) for s in SOURCES]
    greedy = DecodingParams(max_tokens=16)
    assert short.complete_batch(conversations, greedy) == causal.complete_batch(conversations, greedy)
    sampled = DecodingParams(temperature=0.9, max_tokens=8, seed=3)  # sampling reads the whole float32 layer
    assert short.complete_batch(conversations, sampled) == causal.complete_batch(conversations, sampled)


def test_the_shortlist_re_scores_its_candidates_exactly(causal):
    """With the whole vocabulary on the shortlist, the int8 scores only order the candidates: the
    choice is the float32 argmax, row by row."""
    import torch

    from tipr_bench.translate.backends.decode_loop import OutputHead

    net = causal._net
    full = OutputHead(net, None, shortlist=net.get_output_embeddings().weight.shape[0])
    hidden = torch.randn(32, net.config.hidden_size, generator=torch.Generator().manual_seed(0))
    assert torch.equal(full.greedy(hidden), OutputHead(net, None)(hidden).argmax(dim=-1))


def test_int8_scores_are_torchs_dynamically_quantized_linear(causal):
    """The shortlist's scores, packed once, are what `quantize_dynamic` (per-channel int8) computes."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from tipr_bench.translate.backends.decode_loop import Int8Scores

    linear = torch.nn.Linear(causal._net.config.hidden_size, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = quantize_dynamic(torch.nn.Sequential(linear), {torch.nn.Linear: per_channel_dynamic_qconfig})[0]
    hidden = torch.randn(16, linear.in_features, generator=torch.Generator().manual_seed(1))
    assert torch.equal(Int8Scores(linear)(hidden), reference(hidden))


def test_a_tail_that_repeats_itself_is_a_loop_and_a_varied_or_short_one_is_not():
    from tipr_bench.translate.backends.decode_loop import looping

    assert looping([9, 8] + [1, 2, 3] * 4)  # a 3-token period over 12 tokens
    assert looping([5] * 12) and not looping([5] * 11)  # a single token needs 12 in a row
    assert looping([7] + list(range(10)) * 3)  # a long period needs three repeats
    assert not looping(list(range(10)) * 2)  # twice is not a loop yet
    assert not looping([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6])


def test_a_row_caught_in_a_loop_ends_early_flagged_with_generates_first_tokens(causal):
    from tipr_bench.translate.checks import check_output

    conversations = [fewshot(s) for s in SOURCES]
    params = DecodingParams(max_tokens=64)
    fast = causal.complete_batch(conversations, params)
    plain = causal.generate_plain(causal.encode(conversations), params)
    looped = [(f, p) for f, p in zip(fast, plain, strict=True) if f.finish_reason == "repetition"]
    assert looped  # the tiny random model repeats itself
    for f, p in looped:
        assert f.tokens_out < p.tokens_out == 64 and p.text.startswith(f.text.rstrip("\ufffd"))
        assert check_output("a man", f.text, "zh", f.finish_reason).status == "flagged"
