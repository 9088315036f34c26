# Copyright (c) OpenMMLab. All rights reserved.
"""Train-step time, inference time, FLOPs and peak memory of a config against its baseline.

Both models are built from their configs with random weights (``Pretrained`` init entries dropped) and trained
the way the runner trains them: ``model.train_step(data, optim_wrapper)`` with the optim wrapper built from the
config's ``optim_wrapper`` (so AdamW, its param-wise settings and the data preprocessor all run), on data as the
dataloader gives it: a list of uint8 (3, H, W) images and ``DataSample`` s with labels.

* Time: method and baseline steps **interleaved in one process** (the order flips every round, so a drift of
  the machine load hits both), ``--warmup`` rounds dropped, then ``--iters`` rounds. Reported: min / median /
  max of each model's wall time, the ratio of the medians, and the min / median / max of the per-round ratios.
  The process CPU time (``time.process_time``) is reported beside it: on a shared machine it is much less
  sensitive to other processes than wall time (with ``--threads 1`` it is the compute time itself).
* Inference: ``model.test_step(data)`` under ``torch.no_grad()`` (DCAL: SA + rollout + GLCA; SA-only
  prediction through ``head.predict_mode='sa'``), interleaved with the baseline's the same way.
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one train step (forward + backward) and one
  inference, per image. Matrix products and attention only (what the counter counts); the CPU fused attention
  kernels and in-place ``addmm_`` are registered with the counter's own formulas.
* Peak memory: one fresh process per (model, phase): peak resident set size (CPU; the kernel's VmHWM, reset
  after the model is built) or ``torch.cuda.max_memory_allocated`` (GPU) over ``--warmup`` + 1 steps, minus what
  the process held once the model was built. Train steps include the optimizer state (allocated in the first
  step) and the gradients.
* ``--with-cp``: the method again with gradient checkpointing (``model.backbone.with_cp=True``, which
  DCAL passes on to GLCA and PWCA), timed in the same rounds, counted and measured.
* Page faults: the minor page faults of each timed step (``ru_minflt``) are reported beside the times. On a CPU
  with glibc's allocator, memory freed at the end of a step can go back to the kernel (heap trimming, dynamic
  mmap threshold) and the next step faults it in again, page by page: system time that grows with the memory a
  step frees, not with its compute. ``--keep-heap`` keeps freed memory in the process instead (``mallopt``: no
  trimming, a fixed 32 MiB mmap threshold), as a caching allocator (CUDA's, jemalloc, tcmalloc) does; it changes
  no result, only where freed memory goes.

Example (the README's "Speed and memory" table)::

    python tools/analysis_tools/benchmark.py configs/dcal/vit-b_cub.py --batch-size 2 --with-cp
    python tools/analysis_tools/benchmark.py configs/dcal/deit-t_cub.py --batch-size 4 --json deit-t.json

The baseline defaults to the config's ``_baseline.py`` twin (``--baseline`` for another one).
"""
import argparse
import copy
import json
import logging
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

VARIANTS = ('method', 'baseline', 'method_cp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Benchmark a config against its baseline')
    parser.add_argument('config', help='config file')
    parser.add_argument('--baseline', help='baseline config (default: CONFIG with _baseline.py)')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--iters', type=int, default=5, help='timed rounds (medians over them); at least 1')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    parser.add_argument('--infer-iters', type=int, help='timed inference rounds (default: --iters)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--with-cp', action='store_true', help='also the method with gradient checkpointing')
    parser.add_argument('--phases', nargs='+', default=['train', 'infer'], choices=['train', 'infer'])
    parser.add_argument('--no-flops', action='store_true', help='skip the FLOP count')
    parser.add_argument('--no-memory', action='store_true', help='skip the peak-memory processes')
    parser.add_argument('--memory-batch-size', type=int, help='batch of the memory runs (default: --batch-size)')
    parser.add_argument('--memory-only', action='store_true', help='only the peak-memory processes')
    parser.add_argument(
        '--memory-variants', nargs='+', choices=VARIANTS, default=list(VARIANTS),
        help='models measured in the memory runs (default: all; method_cp needs --with-cp), e.g. method_cp alone '
        'for a batch the others do not fit')
    parser.add_argument('--keep-heap', action='store_true',
                        help='glibc: keep freed memory in the process (no heap trimming, fixed mmap threshold), so '
                        'steps do not page-fault it back in')
    parser.add_argument('--json', help='also write the results to this JSON file')
    parser.add_argument('--memory-worker', help=argparse.SUPPRESS)  # internal: VARIANT:PHASE in a fresh process
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error('--iters must be >= 1')
    args.baseline = args.baseline or args.config[:-len('.py')] + '_baseline.py'
    if not osp.isfile(args.baseline):
        parser.error(f'baseline config {args.baseline} does not exist; pass --baseline')
    return args


# ----------------------------------------------------------------------------------------------- building


def keep_heap():
    """Make glibc keep freed memory in the process: no heap trimming and a fixed 32 MiB mmap threshold (the
    largest glibc accepts), so blocks freed by one step are reused by the next without page faults."""
    import ctypes
    import ctypes.util
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library('c')).mallopt
    except (OSError, AttributeError, TypeError):
        raise SystemExit('--keep-heap needs glibc (its mallopt); this C library has none')
    if not (mallopt(M_TRIM_THRESHOLD, 2**31 - 1) and mallopt(M_MMAP_THRESHOLD, 32 << 20)):
        raise SystemExit('--keep-heap: glibc mallopt refused the trim / mmap thresholds')


def _minor_faults():
    try:
        import resource
    except ImportError:  # not POSIX
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _strip_pretrained(cfg):
    if isinstance(cfg, dict):
        if cfg.get('type') == 'Pretrained':
            return None
        return {k: _strip_pretrained(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_strip_pretrained(v) for v in cfg)
    return cfg


def build(args, variant):
    """Model (random weights), its optim wrapper and config for a variant."""
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS

    import dcal_mm  # noqa: F401
    if not MMLogger.check_instance_created('benchmark'):  # the current logger: no init / paramwise logs
        MMLogger.get_instance('benchmark', log_level=logging.WARNING)
    cfg = Config.fromfile(args.baseline if variant == 'baseline' else args.config)
    model_cfg = _strip_pretrained(cfg.model.to_dict())
    if model_cfg.get('data_preprocessor') is None and cfg.get('data_preprocessor') is not None:
        model_cfg['data_preprocessor'] = cfg.data_preprocessor.to_dict()
    if variant == 'method_cp':
        model_cfg['backbone']['with_cp'] = True
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.to(args.device)
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    return model, optim_wrapper, cfg


def input_size(cfg):
    backbone = cfg.model.backbone
    size = backbone.get('img_size') or (backbone.get('height'), backbone.get('width'))
    return (size, size) if isinstance(size, int) else tuple(size)


def make_data(cfg, batch_size, seed=0):
    """A batch as the dataloader gives it: uint8 (3, H, W) images and labelled DataSamples."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(seed)
    H, W = input_size(cfg)
    num_classes = cfg.model.head.get('num_classes', 2)
    # two images per label, so batch-hard triplet losses find positives and negatives
    labels = [(i // 2) % num_classes for i in range(batch_size)]
    return dict(
        inputs=[torch.randint(0, 256, (3, H, W), generator=g, dtype=torch.uint8) for _ in range(batch_size)],
        data_samples=[DataSample().set_gt_label(label) for label in labels])


def _fresh(data):
    return dict(inputs=list(data['inputs']), data_samples=[copy.deepcopy(d) for d in data['data_samples']])


def _sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------------- the steps


def train_step(model, optim_wrapper, data):
    model.train()
    model.train_step(_fresh(data), optim_wrapper)


def infer_step(model, data, sa_only=False):
    model.eval()
    head = model.head
    mode = getattr(head, 'predict_mode', None)
    if sa_only:
        head.predict_mode = 'sa'
    try:
        with torch.no_grad():
            model.test_step(_fresh(data))
    finally:
        if sa_only:
            head.predict_mode = mode


def has_sa_only_mode(model):
    return getattr(model, 'glca', None) is not None and getattr(model.head, 'predict_mode', 'sa') != 'sa'


# ----------------------------------------------------------------------------------------------- timing


def interleaved(fns, rounds, warmup, device):
    """Run every fn once per round, order flipped each round; (wall s, cpu s, minor page faults) per fn of the
    timed rounds."""
    names = list(fns)
    times = {n: [] for n in names}
    for r in range(warmup + rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            _sync(device)
            wall, cpu, faults = time.perf_counter(), time.process_time(), _minor_faults()
            fns[name]()
            _sync(device)
            if r >= warmup:
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu, _minor_faults() - faults))
    return times


def spread(values):
    return dict(min=min(values), median=statistics.median(values), max=max(values))


def compare(times, name, ref):
    """Wall/cpu spreads of ``name`` and ``ref`` and the spread of their per-round ratios."""
    out = {}
    for i, kind in enumerate(('wall', 'cpu')):
        a = [t[i] for t in times[name]]
        b = [t[i] for t in times[ref]]
        out[kind] = dict(
            method=spread(a), baseline=spread(b), ratio_of_medians=statistics.median(a) / statistics.median(b),
            ratio=spread([x / y for x, y in zip(a, b)]))
    out['faults'] = dict(method=statistics.median(t[2] for t in times[name]),
                         baseline=statistics.median(t[2] for t in times[ref]))
    return out


# ------------------------------------------------------------------------------------------------- FLOPs


def flop_counter():
    from torch.utils.flop_counter import FlopCounterMode, mm_flop, sdpa_backward_flop_count, sdpa_flop_count

    # formulas on shapes, as the counter's own ones (which it registers for the CUDA kernels only)
    def sdpa(q, k, v, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(q, k, v)

    def sdpa_backward(grad_out, q, k, v, *args, out_shape=None, **kwargs):
        return sdpa_backward_flop_count(grad_out, q, k, v)

    def addmm_(self, a, b, *args, out_shape=None, **kwargs):
        return mm_flop(a, b)

    aten = torch.ops.aten
    mapping = {
        aten._scaled_dot_product_flash_attention_for_cpu: sdpa,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: sdpa_backward,
        aten.addmm_: addmm_,
    }
    return FlopCounterMode(display=False, custom_mapping=mapping)


def count_flops(fn):
    counter = flop_counter()
    with counter:
        fn()
    return counter.get_total_flops()


# ------------------------------------------------------------------------------------------------ memory


def _status_kb(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise OSError(f'{key} not in /proc/self/status')


def memory_worker(args):
    """In a fresh process: peak memory growth (MiB) of one variant and phase over warmup + 1 steps."""
    import resource
    variant, phase = args.memory_worker.split(':')
    model, optim_wrapper, cfg = build(args, variant)
    data = make_data(cfg, args.memory_batch_size or args.batch_size)
    if phase == 'train':
        fn = lambda: train_step(model, optim_wrapper, data)  # noqa: E731
    else:
        fn = lambda: infer_step(model, data, sa_only=phase == 'infer_sa')  # noqa: E731
    cuda = args.device.startswith('cuda')
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
    else:
        maxrss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')  # reset VmHWM to the current RSS
            start = _status_kb('VmRSS')
        except OSError:
            start = None
    for _ in range(args.warmup + 1):
        fn()
    if cuda:
        torch.cuda.synchronize()
        peak_mb, how = (torch.cuda.max_memory_allocated() - start) / 2**20, 'cuda max_memory_allocated'
    elif start is not None:
        peak_mb, how = (_status_kb('VmHWM') - start) / 1024, 'VmHWM'
    else:
        peak_mb, how = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_start) / 1024, 'ru_maxrss'
    print('MEMORY_RESULT ' + json.dumps(dict(peak_mb=peak_mb, how=how)))


def measure_memory(args, variant, phase):
    argv = [sys.executable, osp.abspath(__file__), args.config, '--baseline', args.baseline, '--batch-size',
            str(args.batch_size), '--warmup', str(args.warmup), '--device', args.device,
            '--memory-worker', f'{variant}:{phase}']
    if args.memory_batch_size:
        argv += ['--memory-batch-size', str(args.memory_batch_size)]
    if args.keep_heap:
        argv.append('--keep-heap')
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    if args.threads:
        env['OMP_NUM_THREADS'] = str(args.threads)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith('MEMORY_RESULT '):
            return json.loads(line[len('MEMORY_RESULT '):])
    raise RuntimeError(f'memory run {variant}:{phase} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}')


# ------------------------------------------------------------------------------------------------- report


def _fmt_spread(s, unit='s'):
    return f'{s["median"]:.3f} ({s["min"]:.3f}-{s["max"]:.3f})'


def _fmt_ratio(c):
    r = c['ratio']
    return f'**{c["ratio_of_medians"]:.2f}x** ({r["min"]:.2f}-{r["median"]:.2f}-{r["max"]:.2f})'


def report(res):
    lines = [
        f'config: {res["config"]} vs {res["baseline"]}; device {res["device"]}, torch threads {res["threads"]}, '
        f'batch {res["batch_size"]}, input {res["input_size"][0]}x{res["input_size"][1]}, {res["iters"]} timed '
        f'rounds after {res["warmup"]} warm-up (train), {res["infer_iters"]} (inference)', '',
        '| | method | baseline | ratio: of medians (per-round min-median-max) | GFLOP/image: method / '
        'baseline | FLOP ratio |', '|---|---|---|---|---|---|'
    ]
    labels = dict(train='train step', infer='inference', infer_sa='SA-only inference',
                  train_cp='train step, method with_cp')
    for key, label in labels.items():
        if key not in res['time']:
            continue
        c = res['time'][key]
        fl = res['flops'].get(key)
        flops = (f'{fl["method"] / 1e9:.4g} / {fl["baseline"] / 1e9:.4g} | {fl["method"] / fl["baseline"]:.2f}x'
                 if fl else '- | -')
        for kind in ('wall', 'cpu'):
            lines.append(f'| {label}, {kind} (s) | {_fmt_spread(c[kind]["method"])} | '
                         f'{_fmt_spread(c[kind]["baseline"])} | {_fmt_ratio(c[kind])} | '
                         + (flops if kind == 'wall' else '| ') + ' |')
    mem = res.get('memory', {})
    for key, label in dict(train='train peak memory', train_cp='train peak memory, method with_cp',
                           infer='inference peak memory').items():
        if key in mem:
            m, b = mem[key]['method'], mem[key]['baseline']
            ratio = f'**{m / b:.2f}x**' if m is not None and b is not None else '-'
            lines.append(f'| {label} (MiB) | {"-" if m is None else f"{m:.0f}"} | {"-" if b is None else f"{b:.0f}"} '
                         f'| {ratio} | | |')
    faults = [f'{label} {c["faults"]["method"]:.0f} / {c["faults"]["baseline"]:.0f}'
              for key, label in labels.items() if (c := res['time'].get(key, {})).get('faults')]
    if faults:
        lines.append('')
        lines.append('minor page faults per step, median, method / baseline: ' + '; '.join(faults)
                     + (' (--keep-heap)' if res.get('keep_heap') else ''))
    if 'train_cp' in res['time'] and 'train' in res['time']:
        cp = res['time']['train_cp']['wall']['method']['median']
        plain = res['time']['train']['wall']['method']['median']
        lines.append('')
        lines.append(f'with_cp / without, method train step: {cp / plain:.2f}x time'
                     + (f', {mem["train_cp"]["method"] / mem["train"]["method"]:.2f}x peak memory'
                        if mem.get('train_cp', {}).get('method') and mem.get('train', {}).get('method') else ''))
    if mem:
        lines.append(f'memory: {res["memory_how"]}, batch {res["memory_batch_size"]}, over {res["warmup"]} + 1 '
                     'steps in a fresh process per (model, phase), minus the memory after building the model')
    return '\n'.join(lines)


def main(argv=None):
    from mmengine.config import Config
    args = parse_args(argv)
    if args.keep_heap:
        keep_heap()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_worker:
        return memory_worker(args)
    variants = ['method', 'baseline'] + (['method_cp'] if args.with_cp else [])
    built = {} if args.memory_only else {v: build(args, v) for v in variants}
    cfg = Config.fromfile(args.config)
    data = make_data(cfg, args.batch_size)
    res = dict(config=args.config, baseline=args.baseline, device=args.device, threads=torch.get_num_threads(),
               batch_size=args.batch_size, input_size=input_size(cfg), iters=args.iters, warmup=args.warmup,
               infer_iters=args.infer_iters or args.iters, keep_heap=args.keep_heap, time={}, flops={}, memory={},
               command=' '.join(['python', osp.relpath(__file__, ROOT)] + list(sys.argv[1:] if argv is None else argv)))
    if 'train' in args.phases and built:
        fns = {v: (lambda v=v: train_step(built[v][0], built[v][1], data)) for v in variants}
        times = interleaved(fns, args.iters, args.warmup, args.device)
        res['time']['train'] = compare(times, 'method', 'baseline')
        if args.with_cp:
            res['time']['train_cp'] = compare(times, 'method_cp', 'baseline')
        if not args.no_flops:
            for key, v in (('train', 'method'), ('train_cp', 'method_cp')):
                if v in built:
                    res['flops'][key] = {
                        'method': count_flops(fns[v]) / args.batch_size,
                        'baseline': count_flops(fns['baseline']) / args.batch_size
                    }
    if 'infer' in args.phases and built:
        method, baseline = built['method'][0], built['baseline'][0]
        fns = dict(method=lambda: infer_step(method, data), baseline=lambda: infer_step(baseline, data))
        if has_sa_only_mode(method):
            fns['method_sa'] = lambda: infer_step(method, data, sa_only=True)
        times = interleaved(fns, args.infer_iters or args.iters, args.warmup, args.device)
        res['time']['infer'] = compare(times, 'method', 'baseline')
        if 'method_sa' in fns:
            res['time']['infer_sa'] = compare(times, 'method_sa', 'baseline')
        if not args.no_flops:
            for key, fn in (('infer', fns['method']), ('infer_sa', fns.get('method_sa'))):
                if fn is not None:
                    res['flops'][key] = dict(method=count_flops(fn) / args.batch_size,
                                             baseline=count_flops(fns['baseline']) / args.batch_size)
    built.clear()  # free the models before the memory processes
    if not args.no_memory:
        res['memory_batch_size'] = args.memory_batch_size or args.batch_size
        wanted = set(args.memory_variants)
        cache = {}

        def peak(variant, phase):
            if variant not in wanted or (variant == 'method_cp' and not args.with_cp) or phase not in args.phases:
                return None
            if (variant, phase) not in cache:
                cache[variant, phase] = measure_memory(args, variant, phase)
                res['memory_how'] = cache[variant, phase]['how']
            return cache[variant, phase]['peak_mb']

        for key, phase, variant in (('train', 'train', 'method'), ('infer', 'infer', 'method'),
                                    ('train_cp', 'train', 'method_cp')):
            m, b = peak(variant, phase), peak('baseline', phase)
            if m is not None or b is not None:
                res['memory'][key] = dict(method=m, baseline=b)
    print(report(res))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == '__main__':
    main()
