# Copyright (c) OpenMMLab. All rights reserved.
"""Train-step time, inference time and peak memory of a config and of its baseline, and their ratios.

Each measurement runs in a fresh process, so peak memory is that run's own: the peak resident set size (CPU) or
``torch.cuda.max_memory_allocated`` (GPU), minus what the process held after building the model. Times are medians
over ``--iters`` iterations after ``--warmup`` ones. Models are built without pretrained weights, on random inputs.

Example:
    python tools/analysis_tools/benchmark.py configs/dcal/deit-t_cub.py --batch-size 4
    (the baseline defaults to the config's ``_baseline.py`` twin; pass --baseline for another one)
"""
import argparse
import json
import multiprocessing as mp
import os.path as osp
import resource
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark a config against its baseline')
    parser.add_argument('config', help='config file')
    parser.add_argument('--baseline', help='baseline config (default: CONFIG with _baseline.py)')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--input-size', type=int, nargs=2, help='H W (default: the backbone img_size)')
    parser.add_argument('--device', default='cuda' if _cuda_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--json', help='also write the results to this JSON file')
    return parser.parse_args()


def _cuda_available():
    import torch
    return torch.cuda.is_available()


def _strip_pretrained(cfg):
    if isinstance(cfg, dict):
        if cfg.get('type') == 'Pretrained':
            return None
        return {k: _strip_pretrained(v) for k, v in cfg.items()}
    return cfg


def _build(config, device):
    import torch
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import dcal_mm  # noqa: F401
    cfg = Config.fromfile(config)
    model_cfg = _strip_pretrained(cfg.model.to_dict())
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model_cfg).to(device)
    torch.manual_seed(0)
    return model, cfg


def _inputs(model, cfg, args, device):
    import torch
    from mmpretrain.structures import DataSample
    backbone = cfg.model.backbone
    size = args.input_size or backbone.get('img_size') or (backbone.get('height'), backbone.get('width'))
    size = (size, size) if isinstance(size, int) else tuple(size)
    num_classes = cfg.model.head.get('num_classes', 2)
    B = args.batch_size
    # two images per label, so batch-hard triplet losses find positives and negatives
    labels = [(i // 2) % num_classes for i in range(B)]
    samples = [DataSample().set_gt_label(label) for label in labels]
    images = torch.randn(B, 3, *size, device=device)
    pairs = torch.randn(B, 2, 3, *size, device=device) if getattr(model, 'pwca', None) is not None else None
    return images, pairs, samples


def _timed(fn, args, device):
    import torch
    times = []
    for i in range(args.warmup + args.iters):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _measure(config, phase, args, queue):
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    model, cfg = _build(config, device)
    images, pairs, samples = _inputs(model, cfg, args, device)
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
        base_mem = torch.cuda.memory_allocated()
    else:
        base_mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if phase == 'train':
        model.train()
        optim = torch.optim.AdamW(model.parameters(), lr=1e-5)
        inputs = pairs if pairs is not None else images

        def step():
            loss = model(inputs, samples, mode='loss')['loss']
            loss.backward()
            optim.step()
            optim.zero_grad(set_to_none=True)
        seconds = _timed(step, args, device)
    else:
        model.eval()
        if phase == 'infer-sa':
            if getattr(model, 'glca', None) is None or not hasattr(model.head, 'predict_mode'):
                queue.put(None)  # no SA-only mode to measure
                return
            model.head.predict_mode = 'sa'

        def infer():
            with torch.no_grad():
                model(images, mode='predict')
        seconds = _timed(infer, args, device)
    if device.startswith('cuda'):
        peak = torch.cuda.max_memory_allocated() - base_mem
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base_mem
    queue.put(dict(seconds=seconds, peak_mb=peak / 2**20))


def run(config, phase, args):
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(config, phase, args, queue))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f'benchmark of {config} ({phase}) failed with exit code {proc.exitcode}')
    return queue.get()


def main():
    args = parse_args()
    baseline = args.baseline or args.config[:-len('.py')] + '_baseline.py'
    if not osp.isfile(baseline):
        raise FileNotFoundError(f'baseline config {baseline} does not exist; pass --baseline')
    results = {}
    for name, config in (('method', args.config), ('baseline', baseline)):
        for phase in ('train', 'infer'):
            results[(name, phase)] = run(config, phase, args)
    results[('method', 'infer-sa')] = run(args.config, 'infer-sa', args)
    print(f'device: {args.device}, batch: {args.batch_size}, iters: {args.iters} (median), threads: '
          f'{args.threads or "default"}')
    print(f'{"":28s}{"method":>12s}{"baseline":>12s}{"ratio":>8s}')
    rows = [('train step (s)', 'train', 'seconds'), ('train peak memory (MiB)', 'train', 'peak_mb'),
            ('inference (s)', 'infer', 'seconds'), ('inference peak memory (MiB)', 'infer', 'peak_mb')]
    summary = {}
    for label, phase, key in rows:
        m, b = results[('method', phase)][key], results[('baseline', phase)][key]
        ratio = m / b if b > 0 else float('nan')
        summary[label] = dict(method=m, baseline=b, ratio=ratio)
        print(f'{label:28s}{m:12.4f}{b:12.4f}{ratio:8.2f}')
    sa = results[('method', 'infer-sa')]
    if sa is not None:
        b = results[('baseline', 'infer')]['seconds']
        summary['SA-only inference (s)'] = dict(method=sa['seconds'], baseline=b, ratio=sa['seconds'] / b)
        print(f'{"SA-only inference (s)":28s}{sa["seconds"]:12.4f}{b:12.4f}{sa["seconds"] / b:8.2f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, baseline=baseline, batch_size=args.batch_size, results=summary), f,
                      indent=2)


if __name__ == '__main__':
    main()
