# Copyright (c) OpenMMLab. All rights reserved.
"""Ablation of DCAL's parts on the demo sets: train each variant with several seeds through tools/train.py and
print mean +- std of the final evaluation, and, when the runs validate more than once (train_cfg.val_interval),
the mean of the first metric at every validated epoch (how fast each variant learns).

Two regimes (``--regime``): ``scratch`` trains the demo configs (configs/dcal/demo_{fgvc,reid}.py, PWCA in the
first block) from random weights; ``finetune`` (the paper's regime) fine-tunes configs/dcal/demo_{fgvc,reid}_finetune.py
(PWCA in every block) from pretrained/demo_vit.pth (python tools/misc/make_pretrained_demo.py).

Variants (every one trained with the regime's config and recipe, only the model or the batch composition changes):
    baseline               SA only (the plain ViT)
    dcal                   SA + GLCA (rollout selection, mean readout) + PWCA, as the config has it
    t1                     DCAL with PWCA in the first block only (T = 1)
    pwca-all               DCAL with PWCA in every block (the paper's T)
    random-sel             DCAL with R random GLCA queries instead of the rollout's top R
    cls-readout            DCAL with the GLCA feature read from a CLS query (selection-invariant)
    no-pwca                SA + GLCA
    no-glca                SA + PWCA
    partner-sa             partner keys/values from the partner's SA stream, with gradient
    partner-sa-detached    ... from its SA stream, detached (context only)
    partner-pwca           ... from its PWCA stream, with gradient
    partner-pwca-detached  ... from its PWCA stream, detached
    pairs-random, pairs-intra, pairs-inter, pairs-mixed
                           the paper's Table 4 partner policies, all on batches where every image has a same-class
                           and an other-class partner (FGVC: configs/dcal/demo_fgvc_finetune_pairs.py, 8 classes x 2
                           images; Re-ID: the P x K batches the config already has); finetune regime only

Example (both demos, 3 seeds, 2 trainings at a time, one thread each):
    python tools/misc/make_demo_data.py --overwrite
    python tools/misc/make_pretrained_demo.py
    python tools/analysis_tools/demo_ablation.py --regime finetune --demos fgvc reid --seeds 0 1 2 --jobs 2
"""
import argparse
import json
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if sys.path[0] != ROOT:
    sys.path.insert(0, ROOT)

from dcal_mm.utils.progress import RunCounter  # noqa: E402
CONFIGS = dict(
    scratch=dict(fgvc='configs/dcal/demo_fgvc.py', reid='configs/dcal/demo_reid.py'),
    finetune=dict(fgvc='configs/dcal/demo_fgvc_finetune.py', reid='configs/dcal/demo_reid_finetune.py'))
# batches where every policy finds partners (the Re-ID configs' P x K batches already do)
PAIR_CONFIGS = dict(fgvc='configs/dcal/demo_fgvc_finetune_pairs.py', reid='configs/dcal/demo_reid_finetune.py')
METRICS = dict(fgvc=('accuracy/top1', ), reid=('reid/mAP', 'reid/Rank-1'))
_NO_GLCA = ['model.glca=None', 'model.head.with_glca=False', 'model.head.predict_mode=sa']
_NO_PWCA = ['model.pwca=None', 'model.head.with_pwca=False']
VARIANTS = {
    'baseline': _NO_GLCA + _NO_PWCA,
    'dcal': [],
    'random-sel': ['model.glca.selection=random'],
    'cls-readout': ['model.glca.readout=cls'],
    'no-pwca': _NO_PWCA,
    'no-glca': _NO_GLCA,
    't1': ['model.pwca.num_blocks=1'],
    'pwca-all': ['model.pwca.num_blocks=None'],
}
for _stream in ('sa', 'pwca'):
    for _detach in (False, True):
        VARIANTS[f'partner-{_stream}' + ('-detached' if _detach else '')] = [
            f'model.pwca.partner_stream={_stream}', f'model.pwca.detach_partner={_detach}']
PAIR_VARIANTS = {f'pairs-{policy}': [f'model.pwca.partner_policy={policy}']
                 for policy in ('random', 'intra', 'inter', 'mixed')}
VARIANTS.update(PAIR_VARIANTS)


def config_for(regime: str, demo: str, variant: str) -> str:
    """The config a variant trains."""
    if variant in PAIR_VARIANTS:
        if regime != 'finetune':
            raise ValueError(f'variant {variant} (partner policies on paired batches) runs in the finetune regime only')
        return PAIR_CONFIGS[demo]
    return CONFIGS[regime][demo]


def parse_args():
    parser = argparse.ArgumentParser(description='DCAL ablation on the demo sets')
    parser.add_argument('--regime', choices=sorted(CONFIGS), default='scratch',
                        help='scratch: the demo configs from random weights; finetune: the *_finetune configs from '
                        'pretrained/demo_vit.pth')
    parser.add_argument('--demos', nargs='+', choices=sorted(METRICS), default=['fgvc', 'reid'])
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=['baseline', 'dcal', 'random-sel', 'no-pwca', 'no-glca'])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--jobs', type=int, default=2, help='trainings at a time (one thread each)')
    parser.add_argument('--work-dir', default='work_dirs/demo_ablation')
    parser.add_argument('--cfg-options', nargs='*', default=[], help='extra options for every run')
    parser.add_argument('--json', help='write every run and the summary to this file')
    return parser.parse_args()


def final_metrics(log: str, keys) -> dict:
    """The last value printed for each metric key."""
    out = {}
    for key in keys:
        found = re.findall(rf'{re.escape(key)}: ([0-9.]+)', log)
        if not found:
            raise RuntimeError(f'metric {key} not found in the training log:\n{log[-3000:]}')
        out[key] = float(found[-1])
    return out


def learning_curve(log: str, key: str) -> dict:
    """``{epoch: value}`` of ``key`` at every validation of the training log (learning speed, where the final value
    saturates)."""
    return {int(e): float(v) for e, v in re.findall(rf'Epoch\(val\) \[(\d+)\]\S* +{re.escape(key)}: ([0-9.]+)', log)}


def train(demo: str, variant: str, seed: int, args, counter=None) -> dict:
    work_dir = osp.join(args.work_dir, args.regime, demo, variant, f'seed{seed}')
    cmd = [sys.executable, 'tools/train.py', config_for(args.regime, demo, variant), '--work-dir', work_dir, '--cfg-options',
           f'randomness.seed={seed}', 'default_hooks.checkpoint.save_best=None', *VARIANTS[variant],
           *args.cfg_options]
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    start = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}')
    result = dict(demo=demo, variant=variant, seed=seed, seconds=time.time() - start,
                  **final_metrics(proc.stdout + proc.stderr, METRICS[demo]),
                  curve=learning_curve(proc.stdout + proc.stderr, METRICS[demo][0]))
    print(json.dumps(result), flush=True)
    if counter is not None:
        counter.finished(f'{demo} {variant} seed {seed}')
    return result


def summarise(runs, demos, variants) -> list:
    rows = []
    for demo in demos:
        for variant in variants:
            sel = [r for r in runs if r['demo'] == demo and r['variant'] == variant]
            row = dict(demo=demo, variant=variant, seeds=len(sel))
            for key in METRICS[demo]:
                values = [r[key] for r in sel]
                row[key] = (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.)
            rows.append(row)
    return rows


def print_curves(runs, demos, variants) -> None:
    """Mean of the first metric at every validated epoch, when the runs validated more than once."""
    for demo in demos:
        epochs = sorted({e for r in runs if r['demo'] == demo for e in r['curve']})
        if len(epochs) < 2:
            continue
        print(f'\n{METRICS[demo][0]} (mean over seeds) at epoch')
        print(f'| {demo} variant | ' + ' | '.join(map(str, epochs)) + ' |')
        print('|---|' + '---|' * len(epochs))
        for variant in variants:
            sel = [r['curve'] for r in runs if r['demo'] == demo and r['variant'] == variant]
            cells = [statistics.mean(c[e] for c in sel) if all(e in c for c in sel) else float('nan') for e in epochs]
            print(f'| {variant} | ' + ' | '.join(f'{c:.1f}' for c in cells) + ' |')


def main():
    args = parse_args()
    jobs = [(d, v, s) for d in args.demos for v in args.variants for s in args.seeds]
    for demo, variant, _ in jobs:  # a variant the regime cannot run fails now, not after hours of the others
        config_for(args.regime, demo, variant)
    counter = RunCounter(len(jobs))
    print(f'{len(jobs)} runs, {args.jobs} at a time', flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda j: train(*j, args, counter=counter), jobs))
    rows = summarise(runs, args.demos, args.variants)
    print(f'\n{len(args.seeds)} seeds ({" ".join(map(str, args.seeds))}), mean +- std of the final evaluation')
    for demo in args.demos:
        keys = METRICS[demo]
        print(f'\n| {demo} variant | ' + ' | '.join(keys) + ' |')
        print('|---|' + '---|' * len(keys))
        for row in rows:
            if row['demo'] == demo:
                cells = ' | '.join(f'{row[k][0]:.1f} +- {row[k][1]:.1f}' for k in keys)
                print(f'| {row["variant"]} | {cells} |')
    print_curves(runs, args.demos, args.variants)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(runs=runs, summary=rows), f, indent=2)


if __name__ == '__main__':
    main()
