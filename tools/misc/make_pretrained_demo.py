# Copyright (c) OpenMMLab. All rights reserved.
"""Pretrain the demos' ViT backbone on the generated corpus; write it as a timm-style weights file.

The paper fine-tunes ImageNet-pretrained ViTs. Nothing is downloaded here, so this command makes the project's
own pretrained backbone, in three steps:

1. generate the procedural corpus (``dcal_mm.datasets.demo.make_pretrain_corpus``: 128 shape x texture classes
   of 64x64 images) in ``--corpus-root``, skipped when a complete corpus with the same arguments is there;
2. train ``configs/dcal/demo_pretrain.py`` (the demos' 4-block ViT as a plain classifier) through
   ``tools/train.py``, in a subprocess: the same Runner, hooks and logs as any training, with
   ``randomness.seed=--seed``;
3. take the backbone of the last checkpoint with timm's key names (``backbone.`` stripped, the classifier head
   dropped), check that it loads into the config's ``DCALViT``, and save it as a plain state dict.

The demos then start from it with
``model.backbone.init_cfg=dict(type='Pretrained', checkpoint='pretrained/demo_vit.pth')``, the loading path of
timm files (the 8x8 position embedding is resampled to the Re-ID demo's 8x4 grid).

Example::

    python tools/misc/make_pretrained_demo.py                # pretrained/demo_vit.pth, about 10 min on 2 CPU cores
    python tools/misc/make_pretrained_demo.py --seed 1 --out pretrained/demo_vit_seed1.pth \\
        --corpus-root data/pretrain_corpus_seed1
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
import time
from collections import OrderedDict

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if sys.path[0] != REPO_ROOT:
    sys.path.insert(0, REPO_ROOT)

CONFIG = 'configs/dcal/demo_pretrain.py'
_TOP1 = re.compile(r'accuracy/top1: ([0-9.]+)')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Pretrain the demo ViT backbone on the generated corpus and save it as a timm-style file')
    parser.add_argument('--seed', type=int, default=0, help='corpus and training seed (default: 0)')
    parser.add_argument('--out', default='pretrained/demo_vit.pth', help='weights file to write')
    parser.add_argument('--corpus-root', default='data/pretrain_corpus', help='corpus folder')
    parser.add_argument('--work-dir', default='work_dirs/demo_pretrain', help='training logs and checkpoints')
    parser.add_argument('--config', default=CONFIG, help=f'pretraining config (default: {CONFIG})')
    parser.add_argument('--epochs', type=int, help="training epochs, at least 2 (default: the config's)")
    parser.add_argument('--num-classes', type=int, default=128, help='corpus classes, at most 128 (default: 128)')
    parser.add_argument('--images-per-class', type=int, default=100, help='training images per class (default: 100)')
    parser.add_argument('--val-per-class', type=int, default=10, help='held-out images per class (default: 10)')
    parser.add_argument(
        '--threads', type=int, help="torch threads of the training process (OMP_NUM_THREADS; default: torch's)")
    parser.add_argument('--overwrite', action='store_true', help='replace another corpus found in --corpus-root')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='more overrides of the config, as for tools/train.py')
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 2:
        parser.error(f'--epochs must be at least 2 (the first is the warm-up), got {args.epochs}')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be positive, got {args.threads}')
    return args


def train_options(args) -> list:
    """``--cfg-options`` of the training run: seed, classes, epochs, then the user's."""
    n = args.num_classes
    opts = [f'randomness.seed={args.seed}', f'model.head.num_classes={n}', f'data_preprocessor.num_classes={n}']
    if args.epochs is not None:
        e = args.epochs
        opts += [f'train_cfg.max_epochs={e}', f'train_cfg.val_interval={e}', f'default_hooks.checkpoint.interval={e}',
                 f'param_scheduler.1.end={e}']
    if n < 5:  # top-5 accuracy of fewer than 5 classes is an error in MMPretrain
        opts.append('val_evaluator.topk=1')
    return opts + list(args.cfg_options)


def parse_cfg_options(options: list) -> dict:
    """``KEY=VALUE`` strings as ``tools/train.py`` reads them (MMEngine's ``DictAction``)."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--cfg-options', *options] if options else []).cfg_options


def run_training(args, options: list) -> float:
    """Run ``tools/train.py``, echo its log, return the last validation top-1."""
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), args.config, '--work-dir', args.work_dir,
           '--data-root', args.corpus_root, '--cfg-options', *options]
    env = dict(os.environ)
    if args.threads is not None:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    print('+ ' + ' '.join(cmd), flush=True)
    top1 = None
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:  # the log as it comes (progress), and its validation results
            print(line, end='', flush=True)
            found = _TOP1.findall(line)
            if found:
                top1 = float(found[-1])
    if proc.returncode != 0:
        raise RuntimeError(f'pretraining failed (tools/train.py exit code {proc.returncode}); see the log above')
    if top1 is None:
        raise RuntimeError(f'pretraining printed no accuracy/top1: is val_dataloader set in {args.config}?')
    return top1


def extract_backbone(checkpoint_file: str) -> 'OrderedDict':
    """The ``backbone.`` weights of a training checkpoint, with timm names.

    Args:
        checkpoint_file (str): An MMEngine checkpoint of a classifier.

    Returns:
        OrderedDict[str, Tensor]: Plain CPU tensors without the prefix; the
        head and everything else outside the backbone dropped.
    """
    from dcal_mm.utils import load_local_checkpoint
    ckpt = load_local_checkpoint(checkpoint_file, map_location='cpu')
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state_dict, dict):
        raise ValueError(f'{checkpoint_file}: expected a checkpoint dict with a state_dict')
    prefix = 'backbone.'
    weights = OrderedDict((k[len(prefix):], v.detach().cpu().clone()) for k, v in state_dict.items()
                          if k.startswith(prefix))
    if not weights:
        raise ValueError(f'{checkpoint_file} has no {prefix!r} weights')
    return weights


def save_backbone(weights: 'OrderedDict', backbone_cfg: dict, out: str) -> None:
    """Check that ``weights`` are exactly the backbone's, write them, and
    check that the file loads through ``init_cfg=dict(type='Pretrained')``'s
    path (:func:`load_pretrained_vit`).

    Args:
        weights (OrderedDict): From :func:`extract_backbone`.
        backbone_cfg (dict): The config's ``model.backbone``.
        out (str): File to write (a temporary file is renamed to it, so an
            interrupted run leaves no half-written file).
    """
    import torch
    from mmpretrain.registry import MODELS

    from dcal_mm.models.utils import load_pretrained_vit

    backbone_cfg = dict(backbone_cfg, init_cfg=None)
    backbone = MODELS.build(backbone_cfg)
    own = backbone.state_dict()
    if set(weights) != set(own):
        raise ValueError(f'backbone weights do not match {backbone_cfg["type"]}: missing {sorted(set(own) - set(weights))}, '
                         f'unexpected {sorted(set(weights) - set(own))}')
    out_dir = osp.dirname(osp.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = out + '.tmp'
    torch.save(weights, tmp)
    load_pretrained_vit(backbone, tmp)  # the path of init_cfg=dict(type='Pretrained'); strict, fails loudly
    os.replace(tmp, out)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    from dcal_mm.datasets.demo.pretrain_corpus import corpus_is_complete, make_pretrain_corpus

    corpus_args = dict(num_classes=args.num_classes, images_per_class=args.images_per_class,
                       val_per_class=args.val_per_class, seed=args.seed)
    if corpus_is_complete(args.corpus_root, **corpus_args):
        print(f'corpus {args.corpus_root} is complete for seed {args.seed}: not regenerated', flush=True)
    else:
        n = args.num_classes * (args.images_per_class + args.val_per_class)
        print(f'generating the corpus in {args.corpus_root}: {args.num_classes} classes, {n} images', flush=True)
        make_pretrain_corpus(args.corpus_root, overwrite=args.overwrite, **corpus_args)
    corpus_s = time.time() - start

    options = train_options(args)
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(parse_cfg_options(options))  # the model the training builds, to check the weights against
    top1 = run_training(args, options)
    train_s = time.time() - start - corpus_s

    with open(osp.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint_file = f.read().strip()
    weights = extract_backbone(checkpoint_file)
    save_backbone(weights, cfg.model.backbone, args.out)
    total = time.time() - start
    print(f'\npretraining val top-1: {top1:.2f}% ({args.num_classes} classes, chance {100 / args.num_classes:.2f}%)\n'
          f'time: {total:.0f} s in all (corpus {corpus_s:.0f} s, training {train_s:.0f} s)\n'
          f'backbone weights ({len(weights)} tensors, timm names) written to {args.out}\n'
          f"use them with model.backbone.init_cfg=dict(type='Pretrained', checkpoint='{args.out}')", flush=True)
    return dict(top1=top1, seconds=total, checkpoint=checkpoint_file, out=args.out)


if __name__ == '__main__':
    main()
