# Copyright (c) OpenMMLab. All rights reserved.
"""Benchmark the Re-ID evaluation and re-ranking on synthetic features.

1. Evaluation at full size (default: MSMT17 test split, 11,659 queries x
   82,161 gallery, 1,536-d features, 3,060 identities, 15 cameras):
   ``evaluate_reid_from_features`` against its floor, the bare float32
   distance product of the same shapes (``torch.addmm`` of the L2-normalised
   query and gallery features into one (Q, G) matrix, no ``cdist``), timed
   alternately in the same process (``--repeat`` rounds; the best of each is
   compared), and its peak extra memory.
2. ``--rerank``: k-reciprocal re-ranking at full size, streamed through the
   evaluation (``evaluate_reid_from_features(..., rerank=True, k1=20, k2=6,
   lambda_value=0.3)`` on the L2-normalised features, as ``ReIDMetric``
   does): wall time and peak extra memory, beside what the dense reference
   (TransReID / torchreid ``re_ranking``) would hold (computed, not run).
3. Subset (default 3,000 x 15,000, not with ``--rerank``): ``evaluate_reid``
   on a precomputed distance matrix against a per-query numpy loop of the
   standard protocol (torchreid's ``eval_market1501`` with a stable
   argsort), written below independently: times and results side by side.

Features (``--features realistic``, default): per identity a random centre,
per camera a shift, per image Gaussian noise of a log-normal scale, giving
about 65% mAP at MSMT17 size; ``--features random``: i.i.d. Gaussian (mAP
about 0: the worst case for the ranking, whose cost grows with how far down
the last true match is).

Peak memory is the growth of the process's peak resident set size during the
call (VmHWM after resetting it through ``/proc/self/clear_refs``; see
``PeakMemory``).
The machine's load average is printed before and after each timed part.

Example::

    python tools/analysis_tools/benchmark_reid_eval.py
    python tools/analysis_tools/benchmark_reid_eval.py --rerank
    python tools/analysis_tools/benchmark_reid_eval.py --rerank --num-query 3368 --num-gallery 15913 \\
        --num-ids 750 --num-cams 6   # Market-1501 size
    python tools/analysis_tools/benchmark_reid_eval.py --num-query 500 --num-gallery 4000 --dim 256 \\
        --subset-query 300 --subset-gallery 2000
"""
import argparse
import os
import resource
import time

import numpy as np
import torch
import torch.nn.functional as F

from dcal_mm.evaluation.functional import compute_distance_matrix, evaluate_reid, evaluate_reid_from_features


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark the Re-ID evaluation and re-ranking')
    parser.add_argument('--num-query', type=int, default=11659, help='queries of the full-size run (MSMT17)')
    parser.add_argument('--num-gallery', type=int, default=82161, help='gallery of the full-size run (MSMT17)')
    parser.add_argument('--dim', type=int, default=1536, help='feature dim (DCAL Re-ID: 2 x 768)')
    parser.add_argument('--num-ids', type=int, default=3060, help='test identities (MSMT17: 3,060)')
    parser.add_argument('--num-cams', type=int, default=15, help='cameras (MSMT17: 15)')
    parser.add_argument('--features', default='realistic', choices=['realistic', 'random'])
    parser.add_argument('--noise', type=float, default=2.2, help='noise scale of the realistic features')
    parser.add_argument('--rerank', action='store_true', help='benchmark k-reciprocal re-ranking instead')
    parser.add_argument('--repeat', type=int, default=2, help='alternating rounds of product and evaluation')
    parser.add_argument('--subset-query', type=int, default=3000, help='queries of the comparison run')
    parser.add_argument('--subset-gallery', type=int, default=15000, help='gallery of the comparison run')
    parser.add_argument('--metric', default='euclidean', choices=['euclidean', 'cosine'])
    parser.add_argument('--memory-budget-mb', type=float, default=512., help='chunk budget of the full run')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    parser.add_argument('--skip-full', action='store_true', help='only run the comparison')
    parser.add_argument('--skip-subset', action='store_true', help='only run the full-size part')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def loop_reference(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    """The standard Market-1501 protocol, one query at a time (torchreid's
    python ``eval_market1501``), with a stable argsort so ties follow gallery
    order."""
    num_q = distmat.shape[0]
    ap = np.full(num_q, np.nan)
    inp = np.full(num_q, np.nan)
    cmcs = []
    for i in range(num_q):
        order = np.argsort(distmat[i], kind='stable')
        remove = (g_pids[order] == q_pids[i]) & (g_camids[order] == q_camids[i])
        raw = (g_pids[order] == q_pids[i])[~remove].astype(np.int64)
        if not raw.any():
            continue
        cum = raw.cumsum()
        cmc = np.ones(max_rank)
        n = min(max_rank, raw.shape[0])
        cmc[:n] = np.minimum(cum[:n], 1)
        cmcs.append(cmc)
        ap[i] = (cum / np.arange(1, raw.shape[0] + 1) * raw).sum() / raw.sum()
        last = np.flatnonzero(raw)[-1]
        inp[i] = cum[last] / (last + 1)
    valid = ~np.isnan(ap)
    return dict(
        mAP=ap[valid].mean(),
        mINP=inp[valid].mean(),
        CMC=np.mean(cmcs, axis=0),
        num_valid_queries=int(valid.sum()),
        AP=ap,
        INP=inp)


class PeakMemory:
    """Peak resident-memory growth in MiB over a block.

    The kernel's peak RSS counter (VmHWM) is reset on entry by writing ``5``
    to ``/proc/self/clear_refs``; the growth of VmHWM over the RSS at entry
    is the block's peak extra memory (``mb``). Where the reset is not
    allowed, the growth of ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
    (the lifetime peak) is used instead: exact only when the block's peak
    exceeds every earlier one, else an underestimate.
    """

    def __enter__(self):
        self.maxrss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
            self.rss_start = self._status('VmRSS')
        except OSError:
            self.rss_start = None
        return self

    def __exit__(self, *exc):
        if self.rss_start is None:
            self.mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.maxrss_start) / 1024
        else:
            self.mb = (self._status('VmHWM') - self.rss_start) / 1024

    def describe(self):
        how = 'ru_maxrss growth: a lower bound' if self.rss_start is None else 'VmHWM growth after a reset'
        return f'{self.mb:.0f} MiB ({how})'

    @staticmethod
    def _status(key):
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])  # kB
        raise OSError(f'{key} not in /proc/self/status')


def cpu_seconds():
    """User + system CPU time of this process (all threads), in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load():
    """The machine's 1/5/15-minute load averages and core count, as text."""
    one, five, fifteen = os.getloadavg()
    return f'load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs'


def make_labels(rng, num_q, num_g, num_ids, num_cams):
    return (rng.integers(0, num_ids, num_q), rng.integers(0, num_ids, num_g), rng.integers(0, num_cams, num_q),
            rng.integers(0, num_cams, num_g))


def make_features(kind, num, pids, cams, dim, num_ids, num_cams, noise, seed):
    """(num, dim) float32 features; see the module docstring."""
    gen = torch.Generator().manual_seed(seed)
    if kind == 'random':
        return torch.randn(num, dim, generator=gen)
    centre = torch.randn(num_ids, dim, generator=torch.Generator().manual_seed(1)) / dim**0.5
    shift = torch.randn(num_cams, dim, generator=torch.Generator().manual_seed(2)) / dim**0.5
    scale = noise / dim**0.5 * torch.exp(0.35 * torch.randn(num, 1, generator=gen))
    feats = torch.randn(num, dim, generator=gen).mul_(scale)
    feats += centre[torch.from_numpy(pids)]
    feats += 0.6 * shift[torch.from_numpy(cams)]
    return feats


def bare_product(q, g):
    """The floor: the float32 squared-distance product of the normalised
    features into one (Q, G) matrix, ``|g|^2 - 2 q.g`` by one ``addmm``."""
    qn, gn = F.normalize(q, dim=1), F.normalize(g, dim=1)
    g_sq = gn.pow(2).sum(dim=1)
    t0 = time.perf_counter()
    out = torch.addmm(g_sq[None], qn, gn.t(), beta=1, alpha=-2)
    elapsed = time.perf_counter() - t0
    del out
    return elapsed


def dense_eval_gib(num_q, num_g):
    """Memory of the dense reference evaluation (torchreid's
    ``eval_market1501`` on a precomputed matrix) in GiB: the (Q, G) float32
    distances, their int64 argsort and the int32 match matrix."""
    return (4 + 8 + 4) * num_q * num_g / 2**30


def dense_rerank_gib(num_q, num_g):
    """Memory of the dense reference re-ranking (TransReID / torchreid
    ``re_ranking``) in GiB: the (N, N) float32 distance, its int64 argsort
    and two (N, N) float16 V."""
    n = num_q + num_g
    return dict(dist=4 * n * n / 2**30, argsort=8 * n * n / 2**30, v=2 * 2 * n * n / 2**30)


def run_full(args, rng):
    nq, ng = args.num_query, args.num_gallery
    labels = make_labels(rng, nq, ng, args.num_ids, args.num_cams)
    q = make_features(args.features, nq, labels[0], labels[2], args.dim, args.num_ids, args.num_cams, args.noise,
                      args.seed + 10)
    g = make_features(args.features, ng, labels[1], labels[3], args.dim, args.num_ids, args.num_cams, args.noise,
                      args.seed + 11)
    feats_mib = (q.numel() + g.numel()) * 4 / 2**20
    progress = not args.no_progress
    if args.rerank:
        n = nq + ng
        print(f'\n[rerank] {nq} queries x {ng} gallery = {n} samples, {args.dim}-d {args.features} features, '
              f'k1=20 k2=6 lambda=0.3, memory_budget_mb={args.memory_budget_mb:g}; {load()}')
        dense = dense_rerank_gib(nq, ng)
        print(f'[rerank] the dense reference would hold {dense["dist"]:.1f} GiB of (N, N) float32 distances + '
              f'{dense["argsort"]:.1f} GiB int64 argsort + {dense["v"]:.1f} GiB float16 V and V_qe '
              f'({sum(dense.values()):.1f} GiB in all, computed, not run)')
        with PeakMemory() as mem:
            t0, c0 = time.perf_counter(), cpu_seconds()
            res = evaluate_reid_from_features(
                q,
                g,
                *labels,
                normalize=True,
                rerank=True,
                k1=20,
                k2=6,
                lambda_value=0.3,
                memory_budget_mb=args.memory_budget_mb,
                progress=progress)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        print(f'[rerank] wall time {elapsed:.1f} s ({elapsed / 60:.1f} min), CPU time {cpu:.0f} s over all threads; '
              f'{load()}')
        print(f'[rerank] peak extra memory {mem.describe()}; it includes the concatenated, L2-normalised float32 '
              f'copy of the query and gallery features ({feats_mib:.0f} MiB)')
        print(f'[rerank] re-ranked mAP {100 * res["mAP"]:.3f}%  mINP {100 * res["mINP"]:.3f}%  '
              f'R1 {100 * res["CMC"][0]:.3f}%  valid queries {res["num_valid_queries"]}')
        return

    print(f'\n[full] {nq} queries x {ng} gallery, {args.dim}-d {args.features} features, metric={args.metric}, '
          f'memory_budget_mb={args.memory_budget_mb:g}, torch threads {torch.get_num_threads()}')
    print(f'[full] the dense reference evaluation would hold {dense_eval_gib(nq, ng):.2f} GiB (float32 distances, '
          f'int64 argsort and int32 matches of every query-gallery pair; computed, not run)')
    floors, ours = [], []
    for rnd in range(args.repeat):
        print(f'[full] round {rnd + 1}/{args.repeat}: {load()}')
        floors.append(bare_product(q, g))
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            res = evaluate_reid_from_features(
                q, g, *labels, metric=args.metric, memory_budget_mb=args.memory_budget_mb, progress=progress)
            ours.append(time.perf_counter() - t0)
        print(f'[full] round {rnd + 1}: bare addmm product {floors[-1]:.1f} s, evaluation {ours[-1]:.1f} s '
              f'({ours[-1] / floors[-1]:.2f}x); peak extra memory {mem.describe()}')
    print(f'[full] after: {load()}')
    print(f'[full] best of {args.repeat}: evaluation {min(ours):.1f} s = {min(ours) / min(floors):.2f}x the bare '
          f'({nq}, {args.dim}) x ({args.dim}, {ng}) float32 addmm ({min(floors):.1f} s)')
    print(f'[full] peak extra memory (last round) {mem.describe()}; the features themselves ({feats_mib:.0f} MiB, '
          f'not counted) are not copied')
    print(f'[full] mAP {100 * res["mAP"]:.3f}%  mINP {100 * res["mINP"]:.3f}%  R1 {100 * res["CMC"][0]:.3f}%  '
          f'valid queries {res["num_valid_queries"]}')


def run_subset(args, rng):
    nq, ng = args.subset_query, args.subset_gallery
    num_ids = max(1, args.num_ids * ng // args.num_gallery)
    labels = make_labels(rng, nq, ng, num_ids, args.num_cams)
    q = make_features(args.features, nq, labels[0], labels[2], args.dim, num_ids, args.num_cams, args.noise,
                      args.seed + 20)
    g = make_features(args.features, ng, labels[1], labels[3], args.dim, num_ids, args.num_cams, args.noise,
                      args.seed + 21)
    print(f'\n[subset] {nq} queries x {ng} gallery, {args.dim}-d {args.features} features')
    t0 = time.perf_counter()
    distmat = compute_distance_matrix(q, g, args.metric).numpy()
    t_dist = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = evaluate_reid(distmat, *labels, return_per_query=True)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = loop_reference(distmat, *labels)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    from_feats = evaluate_reid_from_features(q, g, *labels, metric=args.metric, return_per_query=True)
    t_feats = time.perf_counter() - t0
    print(f'{"":28s}{"ours":>14s}{"per-query loop":>18s}')
    print(f'{"time from distmat (s)":28s}{t_ours:14.3f}{t_ref:18.3f}   speed-up {t_ref / t_ours:.1f}x')
    print(f'{"mAP (%)":28s}{100 * ours["mAP"]:14.6f}{100 * ref["mAP"]:18.6f}')
    print(f'{"mINP (%)":28s}{100 * ours["mINP"]:14.6f}{100 * ref["mINP"]:18.6f}')
    for k in (1, 5, 10, 50):
        print(f'{f"Rank-{k} (%)":28s}{100 * ours["CMC"][k - 1]:14.6f}{100 * ref["CMC"][k - 1]:18.6f}')
    print(f'{"valid queries":28s}{ours["num_valid_queries"]:14d}{ref["num_valid_queries"]:18d}')
    same_valid = np.array_equal(ours['valid'], ~np.isnan(ref['AP']))
    cmc_equal = np.array_equal(ours['CMC'], ref['CMC'])
    ap_diff = np.nanmax(np.abs(ours['AP'] - ref['AP']))
    inp_diff = np.nanmax(np.abs(ours['INP'] - ref['INP']))
    print(f'same valid queries: {same_valid}; CMC identical: {cmc_equal}; max |AP diff| {ap_diff:.1e}, '
          f'max |INP diff| {inp_diff:.1e}, |mAP diff| {abs(ours["mAP"] - ref["mAP"]):.1e} (float rounding)')
    same = (
        np.array_equal(from_feats['AP'], ours['AP'], equal_nan=True)
        and np.array_equal(from_feats['CMC'], ours['CMC']))
    print(f'evaluate_reid_from_features on the same features: {t_feats:.2f} s in all (the distance matrix '
          f'alone took {t_dist:.2f} s above); same result as from the distmat: {same}')
    if not (same_valid and cmc_equal and ap_diff < 1e-12 and inp_diff < 1e-12 and same):
        raise SystemExit('results differ from the per-query reference')


def main():
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    print(f'torch threads: {torch.get_num_threads()}, numpy {np.__version__}, torch {torch.__version__}; {load()}')
    if not args.skip_full:
        run_full(args, rng)
    if not args.skip_subset and not args.rerank:
        run_subset(args, rng)


if __name__ == '__main__':
    main()
