"""Retrieval metrics with the field's definitions (IRRA's `rank`): R@k, mAP and mINP, in percent.

Definitions, per query: every gallery item with the query's person id is a positive; the
gallery is ranked by descending similarity, ties by ascending gallery index; R@k is 1 when a
positive is in the top k; AP averages the precision at the rank of each positive; INP is
(number of positives) / (rank of the last positive). The metrics are their means over queries.

Why not a full argsort like the reference code: every metric depends only on the ranks of the
positives, and a positive's rank is the number of gallery items that beat it. So each chunk of
rows is turned into order-preserving integer keys, sorted by value only (AVX-512 integer sort on
CPU, torch.sort on an accelerator), and each positive's rank is read off with a binary search.
No permutation, no [Q x G] match matrix, no per-query Python loop; memory is one chunk.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

DEFAULT_KS = (1, 5, 10)
# Rows per chunk are chosen so a chunk holds about this many scores (~128 MB as float32).
CHUNK_ELEMENTS = 1 << 25

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
    pass `similarity.T` with the pids swapped (`transpose_similarity` avoids a full copy).
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
) -> dict[str, float]:
    """Metrics of cosine similarity between L2-normalised features, one chunk of rows at a time,
    so the full [Q x G] matrix never exists (20k x 20k and beyond in bounded memory)."""
    q, g = _as_tensor(query_feats), _as_tensor(gallery_feats)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"features must be [Q x D] and [G x D], got {tuple(q.shape)} and {tuple(g.shape)}")
    dev = torch.device(device) if device is not None else q.device
    q, g = l2_normalise(q.to(dev)), l2_normalise(g.to(dev))
    g_t = g.T.contiguous()

    def chunk(a: int, b: int, scratch: _Scratch) -> torch.Tensor:
        return torch.matmul(q[a:b], g_t, out=scratch.get("scores", b - a, g_t.shape[1], q.dtype, dev))

    return _metrics(chunk, q.shape[0], g.shape[0], query_pids, gallery_pids, ks, chunk_size, dev, progress)


def l2_normalise(feats: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length, in float32 (float64 stays float64), as the field's evaluators do."""
    if not feats.is_floating_point() or feats.dtype in (torch.float16, torch.bfloat16):
        feats = feats.float()
    return torch.nn.functional.normalize(feats, p=2, dim=1)


def cosine_similarity(query_feats: Scores, gallery_feats: Scores) -> torch.Tensor:
    """The full [Q x G] cosine-similarity matrix (use feature_retrieval_metrics for big galleries)."""
    return l2_normalise(_as_tensor(query_feats)) @ l2_normalise(_as_tensor(gallery_feats)).T


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
    table, n_pos = _positive_table(q_pids, g_pids)
    if chunk_size is None:
        chunk_size = max(1, CHUNK_ELEMENTS // n_gallery)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    hits = {k: 0 for k in ks}
    ap = np.empty(n_queries, dtype=np.float64)
    inp = np.empty(n_queries, dtype=np.float64)
    scratch = _Scratch()
    bounds = [(a, min(a + chunk_size, n_queries)) for a in range(0, n_queries, chunk_size)]
    for a, b in _progress(bounds, progress, "ranking"):
        scores = chunk(a, b, scratch)
        pos_idx = torch.from_numpy(table[a:b]).to(dev)
        counts = torch.from_numpy(n_pos[a:b]).to(dev)
        ranks = _positive_ranks(scores, pos_idx, counts, scratch)
        first = ranks[:, 0]
        for k in ks:
            hits[k] += int((first <= k).sum().item())
        valid = torch.arange(ranks.shape[1], device=dev)[None, :] < counts[:, None]
        hit_number = torch.arange(1, ranks.shape[1] + 1, device=dev, dtype=torch.float64)[None, :]
        precision = torch.where(valid, hit_number / ranks.to(torch.float64), 0.0)
        ap[a:b] = (precision.sum(1) / counts.to(torch.float64)).cpu().numpy()
        last = ranks.gather(1, (counts - 1)[:, None]).squeeze(1)
        inp[a:b] = (counts.to(torch.float64) / last.to(torch.float64)).cpu().numpy()

    # fsum is correctly rounded, so the result does not depend on the chunk size.
    out = {f"R{k}": 100.0 * hits[k] / n_queries for k in ks}
    out["mAP"] = 100.0 * math.fsum(ap) / n_queries
    out["mINP"] = 100.0 * math.fsum(inp) / n_queries
    return out


def _positive_ranks(
    scores: torch.Tensor, pos_idx: torch.Tensor, counts: torch.Tensor, scratch: _Scratch
) -> torch.Tensor:
    """1-based ranks of each row's positives, ascending; padding slots hold G + 1.

    The rank of gallery item j is 1 + #{g: s_g > s_j} + #{g < j: s_g == s_j} (stable order)."""
    n_gallery = scores.shape[1]
    keys = _sortable_keys(scores, scratch)
    pos_keys = keys.gather(1, pos_idx)
    sorted_keys = _sort_rows(keys)
    # NaN keys sort outside the keys of -inf and +inf, so two columns tell whether there is one.
    lowest, highest = _sortable_keys(torch.tensor([-math.inf, math.inf], dtype=scores.dtype)).tolist()
    if bool((sorted_keys[:, 0] < lowest).any()) or bool((sorted_keys[:, -1] > highest).any()):
        raise ValueError("similarity contains NaN: check the features for NaN or all-zero rows")
    right = torch.searchsorted(sorted_keys, pos_keys, right=True)
    left = torch.searchsorted(sorted_keys, pos_keys)
    rank0 = n_gallery - right
    valid = torch.arange(pos_idx.shape[1], device=pos_idx.device)[None, :] < counts[:, None]
    tied = ((right - left) > 1) & valid
    if bool(tied.any()):
        rank0 = rank0 + _ties_before(scores, pos_idx, tied)
    ranks = torch.where(valid, rank0 + 1, n_gallery + 1)
    return torch.sort(ranks, dim=1).values


def _ties_before(scores: torch.Tensor, pos_idx: torch.Tensor, tied: torch.Tensor) -> torch.Tensor:
    """For positives whose score is shared with other items: how many of those come earlier in the gallery."""
    out = torch.zeros_like(pos_idx)
    rows = torch.nonzero(tied.any(1)).squeeze(1)
    n_gallery, width = scores.shape[1], pos_idx.shape[1]
    step = max(1, CHUNK_ELEMENTS // (n_gallery * width))
    index = torch.arange(n_gallery, device=scores.device)[None, None, :]
    for a in range(0, rows.numel(), step):
        sel = rows[a:a + step]
        keys = _sortable_keys(scores[sel])
        mine = keys.gather(1, pos_idx[sel])
        equal_before = (keys[:, None, :] == mine[:, :, None]) & (index < pos_idx[sel][:, :, None])
        out[sel] = equal_before.sum(2)
    return torch.where(tied, out, 0)


def _sortable_keys(scores: torch.Tensor, scratch: _Scratch | None = None) -> torch.Tensor:
    """Integers that order exactly like the float scores (a bijection on non-NaN floats).

    Adding 0.0 turns -0.0 into +0.0 (they compare equal) and writes a copy we may change in place."""
    if scores.dtype == torch.float64:
        float_dtype, int_dtype, bits, low = torch.float64, torch.int64, 63, 0x7FFF_FFFF_FFFF_FFFF
    else:
        float_dtype, int_dtype, bits, low = torch.float32, torch.int32, 31, 0x7FFF_FFFF
        scores = scores.float()
    scratch = scratch or _Scratch()
    rows, cols = scores.shape if scores.ndim == 2 else (1, scores.numel())
    keys = scratch.get("keys", rows, cols, int_dtype, scores.device).view(scores.shape)
    sign = scratch.get("sign", rows, cols, int_dtype, scores.device).view(scores.shape)
    torch.add(scores, 0.0, out=keys.view(float_dtype))
    torch.bitwise_right_shift(keys, bits, out=sign)
    sign &= low
    keys ^= sign
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


def _sort_rows(keys: torch.Tensor) -> torch.Tensor:
    """Each row sorted ascending, values only. On CPU numpy's vectorised integer sort is several
    times faster than torch.sort, and it runs on all cores through a thread pool (it releases the GIL)."""
    if keys.device.type != "cpu":
        return torch.sort(keys, dim=1).values
    arr = keys.numpy()
    workers = max(1, torch.get_num_threads())
    if workers == 1 or arr.shape[0] < 2 * workers:
        arr.sort(axis=1)
    else:
        blocks = np.array_split(np.arange(arr.shape[0]), workers)
        list(_pool(workers).map(lambda rows: arr[rows[0]:rows[-1] + 1].sort(axis=1), blocks))
    return keys


def _pool(workers: int) -> ThreadPoolExecutor:
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tipr-sort")
    return _POOLS[workers]


def _positive_table(query_pids: np.ndarray, gallery_pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query: the gallery indices of its positives, ascending, padded with 0 to the widest
    row ([Q x n_max] int64), and how many there are ([Q] int64)."""
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
    return table[q_code], per_id[q_code].astype(np.int64)


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


def _progress(items: list, enabled: bool, label: str):
    if not enabled or len(items) < 2:
        yield from items
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)

