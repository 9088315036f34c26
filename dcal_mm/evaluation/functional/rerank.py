# Copyright (c) OpenMMLab. All rights reserved.
"""k-reciprocal re-ranking (Zhong, Zheng, Cao, Li; CVPR 2017), streamed.

The algorithm is the one of the authors' code as carried by TransReID
(``utils/reranking.py``) and torchreid (``utils/rerank.py``):

1. ``d`` = squared Euclidean distance among all ``N = Q + G`` features, each
   row divided by its maximum (``O``).
2. ``R(i)`` = k-reciprocal neighbours of ``i`` among its ``k1 + 1`` nearest;
   for each ``c`` in ``R(i)``, its own ``round(k1 / 2) + 1``-reciprocal set is
   added when more than 2/3 of it lies in ``R(i)``.
3. ``V[i, j] = exp(-O[i, j])`` on the expanded set, normalised to sum 1;
   query expansion replaces ``V[i]`` by the mean of ``V`` over the ``k2``
   nearest neighbours of ``i``.
4. Jaccard distance ``1 - sum(min(V_i, V_j)) / sum(max(V_i, V_j))`` and
   ``final = (1 - lambda) * jaccard + lambda * O`` on the query-gallery block.

Differences from the reference code, all our choices:

* Neighbour ties are broken by index (stable argsort); the reference uses
  numpy's unstable argsort.
* ``V`` is kept sparse in float64 (the reference: dense float16); the
  ``O`` values inside ``V`` are recomputed per pair (float32 dot products,
  as the distance matrix, float64 sums). Results agree with a float64
  computation to about 1e-7 and differ from the reference's by its float16
  rounding (up to about 1e-3).

How it runs without any (Q+G)^2 or Q x G matrix (:func:`rerank_blocks`):

* pass 1 computes the ``N x N`` distances in row chunks and keeps, per row,
  its maximum and its ``max(k1 + 1, k2)`` nearest neighbours (found among
  the items below a per-row bound, not by sorting the row);
* the k-reciprocal sets, ``V`` and the query expansion only need these
  neighbour lists (``N x (k1 + 1)`` ints) and per-pair distances, and ``V``
  has a few dozen nonzeros per row, stored sparse;
* pass 2 recomputes the query rows' distances chunk by chunk, adds the
  Jaccard distance through an inverted index over the gallery's nonzeros (as
  the reference's ``invIndex``) and yields each ``final`` chunk, which
  :func:`~dcal_mm.evaluation.functional.evaluate_reid_from_features` ranks
  before the next is made.

Time is that of the two matrix products, ``O((Q + G)^2 D + Q (Q + G) D)``
(MSMT17, 93,820 x 1,536-d: about 31 TFLOP); memory is the features, one
chunk, the neighbour lists and the sparse ``V``.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from dcal_mm.utils.progress import Progress

from . import reid as reid_module
from .reid import ArrayLike, PairwiseDistance, _as_features, _ordered_uint32, _sq_norms


def _nearest_normalized(block: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Row maxima and, per row, the ``k`` nearest items of the row divided
    by its maximum, in (normalised value, index) order: the first ``k`` of a
    stable argsort of ``block / max``, without dividing or sorting the row.

    The maximum of the minima of ``k + 1`` row segments, ``tau``, has at
    least ``k + 1`` items at or below it; only those are sorted. Division by
    the row maximum is monotone, so no other item comes before the ``k``-th
    when its normalised value is below ``fl(tau / max)``; rows where it is
    not (ties at the bound) are sorted whole.

    Args:
        block (np.ndarray): (B, N) float32 distances.
        k (int): Neighbours per row, ``1 <= k <= N``.

    Returns:
        tuple[np.ndarray, np.ndarray]: (B, k) int64 indices and the (B,)
        float32 row maxima.

    Raises:
        ValueError: A row has no positive distance (its maximum is <= 0).
    """
    num_b, num = block.shape
    mx = block.max(axis=1)
    if not (mx > 0).all():
        raise ValueError('a sample has no positive distance to any sample (all features identical?)')
    if k >= num:
        return np.argsort(block / mx[:, None], axis=1, kind='stable')[:, :k], mx
    starts = np.linspace(0, num, k + 2).astype(np.int64)[:-1]
    tau = np.minimum.reduceat(block, starts, axis=1).max(axis=1)
    flat = np.flatnonzero(block <= tau[:, None])  # row-major: cols ascending
    rows = flat // num
    vals = block.reshape(-1)[flat] / mx[rows]
    order = np.argsort((rows << 32) + _ordered_uint32(vals), kind='stable')  # (row, value, col)
    count = np.bincount(rows, minlength=num_b)
    pos = (np.cumsum(count) - count)[:, None] + np.arange(k)
    pick = order[pos]
    nn = flat[pick] - rows[pick] * num
    bad = np.flatnonzero(~(vals[pick[:, -1]] < tau / mx))
    for r in bad:
        nn[r] = np.argsort(block[r] / mx[r], kind='stable')[:k]
    return nn, mx


def _reciprocal(nn: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Mask (len(rows), k): whether ``nn[r, m]`` has ``r`` among its own
    first ``k`` neighbours."""
    fwd = nn[rows, :k]
    return (nn[fwd, :k] == rows[:, None, None]).any(axis=2)


def _pair_distance(feats: torch.Tensor, sq: torch.Tensor, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of the pairs ``(rows[p], cols[p])``;
    ``rows`` ascending. The dot products are batched per row (one gathered
    (pairs, D) block times the row's feature, float32 as the distance
    matrix), the norms added in float64.

    Args:
        feats (torch.Tensor): (N, D) float32 features.
        sq (torch.Tensor): (N,) float64 squared norms.
        rows (np.ndarray): (P,) int64 row of each pair, ascending.
        cols (np.ndarray): (P,) int64 column of each pair.

    Returns:
        np.ndarray: (P,) float64 distances.
    """
    out = np.empty(rows.shape[0], np.float64)
    if rows.shape[0] == 0:
        return out
    # Per row: its pairs padded to the longest run, as one batched product.
    urows, start, count = np.unique(rows, return_index=True, return_counts=True)
    width = int(count.max())
    pos = np.arange(rows.shape[0]) - np.repeat(start, count)
    padded = np.repeat(urows, width).reshape(-1, width)  # pad with the row itself
    padded[np.repeat(np.arange(urows.shape[0]), count), pos] = cols
    step = max(1, (1 << 22) // (width * feats.shape[1]))
    dots = np.empty((urows.shape[0], width), np.float32)
    for a in range(0, urows.shape[0], step):
        r = torch.from_numpy(urows[a:a + step])
        c = torch.from_numpy(padded[a:a + step])
        dots[a:a + step] = torch.bmm(feats[c], feats[r].unsqueeze(2)).squeeze(2).numpy()
    sq = sq.numpy()
    out[:] = sq[rows] + sq[cols] - 2 * dots[np.repeat(np.arange(urows.shape[0]), count), pos].astype(np.float64)
    return out


def _sum_duplicates(keys: np.ndarray, vals: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind='stable')
    keys, vals = keys[order], vals[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts], np.add.reduceat(vals, starts) if vals.size else vals


def _check_args(k1: int, k2: int, lambda_value: float) -> None:
    for name, k in (('k1', k1), ('k2', k2)):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f'{name} must be a positive int, got {k!r}')
    if not 0 <= lambda_value <= 1:
        raise ValueError(f'lambda_value must be in [0, 1], got {lambda_value!r}')


def _features(q_feats: ArrayLike, g_feats: ArrayLike, normalize: bool) -> Tuple[torch.Tensor, int, int]:
    """(N, D) float32 query + gallery features (one copy, L2-normalised in
    place when asked: bitwise ``F.normalize`` of each set)."""
    q = _as_features(q_feats, 'q_feats')
    g = _as_features(g_feats, 'g_feats')
    num_q, num_g = q.shape[0], g.shape[0]
    if num_q == 0 or num_g == 0:
        raise ValueError(f're-ranking needs queries and gallery items, got {num_q} and {num_g}')
    if q.shape[1] != g.shape[1]:
        raise ValueError(f'feature dims differ: q_feats {q.shape[1]} vs g_feats {g.shape[1]}')
    feats = torch.cat([q, g.to(q.device)])
    if normalize:
        feats.div_(feats.norm(p=2, dim=1, keepdim=True).clamp_min_(1e-12))
    return feats, num_q, num_g


def _expected_minutes(feats: torch.Tensor, num_q: int) -> float:
    """Expected re-ranking time: the FLOPs of the two distance products
    (N x N, then Q x N) at the rate of a timed sample product, plus 15% for
    the rest (measured on a 2-core CPU)."""
    num, dim = feats.shape
    rows, cols = min(num, 256), min(num, 8192)
    sample = feats[:rows] @ feats[:cols].t()  # warm-up
    t0 = time.perf_counter()
    sample = feats[:rows] @ feats[:cols].t()
    rate = 2 * rows * cols * dim / max(time.perf_counter() - t0, 1e-9)
    del sample
    return 1.15 * 2 * dim * num * (num + num_q) / rate / 60


def _split_rows(pool: ThreadPoolExecutor, workers: int, fn, block: np.ndarray) -> list:
    """Run ``fn`` on ``workers`` row slices of ``block`` in ``pool``."""
    step = -(-block.shape[0] // workers)
    futures = [pool.submit(fn, block[a:a + step]) for a in range(0, block.shape[0], step)]
    return [f.result() for f in futures]


def rerank_blocks(q_feats: ArrayLike,
                  g_feats: ArrayLike,
                  k1: int = 20,
                  k2: int = 6,
                  lambda_value: float = 0.3,
                  normalize: bool = False,
                  chunk_size: Optional[int] = None,
                  memory_budget_mb: float = 512.,
                  progress: bool = False) -> Iterator[Tuple[int, np.ndarray]]:
    """k-reciprocal re-ranked query-gallery distances, chunk by chunk.

    A generator: the neighbour pass over all ``N = Q + G`` samples runs at
    the first ``next``; then each ``next`` yields ``(a, block)``, the
    re-ranked distances of queries ``a .. a + len(block)`` to the whole
    gallery, as :func:`k_reciprocal_rerank` computes them. See the module
    docstring for the algorithm and how it is streamed.

    Args:
        q_feats (np.ndarray | torch.Tensor): (Q, D) query features.
        g_feats (np.ndarray | torch.Tensor): (G, D) gallery features.
        k1 (int): Size of the k-reciprocal neighbourhood. Defaults to 20.
        k2 (int): Neighbours averaged by query expansion (1 = none).
            Defaults to 6.
        lambda_value (float): Weight of the original distance in the final
            one, in [0, 1]. Defaults to 0.3.
        normalize (bool): L2-normalise the features first (TransReID).
            Defaults to False: features are used as given.
        chunk_size (int, optional): Rows per distance chunk. Defaults to
            None: from ``memory_budget_mb``
            (:func:`~dcal_mm.evaluation.functional.chunk_rows_for_budget`
            with ``N`` columns).
        memory_budget_mb (float): Budget of one distance chunk and its
            temporaries, in MiB. Defaults to 512.
        progress (bool): Print the expected time and show a progress bar
            for the neighbour pass. Defaults to False.

    Yields:
        tuple[int, np.ndarray]: First query row and its (rows, G) float32
        re-ranked distances (a view, valid until the next step).
    """
    _check_args(k1, k2, lambda_value)
    feats, num_q, num_g = _features(q_feats, g_feats, normalize)
    num = num_q + num_g
    if chunk_size is None:
        chunk_size = reid_module.chunk_rows_for_budget(num, memory_budget_mb)
    else:
        reid_module._check_chunk_size(chunk_size)
    pd = PairwiseDistance(feats, feats, 'euclidean', normalize=False)
    if not pd.finite:
        raise ValueError('re-ranking: feature norms are too large for float32 distances')
    k_fwd = min(k1 + 1, num)
    k_half = min(int(np.around(k1 / 2)) + 1, num)
    k_qe = min(k2, num)
    k_nn = max(k_fwd, k_qe)
    workers = max(1, torch.get_num_threads())

    # Pass 1: row maxima and nearest neighbours (of the row-normalised O).
    nn = np.empty((num, k_nn), np.int64)
    row_max = np.empty(num, np.float32)
    if progress:
        print_log(
            f're-ranking {num_q} queries + {num_g} gallery ({feats.shape[1]}-d): expected about '
            f'{_expected_minutes(feats, num_q):.1f} min (an N x N and a Q x N distance product, timed on a sample '
            f'now; a busy machine takes longer)',
            logger='current')
    bar = Progress(num, enabled=progress, desc=f'k-reciprocal re-ranking, neighbours of {num} samples')
    with ThreadPoolExecutor(workers, thread_name_prefix='rerank') as pool:
        for a, block in pd.iter_rows(chunk_size):
            b = a + block.shape[0]
            parts = _split_rows(pool, workers, lambda x: _nearest_normalized(x, k_nn), block.cpu().numpy())
            nn[a:b] = np.concatenate([p[0] for p in parts])
            row_max[a:b] = np.concatenate([p[1] for p in parts])
            del block, parts
            bar.update(b - a)

    # k-reciprocal sets, expanded -> sparse V (COO, row-major).
    half_mask = _reciprocal(nn, np.arange(num), k_half)
    half_len = half_mask.sum(axis=1)
    feats_cpu = feats.cpu()
    feats64_sq = _sq_norms(feats_cpu, torch.float64)  # chunked: no (N, D) float64 copy (1.1 GiB at MSMT17)
    v_rows, v_cols, v_vals = [], [], []
    step = max(1, (1 << 22) // (k_fwd * k_half * k_fwd))
    for a in range(0, num, step):
        rows = np.arange(a, min(a + step, num))
        fwd = nn[rows, :k_fwd]
        recip = _reciprocal(nn, rows, k_fwd)
        cand_half = nn[fwd, :k_half]  # (r, k_fwd, k_half)
        cand_mask = half_mask[fwd] & recip[:, :, None]
        in_recip = ((cand_half[..., None] == fwd[:, None, None, :]) & recip[:, None, None, :]).any(axis=3)
        inter = (in_recip & cand_mask).sum(axis=2)
        accept = recip & (inter > 2 / 3 * half_len[fwd])  # float compare, as the reference
        members = np.concatenate(
            [np.where(recip, fwd, -1),
             np.where(cand_mask & accept[:, :, None], cand_half, -1).reshape(len(rows), -1)],
            axis=1)
        members.sort(axis=1)
        keep = (members >= 0) & np.concatenate([np.ones((len(rows), 1), bool), members[:, 1:] != members[:, :-1]],
                                               axis=1)
        r_idx, c_idx = np.nonzero(keep)
        r = rows[r_idx]
        c = members[r_idx, c_idx]
        w = np.exp(-_pair_distance(feats_cpu, feats64_sq, r, c) / row_max[r].astype(np.float64))
        w /= np.bincount(r - a, weights=w, minlength=len(rows))[r - a]
        v_rows.append(r), v_cols.append(c), v_vals.append(w)
    v_rows, v_cols, v_vals = np.concatenate(v_rows), np.concatenate(v_cols), np.concatenate(v_vals)
    del feats_cpu, feats64_sq, half_mask

    # Query expansion: V_qe[i] = mean of V over the k2 nearest of i.
    if k_qe > 1:
        row_ptr = np.concatenate(([0], np.cumsum(np.bincount(v_rows, minlength=num))))
        src = nn[:, :k_qe].reshape(-1)  # row i, m -> source row
        counts = row_ptr[src + 1] - row_ptr[src]
        dst = np.repeat(np.repeat(np.arange(num), k_qe), counts)
        ent = np.repeat(row_ptr[src], counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        keys, vals = _sum_duplicates(dst * num + v_cols[ent], v_vals[ent] / k_qe)
        del row_ptr, src, counts, dst, ent
        v_rows, v_cols, v_vals = keys // num, keys % num, vals
        del keys, vals
    del nn

    # Inverted index: the gallery rows' entries by column.
    gal = v_rows >= num_q
    order = np.argsort(v_cols[gal], kind='stable')
    g_rows, g_cols, g_vals = v_rows[gal][order] - num_q, v_cols[gal][order], v_vals[gal][order]
    col_ptr = np.concatenate(([0], np.cumsum(np.bincount(g_cols, minlength=num))))
    del gal, order, g_cols
    qry = np.flatnonzero(v_rows < num_q)  # row-major, so rows are contiguous
    q_rows, q_cols, q_vals = v_rows[qry], v_cols[qry], v_vals[qry]
    del v_rows, v_cols, v_vals, qry
    pairs = col_ptr[q_cols + 1] - col_ptr[q_cols]
    pairs_per_query = np.bincount(q_rows, weights=pairs, minlength=num_q)
    q_ptr = np.concatenate(([0], np.cumsum(np.bincount(q_rows, minlength=num_q))))
    # Jaccard sub-chunks: dense temporaries (about 32 bytes per element) and
    # pairs (query entry x gallery entry sharing a column: about 64 bytes
    # each) within half the budget each.
    rows_per_sub = max(1, int(memory_budget_mb * 2**20 // (64 * num_g)))
    max_pairs = max(1, int(memory_budget_mb * 2**20 // 128))

    # Pass 2: the query rows again -> O, + Jaccard -> final, chunk by chunk.
    for a0, block in pd.iter_rows(chunk_size, 0, num_q):
        block = block.cpu().numpy()
        b0 = a0 + block.shape[0]
        final = block[:, num_q:]
        np.divide(final, row_max[a0:b0, None], out=final)  # O, float32
        a = a0
        while a < b0:
            # Grow the sub-chunk while its pair count and dense block stay bounded.
            b = a + max(1, int(np.searchsorted(np.cumsum(pairs_per_query[a:a + rows_per_sub]), max_pairs,
                                               side='right')))
            b = min(b, a + rows_per_sub, b0)
            e0, e1 = q_ptr[a], q_ptr[b]
            cnt = pairs[e0:e1]
            ent = np.repeat(np.arange(e0, e1), cnt)
            gal_ent = np.repeat(col_ptr[q_cols[e0:e1]], cnt) + (
                np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
            mins = np.minimum(q_vals[ent], g_vals[gal_ent])
            temp_min = np.bincount(
                (q_rows[ent] - a) * num_g + g_rows[gal_ent], weights=mins,
                minlength=(b - a) * num_g).reshape(b - a, num_g)
            del ent, gal_ent, mins
            jaccard = 1 - temp_min / (2 - temp_min)
            final[a - a0:b - a0] = jaccard * (1 - lambda_value) + final[a - a0:b - a0] * lambda_value
            del temp_min, jaccard
            a = b
        yield a0, final
        del final, block


def k_reciprocal_rerank(q_feats: ArrayLike,
                        g_feats: ArrayLike,
                        k1: int = 20,
                        k2: int = 6,
                        lambda_value: float = 0.3,
                        max_samples: Optional[int] = None,
                        memory_budget_mb: float = 512.,
                        normalize: bool = False,
                        progress: bool = False) -> np.ndarray:
    """k-reciprocal re-ranking of query-gallery distances (Zhong et al. 2017).

    The whole (Q, G) result of :func:`rerank_blocks`. To evaluate, prefer
    ``evaluate_reid_from_features(..., rerank=True)``, which ranks the
    chunks as they come and never holds the Q x G matrix (3.8 GB for
    MSMT17). The base distance is the squared Euclidean distance of the
    features (normalised first when ``normalize``). See the module
    docstring for the algorithm and our choices.

    Args:
        q_feats (np.ndarray | torch.Tensor): (Q, D) query features.
        g_feats (np.ndarray | torch.Tensor): (G, D) gallery features.
        k1 (int): Size of the k-reciprocal neighbourhood. Defaults to 20.
        k2 (int): Neighbours averaged by query expansion (1 = none).
            Defaults to 6.
        lambda_value (float): Weight of the original distance in the final
            one, in [0, 1]. Defaults to 0.3.
        max_samples (int, optional): Largest ``Q + G`` accepted; None (the
            default) for no limit.
        memory_budget_mb (float): Budget of one distance chunk in MiB.
            Defaults to 512.
        normalize (bool): L2-normalise the features first. Defaults to
            False.
        progress (bool): Print the expected time and progress. Defaults to
            False.

    Returns:
        np.ndarray: (Q, G) float32 re-ranked distances.
    """
    _check_args(k1, k2, lambda_value)
    num_q, num_g = len(q_feats), len(g_feats)
    num = num_q + num_g
    if max_samples is not None and num > max_samples:
        raise ValueError(f're-ranking {num_q} queries + {num_g} gallery = {num} samples exceeds max_samples='
                         f'{max_samples}; the result alone takes {4 * num_q * num_g / 2**30:.1f} GiB: '
                         f'evaluate_reid_from_features(..., rerank=True) streams it instead')
    final = None
    for a, block in rerank_blocks(
            q_feats,
            g_feats,
            k1=k1,
            k2=k2,
            lambda_value=lambda_value,
            normalize=normalize,
            memory_budget_mb=memory_budget_mb,
            progress=progress):
        if final is None:
            final = np.empty((num_q, block.shape[1]), np.float32)
        final[a:a + block.shape[0]] = block
    return final
