"""Tokenisation for Bi-IRRA with one SentencePiece-based class and XLM-R's id layout.

Two sources: XLM-R's own `sentencepiece.bpe.model` from a local Hugging Face folder (ids shifted by
one as fairseq does, <mask> last: vocab 250002), or a small SentencePiece model trained here on the
workspace captions (for tiny configs, where a 250k vocabulary would dwarf the model). Both give
<s>=0, <pad>=1, </s>=2, <unk>=3. The model proto travels inside every checkpoint, so inference needs
nothing but the checkpoint file.

Every caption is cleaned first as the reference does (`clean_caption`), in training and test and for
English and the target language alike.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm
import torch

from tipr_bench.core.errors import UserError

BOS, PAD, EOS, UNK = 0, 1, 2, 3

# The punctuation the reference replaces with spaces before tokenising.
_REFERENCE_PUNCT = re.compile(r'[.!"()*#:;~]')
_SPACES = re.compile(r"\s{2,}")

# CJK ideographs and kana (the ranges multilingual BERT isolates); see `_normalise`.
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")


class Tokenizer:
    def __init__(self, model_proto: bytes, kind: str, lowercase: bool, split_cjk: bool = False,
                 clean: bool = True):
        self.model_proto = model_proto
        self.clean = clean  # the reference's caption cleaning (False only for checkpoints written before it)
        self.kind = kind  # "xlmr" (fairseq offset) or "trained" (ids used as they are)
        self.lowercase = lowercase
        self.split_cjk = split_cjk
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        size = self.sp.get_piece_size()
        if kind == "xlmr":
            self.vocab_size, self.mask_id = size + 2, size + 1
        else:
            self.vocab_size, self.mask_id = size, self.sp.piece_to_id("<mask>")
        self.pad_id = PAD
        self.special_ids = {BOS, PAD, EOS, self.mask_id}

    @classmethod
    def from_xlmr_folder(cls, folder: Path) -> Tokenizer:
        path = folder / "sentencepiece.bpe.model"
        if not path.is_file():
            raise UserError(f"--xlmr {folder}: no sentencepiece.bpe.model; point it at a local XLM-R folder")
        return cls(path.read_bytes(), "xlmr", lowercase=False)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> Tokenizer:
        """Train a BPE SentencePiece model on captions (English and target language together)."""
        sentences = [_normalise(clean_caption(t, 10**6), lowercase=True, split_cjk=True) for t in texts if t.strip()]
        if not sentences:
            raise UserError("no captions to train a tokenizer on; ingest a dataset first")
        out = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=out, vocab_size=vocab_size, model_type="bpe",
            bos_id=BOS, pad_id=PAD, eos_id=EOS, unk_id=UNK, user_defined_symbols=["<mask>"],
            hard_vocab_limit=False, character_coverage=0.9995, num_threads=2,
            minloglevel=2, input_sentence_size=200000, shuffle_input_sentence=True,
        )
        return cls(out.getvalue(), "trained", lowercase=True, split_cjk=True)

    def spec(self) -> dict:
        return {"kind": self.kind, "lowercase": self.lowercase, "split_cjk": self.split_cjk,
                "clean": self.clean, "model_proto": self.model_proto}

    @classmethod
    def from_spec(cls, spec: dict) -> Tokenizer:
        return cls(spec["model_proto"], spec["kind"], spec["lowercase"], spec.get("split_cjk", False),
                   spec.get("clean", False))

    def ids(self, text: str, max_len: int) -> list[int]:
        """<s> pieces </s>, truncated to max_len (and, cleaned, to max_len words first, as the reference)."""
        if self.clean:
            text = clean_caption(text, max_len)
        pieces = self.sp.encode(_normalise(text, self.lowercase, self.split_cjk))
        if self.kind == "xlmr":
            pieces = [p + 1 if p > 0 else UNK for p in pieces]
        return [BOS, *pieces[: max_len - 2], EOS]

    def pad(self, rows: Sequence[Sequence[int] | torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-pad to the longest row: (ids [B, L], attention mask [B, L])."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        att = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
            att[i, : len(row)] = 1
        return ids, att

    def encode(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pad([self.ids(t, max_len) for t in texts])


def clean_caption(text: str, max_words: int) -> str:
    """The reference's caption cleaning (misc/caption_dataset.py `pre_caption`): lower-case, each of
    . ! " ( ) * # : ; ~ becomes a space, runs of whitespace become one space, and only the first
    max_words space-separated words are kept."""
    text = _SPACES.sub(" ", _REFERENCE_PUNCT.sub(" ", text.lower())).rstrip("\n").strip(" ")
    words = text.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else text


def _normalise(text: str, lowercase: bool, split_cjk: bool) -> str:
    """Lower-case, and put spaces around CJK characters so each is its own word (as multilingual BERT
    does). Without it, a small SentencePiece model trained on unsegmented Chinese learns whole
    phrases as single pieces, which a small model memorises instead of composing, and those phrases
    eat the vocabulary that English words need."""
    text = text.strip()
    if lowercase:
        text = text.lower()
    if split_cjk:
        text = _CJK.sub(r" \1 ", text)
    return text
