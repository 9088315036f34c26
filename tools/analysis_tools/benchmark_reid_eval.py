# Copyright (c) OpenMMLab. All rights reserved.
"""Benchmark the chunked Re-ID evaluation on random features.

1. Full size (default: MSMT17 test split, 11,659 queries x 82,161 gallery,
   1,536-d features): wall time and peak extra memory of
   ``evaluate_reid_from_features``.
2. Subset (default 3,000 x 15,000): ``evaluate_reid`` on a precomputed
   distance matrix against a per-query numpy loop of the standard protocol
   (torchreid's ``eval_market1501`` with a stable argsort), written below
   independently: time side by side and the results compared.

Peak memory is the growth of the process's peak resident set size during the
call, printed two ways (see ``PeakMemory``): VmHWM after resetting it through
``/proc/self/clear_refs``, and the ``resource.getrusage`` ``ru_maxrss`` delta.

Example::

    python tools/analysis_tools/benchmark_reid_eval.py
    python tools/analysis_tools/benchmark_reid_eval.py --num-query 500 --num-gallery 4000 --dim 256 \\
        --subset-query 300 --subset-gallery 2000
"""
import argparse
import resource
import time

import numpy as np
import torch

from dcal_mm.evaluation.functional import (PairwiseDistance, compute_distance_matrix, evaluate_reid,
                                           evaluate_reid_from_features)


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark the Re-ID evaluation on random features')
    parser.add_argument('--num-query', type=int, default=11659, help='queries of the full-size run (MSMT17)')
    parser.add_argument('--num-gallery', type=int, default=82161, help='gallery of the full-size run (MSMT17)')
    parser.add_argument('--dim', type=int, default=1536, help='feature dim (DCAL Re-ID: 2 x 768)')
    parser.add_argument('--num-ids', type=int, default=3060, help='test identities (MSMT17: 3,060)')
    parser.add_argument('--num-cams', type=int, default=15, help='cameras (MSMT17: 15)')
    parser.add_argument('--subset-query', type=int, default=3000, help='queries of the comparison run')
    parser.add_argument('--subset-gallery', type=int, default=15000, help='gallery of the comparison run')
    parser.add_argument('--metric', default='euclidean', choices=['euclidean', 'cosine'])
    parser.add_argument('--memory-budget-mb', type=float, default=1024., help='chunk budget of the full run')
    parser.add_argument('--skip-full', action='store_true', help='only run the comparison')
    parser.add_argument('--skip-subset', action='store_true', help='only run the full-size timing')
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
    """Peak resident-memory growth in MiB over a block, measured two ways:

    - ``hwm_mb``: the kernel's peak RSS counter (VmHWM) is reset on entry by
      writing ``5`` to ``/proc/self/clear_refs``; growth of VmHWM over the
      RSS at entry. None where the reset is not allowed.
    - ``maxrss_mb``: growth of ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
      (the lifetime peak): exact only when the block's peak exceeds every
      earlier one, else an underestimate.
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
        self.maxrss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.maxrss_start) / 1024
        self.hwm_mb = None if self.rss_start is None else (self._status('VmHWM') - self.rss_start) / 1024

    def describe(self):
        hwm = 'n/a' if self.hwm_mb is None else f'{self.hwm_mb:.0f} MiB'
        return f'{hwm} (VmHWM after reset), {self.maxrss_mb:.0f} MiB (ru_maxrss delta)'

    @staticmethod
    def _status(key):
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])  # kB
        raise OSError(f'{key} not in /proc/self/status')


def make_labels(rng, num_q, num_g, num_ids, num_cams):
    return (rng.integers(0, num_ids, num_q), rng.integers(0, num_ids,
                                                          num_g), rng.integers(0, num_cams,
                                                                               num_q), rng.integers(0, num_cams, num_g))


def main():
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    print(f'torch threads: {torch.get_num_threads()}, numpy {np.__version__}, torch {torch.__version__}')

    if not args.skip_full:
        q = torch.randn(args.num_query, args.dim)
        g = torch.randn(args.num_gallery, args.dim)
        labels = make_labels(rng, args.num_query, args.num_gallery, args.num_ids, args.num_cams)
        print(f'\n[full] {args.num_query} queries x {args.num_gallery} gallery, {args.dim}-d, metric={args.metric}, '
              f'memory_budget_mb={args.memory_budget_mb:g}')
        # Time spent computing distances, to split the wall time.
        dist_time = [0.]
        rows = PairwiseDistance.rows

        def timed_rows(self, start, stop):
            t0 = time.perf_counter()
            out = rows(self, start, stop)
            dist_time[0] += time.perf_counter() - t0
            return out

        PairwiseDistance.rows = timed_rows
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            res = evaluate_reid_from_features(q, g, *labels, metric=args.metric, memory_budget_mb=args.memory_budget_mb)
            elapsed = time.perf_counter() - t0
        PairwiseDistance.rows = rows
        print(f'[full] wall time {elapsed:.1f} s (distances {dist_time[0]:.1f} s, ranking and statistics '
              f'{elapsed - dist_time[0]:.1f} s)')
        print(f'[full] peak extra memory {mem.describe()}; it includes the L2-normalised float32 copy of the '
              f'features ({(q.numel() + g.numel()) * 4 / 2**20:.0f} MiB)')
        print(f'[full] mAP {100 * res["mAP"]:.3f}%  mINP {100 * res["mINP"]:.3f}%  R1 {100 * res["CMC"][0]:.3f}%  '
              f'valid queries {res["num_valid_queries"]}')
        del q, g

    if not args.skip_subset:
        nq, ng = args.subset_query, args.subset_gallery
        q = torch.randn(nq, args.dim)
        g = torch.randn(ng, args.dim)
        labels = make_labels(rng, nq, ng, max(1, args.num_ids * ng // args.num_gallery), args.num_cams)
        print(f'\n[subset] {nq} queries x {ng} gallery, {args.dim}-d')
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
        if not (same_valid and cmc_equal and ap_diff < 1e-12 and inp_diff < 1e-12):
            raise SystemExit('results differ from the per-query reference')


if __name__ == '__main__':
    main()
