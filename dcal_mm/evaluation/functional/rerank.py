# Copyright (c) OpenMMLab. All rights reserved.
"""k-reciprocal re-ranking (Zhong, Zheng, Cao, Li; CVPR 2017), chunked.

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
* ``V`` is kept sparse in float32 (the reference: dense float16), and the
  ``O`` values inside ``V`` are recomputed per pair in float64. Results agree
  with a float64 computation to about 1e-7 and differ from the reference's
  by its float16 rounding (up to about 1e-3).

Memory: the reference builds the dense ``N x N`` distance (4 N^2 bytes: 1.5 GB
for Market-1501's N = 19,281, 35 GB for MSMT17), its ``N x N`` argsort (8 N^2
bytes) and two dense ``N x N`` float16 ``V`` (2 N^2 bytes each). Here the
``N x N`` distance is computed in row chunks that fit ``memory_budget_mb``
and is reduced at once to each row's nearest neighbours; the Jaccard step is
chunked to the same budget. Peak memory is about ``4 Q G`` bytes (the
returned matrix) + ``memory_budget_mb`` + ~100 MB of fixed-size
temporaries + ``O(N k1 k2)`` for the sparse ``V``. Time is still
``O(N^2 D)``: ``max_samples`` (default 20,000, which admits Market-1501
3,368 + 15,913, DukeMTMC-reID 2,228 + 17,661 and VeRi-776 1,678 + 11,579)
refuses larger sets with an error rather than starting a run of hours with a
``4 Q G`` result (3.8 GB for MSMT17) that may not fit; raise it to go on.
"""
from typing import Optional, Tuple

import numpy as np
import torch

from . import reid as reid_module
from .reid import ArrayLike, PairwiseDistance, _as_features


def _nearest(block: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` smallest entries of each row, in (value, index)
    order: the first ``k`` entries of a stable ascending argsort."""
    vals, idx = torch.topk(block, k, dim=1, largest=False, sorted=True)
    # topk orders equal values arbitrarily: re-sort the k by (value, index).
    by_index = torch.argsort(idx, dim=1)
    idx, vals = idx.gather(1, by_index), vals.gather(1, by_index)
    idx = idx.gather(1, torch.sort(vals, dim=1, stable=True).indices)
    # If the k-th value is tied with entries outside the k, topk's pick among
    # them is arbitrary: redo those rows with a full stable sort.
    tied = (block <= vals.max(dim=1, keepdim=True).values).sum(dim=1) > k
    if tied.any():
        rows = tied.nonzero().flatten()
        idx[rows] = torch.sort(block[rows], dim=1, stable=True).indices[:, :k]
    return idx


def _pass1_rows(num: int, memory_budget_mb: float) -> int:
    """Rows per distance chunk of the first pass: the float32 block plus the
    top-k and tie-check temporaries, about 24 bytes per element."""
    if not memory_budget_mb > 0:
        raise ValueError(f'memory_budget_mb must be > 0, got {memory_budget_mb!r}')
    rows = int(memory_budget_mb * 2**20 // (24 * num))
    if rows < 1:
        raise ValueError(f'memory_budget_mb={memory_budget_mb} is too small for {num} samples: it needs at least '
                         f'{24 * num / 2**20:.2f} MiB')
    tile = reid_module.GEMM_TILE_ROWS
    return rows // tile * tile if rows >= tile else rows


def _reciprocal(nn: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Mask (len(rows), k): whether ``nn[r, m]`` has ``r`` among its own
    first ``k`` neighbours."""
    fwd = nn[rows, :k]
    return (nn[fwd, :k] == rows[:, None, None]).any(axis=2)


def _pair_distance(feats: torch.Tensor, sq: torch.Tensor, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of the given pairs, in float64, in batches
    of about 2M feature elements."""
    out = np.empty(rows.shape[0], np.float64)
    step = max(1, (1 << 21) // feats.shape[1])
    for a in range(0, rows.shape[0], step):
        r = torch.from_numpy(rows[a:a + step])
        c = torch.from_numpy(cols[a:a + step])
        dot = (feats[r].double() * feats[c].double()).sum(dim=1)
        out[a:a + step] = (sq[r] + sq[c] - 2 * dot).numpy()
    return out


def _sum_duplicates(keys: np.ndarray, vals: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind='stable')
    keys, vals = keys[order], vals[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts], np.add.reduceat(vals, starts) if vals.size else vals


def k_reciprocal_rerank(q_feats: ArrayLike,
                        g_feats: ArrayLike,
                        k1: int = 20,
                        k2: int = 6,
                        lambda_value: float = 0.3,
                        max_samples: Optional[int] = 20000,
                        memory_budget_mb: float = 1024.) -> np.ndarray:
    """k-reciprocal re-ranking of query-gallery distances (Zhong et al. 2017).

    Features are used as given (normalise them first for TransReID's setting);
    the base distance is their squared Euclidean distance. See the module
    docstring for the algorithm, our choices and the memory use.

    Args:
        q_feats (np.ndarray | torch.Tensor): (Q, D) query features.
        g_feats (np.ndarray | torch.Tensor): (G, D) gallery features.
        k1 (int): Size of the k-reciprocal neighbourhood. Defaults to 20.
        k2 (int): Neighbours averaged by query expansion (1 = none).
            Defaults to 6.
        lambda_value (float): Weight of the original distance in the final
            one, in [0, 1]. Defaults to 0.3.
        max_samples (int, optional): Largest ``Q + G`` accepted; None for no
            limit. Defaults to 20000.
        memory_budget_mb (float): Budget of one distance chunk in MiB.
            Defaults to 1024.

    Returns:
        np.ndarray: (Q, G) float32 re-ranked distances.
    """
    for name, k in (('k1', k1), ('k2', k2)):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f'{name} must be a positive int, got {k!r}')
    if not 0 <= lambda_value <= 1:
        raise ValueError(f'lambda_value must be in [0, 1], got {lambda_value!r}')
    q = _as_features(q_feats, 'q_feats')
    g = _as_features(g_feats, 'g_feats')
    num_q, num_g = q.shape[0], g.shape[0]
    if num_q == 0 or num_g == 0:
        raise ValueError(f're-ranking needs queries and gallery items, got {num_q} and {num_g}')
    if q.shape[1] != g.shape[1]:
        raise ValueError(f'feature dims differ: q_feats {q.shape[1]} vs g_feats {g.shape[1]}')
    num = num_q + num_g
    if max_samples is not None and num > max_samples:
        raise ValueError(f're-ranking {num_q} queries + {num_g} gallery = {num} samples exceeds max_samples='
                         f'{max_samples}: it takes O(N^2 D) time and {4 * num_q * num_g / 2**30:.1f} GiB for '
                         f'the result; raise max_samples to run it anyway')
    feats = torch.cat([q, g.to(q.device)])
    pd = PairwiseDistance(feats, feats, 'euclidean', normalize=False)
    k_fwd = min(k1 + 1, num)
    k_half = min(int(np.around(k1 / 2)) + 1, num)
    k_qe = min(k2, num)

    # Pass 1: row-normalised distances -> nearest neighbours, and the
    # query-gallery block of O.
    nn = np.empty((num, max(k_fwd, k_qe)), np.int64)
    row_max = np.empty(num, np.float32)
    final = np.empty((num_q, num_g), np.float32)
    chunk = _pass1_rows(num, memory_budget_mb)
    for a in range(0, num, chunk):
        b = min(a + chunk, num)
        block = pd.rows(a, b)
        mx = block.max(dim=1).values
        if not (mx > 0).all():
            bad = a + int((mx <= 0).nonzero()[0, 0])
            raise ValueError(f'sample {bad} has no positive distance to any sample (all features identical?)')
        block /= mx[:, None]
        row_max[a:b] = mx.cpu().numpy()
        nn[a:b] = _nearest(block, nn.shape[1]).cpu().numpy()
        if a < num_q:
            final[a:min(b, num_q)] = block[:min(b, num_q) - a, num_q:].cpu().numpy()
        del block

    # Pass 2: expanded k-reciprocal sets -> sparse V (COO, row-major).
    half_mask = _reciprocal(nn, np.arange(num), k_half)
    half_len = half_mask.sum(axis=1)
    feats_cpu = feats.cpu()
    feats64_sq = feats_cpu.double().pow(2).sum(dim=1)
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

    # Query expansion: V_qe[i] = mean of V over the k2 nearest of i.
    if k_qe > 1:
        row_ptr = np.concatenate(([0], np.cumsum(np.bincount(v_rows, minlength=num))))
        src = nn[:, :k_qe].reshape(-1)  # row i, m -> source row
        counts = row_ptr[src + 1] - row_ptr[src]
        dst = np.repeat(np.repeat(np.arange(num), k_qe), counts)
        ent = np.repeat(row_ptr[src], counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        keys, vals = _sum_duplicates(dst * num + v_cols[ent], v_vals[ent] / k_qe)
        v_rows, v_cols, v_vals = keys // num, keys % num, vals

    # Jaccard on the query-gallery block through the gallery rows' columns.
    gal = v_rows >= num_q
    order = np.argsort(v_cols[gal], kind='stable')
    g_rows, g_cols, g_vals = v_rows[gal][order] - num_q, v_cols[gal][order], v_vals[gal][order]
    col_ptr = np.concatenate(([0], np.cumsum(np.bincount(g_cols, minlength=num))))
    qry = np.flatnonzero(v_rows < num_q)  # row-major, so rows are contiguous
    q_rows, q_cols, q_vals = v_rows[qry], v_cols[qry], v_vals[qry]
    pairs = col_ptr[q_cols + 1] - col_ptr[q_cols]
    pairs_per_query = np.bincount(q_rows, weights=pairs, minlength=num_q)
    q_ptr = np.concatenate(([0], np.cumsum(np.bincount(q_rows, minlength=num_q))))
    # Half the budget for the dense block (temp_min and the Jaccard
    # temporaries: about 32 bytes per element), half for the pairs (query
    # entry x gallery entry sharing a column: about 64 bytes each).
    rows_per_chunk = max(1, min(num_q, int(memory_budget_mb * 2**20 // (64 * num_g))))
    max_pairs = max(1, int(memory_budget_mb * 2**20 // 128))
    a = 0
    while a < num_q:
        # Grow the chunk while its pair count and dense block stay bounded.
        b = a + max(1, int(np.searchsorted(np.cumsum(pairs_per_query[a:a + rows_per_chunk]), max_pairs, side='right')))
        b = min(b, a + rows_per_chunk, num_q)
        e0, e1 = q_ptr[a], q_ptr[b]
        cnt = pairs[e0:e1]
        ent = np.repeat(np.arange(e0, e1), cnt)
        gal_ent = np.repeat(col_ptr[q_cols[e0:e1]], cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        mins = np.minimum(q_vals[ent], g_vals[gal_ent])
        temp_min = np.bincount(
            (q_rows[ent] - a) * num_g + g_rows[gal_ent], weights=mins, minlength=(b - a) * num_g).reshape(b - a, num_g)
        jaccard = 1 - temp_min / (2 - temp_min)
        final[a:b] = jaccard * (1 - lambda_value) + final[a:b] * lambda_value
        a = b
    return final
