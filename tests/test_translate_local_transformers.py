"""The transformers backend on tiny real models built from configs (no downloads), and one slow test on the
real bundled Gemma-3-270M GGUF that the demo uses."""

from __future__ import annotations

import pytest
import torch

from tests.support.translate_local_models import CHAT_TEMPLATE, local_backend, save_causal, save_seq2seq
from tipr_bench.core.errors import UserError
from tipr_bench.translate import backend_identity
from tipr_bench.translate.backends.base import BatchBackend, Completion, DecodingParams
from tipr_bench.translate.backends.transformers_backend import TransformersBackend
from tipr_bench.translate.options import BackendOptions

CAPTIONS = [
    "A man wearing a black jacket.",
    "The woman has long brown hair and wears a white shirt with a black skirt.",
    "A young man in a grey hoodie.",
    "She is wearing a yellow dress, black high heels and carries a small brown handbag.",
    "red backpack",
]
GREEDY = DecodingParams(temperature=0.0, max_tokens=6)


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def causal(tmp_path_factory) -> TransformersBackend:
    folder = save_causal(tmp_path_factory.mktemp("causal"))
    return local_backend(str(folder), device="cpu", batch_size=4)


@pytest.fixture(scope="module")
def seq2seq(tmp_path_factory) -> TransformersBackend:
    folder = save_seq2seq(tmp_path_factory.mktemp("t5"))
    return local_backend(str(folder), device="cpu", batch_size=4)


def test_causal_folder_is_a_batch_backend_with_a_stable_id(causal, tmp_path_factory):
    assert isinstance(causal, BatchBackend)
    assert causal.name == "transformers" and not causal.is_seq2seq and causal.batch_size == 4
    assert causal.device.type == "cpu" and causal._net.dtype == torch.float32
    name, digest = causal.model.split("@")
    assert name.startswith("causal") and len(digest) == 12
    # same config and weights -> same id; a different checkpoint -> a different id
    other = save_causal(tmp_path_factory.mktemp("causal"), seed=1)
    assert local_backend(str(other), device="cpu").model.split("@")[1] != digest


def test_batched_results_equal_one_by_one_with_left_padding(causal):
    conversations = [user(c) for c in CAPTIONS]
    lengths = [len(ids) for ids in causal.encode(conversations)]
    assert len(set(lengths)) > 2  # different lengths, so the batch really is padded
    batched = causal.complete_batch(conversations, GREEDY)  # 5 prompts in passes of 4
    single = [causal.complete_batch([c], GREEDY)[0] for c in conversations]
    assert batched == single
    assert [c.tokens_in for c in batched] == lengths
    assert causal._tokenizer.padding_side == "left"
    assert all(c.text for c in batched)


def test_max_tokens_gives_finish_reason_length(causal):
    (out,) = causal.complete_batch([user(CAPTIONS[0])], DecodingParams(max_tokens=5))
    assert out.tokens_out == 5 and out.finish_reason == "length"


def test_stop_string_cuts_the_text_and_ends_generation(causal):
    conversation = user(CAPTIONS[1])
    (free,) = causal.complete_batch([conversation], DecodingParams(max_tokens=12))
    ids = causal._net.generate(**causal._tokenizer([causal.render(conversation)], return_tensors="pt"),
                               generation_config=causal._generation_config(DecodingParams(max_tokens=12)))
    pieces = [causal._tokenizer.decode([t]) for t in ids[0, -12:].tolist()]
    # stop on the 4th generated token's text: the answer is the first 3 tokens' text, 4 tokens were spent
    stop = next(p for p in pieces[3:] if p.strip() and p not in "".join(pieces[:3]))
    k = pieces.index(stop)
    (cut,) = causal.complete_batch([conversation], DecodingParams(max_tokens=12, stop=(stop,)))
    assert cut.finish_reason == "stop" and cut.tokens_out == k + 1
    assert cut.text == "".join(pieces[:k]).strip()
    assert free.text.startswith(cut.text) and stop not in cut.text
    # in a batch, the row that stops early does not change the others
    batch = causal.complete_batch([conversation, user(CAPTIONS[2])], DecodingParams(max_tokens=12, stop=(stop,)))
    assert batch[0] == cut
    assert batch[1] == causal.complete_batch([user(CAPTIONS[2])], DecodingParams(max_tokens=12, stop=(stop,)))[0]


def test_eos_ends_with_stop_and_counts_the_eos_token(tmp_path):
    backend = local_backend(str(save_causal(tmp_path / "eos", eos_first=True)), device="cpu")
    outs = backend.complete_batch([user(CAPTIONS[0]), user(CAPTIONS[1])], DecodingParams(max_tokens=8))
    assert [(c.text, c.tokens_out, c.finish_reason) for c in outs] == [("", 1, "stop")] * 2


def test_chat_template_is_applied_for_chat_models_and_raw_text_for_base(tmp_path, causal):
    chat = local_backend(str(save_causal(tmp_path / "chat", chat_template=CHAT_TEMPLATE)), device="cpu")
    conversation = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a red coat"}]
    assert chat.uses_chat_template and not causal.uses_chat_template
    assert chat.render(conversation) == "<s><|system|>Be brief.\n<|user|>a red coat\n<|assistant|>"
    assert causal.render(conversation) == "Be brief.\n\na red coat"
    # the template writes BOS itself: it must not be doubled
    assert chat.encode([conversation])[0].count(chat._tokenizer.bos_token_id) == 1
    (out,) = chat.complete_batch([conversation], GREEDY)
    assert out.tokens_in == len(chat.encode([conversation])[0]) and out.tokens_out == 6


def test_content_parts_are_read_and_images_refused(causal):
    parts = [{"role": "user", "content": [{"type": "text", "text": "a red "}, {"type": "text", "text": "coat"}]}]
    assert causal.render(parts) == "a red coat"
    image = [{"role": "user", "content": [{"type": "text", "text": "a red coat"},
                                          {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]
    with pytest.raises(UserError, match="reads text only.*image_url.*--backend vllm or openai"):
        causal.complete_batch([image], GREEDY)


def test_seq2seq_folder_uses_the_encoder_decoder(seq2seq):
    assert seq2seq.is_seq2seq and type(seq2seq._net).__name__ == "T5ForConditionalGeneration"
    conversations = [user(c) for c in CAPTIONS]
    batched = seq2seq.complete_batch(conversations, GREEDY)
    assert batched == [seq2seq.complete_batch([c], GREEDY)[0] for c in conversations]
    assert all(c.tokens_out == 6 and c.finish_reason == "length" and c.text for c in batched)
    assert batched[0].tokens_in == len(seq2seq._tokenizer(CAPTIONS[0])["input_ids"])


def test_sampling_is_reproducible_with_a_seed(causal):
    params = DecodingParams(temperature=1.0, top_p=0.9, max_tokens=8, seed=7)
    first = causal.complete_batch([user(c) for c in CAPTIONS[:3]], params)
    assert first == causal.complete_batch([user(c) for c in CAPTIONS[:3]], params)
    assert causal.complete_batch([], params) == []


def test_device_selection(tmp_path, causal):
    folder = causal._net.name_or_path
    assert local_backend(folder, device="auto").device.type == ("cuda" if torch.cuda.is_available()
                                                                      else "cpu")
    with pytest.raises(UserError, match="--device 'tpu0': use auto, cpu, cuda or cuda:N"):
        local_backend(folder, device="tpu0")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="sees no CUDA device; use --device cpu"):
            local_backend(folder, device="cuda")


def test_bad_model_paths_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such folder or file"):
        local_backend(str(tmp_path / "missing"), device="cpu")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(UserError, match="must be a .gguf"):
        local_backend(str(tmp_path / "weights.bin"), device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no config.json"):
        local_backend(str(tmp_path / "empty"), device="cpu")
    (tmp_path / "broken.gguf").write_bytes(b"GGUF not really")
    with pytest.raises(UserError, match="cannot load this GGUF"):
        local_backend(str(tmp_path / "broken.gguf"), device="cpu")
    with pytest.raises(UserError, match="at least 1"):
        local_backend(str(tmp_path / "missing"), batch_size=0)


FEWSHOT = ("Translate English to Chinese.\n"
           "English: A woman with long black hair, wearing a red jacket, blue jeans and white shoes.\n"
           "Chinese: 一位留着黑色长发的女士，穿着红色夹克、蓝色牛仔裤和白色鞋子。\n"
           "English: {source}\nChinese:")


@pytest.mark.slow
def test_bundled_gemma_translates_person_captions():
    """The demo's model: converted once into the model cache (~40 s), then loaded from it (~5 s)."""
    backend = local_backend(None, device="cpu", batch_size=16)
    assert backend.model.startswith("gemma-3-270m-q4_k_m.gguf@") and not backend.uses_chat_template
    assert backend_identity(BackendOptions(backend="transformers")) == ("transformers", backend.model)
    captions = CAPTIONS[:4]
    conversations = [user(FEWSHOT.format(source=c)) for c in captions]
    params = DecodingParams(temperature=0.0, max_tokens=64, stop=("\n",))
    first = backend.complete_batch(conversations, params)
    assert first == backend.complete_batch(conversations, params)
    assert all(isinstance(c, Completion) and c.text and "\n" not in c.text for c in first)
    assert all(c.tokens_in > 40 and 0 < c.tokens_out <= 64 for c in first)
    assert sum(any("\u4e00" <= ch <= "\u9fff" for ch in c.text) for c in first) >= 2  # mostly Chinese


def test_model_id_matches_the_cache_planner(causal):
    options = BackendOptions(backend="transformers", model=causal._net.name_or_path)
    assert backend_identity(options) == ("transformers", causal.model)


def test_threads_per_pass_are_asked_before_each_pass(causal):
    """The demo lends a core to training beside refine and takes it back between passes."""
    before, asked = torch.get_num_threads(), []
    causal.threads_per_pass = lambda: asked.append(len(asked)) or 1
    try:
        causal.complete_batch([user(c) for c in CAPTIONS], GREEDY)  # 5 prompts in passes of 4
        assert asked == [0, 1] and torch.get_num_threads() == 1
    finally:
        causal.threads_per_pass = None
        torch.set_num_threads(before)


def test_a_gguf_is_parsed_once_while_converting(tmp_path):
    """transformers opens a reader for the tokenizer, the config and the weights: inside `gguf_read_once`
    they share one parse of the file, and outside it every open parses again."""
    import gguf
    import numpy as np

    from tipr_bench.translate.backends.transformers_backend import gguf_read_once

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a", "b"])
    writer.add_tensor("token_embd.weight", np.arange(8, dtype=np.float32).reshape(4, 2))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    with gguf_read_once():
        first, again = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
        assert first is again
        assert [bytes(first.fields["tokenizer.ggml.tokens"].parts[i]).decode()
                for i in first.fields["tokenizer.ggml.tokens"].data] == ["<s>", "</s>", "a", "b"]
    assert gguf.GGUFReader(path) is not first  # the module's own reader again after the block
