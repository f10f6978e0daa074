"""Retrieval metrics with the field's definitions (IRRA's `rank`): R@k, mAP and mINP, in percent.

Definitions, per query: every gallery item with the query's person id is a positive; the
gallery is ranked by descending similarity, ties by ascending gallery index; R@k is 1 when a
positive is in the top k; AP averages the precision at the rank of each positive; INP is
(number of positives) / (rank of the last positive). The metrics are their means over queries.

Why not a full argsort like the reference code: every metric depends only on the ranks of the
positives, and a positive's rank is the number of gallery items that beat it. So each chunk of
rows is turned into order-preserving integer keys, sorted by value only (NumPy's vectorised
integer sort on CPU, several times faster than its float argsort; torch.sort on an accelerator),
and each positive's rank is read off with a binary search. No permutation, no [Q x G] match
matrix, no per-query metric loop; memory is one chunk (bench/eval_speed.py measures it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

DEFAULT_KS = (1, 5, 10)
# Rows per chunk: about this many scores (8 MB as float32), small enough to stay in cache.
CHUNK_ELEMENTS = 1 << 21
FEATURE_CHUNK_ELEMENTS = 1 << 23  # features: ~420 rows x 20k images a product (~32 MB of scores)

Scores = np.ndarray | torch.Tensor
ChunkFn = Callable[[int, int, "_Scratch"], torch.Tensor]

_POOLS: dict[int, ThreadPoolExecutor] = {}


def retrieval_metrics(
    similarity: Scores,
    query_pids: Sequence | np.ndarray | torch.Tensor,
    gallery_pids: Sequence | np.ndarray | torch.Tensor,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Metrics of a [Q x G] similarity matrix (numpy or torch, any device), in percent.

    Returns {"R1", "R5", "R10", "mAP", "mINP"} (one "R{k}" per k in `ks`). For image-to-text,
    use `transposed_retrieval_metrics` (no transposed copy of the matrix).
    """
    sim = _as_tensor(similarity)
    if sim.ndim != 2:
        raise ValueError(f"similarity must be 2-D [queries x gallery], got shape {tuple(sim.shape)}")
    dev = torch.device(device) if device is not None else sim.device

    def chunk(a: int, b: int, scratch: _Scratch) -> torch.Tensor:
        return sim[a:b].to(dev)

    return _metrics(chunk, sim.shape[0], sim.shape[1], query_pids, gallery_pids, ks, chunk_size, dev, progress)


def transposed_retrieval_metrics(
    similarity: Scores,
    query_pids: Sequence | np.ndarray | torch.Tensor,
    gallery_pids: Sequence | np.ndarray | torch.Tensor,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Metrics of `similarity.T` (e.g. image-to-text from a text-to-image matrix), chunked over
    columns so no transposed copy of the whole matrix is made. `query_pids` index the columns."""
    sim = _as_tensor(similarity)
    if sim.ndim != 2:
        raise ValueError(f"similarity must be 2-D, got shape {tuple(sim.shape)}")
    dev = torch.device(device) if device is not None else sim.device

    def chunk(a: int, b: int, scratch: _Scratch) -> torch.Tensor:
        out = scratch.get("scores", b - a, sim.shape[0], sim.dtype, dev)
        if dev.type == "cpu" and sim.device.type == "cpu" and sim.dtype in (torch.float32, torch.float64):
            _transpose_into(sim[:, a:b].numpy(), out.numpy())
            return out
        return out.copy_(sim[:, a:b].to(dev).T)

    return _metrics(chunk, sim.shape[1], sim.shape[0], query_pids, gallery_pids, ks, chunk_size, dev, progress)


def _transpose_into(block: np.ndarray, out: np.ndarray, step: int = 512) -> None:
    """out = block.T, a band of rows at a time: a strided copy of the whole block in one go
    misses the cache on every element and is several times slower."""
    for r in range(0, block.shape[0], step):
        out[:, r:r + step] = block[r:r + step].T


def feature_retrieval_metrics(
    query_feats: Scores,
    gallery_feats: Scores,
    query_pids: Sequence | np.ndarray | torch.Tensor,
    gallery_pids: Sequence | np.ndarray | torch.Tensor,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    normalised: bool = False,
) -> dict[str, float]:
    """Metrics of cosine similarity between L2-normalised features, one chunk of rows at a time, so the full
    [Q x G] matrix never exists. `normalised`: the rows are unit length already (no normalised copy is made)."""
    q, g = _as_tensor(query_feats), _as_tensor(gallery_feats)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"features must be [Q x D] and [G x D], got {tuple(q.shape)} and {tuple(g.shape)}")
    dev = torch.device(device) if device is not None else q.device
    q, g = q.to(dev), g.to(dev)
    if not normalised:
        q, g = l2_normalise(q), l2_normalise(g)
    g_t = g.T if dev.type == "cpu" else g.T.contiguous()  # BLAS reads the transpose in place

    def chunk(a: int, b: int, scratch: _Scratch) -> torch.Tensor:
        out = scratch.get("scores", b - a, g_t.shape[1], q.dtype, dev)
        if dev.type == "cpu":  # NumPy's OpenBLAS: 2-3x torch's MKL sgemm on AMD CPUs, the same float32 sums
            np.matmul(q[a:b].numpy(), g_t.numpy(), out=out.numpy())
            return out
        return torch.matmul(q[a:b], g_t, out=out)

    if chunk_size is None and dev.type == "cpu":  # a matrix product wants taller chunks than the ranking
        chunk_size = max(1, FEATURE_CHUNK_ELEMENTS // g.shape[0])
    return _metrics(chunk, q.shape[0], g.shape[0], query_pids, gallery_pids, ks, chunk_size, dev, progress)


def l2_normalise(feats: torch.Tensor, *, in_place: bool = False) -> torch.Tensor:
    """Rows scaled to unit length, in float32 (float64 stays float64), as the field's evaluators do. `in_place`
    scales a float tensor's own rows (torch's `normalize`'s numbers), so its owner holds no second copy."""
    if not feats.is_floating_point() or feats.dtype in (torch.float16, torch.bfloat16):
        feats = feats.float()
    if not in_place:
        return torch.nn.functional.normalize(feats, p=2, dim=1)
    return feats.div_(feats.norm(p=2, dim=1, keepdim=True).clamp_min_(1e-12))


# -- core ---------------------------------------------------------------------------------------


def _metrics(
    chunk: ChunkFn,
    n_queries: int,
    n_gallery: int,
    query_pids,
    gallery_pids,
    ks: Sequence[int],
    chunk_size: int | None,
    dev: torch.device,
    progress: bool,
) -> dict[str, float]:
    ks = tuple(int(k) for k in ks)
    if not ks or min(ks) < 1:
        raise ValueError(f"ks must be positive integers, got {ks}")
    if n_queries == 0 or n_gallery == 0:
        raise ValueError(f"empty similarity matrix ({n_queries} x {n_gallery})")
    q_pids, g_pids = _as_numpy(query_pids), _as_numpy(gallery_pids)
    if q_pids.shape != (n_queries,) or g_pids.shape != (n_gallery,):
        raise ValueError(
            f"pids do not match the similarity matrix: {n_queries} x {n_gallery} scores, "
            f"{q_pids.size} query pids, {g_pids.size} gallery pids"
        )
    positives = positive_table(q_pids, g_pids)
    if chunk_size is None:
        chunk_size = max(1, CHUNK_ELEMENTS // n_gallery)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    hits = {k: 0 for k in ks}
    ap = np.empty(n_queries, dtype=np.float64)
    inp = np.empty(n_queries, dtype=np.float64)
    scratch = _Scratch()
    bounds = [(a, min(a + chunk_size, n_queries)) for a in range(0, n_queries, chunk_size)]
    for a, b in _progress(bounds, progress, "ranking queries"):
        scores = chunk(a, b, scratch)
        pos_idx, counts = positives.rows(a, b)
        if scores.device.type == "cpu":
            ranks = positive_ranks_cpu(scores, pos_idx, counts, scratch)
        else:
            ranks = positive_ranks_torch(scores, pos_idx, counts)
        first = ranks[:, 0]
        for k in ks:
            hits[k] += int(np.count_nonzero(first <= k))
        valid = np.arange(ranks.shape[1])[None, :] < counts[:, None]
        precision = np.where(valid, np.arange(1, ranks.shape[1] + 1)[None, :] / ranks, 0.0)
        ap[a:b] = precision.sum(1) / counts
        inp[a:b] = counts / ranks[np.arange(b - a), counts - 1]

    # fsum is correctly rounded, so the result does not depend on the chunk size.
    out = {f"R{k}": 100.0 * hits[k] / n_queries for k in ks}
    out["mAP"] = 100.0 * math.fsum(ap) / n_queries
    out["mINP"] = 100.0 * math.fsum(inp) / n_queries
    return out


def positive_ranks_cpu(scores: torch.Tensor, pos_idx: np.ndarray, counts: np.ndarray,
                       scratch: _Scratch | None = None) -> np.ndarray:
    """1-based ranks of each row's positives, ascending, [rows x n_max] int64; padding holds G + 1.

    The rank of gallery item j is 1 + #{g: s_g > s_j} + #{g < j: s_g == s_j} (stable order). NumPy
    does the work: its ufuncs and sort run single-threaded without synchronising, so blocks of rows
    go to a thread pool (they release the GIL), which stays fast on a busy machine."""
    if scores.dtype not in (torch.float32, torch.float64):
        scores = scores.float()
    sim = scores.numpy()
    rows, n_gallery = sim.shape
    scratch = scratch or _Scratch()
    int_dtype = torch.int64 if sim.dtype == np.float64 else torch.int32
    keys = scratch.get("keys", rows, n_gallery, int_dtype, torch.device("cpu")).numpy()
    sign = scratch.get("sign", rows, n_gallery, int_dtype, torch.device("cpu")).numpy()
    pos_keys = np.empty(pos_idx.shape, dtype=keys.dtype)
    above = np.empty(pos_idx.shape, dtype=np.int64)
    tied = np.zeros(pos_idx.shape, dtype=bool)
    valid = np.arange(pos_idx.shape[1])[None, :] < counts[:, None]
    lowest, highest = _float_keys_np(np.array([-np.inf, np.inf], dtype=sim.dtype))

    def block(a: int, b: int) -> None:
        k = _float_keys_np(sim[a:b], keys[a:b], sign[a:b])
        mine = np.take_along_axis(k, pos_idx[a:b], axis=1)
        pos_keys[a:b] = mine
        k.sort(axis=1)
        if (k[:, 0] < lowest).any() or (k[:, -1] > highest).any():
            raise ValueError("similarity contains NaN: check the features for NaN or all-zero rows")
        right = np.empty_like(above[a:b])
        for r in range(b - a):
            right[r] = np.searchsorted(k[r], mine[r], side="right")
        above[a:b] = n_gallery - right
        # Another item shares a positive's score when the key just before it in sorted order is equal.
        before = np.take_along_axis(k, np.maximum(right - 2, 0), axis=1)
        tied[a:b] = (right >= 2) & (before == mine) & valid[a:b]

    _run_blocks(block, rows)
    if tied.any():
        for r in np.flatnonzero(tied.any(1)):
            cols = np.flatnonzero(tied[r])
            row_keys = _float_keys_np(sim[r:r + 1])[0]
            earlier = np.arange(n_gallery)[None, :] < pos_idx[r, cols][:, None]
            above[r, cols] += ((row_keys[None, :] == pos_keys[r, cols][:, None]) & earlier).sum(1)
    ranks = np.where(valid, above + 1, n_gallery + 1)
    ranks.sort(axis=1)
    return ranks


def positive_ranks_torch(scores: torch.Tensor, pos_idx: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The same ranks as positive_ranks_cpu, computed on the scores' device (torch.sort and a batched
    binary search), for accelerators."""
    dev = scores.device
    if scores.dtype not in (torch.float32, torch.float64):
        scores = scores.float()
    n_gallery = scores.shape[1]
    index = torch.from_numpy(pos_idx).to(dev)
    count = torch.from_numpy(counts).to(dev)
    keys = _float_keys_torch(scores)
    mine = keys.gather(1, index)
    sorted_keys = torch.sort(keys, dim=1).values
    lowest, highest = _float_keys_torch(torch.tensor([-math.inf, math.inf], dtype=scores.dtype)).tolist()
    if bool((sorted_keys[:, 0] < lowest).any()) or bool((sorted_keys[:, -1] > highest).any()):
        raise ValueError("similarity contains NaN: check the features for NaN or all-zero rows")
    right = torch.searchsorted(sorted_keys, mine, right=True)
    left = torch.searchsorted(sorted_keys, mine)
    above = n_gallery - right
    valid = torch.arange(index.shape[1], device=dev)[None, :] < count[:, None]
    tied = ((right - left) > 1) & valid
    if bool(tied.any()):
        rows = torch.nonzero(tied.any(1)).squeeze(1)
        step = max(1, CHUNK_ELEMENTS // (n_gallery * index.shape[1]))
        gallery_index = torch.arange(n_gallery, device=dev)[None, None, :]
        for a in range(0, rows.numel(), step):
            sel = rows[a:a + step]
            equal = keys[sel][:, None, :] == mine[sel][:, :, None]
            earlier = gallery_index < index[sel][:, :, None]
            above[sel] += torch.where(tied[sel], (equal & earlier).sum(2), 0)
    ranks = torch.where(valid, above + 1, n_gallery + 1)
    return torch.sort(ranks, dim=1).values.cpu().numpy()


def _float_keys_np(scores: np.ndarray, out: np.ndarray | None = None, tmp: np.ndarray | None = None) -> np.ndarray:
    """Integers that order exactly like the float scores (a bijection on non-NaN floats): flip the
    magnitude bits of negatives. Adding 0.0 first turns -0.0 into +0.0, which compares equal to it."""
    bits, int_dtype = (63, np.int64) if scores.dtype == np.float64 else (31, np.int32)
    out = np.empty(scores.shape, dtype=int_dtype) if out is None else out
    tmp = np.empty_like(out) if tmp is None else tmp
    np.add(scores, scores.dtype.type(0.0), out=out.view(scores.dtype))
    np.right_shift(out, bits, out=tmp)
    np.bitwise_and(tmp, np.iinfo(int_dtype).max, out=tmp)
    np.bitwise_xor(out, tmp, out=out)
    return out


def _float_keys_torch(scores: torch.Tensor) -> torch.Tensor:
    """_float_keys_np for tensors on any device."""
    float_dtype, int_dtype, bits = (
        (torch.float64, torch.int64, 63) if scores.dtype == torch.float64 else (torch.float32, torch.int32, 31))
    keys = (scores.to(float_dtype) + 0.0).view(int_dtype)
    keys ^= (keys >> bits) & torch.iinfo(int_dtype).max
    return keys


class _Scratch:
    """Scratch tensors reused across chunks. A fresh 100 MB array per chunk costs more in page
    faults than the sort itself, so each buffer is allocated once, for the first (largest) chunk."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, rows: int, cols: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        buf = self._buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.device != device or buf.shape[1] != cols or buf.shape[0] < rows:
            buf = torch.empty((rows, cols), dtype=dtype, device=device)
            self._buffers[name] = buf
        return buf[:rows]


def _run_blocks(fn: Callable[[int, int], None], rows: int) -> None:
    """fn(a, b) over contiguous row blocks, one per core (torch's thread count), in a thread pool."""
    workers = max(1, torch.get_num_threads())
    if workers == 1 or rows < 4 * workers:
        fn(0, rows)
        return
    edges = np.linspace(0, rows, workers + 1).astype(int)
    futures = [_pool(workers).submit(fn, int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    for future in futures:
        future.result()


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tipr-rank")
    return _POOLS[workers]


class Positives:
    """Which gallery items are each query's positives, built once per evaluation.

    Stored per person id ([ids x n_max] gallery indices, ascending, padded with 0), so a chunk of
    queries gathers only its own rows and memory stays bounded even when one id has many images."""

    def __init__(self, by_id: np.ndarray, per_id: np.ndarray, query_id: np.ndarray):
        self.by_id, self.per_id, self.query_id = by_id, per_id, query_id

    def rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(positive gallery indices [b-a x n_max], how many [b-a]) for queries a..b-1."""
        ids = self.query_id[a:b]
        return self.by_id[ids], self.per_id[ids]


def positive_table(query_pids: np.ndarray, gallery_pids: np.ndarray) -> Positives:
    """Group the gallery by person id and find each query's id; a query without positives is an error."""
    ids, g_code = np.unique(gallery_pids, return_inverse=True)
    g_code = g_code.ravel()
    per_id = np.bincount(g_code, minlength=ids.size)
    order = np.argsort(g_code, kind="stable")
    starts = np.concatenate(([0], np.cumsum(per_id)[:-1]))
    table = np.zeros((ids.size, int(per_id.max())), dtype=np.int64)
    table[g_code[order], np.arange(order.size) - starts[g_code[order]]] = order
    q_code = np.searchsorted(ids, query_pids)
    found = q_code < ids.size
    found[found] = ids[q_code[found]] == query_pids[found]
    if not found.all():
        missing = np.flatnonzero(~found)
        raise ValueError(
            f"{missing.size} of {query_pids.size} queries have no positive in the gallery "
            f"(first: query {missing[0]}, person id {query_pids[missing[0]]!r}); "
            "every query's person id must appear in the gallery"
        )
    return Positives(table, per_id.astype(np.int64), q_code)


def _as_tensor(x: Scores) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"scores must be numeric, got dtype {arr.dtype}")
    if not arr.flags.writeable or arr.dtype.byteorder not in "=|":
        arr = np.array(arr, dtype=arr.dtype.newbyteorder("="))
    return torch.from_numpy(arr)


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x).reshape(-1)


def _progress(bounds: list[tuple[int, int]], enabled: bool, label: str):
    """Yield the chunk bounds; with `enabled`, behind a rich bar counting queries, with rate and ETA."""
    if not enabled or len(bounds) < 2:
        yield from bounds
        return
    from tipr_bench.core.progress import make_progress

    with make_progress(unit="queries") as bar:
        task = bar.add_task(label, total=bounds[-1][1])
        for a, b in bounds:
            yield a, b
            bar.update(task, advance=b - a)
