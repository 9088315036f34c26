# Copyright (c) OpenMMLab. All rights reserved.
"""Re-ID retrieval evaluation: the Market-1501 protocol, vectorised and chunked.

The protocol is the field's standard one (torchreid ``eval_market1501``,
TransReID ``eval_func``, fast-reid ``evaluate_rank``):

* gallery items with the query's identity AND the query's camera are removed
  from that query's ranking;
* a query whose filtered gallery holds no item of its identity is skipped and
  not counted (``num_valid_queries`` says how many were kept);
* ``CMC[k]`` is the fraction of valid queries with a correct match within the
  first ``k + 1`` ranks;
* ``AP`` is the mean, over the query's matches, of the precision at the rank of
  each match; ``mAP`` is its mean over valid queries;
* ``INP`` is ``num_matches / rank_of_the_last_match`` (Ye et al., the AGW
  survey); ``mINP`` is its mean over valid queries.

All values are fractions in ``[0, 1]``.

Ties in distance are broken by gallery index, lowest first, i.e. exactly as a
stable ascending argsort of each distance row (``np.argsort(kind='stable')``).
torchreid uses numpy's default (unstable) argsort, so on tied distances its
numbers can differ from ours by the order it happens to give.

How it is computed, without sorting any row: for a query, the rank of its
``k``-th match (0-based, in ``(distance, gallery index)`` order) among the kept
items is ``k + 1 + c_k``, where ``c_k`` counts the items of other identities
that come before it. ``c_k`` is the number of all gallery items before the
match minus the number of same-identity items before it. The same-identity
items are few and are sorted exactly. All items are counted with one
histogram per row over distance bins that are a monotone function of the
distance; only the few items that share a bin with a match are compared
exactly. The result is exact whatever the binning, which only affects speed.
"""
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from dcal_mm.utils.progress import Progress

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence]

#: Query rows per matrix product when distances are computed from features.
#: Tiles are aligned to absolute query positions, so a distance value never
#: depends on ``chunk_size`` (BLAS results can change with the matrix shape).
GEMM_TILE_ROWS = 1024

# Distance elements per evaluation sub-chunk: small enough that the working
# arrays stay in the CPU cache, large enough to amortise numpy call overhead.
_SUBCHUNK_ELEMENTS = 1 << 20
# Average gallery items per distance bin (see ``_all_before_binned``): fewer
# means a larger histogram, more means more items compared exactly.
_ITEMS_PER_BIN = 4
# Rows with more than this fraction of the gallery at most as far as their
# last match are ranked with histograms (``_all_before_binned``), the others
# by binary search among the match distances (``_all_before_sparse``).
_SPARSE_MAX_FRACTION = 0.25

_METRICS = ('euclidean', 'cosine')
# Feature rows per elementwise pass over the features (checks, norms).
_ROWS_PER_PASS = 4096


def _to_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def _as_ids(x: ArrayLike, name: str) -> np.ndarray:
    """Check and convert identity / camera labels to a 1-D int64 array."""
    arr = _to_numpy(x)
    if arr.ndim != 1:
        raise ValueError(f'{name} must be 1-D, got shape {tuple(arr.shape)}')
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f'{name} must hold integers, got dtype {arr.dtype}')
    return arr.astype(np.int64, copy=False)


def _check_labels(num_q: int, num_g: int, q_pids: ArrayLike, g_pids: ArrayLike, q_camids: ArrayLike,
                  g_camids: ArrayLike) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if num_q == 0:
        raise ValueError('the query set is empty')
    if num_g == 0:
        raise ValueError('the gallery set is empty')
    labels = []
    for name, ids, n in (('q_pids', q_pids, num_q), ('g_pids', g_pids, num_g), ('q_camids', q_camids, num_q),
                         ('g_camids', g_camids, num_g)):
        arr = _as_ids(ids, name)
        if arr.shape[0] != n:
            raise ValueError(f'{name} has {arr.shape[0]} entries but there are {n} '
                             f'{"queries" if name[0] == "q" else "gallery items"}')
        labels.append(arr)
    return tuple(labels)


def _check_max_rank(max_rank: int) -> int:
    if isinstance(max_rank, bool) or not isinstance(max_rank, (int, np.integer)) or max_rank < 1:
        raise ValueError(f'max_rank must be a positive int, got {max_rank!r}')
    return int(max_rank)


def _distance_dtype(arr: np.ndarray) -> np.dtype:
    """float32/float64 are kept; other floats widen to float32 and integers to
    float64, both exactly (integers up to 2**53)."""
    if arr.dtype in (np.float32, np.float64):
        return arr.dtype
    if np.issubdtype(arr.dtype, np.floating):
        return np.dtype(np.float32)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        return np.dtype(np.float64)
    raise ValueError(f'distmat must be real-valued, got dtype {arr.dtype}')


class _GalleryIndex:
    """Gallery labels plus, for each identity, its gallery indices ascending."""

    def __init__(self, g_pids: np.ndarray, g_camids: np.ndarray):
        self.pids = g_pids
        self.camids = g_camids
        self.num = g_pids.shape[0]
        self.order = np.argsort(g_pids, kind='stable')
        self.uniq, self.start, self.count = np.unique(g_pids[self.order], return_index=True, return_counts=True)

    def same_pid_items(self, q_pids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Return ``(rows, cols)`` of all (query row, gallery index) pairs with
        the same identity, row-major and ascending in ``cols`` within a row."""
        loc = np.minimum(np.searchsorted(self.uniq, q_pids), self.uniq.shape[0] - 1)
        counts = np.where(self.uniq[loc] == q_pids, self.count[loc], 0)
        rows = np.repeat(np.arange(q_pids.shape[0]), counts)
        offsets = np.arange(rows.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
        cols = self.order[np.repeat(self.start[loc], counts) + offsets]
        return rows, cols


class _Workspace:
    """Reusable buffers, so sub-chunks do not page-fault fresh memory."""

    def __init__(self):
        self._bufs = {}

    def get(self, name: str, shape: Tuple[int, ...], dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        size = int(np.prod(shape))
        buf = self._bufs.get((name, dtype))
        if buf is None or buf.size < size:
            buf = np.empty(size, dtype)
            self._bufs[(name, dtype)] = buf
        return buf[:size].reshape(shape)


class _Accumulator:
    """Per-query statistics, filled chunk by chunk and reduced at the end, so
    the result does not depend on how the queries were chunked."""

    def __init__(self, num_q: int):
        self.num_pos = np.zeros(num_q, np.int64)
        self.first_rank = np.zeros(num_q, np.int64)
        self.ap = np.full(num_q, np.nan)
        self.inp = np.full(num_q, np.nan)

    def add(self, start: int, stats: Tuple[np.ndarray, ...]) -> None:
        stop = start + stats[0].shape[0]
        self.num_pos[start:stop], self.first_rank[start:stop], self.ap[start:stop], self.inp[start:stop] = stats

    def result(self, max_rank: int, return_per_query: bool) -> Dict:
        valid = self.num_pos > 0
        num_valid = int(valid.sum())
        if num_valid == 0:
            raise ValueError('no query has a valid match: none has a gallery item of its identity from another camera')
        hits = np.bincount(np.minimum(self.first_rank[valid], max_rank + 1), minlength=max_rank + 2)
        result = dict(
            mAP=float(np.mean(self.ap[valid])),
            mINP=float(np.mean(self.inp[valid])),
            CMC=np.cumsum(hits)[1:max_rank + 1] / num_valid,
            num_valid_queries=num_valid)
        if return_per_query:
            result.update(AP=self.ap, INP=self.inp, first_match_rank=self.first_rank, valid=valid)
        return result


class _Matches:
    """The same-identity items of a block of queries, in (row, distance,
    gallery index) order, and among them the matches (same identity, other
    camera).

    Attributes:
        rows, cols, dist: (M,) row, gallery index and distance of each match.
        same_before: (M,) same-identity items (matches and same-camera junk)
            before the match in its row's (distance, index) order.
        k: (M,) 0-based index of the match within its row.
        num_pos: (B,) matches per row.
        row_start: (B,) index in the match arrays of each row's first match.
    """

    def __init__(self, dist: np.ndarray, q_pids: np.ndarray, q_camids: np.ndarray, gallery: _GalleryIndex):
        num_b = dist.shape[0]
        # The input is row-major with ascending cols and lexsort is stable.
        s_rows, s_cols = gallery.same_pid_items(q_pids)
        s_dist = dist[s_rows, s_cols]
        order = np.lexsort((s_dist, s_rows))
        s_rows, s_cols, s_dist = s_rows[order], s_cols[order], s_dist[order]
        s_count = np.bincount(s_rows, minlength=num_b)
        s_before = np.arange(s_rows.shape[0]) - (np.cumsum(s_count) - s_count)[s_rows]
        is_match = gallery.camids[s_cols] != q_camids[s_rows]
        self.rows, self.cols, self.dist = s_rows[is_match], s_cols[is_match], s_dist[is_match]
        self.same_before = s_before[is_match]
        self.num_pos = np.bincount(self.rows, minlength=num_b)
        self.row_start = np.cumsum(self.num_pos) - self.num_pos
        self.k = np.arange(self.rows.shape[0]) - self.row_start[self.rows]

    def is_match(self, rows: np.ndarray, cols: np.ndarray, q_pids: np.ndarray, q_camids: np.ndarray,
                 gallery: _GalleryIndex) -> np.ndarray:
        return (gallery.pids[cols] == q_pids[rows]) & (gallery.camids[cols] != q_camids[rows])


def _argsort_bin_then_dist(bins: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Stable argsort by (bins, dist); ``bins`` are non-negative < 2**31."""
    if dist.dtype != np.float32:
        return np.lexsort((dist, bins))
    key = _ordered_uint32(dist)
    key += bins.astype(np.int64) << 32
    return np.argsort(key, kind='stable')


def _ordered_uint32(values: np.ndarray) -> np.ndarray:
    """float32 -> int64 in [0, 2**32), in the same order (-0.0 equals 0.0)."""
    bits = (values + np.float32(0)).view(np.int32)
    return (bits ^ ((bits >> 31) & 0x7FFFFFFF)).astype(np.int64) + (1 << 31)


def _row_value_keys(rows: np.ndarray, values: np.ndarray, *more: np.ndarray) -> Tuple[np.ndarray, ...]:
    """int64 keys ordered as (row, value) for ``rows`` / ``values`` and each
    further (rows, values) pair of ``more``, comparable with each other.
    Rows must be < 2**31."""
    pairs = [(rows, values)] + [(more[i], more[i + 1]) for i in range(0, len(more), 2)]
    if values.dtype == np.float32:
        codes = [_ordered_uint32(v) for _, v in pairs]
    else:  # float64: rank the values (all pairs together) in 32 bits
        allv = np.concatenate([v for _, v in pairs]) + 0.0  # -0.0 -> 0.0
        _, inv = np.unique(allv, return_inverse=True)
        codes = np.split(inv.astype(np.int64), np.cumsum([v.shape[0] for _, v in pairs])[:-1])
    return tuple((r.astype(np.int64) << 32) + c for (r, _), c in zip(pairs, codes))


def _all_before_sparse(dist: np.ndarray, mask: np.ndarray, mt: _Matches, sel: np.ndarray, q_pids: np.ndarray,
                       q_camids: np.ndarray, gallery: _GalleryIndex) -> np.ndarray:
    """For the matches ``sel`` (indices into ``mt``), the number of gallery
    items before each in its row's (distance, index) order.

    ``mask`` marks, per row, the items at most as far as the row's last
    match (False on rows whose matches are not in ``sel``): only those can
    come before a match, so only they are looked at. Each is placed among
    its row's sorted match distances by a binary search; items that equal a
    match distance are ordered by gallery index.
    """
    num_g = dist.shape[1]
    flat = np.flatnonzero(mask)  # row-major: (row, col) ascending
    c_rows = flat // num_g
    c_vals = dist.reshape(-1)[flat]
    t_rows, t_vals = mt.rows[sel], mt.dist[sel]  # (row, dist, col) order
    c_keys, t_keys = _row_value_keys(c_rows, c_vals, t_rows, t_vals)
    # g: thresholds (of all rows) with key <= the item's key. A row's items
    # get slots g + row, i.e. num_pos + 1 slots per row, so rows never share.
    g = np.searchsorted(t_keys, c_keys, side='right')
    slot = g + c_rows
    cum = np.concatenate(([0], np.cumsum(np.bincount(slot, minlength=t_keys.shape[0] + dist.shape[0] + 1))))
    t_idx = np.arange(t_keys.shape[0])
    t_first = np.searchsorted(t_rows, t_rows, side='left')  # index of the row's first threshold
    below = cum[t_idx + t_rows + 1] - cum[t_first + t_rows]  # items strictly closer
    # Items equal to a match distance (the match itself among them): those
    # with a smaller gallery index come before it.
    eq = np.flatnonzero((g > 0) & (t_keys[np.maximum(g - 1, 0)] == c_keys))
    eq_g = g[eq]
    order = np.argsort(eq_g, kind='stable')  # (group, col): eq is in col order
    eq, eq_g = eq[order], eq_g[order]
    start = np.ones(eq.shape[0], np.bool_)
    np.not_equal(eq_g[1:], eq_g[:-1], out=start[1:])
    within = np.arange(eq.shape[0]) - np.flatnonzero(start)[np.cumsum(start) - 1]
    eq_rows, eq_cols = c_rows[eq], flat[eq] - c_rows[eq] * num_g
    is_match = mt.is_match(eq_rows, eq_cols, q_pids, q_camids, gallery)
    if int(is_match.sum()) != t_keys.shape[0]:
        raise RuntimeError('internal error in evaluate_reid: match bookkeeping is inconsistent')
    return below + within[is_match]


def _all_before_binned(dist: np.ndarray, mt: _Matches, q_pids: np.ndarray, q_camids: np.ndarray,
                       gallery: _GalleryIndex, ws: _Workspace) -> np.ndarray:
    """For every match of ``mt``, the number of gallery items before it in
    its row's (distance, index) order; every row of ``dist`` has a match.

    All items are counted with one histogram per row over distance bins
    that are a monotone function of the distance; only the items that share
    a bin with a match are compared exactly. Exact whatever the binning,
    which only affects speed.
    """
    num_b, num_g = dist.shape
    rows = np.arange(num_b)
    m_rows, m_cols = mt.rows, mt.cols
    first_idx = mt.row_start
    last_idx = first_idx + mt.num_pos - 1
    # Monotone binning of each row: [lo, hi] (the row's match distances) maps
    # to bins 1..n_bins; below lo goes to bin 0, far above hi to n_bins + 1.
    # Any positive scale keeps the bins monotone, so the result is exact; the
    # scale only decides how many items share a bin with a match.
    n_bins = max(16, num_g // _ITEMS_PER_BIN)
    width = n_bins + 2
    lo = mt.dist[first_idx].astype(np.float64)
    hi = mt.dist[last_idx].astype(np.float64)
    with np.errstate(divide='ignore', over='ignore', invalid='ignore', under='ignore'):
        scale = ((n_bins - 1) / (hi - lo)).astype(dist.dtype)
        bad = ~(np.isfinite(scale) & (scale > 0))
        if bad.any():
            # One distinct match distance (e.g. a single match): bins as wide
            # as for a row spread over its whole range.
            sub = dist[bad]
            scale[bad] = ((n_bins - 1) / (sub.max(axis=1).astype(np.float64) - sub.min(axis=1))).astype(dist.dtype)
        scale[~(np.isfinite(scale) & (scale > 0))] = 1.0  # constant rows
        # lo -> t ~ 1.5 and hi -> t ~ n_bins + 0.5: mid-bin, robust to rounding.
        shift = (lo - 1.5 / scale.astype(np.float64)).astype(dist.dtype)
        t = ws.get('t', (num_b, num_g), dist.dtype)
        np.subtract(dist, shift[:, None], out=t)
        np.multiply(t, scale[:, None], out=t)
    np.clip(t, 0, n_bins + 1, out=t)
    flat = ws.get('flat', (num_b, num_g), np.intp)
    np.copyto(flat, t, casting='unsafe')  # t >= 0, so truncation is floor
    flat += (rows * width)[:, None]
    flat_1d = flat.reshape(-1)

    hist = np.bincount(flat_1d, minlength=num_b * width)
    hist_cum = np.cumsum(hist)
    row_base = np.concatenate(([0], hist_cum[width - 1::width][:-1]))

    # Items sharing a bin with a match, sorted by (bin, dist, col).
    m_flat = flat[m_rows, m_cols]
    marker = np.zeros(num_b * width, np.bool_)
    marker[m_flat] = True
    in_marked = ws.get('marked', (num_b, num_g), np.bool_)
    np.take(marker, flat, out=in_marked, mode='clip')
    ext = np.flatnonzero(in_marked)
    ext_flat = flat_1d[ext]
    order = _argsort_bin_then_dist(ext_flat, dist.reshape(-1)[ext])
    ext, ext_flat = ext[order], ext_flat[order]
    group_start = np.ones(ext.shape[0], np.bool_)
    np.not_equal(ext_flat[1:], ext_flat[:-1], out=group_start[1:])
    within = np.arange(ext.shape[0]) - np.flatnonzero(group_start)[np.cumsum(group_start) - 1]
    e_rows = ext // num_g
    e_cols = ext - e_rows * num_g
    e_match = mt.is_match(e_rows, e_cols, q_pids, q_camids, gallery)
    # Both lists are in (row, dist, col) order, so the matches line up.
    if int(e_match.sum()) != m_rows.shape[0]:
        raise RuntimeError('internal error in evaluate_reid: match bookkeeping is inconsistent')
    f_match = ext_flat[e_match]
    return hist_cum[f_match] - hist[f_match] - row_base[m_rows] + within[e_match]


def _rank_stats(dist: np.ndarray,
                q_pids: np.ndarray,
                q_camids: np.ndarray,
                gallery: _GalleryIndex,
                ws: _Workspace,
                check_finite: bool = True) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-query ``(num_matches, first_match_rank, AP, INP)`` for a block.

    The rank of a query's ``k``-th match (0-based, in (distance, gallery
    index) order) among the kept items is ``k + 1 + c``, where ``c`` counts
    the items of other identities before it: all items before it minus the
    same-identity ones, which are few and sorted exactly. Items before a
    match are counted among those at most as far as the row's last match,
    selected with one comparison per item (:func:`_all_before_sparse`);
    rows where these are more than :data:`_SPARSE_MAX_FRACTION` of the
    gallery (poor rankings) are counted with per-row histograms instead
    (:func:`_all_before_binned`). Both are exact.

    Args:
        dist (np.ndarray): (B, G) C-contiguous float32/float64 distances.
        q_pids (np.ndarray): (B,) query identities.
        q_camids (np.ndarray): (B,) query cameras.
        gallery (_GalleryIndex): Gallery labels.
        ws (_Workspace): Buffers.
        check_finite (bool): Check that the distances are finite (skipped
            where the caller guarantees it). Defaults to True.

    Returns:
        tuple: (B,) arrays; ranks are 1-based among the items kept for the
        query; AP/INP are NaN and ranks 0 for a query without a match.
    """
    num_b, num_g = dist.shape
    if check_finite and not np.isfinite(dist).all():
        raise ValueError('distmat contains NaN or infinite values')
    mt = _Matches(dist, q_pids, q_camids, gallery)
    num_pos = mt.num_pos
    first_rank = np.zeros(num_b, np.int64)
    ap = np.full(num_b, np.nan)
    inp = np.full(num_b, np.nan)
    valid = num_pos > 0
    if not valid.any():
        return num_pos, first_rank, ap, inp
    first_idx = mt.row_start[valid]
    last_idx = first_idx + num_pos[valid] - 1

    last = np.full(num_b, -np.inf, dist.dtype)
    last[valid] = mt.dist[last_idx]
    mask = ws.get('mask', (num_b, num_g), np.bool_)
    np.less_equal(dist, last[:, None], out=mask)
    dense = np.count_nonzero(mask, axis=1) > _SPARSE_MAX_FRACTION * num_g
    all_before = np.empty(mt.rows.shape[0], np.int64)
    if dense.any():
        mask[dense] = False
        d_rows = np.flatnonzero(dense)
        d_sel = dense[mt.rows]
        sub = np.ascontiguousarray(dist[d_rows])
        all_before[d_sel] = _all_before_binned(sub, _Matches(sub, q_pids[d_rows], q_camids[d_rows], gallery),
                                               q_pids[d_rows], q_camids[d_rows], gallery, ws)
    if not dense[valid].all():
        s_sel = np.flatnonzero(~dense[mt.rows])
        all_before[s_sel] = _all_before_sparse(dist, mask, mt, s_sel, q_pids, q_camids, gallery)
    rank = mt.k + 1 + (all_before - mt.same_before)

    m_rows = mt.rows
    ap[valid] = (np.bincount(m_rows, weights=(mt.k + 1) / rank, minlength=num_b)[valid] / num_pos[valid])
    first_rank[valid] = rank[first_idx]
    inp[valid] = num_pos[valid] / rank[last_idx]
    return num_pos, first_rank, ap, inp


def _subchunk_rows(num_g: int) -> int:
    return max(1, _SUBCHUNK_ELEMENTS // num_g)


def _evaluate_block(block: np.ndarray,
                    start: int,
                    q_pids: np.ndarray,
                    q_camids: np.ndarray,
                    gallery: _GalleryIndex,
                    acc: _Accumulator,
                    ws: _Workspace,
                    check_finite: bool = True) -> None:
    rows = _subchunk_rows(block.shape[1])
    for a in range(0, block.shape[0], rows):
        b = min(a + rows, block.shape[0])
        sub = np.ascontiguousarray(block[a:b])
        acc.add(start + a,
                _rank_stats(sub, q_pids[start + a:start + b], q_camids[start + a:start + b], gallery, ws, check_finite))


def _evaluate_blocks(blocks: Iterable[Tuple[int, np.ndarray]],
                     q_pids: np.ndarray,
                     q_camids: np.ndarray,
                     gallery: _GalleryIndex,
                     check_finite: bool = True,
                     progress: bool = False,
                     desc: str = 'evaluate_reid') -> _Accumulator:
    """Rank a stream of ``(first query row, (rows, G) distance block)``.

    A block's rows are split among ``torch.get_num_threads()`` worker threads
    (numpy releases the GIL in its kernels); the next block is produced once
    the block is ranked, so ranking and the matrix product take turns on all
    cores rather than competing for them, and one block is alive at a time.

    Args:
        blocks (Iterable): ``(start, block)`` pairs covering all queries.
        q_pids, q_camids (np.ndarray): (Q,) query labels.
        gallery (_GalleryIndex): Gallery labels.
        check_finite (bool): Check the distances for NaN / inf.
        progress (bool): Show an MMEngine progress bar (queries done).
        desc (str): Name printed before the progress bar.

    Returns:
        _Accumulator: The per-query statistics.
    """
    num_q = q_pids.shape[0]
    acc = _Accumulator(num_q)
    workers = max(1, torch.get_num_threads())
    spaces = [_Workspace() for _ in range(workers)]
    bar = None
    with ThreadPoolExecutor(workers, thread_name_prefix='reid-rank') as pool:
        for start, block in blocks:
            if bar is None:  # after the first block: re-ranking prints its own first
                bar = Progress(num_q, enabled=progress, desc=f'{desc}: {num_q} queries x {gallery.num} gallery')
            # Parts of whole sub-chunks, so the result does not depend on the
            # number of workers.
            sub = _subchunk_rows(block.shape[1])
            step = -(-block.shape[0] // (workers * sub)) * sub
            parts = [(a, min(a + step, block.shape[0])) for a in range(0, block.shape[0], step)]
            futures = [
                pool.submit(_evaluate_block, block[a:b], start + a, q_pids, q_camids, gallery, acc, ws, check_finite)
                for (a, b), ws in zip(parts, spaces)
            ]
            for f in futures:
                f.result()
            bar.update(block.shape[0])
            del block, futures
    return acc


def evaluate_reid(distmat: ArrayLike,
                  q_pids: ArrayLike,
                  g_pids: ArrayLike,
                  q_camids: ArrayLike,
                  g_camids: ArrayLike,
                  max_rank: int = 50,
                  return_per_query: bool = False) -> Dict:
    """Market-1501 Re-ID evaluation of a query-gallery distance matrix.

    See the module docstring for the protocol and the tie rule (gallery index,
    as a stable argsort). Smaller distance = more similar. Matches torchreid's
    ``eval_market1501`` and TransReID's ``eval_func`` with two differences of
    ours: ``CMC`` always has ``max_rank`` entries (entries past the end of a
    query's filtered gallery stay at its last value, 1 for a valid query;
    torchreid truncates to the gallery size or fails), and ties are broken
    deterministically.

    Args:
        distmat (np.ndarray | torch.Tensor): (Q, G) distances. float32 and
            float64 are used as given, other floats are widened to float32,
            integers to float64. Must be finite.
        q_pids (array-like): (Q,) query identities (int).
        g_pids (array-like): (G,) gallery identities (int).
        q_camids (array-like): (Q,) query cameras (int).
        g_camids (array-like): (G,) gallery cameras (int).
        max_rank (int): Length of the CMC curve. Defaults to 50.
        return_per_query (bool): Also return per-query arrays ``AP`` and
            ``INP`` (NaN for skipped queries), ``first_match_rank`` (1-based,
            0 when skipped) and ``valid`` (bool). Defaults to False.

    Returns:
        dict: ``mAP`` (float), ``mINP`` (float), ``CMC`` ((max_rank,)
        float64 array) as fractions in [0, 1], and ``num_valid_queries`` (int).

    Raises:
        ValueError: Empty query or gallery set, lengths that do not match the
            matrix, non-finite distances, or no query with a valid match.
    """
    max_rank = _check_max_rank(max_rank)
    dist = _to_numpy(distmat)
    if dist.ndim != 2:
        raise ValueError(f'distmat must be 2-D (num_query, num_gallery), got shape {tuple(dist.shape)}')
    dist = dist.astype(_distance_dtype(dist), copy=False)
    q_pids, g_pids, q_camids, g_camids = _check_labels(dist.shape[0], dist.shape[1], q_pids, g_pids, q_camids, g_camids)
    gallery = _GalleryIndex(g_pids, g_camids)
    acc = _Accumulator(dist.shape[0])
    _evaluate_block(dist, 0, q_pids, q_camids, gallery, acc, _Workspace())
    return acc.result(max_rank, return_per_query)


def _as_features(x: ArrayLike, name: str) -> torch.Tensor:
    feats = torch.from_numpy(np.asarray(x)) if not isinstance(x, torch.Tensor) else x.detach()
    if feats.ndim != 2:
        raise ValueError(f'{name} must be 2-D (num_samples, dim), got shape {tuple(feats.shape)}')
    if feats.dtype == torch.bool or feats.is_complex():
        raise ValueError(f'{name} must be real-valued, got dtype {feats.dtype}')
    feats = feats.float().contiguous()  # distances are computed in float32
    # In row chunks: no full-size temporary.
    if not all(bool(torch.isfinite(part).all()) for part in feats.split(_ROWS_PER_PASS)):
        raise ValueError(f'{name} contains NaN or infinite values')
    return feats


def _sq_norms(x: torch.Tensor, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """``x.to(dtype).pow(2).sum(dim=1)`` in row chunks (bitwise the same:
    each row is reduced alone), without full-size temporaries."""
    dtype = x.dtype if dtype is None else dtype
    if not x.shape[0]:
        return x.new_zeros(0, dtype=dtype)
    return torch.cat([part.to(dtype).pow(2).sum(dim=1) for part in x.split(_ROWS_PER_PASS)])


def _inv_norms(sq_norms: torch.Tensor) -> torch.Tensor:
    """``1 / max(|x_i|, 1e-12)`` per row (``F.normalize``'s clamp) from the
    squared norms (:func:`_sq_norms`)."""
    return sq_norms.sqrt().clamp_min_(1e-12).reciprocal_()


class PairwiseDistance:
    """Distances between the rows of ``x`` and ``y``, computed in row tiles of
    :data:`GEMM_TILE_ROWS` aligned to absolute row positions, so that any row
    range gives bitwise the same values.

    ``'euclidean'`` is the squared Euclidean distance
    ``|x|^2 + |y|^2 - 2 x.y`` (torchreid/TransReID; not clamped, so it can be
    slightly negative for near-identical features). ``'cosine'`` is
    ``1 - cos(x, y)``. Features are L2-normalised first when ``normalize`` is
    True; cosine always normalises. No normalised copy of ``y`` (the
    gallery, 550 MiB at MSMT17 size) is made: each tile multiplies the
    normalised rows of ``x`` with ``y`` and scales its columns by
    ``1 / |y_j|``, folded into the pass that adds the norms.

    Args:
        x (torch.Tensor): (N, D) float features.
        y (torch.Tensor): (M, D) float features, same device as ``x``.
        metric (str): ``'euclidean'`` or ``'cosine'``.
        normalize (bool): L2-normalise the features.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, metric: str = 'euclidean', normalize: bool = True):
        if metric not in _METRICS:
            raise ValueError(f'metric must be one of {_METRICS}, got {metric!r}')
        if x.shape[1] != y.shape[1]:
            raise ValueError(f'feature dims differ: {x.shape[1]} vs {y.shape[1]}')
        self.x, self.y, self.metric = x.contiguous(), y.contiguous(), metric
        self.normalize = normalize or metric == 'cosine'
        sq_x = _sq_norms(self.x)
        sq_y = sq_x if y is x else _sq_norms(self.y)
        if self.normalize:
            y_inv = _inv_norms(sq_y)
            # -2 / |y_j| (cosine: -1 / |y_j|) scales a tile's columns.
            self._col_scale = y_inv * (-2. if metric == 'euclidean' else -1.)
        if metric == 'euclidean':
            if self.normalize:  # |x_i / |x_i||^2: 1 up to rounding
                self.x_sq = sq_x * _inv_norms(sq_x).pow(2)
                self.y_sq = self.x_sq if y is x else sq_y * y_inv.pow(2)
            else:
                self.x_sq, self.y_sq = sq_x, sq_y
        self._tile_cache: Tuple[int, Optional[torch.Tensor]] = (-1, None)

    @property
    def finite(self) -> bool:
        """Whether every distance is surely finite (finite features whose
        squared norms sum far below the float32 range: every partial sum of
        the product is bounded by them), so blocks need no NaN/inf check."""
        if self.metric == 'cosine':
            return True
        big = max(float(self.x_sq.max()) if self.x_sq.numel() else 0.,
                  float(self.y_sq.max()) if self.y_sq.numel() else 0.)
        return bool(np.isfinite(big) and 4 * big < 1e37)

    def iter_rows(self, chunk_size: int, start: int = 0, stop: Optional[int] = None) -> Iterator[Tuple[int, torch.Tensor]]:
        """Yield ``(a, self.rows(a, b))`` for consecutive chunks of
        ``chunk_size`` rows of ``[start, stop)``."""
        stop = self.shape[0] if stop is None else stop
        for a in range(start, stop, chunk_size):
            yield a, self.rows(a, min(a + chunk_size, stop))

    @property
    def shape(self) -> Tuple[int, int]:
        return self.x.shape[0], self.y.shape[0]

    def _tile_into(self, tile: int, out: torch.Tensor) -> torch.Tensor:
        a = tile * GEMM_TILE_ROWS
        b = min(a + GEMM_TILE_ROWS, self.x.shape[0])
        rows = F.normalize(self.x[a:b], dim=1) if self.normalize else self.x[a:b]
        torch.mm(rows, self.y.t(), out=out)
        if self.normalize and self.metric == 'euclidean':
            torch.addcmul(self.x_sq[a:b, None], out, self._col_scale[None, :], out=out).add_(self.y_sq[None, :])
        elif self.normalize:  # cosine: 1 - x.y / |y|
            torch.addcmul(out.new_ones(()), out, self._col_scale[None, :], out=out)
        else:
            # x_sq - 2 x.y then + y_sq: bitwise as mul_(-2).add_(x_sq).add_(y_sq)
            # (-2 x.y is exact), one pass fewer.
            torch.add(self.x_sq[a:b, None], out, alpha=-2, out=out).add_(self.y_sq[None, :])
        return out

    def rows(self, start: int, stop: int) -> torch.Tensor:
        """Distances of rows ``[start, stop)`` of ``x`` to all of ``y``.

        Returns:
            torch.Tensor: (stop - start, M) float32, on the features' device.
        """
        num_x, num_y = self.shape
        if not 0 <= start < stop <= num_x:
            raise ValueError(f'row range [{start}, {stop}) is outside [0, {num_x})')
        out = torch.empty(stop - start, num_y, dtype=self.x.dtype, device=self.x.device)
        for tile in range(start // GEMM_TILE_ROWS, (stop - 1) // GEMM_TILE_ROWS + 1):
            a = tile * GEMM_TILE_ROWS
            b = min(a + GEMM_TILE_ROWS, num_x)
            if start <= a and b <= stop:
                self._tile_into(tile, out[a - start:b - start])
                continue
            # A tile cut by the range: compute it whole (cached) and copy.
            if self._tile_cache[0] != tile:
                self._tile_cache = (tile, self._tile_into(tile, out.new_empty(b - a, num_y)))
            lo, hi = max(a, start), min(b, stop)
            out[lo - start:hi - start] = self._tile_cache[1][lo - a:hi - a]
        return out


def compute_distance_matrix(q_feats: ArrayLike,
                            g_feats: ArrayLike,
                            metric: str = 'euclidean',
                            normalize: bool = True) -> torch.Tensor:
    """Query-gallery distance matrix, bitwise equal to what
    :func:`evaluate_reid_from_features` computes chunk by chunk.

    Args:
        q_feats (np.ndarray | torch.Tensor): (Q, D) query features.
        g_feats (np.ndarray | torch.Tensor): (G, D) gallery features.
        metric (str): ``'euclidean'`` (squared, default) or ``'cosine'``
            (``1 - cos``). See :class:`PairwiseDistance`.
        normalize (bool): L2-normalise features first. Defaults to True.

    Returns:
        torch.Tensor: (Q, G) float32 distances.
    """
    pd = PairwiseDistance(_as_features(q_feats, 'q_feats'), _as_features(g_feats, 'g_feats'), metric, normalize)
    return pd.rows(0, pd.shape[0])


def chunk_rows_for_budget(num_gallery: int, memory_budget_mb: float) -> int:
    """Query rows per distance chunk so a chunk's working memory fits
    ``memory_budget_mb``.

    A chunk of ``C`` rows holds its (C, G) float32 distance block (4 bytes per
    element) and the ranking buffers of its sub-chunks (about 20 bytes per
    element of ``S`` rows per ranking thread, ``S * G`` about 1M). Chunks
    that are not whole GEMM tiles also keep one cached tile
    (4 * GEMM_TILE_ROWS * G bytes).

    Args:
        num_gallery (int): Gallery size G.
        memory_budget_mb (float): Budget in MiB.

    Returns:
        int: Rows per chunk (a multiple of :data:`GEMM_TILE_ROWS` when at
        least one tile fits).
    """
    if not memory_budget_mb > 0:
        raise ValueError(f'memory_budget_mb must be > 0, got {memory_budget_mb!r}')
    budget = memory_budget_mb * 2**20
    # Whole tiles: the block and the buffers of a sub-chunk per thread.
    sub = 20 * _subchunk_rows(num_gallery) * num_gallery * max(1, torch.get_num_threads())
    rows = int((budget - sub) // (4 * num_gallery))
    if rows >= GEMM_TILE_ROWS:
        return rows // GEMM_TILE_ROWS * GEMM_TILE_ROWS
    # Part of a tile: the cached tile, the block and at most 20 bytes of
    # buffers per element of the block.
    rows = int((budget - 4 * GEMM_TILE_ROWS * num_gallery) // (24 * num_gallery))
    if rows < 1:
        need = (4 * GEMM_TILE_ROWS + 24) * num_gallery / 2**20
        raise ValueError(f'memory_budget_mb={memory_budget_mb} is too small for a gallery of {num_gallery} items: '
                         f'it needs at least {need:.2f} MiB')
    return rows


def _check_chunk_size(chunk_size) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f'chunk_size must be a positive int or None, got {chunk_size!r}')


def evaluate_reid_from_features(q_feats: ArrayLike,
                                g_feats: ArrayLike,
                                q_pids: ArrayLike,
                                g_pids: ArrayLike,
                                q_camids: ArrayLike,
                                g_camids: ArrayLike,
                                metric: str = 'euclidean',
                                normalize: bool = True,
                                max_rank: int = 50,
                                chunk_size: Optional[int] = None,
                                memory_budget_mb: float = 512.,
                                return_per_query: bool = False,
                                rerank: bool = False,
                                k1: int = 20,
                                k2: int = 6,
                                lambda_value: float = 0.3,
                                progress: bool = False) -> Dict:
    """Market-1501 Re-ID evaluation from features, chunked over queries.

    For each chunk of queries the (chunk, G) distances are computed, ranked
    and reduced to per-query statistics (the ranking split among
    ``torch.get_num_threads()`` threads) before the next chunk. The extra
    memory is bounded by ``memory_budget_mb`` (no normalised copy of the
    features is made; re-ranking holds one, see :func:`rerank_blocks`). The
    result is exactly that of :func:`evaluate_reid` on :func:`compute_distance_matrix` whatever the
    chunk size (distances come from fixed, position-aligned GEMM tiles).

    With ``rerank=True`` the distances are the k-reciprocal re-ranked ones
    (:func:`~dcal_mm.evaluation.functional.rerank_blocks`; the result equals
    :func:`evaluate_reid` on :func:`~dcal_mm.evaluation.functional.k_reciprocal_rerank`),
    streamed chunk by chunk: no (Q+G)^2 or Q x G matrix is held.

    Args:
        q_feats (np.ndarray | torch.Tensor): (Q, D) query features. CUDA
            tensors compute distances on the GPU; ranking runs on the CPU.
        g_feats (np.ndarray | torch.Tensor): (G, D) gallery features.
        q_pids, g_pids, q_camids, g_camids (array-like): Labels, as in
            :func:`evaluate_reid`.
        metric (str): ``'euclidean'`` (squared Euclidean, default; with
            ``normalize=True`` this is TransReID's evaluation) or ``'cosine'``
            (``1 - cos``, fast-reid's default). On normalised features the two
            give the same ranking up to float rounding. Re-ranking always
            uses squared Euclidean distances (of normalised features when
            ``normalize`` or cosine).
        normalize (bool): L2-normalise features first. Defaults to True.
        max_rank (int): Length of the CMC curve. Defaults to 50.
        chunk_size (int, optional): Queries per chunk. Defaults to None:
            derived from ``memory_budget_mb`` by :func:`chunk_rows_for_budget`.
        memory_budget_mb (float): Working-memory budget of a chunk in MiB.
            Defaults to 512.
        return_per_query (bool): See :func:`evaluate_reid`.
        rerank (bool): Evaluate k-reciprocal re-ranked distances. Defaults
            to False.
        k1 (int): Re-ranking k1. Defaults to 20.
        k2 (int): Re-ranking k2. Defaults to 6.
        lambda_value (float): Re-ranking lambda. Defaults to 0.3.
        progress (bool): Show progress (MMEngine progress bars). Defaults to
            False.

    Returns:
        dict: As :func:`evaluate_reid`.
    """
    max_rank = _check_max_rank(max_rank)
    q = _as_features(q_feats, 'q_feats')
    g = _as_features(g_feats, 'g_feats')
    q_pids, g_pids, q_camids, g_camids = _check_labels(q.shape[0], g.shape[0], q_pids, g_pids, q_camids, g_camids)
    if g.device != q.device:
        raise ValueError(f'q_feats and g_feats are on different devices: {q.device} vs {g.device}')
    if metric not in _METRICS:
        raise ValueError(f'metric must be one of {_METRICS}, got {metric!r}')
    if chunk_size is not None:
        _check_chunk_size(chunk_size)
    gallery = _GalleryIndex(g_pids, g_camids)
    if rerank:
        from .rerank import rerank_blocks
        blocks = rerank_blocks(
            q,
            g,
            k1=k1,
            k2=k2,
            lambda_value=lambda_value,
            normalize=normalize or metric == 'cosine',
            chunk_size=chunk_size,
            memory_budget_mb=memory_budget_mb,
            progress=progress)
        check_finite = False  # rerank_blocks checks its distances
        desc = 'evaluate_reid (re-ranked)'
    else:
        pd = PairwiseDistance(q, g, metric, normalize)
        if chunk_size is None:
            chunk_size = chunk_rows_for_budget(g.shape[0], memory_budget_mb)
        blocks = ((a, block.cpu().numpy()) for a, block in pd.iter_rows(chunk_size))
        check_finite = not pd.finite
        desc = 'evaluate_reid'
    acc = _evaluate_blocks(blocks, q_pids, q_camids, gallery, check_finite, progress, desc)
    return acc.result(max_rank, return_per_query)
