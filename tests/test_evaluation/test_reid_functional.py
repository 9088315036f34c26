# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import torch

import dcal_mm  # noqa: F401
from dcal_mm.evaluation.functional import (PairwiseDistance, chunk_rows_for_budget, compute_distance_matrix,
                                           evaluate_reid, evaluate_reid_from_features, k_reciprocal_rerank)
from dcal_mm.evaluation.functional import reid as reid_module
from dcal_mm.evaluation.functional import rerank as rerank_module
from dcal_mm.evaluation.functional.rerank import _nearest_normalized


def reference_market1501(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """torchreid's eval_market1501 written per query, with a stable argsort
    and the CMC kept at max_rank entries."""
    distmat = np.asarray(distmat)
    all_ap, all_inp, all_cmc = [], [], []
    ap_per_query = np.full(len(q_pids), np.nan)
    for i in range(len(q_pids)):
        order = np.argsort(distmat[i], kind='stable')
        remove = (g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i])
        raw = (g_pids[order] == q_pids[i])[~remove].astype(np.int64)
        if not raw.any():
            continue
        cum = raw.cumsum()
        cmc = np.ones(max_rank)
        n = min(max_rank, len(raw))
        cmc[:n] = np.minimum(cum[:n], 1)
        all_cmc.append(cmc)
        ap = (cum / np.arange(1, len(raw) + 1) * raw).sum() / raw.sum()
        all_ap.append(ap)
        ap_per_query[i] = ap
        last = np.flatnonzero(raw)[-1]
        all_inp.append(cum[last] / (last + 1))
    return dict(
        mAP=np.mean(all_ap),
        mINP=np.mean(all_inp),
        CMC=np.mean(all_cmc, axis=0),
        num_valid_queries=len(all_ap),
        AP=ap_per_query)


def rerank_reference(dist, num_q, k1, k2, lam):
    """Textbook k-reciprocal re-ranking (Zhong et al.) on a full (N, N)
    distance, with loops and dense float64 V. Rows are normalised by their
    max (the reference's column normalisation + transpose, for a symmetric
    distance)."""
    dist = np.asarray(dist, np.float32)
    n = dist.shape[0]
    orig = dist / dist.max(axis=1, keepdims=True)
    rank = np.argsort(orig, axis=1, kind='stable')
    orig = orig.astype(np.float64)
    v = np.zeros((n, n))
    half = int(np.around(k1 / 2)) + 1
    for i in range(n):
        fwd = rank[i, :k1 + 1]
        k_rec = fwd[np.where(rank[fwd, :k1 + 1] == i)[0]]
        expanded = k_rec
        for c in k_rec:
            c_fwd = rank[c, :half]
            c_rec = c_fwd[np.where(rank[c_fwd, :half] == c)[0]]
            if len(np.intersect1d(c_rec, k_rec)) > 2 / 3 * len(c_rec):
                expanded = np.append(expanded, c_rec)
        expanded = np.unique(expanded)
        w = np.exp(-orig[i, expanded])
        v[i, expanded] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(n)])
    jaccard = np.zeros((num_q, n))
    for i in range(num_q):
        temp_min = np.zeros(n)
        for k in np.nonzero(v[i])[0]:
            rows = np.nonzero(v[:, k])[0]
            temp_min[rows] += np.minimum(v[i, k], v[rows, k])
        jaccard[i] = 1 - temp_min / (2 - temp_min)
    return (jaccard * (1 - lam) + orig[:num_q] * lam)[:, num_q:]


def random_labels(rng, num_q, num_g, num_ids, num_cams):
    # pid 0 = distractor in the gallery only; some query ids absent from it.
    g_pids = rng.integers(0, num_ids, num_g)
    q_pids = rng.integers(1, num_ids + 3, num_q)
    return q_pids, g_pids, rng.integers(0, num_cams, num_q), rng.integers(0, num_cams, num_g)


def assert_same(ours, ref):
    assert ours['num_valid_queries'] == ref['num_valid_queries']
    np.testing.assert_array_equal(ours['CMC'], ref['CMC'])
    assert ours['mAP'] == pytest.approx(ref['mAP'], abs=1e-12)
    assert ours['mINP'] == pytest.approx(ref['mINP'], abs=1e-12)


# Ranking counts the items before each match by binary search among the
# match distances (sparse rows) or by histograms (dense rows): force each.
@pytest.mark.parametrize('sparse_max_fraction', [0.0, 1.0, 0.25])
@pytest.mark.parametrize('seed', range(9))
def test_matches_reference_with_ties_junk_and_same_camera(monkeypatch, seed, sparse_max_fraction):
    monkeypatch.setattr(reid_module, '_SPARSE_MAX_FRACTION', sparse_max_fraction)
    rng = np.random.default_rng(seed)
    num_q, num_g = int(rng.integers(5, 40)), int(rng.integers(60, 400))
    # Seeds 6-8: many identities, so most queries have 0 or 1 match.
    num_ids = num_g // 2 if seed >= 6 else int(rng.integers(3, 20))
    labels = random_labels(rng, num_q, num_g, num_ids=num_ids, num_cams=3)
    if seed % 3 == 0:  # integer-valued distances: many ties
        dist = rng.integers(0, 6, (num_q, num_g)).astype(np.float32)
    elif seed % 3 == 1:
        dist = rng.integers(-4, 4, (num_q, num_g))  # int64 input
    else:
        dist = rng.random((num_q, num_g))  # float64
    ours = evaluate_reid(dist, *labels, max_rank=20, return_per_query=True)
    ref = reference_market1501(dist, *labels, max_rank=20)
    assert_same(ours, ref)
    np.testing.assert_allclose(ours['AP'], ref['AP'], rtol=0, atol=1e-12)
    assert 0 < ours['num_valid_queries'] < num_q or seed % 3  # some queries skipped
    # torch input gives the same.
    assert_same(evaluate_reid(torch.from_numpy(np.asarray(dist)), *map(torch.from_numpy, labels), max_rank=20), ref)


def test_hand_computed_example():
    # Query 0 (pid 1, cam 0) ranking: junk(pid1 cam0) .1, pid2 .2, pid1 .3, pid3 .4, pid1 .5.
    # After removing the junk: neg, hit@2, neg, hit@4 -> AP = (1/2 + 2/4)/2, INP = 2/4.
    # Query 1 (pid 1, cam 1) sees pid1 from cams 0 and 2 at .1 and .5.
    # Query 2 (pid 4) has no gallery item: skipped.
    g_pids = np.array([1, 2, 1, 3, 1])
    g_cams = np.array([0, 1, 1, 0, 2])
    dist = np.array([[.1, .2, .3, .4, .5], [.1, .2, .3, .4, .5], [.1, .2, .3, .4, .5]])
    res = evaluate_reid(
        dist, np.array([1, 1, 4]), g_pids, np.array([0, 1, 0]), g_cams, max_rank=5, return_per_query=True)
    # Query 1: kept ranking pid1(c0) .1, pid2 .2, pid3 .4, pid1(c2) .5 -> hits at 1 and 4.
    np.testing.assert_allclose(res['AP'][:2], [0.5, (1 / 1 + 2 / 4) / 2])
    assert np.isnan(res['AP'][2])
    np.testing.assert_array_equal(res['first_match_rank'], [2, 1, 0])
    np.testing.assert_array_equal(res['valid'], [True, True, False])
    assert res['num_valid_queries'] == 2
    assert res['mAP'] == pytest.approx((0.5 + 0.75) / 2)
    assert res['mINP'] == pytest.approx((2 / 4 + 2 / 4) / 2)
    np.testing.assert_allclose(res['CMC'], [0.5, 1, 1, 1, 1])


def test_ties_broken_by_gallery_index():
    # All distances equal: the ranking is the gallery order.
    dist = np.zeros((1, 4), np.float32)
    res = evaluate_reid(dist, [7], [3, 7, 3, 7], [0], [1, 1, 1, 1], max_rank=4)
    assert res['mAP'] == pytest.approx((1 / 2 + 2 / 4) / 2)
    res = evaluate_reid(dist, [7], [7, 3, 7, 3], [0], [1, 1, 1, 1], max_rank=4)
    assert res['mAP'] == pytest.approx((1 / 1 + 2 / 3) / 2)
    # -0.0 equals 0.0: still gallery order.
    for dtype in (np.float32, np.float64):
        signed = np.array([[0.0, -0.0, 0.0, -0.0]], dtype)
        res = evaluate_reid(signed, [7], [7, 3, 7, 3], [0], [1, 1, 1, 1], max_rank=4)
        assert res['mAP'] == pytest.approx((1 / 1 + 2 / 3) / 2)
        res = evaluate_reid(-signed, [7], [3, 7, 3, 7], [0], [1, 1, 1, 1], max_rank=4)
        assert res['mAP'] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_cmc_longer_than_gallery():
    res = evaluate_reid([[0.3, 0.1, 0.2]], [1], [2, 3, 1], [0], [1, 1, 1], max_rank=6)
    np.testing.assert_allclose(res['CMC'], [0, 1, 1, 1, 1, 1])
    assert res['mAP'] == pytest.approx(0.5)


def test_subchunks_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(3)
    labels = random_labels(rng, 50, 300, 12, 4)
    dist = rng.integers(0, 9, (50, 300)).astype(np.float32)
    full = evaluate_reid(dist, *labels, return_per_query=True)
    monkeypatch.setattr(reid_module, '_SUBCHUNK_ELEMENTS', 700)  # 2 rows per sub-chunk
    small = evaluate_reid(dist, *labels, return_per_query=True)
    np.testing.assert_array_equal(full['AP'], small['AP'])
    assert full['mAP'] == small['mAP'] and full['mINP'] == small['mINP']
    np.testing.assert_array_equal(full['CMC'], small['CMC'])


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
def test_chunked_from_features_equals_unchunked(monkeypatch, metric):
    monkeypatch.setattr(reid_module, 'GEMM_TILE_ROWS', 16)
    rng = np.random.default_rng(5)
    labels = random_labels(rng, 40, 200, 15, 3)
    q = torch.randn(40, 24)
    g = torch.randn(200, 24)
    whole = evaluate_reid(compute_distance_matrix(q, g, metric), *labels, return_per_query=True)
    ref = reference_market1501(compute_distance_matrix(q, g, metric).numpy(), *labels, max_rank=50)
    assert_same(whole, ref)
    for chunk_size in (1, 7, 16, 40, 500):
        res = evaluate_reid_from_features(q, g, *labels, metric=metric, chunk_size=chunk_size, return_per_query=True)
        np.testing.assert_array_equal(res['AP'], whole['AP'])
        assert res['mAP'] == whole['mAP'] and res['mINP'] == whole['mINP']
        np.testing.assert_array_equal(res['CMC'], whole['CMC'])
    res = evaluate_reid_from_features(q.numpy(), g.numpy(), *labels, metric=metric, memory_budget_mb=0.05)
    assert res['mAP'] == whole['mAP']


def test_distances_and_cosine_vs_normalised_euclidean():
    torch.manual_seed(0)
    q, g = torch.randn(30, 16), torch.randn(80, 16)
    sq = compute_distance_matrix(q, g, 'euclidean', normalize=False)
    torch.testing.assert_close(sq, torch.cdist(q.double(), g.double()).pow(2).float(), atol=1e-4, rtol=1e-5)
    qn, gn = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(g, dim=1)
    cos = compute_distance_matrix(q, g, 'cosine')
    torch.testing.assert_close(cos, 1 - qn @ gn.T, atol=1e-6, rtol=0)
    # On unit vectors |q - g|^2 = 2 - 2 cos = 2 * (1 - cos): same ranking.
    euc = compute_distance_matrix(q, g, 'euclidean', normalize=True)
    torch.testing.assert_close(euc, 2 * cos, atol=1e-5, rtol=0)
    rng = np.random.default_rng(0)
    labels = random_labels(rng, 30, 80, 8, 3)
    r_euc = evaluate_reid_from_features(q, g, *labels, metric='euclidean', return_per_query=True)
    r_cos = evaluate_reid_from_features(q, g, *labels, metric='cosine', return_per_query=True)
    np.testing.assert_array_equal(r_euc['first_match_rank'], r_cos['first_match_rank'])
    np.testing.assert_allclose(r_euc['AP'], r_cos['AP'], atol=1e-12)
    # Both are invariant to rescaling features; raw Euclidean is not.
    scale = torch.rand(80, 1) * 5 + 0.1
    r_scaled = evaluate_reid_from_features(q, g * scale, *labels, metric='cosine')
    assert r_scaled['mAP'] == pytest.approx(r_cos['mAP'], abs=1e-12)
    raw = evaluate_reid_from_features(q, g * scale, *labels, normalize=False)
    assert raw['mAP'] != pytest.approx(r_euc['mAP'], abs=1e-6)


@pytest.mark.parametrize('metric', ['euclidean', 'cosine'])
def test_normalised_distances_make_no_copy_of_the_gallery(monkeypatch, metric):
    """The gallery (550 MiB at MSMT17 size) is used as given: tiles take the
    normalised query rows and scale their columns by 1 / |g_j|."""
    monkeypatch.setattr(reid_module, 'GEMM_TILE_ROWS', 8)
    torch.manual_seed(0)
    q, g = torch.randn(20, 16) * 3, torch.rand(50, 1) * 4 * torch.randn(50, 16)
    pd = PairwiseDistance(q, g, metric, normalize=True)
    assert pd.y.data_ptr() == g.data_ptr() and pd.x.data_ptr() == q.data_ptr()
    qn, gn = torch.nn.functional.normalize(q.double(), dim=1), torch.nn.functional.normalize(g.double(), dim=1)
    ref = (qn - gn[:, None]).pow(2).sum(-1).T if metric == 'euclidean' else 1 - qn @ gn.T
    torch.testing.assert_close(pd.rows(0, 20).double(), ref, atol=2e-6, rtol=0)
    torch.testing.assert_close(pd.rows(3, 17), pd.rows(0, 20)[3:17], atol=0, rtol=0)


def test_pairwise_distance_rows_are_position_independent(monkeypatch):
    monkeypatch.setattr(reid_module, 'GEMM_TILE_ROWS', 8)
    x, y = torch.randn(37, 12), torch.randn(21, 12)
    pd = PairwiseDistance(x, y, 'euclidean', normalize=False)
    whole = pd.rows(0, 37)
    for a, b in ((0, 1), (3, 11), (8, 16), (30, 37), (5, 36)):
        assert torch.equal(pd.rows(a, b), whole[a:b])
    with pytest.raises(ValueError, match='row range'):
        pd.rows(5, 5)


def test_chunk_rows_for_budget():
    # MSMT17 gallery: a 1 GiB budget gives a multiple of the GEMM tile.
    rows = chunk_rows_for_budget(82161, 1024)
    assert rows % reid_module.GEMM_TILE_ROWS == 0 and rows * 82161 * 4 < 1024 * 2**20
    assert chunk_rows_for_budget(82161, 4096) > rows
    with pytest.raises(ValueError, match='too small'):
        chunk_rows_for_budget(82161, 1)
    with pytest.raises(ValueError, match='memory_budget_mb'):
        chunk_rows_for_budget(100, 0)


def test_errors():
    d = np.ones((2, 3))
    ids = dict(q_pids=[1, 2], g_pids=[1, 2, 3], q_camids=[0, 0], g_camids=[1, 1, 1])
    with pytest.raises(ValueError, match='query set is empty'):
        evaluate_reid(np.ones((0, 3)), [], [1, 2, 3], [], [1, 1, 1])
    with pytest.raises(ValueError, match='gallery set is empty'):
        evaluate_reid(np.ones((2, 0)), [1, 2], [], [0, 0], [])
    with pytest.raises(ValueError, match='g_pids has 2 entries but there are 3 gallery'):
        evaluate_reid(d, [1, 2], [1, 2], [0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match='q_camids has 1 entries'):
        evaluate_reid(d, [1, 2], [1, 2, 3], [0], [1, 1, 1])
    with pytest.raises(ValueError, match='no query has a valid match'):
        evaluate_reid(d, [1, 2], [1, 2, 3], [1, 1], [1, 1, 1])  # only same-camera matches
    with pytest.raises(ValueError, match='NaN or infinite'):
        evaluate_reid(np.array([[np.nan, 1, 1], [1, 1, 1]]), **ids)
    with pytest.raises(ValueError, match='2-D'):
        evaluate_reid(np.ones(3), [1], [1, 2, 3], [0], [1, 1, 1])
    with pytest.raises(ValueError, match='must hold integers'):
        evaluate_reid(d, [1.0, 2.0], [1, 2, 3], [0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match='max_rank'):
        evaluate_reid(d, **ids, max_rank=0)
    q, g = torch.randn(2, 4), torch.randn(3, 4)
    with pytest.raises(ValueError, match='metric must be one of'):
        evaluate_reid_from_features(q, g, **ids, metric='l1')
    with pytest.raises(ValueError, match='chunk_size'):
        evaluate_reid_from_features(q, g, **ids, chunk_size=0)
    with pytest.raises(ValueError, match='feature dims differ'):
        evaluate_reid_from_features(q, torch.randn(3, 5), **ids)
    with pytest.raises(ValueError, match='q_feats contains NaN'):
        evaluate_reid_from_features(torch.full((2, 4), float('nan')), g, **ids)
    # Finite features whose squared distances overflow float32.
    with pytest.raises(ValueError, match='distmat contains NaN or infinite'):
        evaluate_reid_from_features(q * 1e20, g, **ids, normalize=False)
    assert evaluate_reid_from_features(q * 1e15, g, **ids, normalize=False)['num_valid_queries'] == 2


@pytest.mark.parametrize('k1,k2,lam', [(20, 6, 0.3), (5, 1, 0.5), (7, 3, 0.0), (4, 2, 1.0), (60, 6, 0.3)])
def test_rerank_matches_reference(k1, k2, lam):
    torch.manual_seed(k1 + k2)
    q, g = torch.randn(15, 16), torch.randn(40, 16)  # 60 > N = 55 for the last case
    feats = torch.cat([q, g])
    ref = rerank_reference(compute_distance_matrix(feats, feats, normalize=False).numpy(), 15, k1, k2, lam)
    ours = k_reciprocal_rerank(q, g, k1=k1, k2=k2, lambda_value=lam)
    assert ours.shape == (15, 40) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def test_rerank_chunked_and_evaluated(monkeypatch):
    torch.manual_seed(1)
    q, g = torch.randn(12, 8), torch.randn(50, 8)
    full = k_reciprocal_rerank(q, g)
    monkeypatch.setattr(reid_module, 'GEMM_TILE_ROWS', 8)
    small = k_reciprocal_rerank(q, g, memory_budget_mb=0.01)
    np.testing.assert_allclose(small, full, rtol=0, atol=1e-6)
    rng = np.random.default_rng(1)
    labels = random_labels(rng, 12, 50, 6, 2)
    res = evaluate_reid(full, *labels, max_rank=10)
    assert_same(res, reference_market1501(full, *labels, max_rank=10))


def test_nearest_is_stable_argsort_prefix_of_normalised_rows():
    rng = np.random.default_rng(0)
    # Integer distances: ties everywhere, also at the k-th place and at the
    # segment bound; a wide range, so dividing by the row max merges values.
    for block in (rng.integers(1, 5, (30, 25)).astype(np.float32),
                  (rng.integers(1, 1 << 26, (30, 200)) * rng.choice([1, 3], (30, 1))).astype(np.float32),
                  rng.random((30, 200), np.float32)):
        mx = block.max(axis=1)
        for k in (1, 5, 13, 21, block.shape[1]):
            expected = np.argsort(block / mx[:, None], axis=1, kind='stable')[:, :k]
            nn, row_max = _nearest_normalized(block, k)
            np.testing.assert_array_equal(nn, expected)
            np.testing.assert_array_equal(row_max, mx)


def test_rerank_errors():
    q, g = torch.randn(3, 4), torch.randn(5, 4)
    with pytest.raises(ValueError, match='exceeds max_samples=6'):
        k_reciprocal_rerank(q, g, max_samples=6)
    with pytest.raises(ValueError, match='lambda_value'):
        k_reciprocal_rerank(q, g, lambda_value=1.5)
    with pytest.raises(ValueError, match='k1 must be a positive int'):
        k_reciprocal_rerank(q, g, k1=0)
    with pytest.raises(ValueError, match='feature dims differ'):
        k_reciprocal_rerank(q, torch.randn(5, 3))
    with pytest.raises(ValueError, match='no positive distance'):
        k_reciprocal_rerank(torch.ones(2, 4), torch.ones(3, 4))
    assert k_reciprocal_rerank(q, g).shape == (3, 5)  # no size limit by default


@pytest.mark.parametrize('normalize', [False, True])
def test_rerank_streamed_evaluation_equals_dense_reference(monkeypatch, normalize):
    monkeypatch.setattr(reid_module, 'GEMM_TILE_ROWS', 8)
    torch.manual_seed(3)
    q, g = torch.randn(15, 16), torch.randn(40, 16)
    labels = random_labels(np.random.default_rng(3), 15, 40, 6, 3)
    feats = torch.cat([q, g])
    if normalize:
        feats = torch.nn.functional.normalize(feats, dim=1)
    dense = rerank_reference(compute_distance_matrix(feats, feats, normalize=False).numpy(), 15, 20, 6, 0.3)
    ref = evaluate_reid(dense, *labels, return_per_query=True)
    whole = evaluate_reid(k_reciprocal_rerank(q, g, normalize=normalize), *labels, return_per_query=True)
    for chunk_size in (1, 7, 8, 64):
        res = evaluate_reid_from_features(
            q, g, *labels, normalize=normalize, rerank=True, chunk_size=chunk_size, return_per_query=True)
        # Exactly the whole matrix's result, whatever the chunks.
        np.testing.assert_array_equal(res['AP'], whole['AP'])
        np.testing.assert_array_equal(res['CMC'], whole['CMC'])
        assert res['mINP'] == whole['mINP']
        # And the dense textbook version's ranking.
        assert_same(res, ref)
        np.testing.assert_array_equal(res['first_match_rank'], ref['first_match_rank'])
    # Re-ranking changes the result (the test is not vacuous).
    plain = evaluate_reid_from_features(q, g, *labels, normalize=normalize)
    assert plain['mAP'] != pytest.approx(ref['mAP'], abs=1e-6)


def test_rerank_holds_no_dense_matrix(monkeypatch):
    """Distances come in chunks of at most chunk_size rows, the yielded
    blocks too, and numpy never holds a Q x G (let alone N x N) array."""
    import tracemalloc
    monkeypatch.setattr(reid_module, 'GEMM_TILE_ROWS', 32)
    num_q, num_g, chunk = 2000, 2000, 64
    torch.manual_seed(0)
    q, g = torch.randn(num_q, 8), torch.randn(num_g, 8)
    requested = []
    rows = PairwiseDistance.rows

    def recording_rows(self, start, stop):
        requested.append((stop - start, self.shape[1]))
        return rows(self, start, stop)

    monkeypatch.setattr(PairwiseDistance, 'rows', recording_rows)
    tracemalloc.start()
    try:
        blocks = rerank_module.rerank_blocks(q, g, k1=4, k2=2, chunk_size=chunk, memory_budget_mb=1)
        seen = 0
        for a, block in blocks:
            assert a == seen and block.shape[0] <= chunk and block.shape[1] == num_g
            seen += block.shape[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == num_q
    assert max(r for r, _ in requested) <= chunk
    assert peak < num_q * num_g * 4 / 2, f'numpy peak {peak / 2**20:.1f} MiB'


def test_progress_and_expected_time(capsys, monkeypatch):
    # the expected time goes to the current MMLogger, whose stream an earlier test's Runner may have bound elsewhere
    logged = []
    monkeypatch.setattr(rerank_module, 'print_log', lambda msg, **kwargs: logged.append(msg))
    torch.manual_seed(0)
    q, g = torch.randn(10, 8), torch.randn(30, 8)
    labels = random_labels(np.random.default_rng(0), 10, 30, 5, 3)
    evaluate_reid_from_features(q, g, *labels, progress=True)
    out = capsys.readouterr().out
    assert 'evaluate_reid: 10 queries x 30 gallery' in out and '10/10' in out
    evaluate_reid_from_features(q, g, *labels, rerank=True, progress=True)
    captured = capsys.readouterr()
    assert 'neighbours of 40 samples' in captured.out and '40/40' in captured.out and '10/10' in captured.out
    assert len(logged) == 1 and 'expected about' in logged[0] and 'min' in logged[0]
    evaluate_reid_from_features(q, g, *labels, rerank=True)
    assert capsys.readouterr().out == ''
