"""Tiny real transformers models for the local-backend tests, built offline from configs.

A byte-level BPE tokenizer trained on a few captions, a 2-layer Llama (causal) and a 2-layer T5 (seq2seq),
randomly initialised with a fixed seed and saved as ordinary HF folders, so the backend loads them exactly
like a user's model folder.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

from tipr_bench.translate.backends.transformers_backend import TransformersBackend
from tipr_bench.translate.options import BackendOptions

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]  # ids 0..3
PAD, BOS, EOS, UNK = range(4)
CORPUS = [
    "A man wearing a black jacket, blue jeans and white sneakers, carrying a red backpack.",
    "The woman has long brown hair and wears a white shirt with a black skirt.",
    "A young man in a grey hoodie and dark pants is holding a phone in his right hand.",
    "She is wearing a yellow dress, black high heels and carries a small brown handbag.",
    "Translate English to Chinese.\nEnglish: a red coat\nChinese: 红色外套\n",
    "一位留着黑色长发的女士，穿着红色夹克、蓝色牛仔裤和白色鞋子。",
]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(seq2seq: bool, chat_template: str | None = None) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS * 4, trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    # causal LMs open with BOS; T5-style encoders close with EOS
    single = "$A </s>" if seq2seq else "<s> $A"
    tok.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[("<s>", BOS), ("</s>", EOS)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>",
                                   eos_token="</s>", unk_token="<unk>")
    if chat_template:
        fast.chat_template = chat_template
    return fast


def save_causal(folder: Path, *, chat_template: str | None = None, eos_first: bool = False,
                seed: int = 0) -> Path:
    """A tiny Llama. The special tokens' rows of its output layer are zero, so greedy decoding never picks
    them (random logits always have a positive maximum) and runs to max_tokens, unless `eos_first`: then the whole
    output layer is zero, every logit ties at 0, and greedy picks id 0, which is made the EOS."""
    tokenizer = build_tokenizer(False, chat_template)
    torch.manual_seed(seed)
    eos = PAD if eos_first else EOS
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=BOS, eos_token_id=eos, pad_token_id=PAD, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        if eos_first:
            model.lm_head.weight.zero_()
        else:
            model.lm_head.weight[:len(SPECIALS)].zero_()
    model.generation_config.eos_token_id = eos
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_seq2seq(folder: Path, seed: int = 0) -> Path:
    """A tiny T5 (encoder-decoder): the backend must pick AutoModelForSeq2SeqLM from its config."""
    tokenizer = build_tokenizer(True)
    torch.manual_seed(seed)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=4,
                      pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=PAD)
    model = T5ForConditionalGeneration(config)
    with torch.no_grad():
        model.lm_head.weight[:len(SPECIALS)].zero_()  # never emits pad/eos: greedy runs to max_tokens
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def local_backend(model: str | None, **options) -> TransformersBackend:
    """The transformers backend on `model` with these options, as `BackendOptions.build` makes it."""
    return TransformersBackend(BackendOptions(backend="transformers", model=model, **options))
