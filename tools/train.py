# Copyright (c) OpenMMLab. All rights reserved.
"""Train a model; flags and behaviour follow mmpretrain's ``tools/train.py``.

Differences, all to make the same commands work on the pinned stack:

* the repository root is put first on ``sys.path`` and :mod:`dcal_mm` is
  imported before the config is read, which applies the stack guards
  (torch>=2.6 checkpoint loading, setuptools without ``pkg_resources``);
* a distributed launcher on a machine without CUDA uses the ``gloo`` backend
  and CPU DDP instead of failing in ``torch.cuda.set_device``;
* a dataloader with ``num_workers=0`` gets ``persistent_workers=False``
  (PyTorch rejects the combination);
* ``--no-validate`` is applied after ``--cfg-options``, so overrides of the
  validation settings do not fail on the removed ``val_dataloader``;
* ``--data-root DIR`` sets every dataset's ``data_root`` (through wrappers);
  ``--cfg-options data_root=DIR``, which would be ignored (the config's
  variable was substituted when the file was read), does the same;
* ``--resume`` without a checkpoint to resume from stops with an error
  (MMEngine would start from scratch); ``--resume-or-start`` keeps that
  behaviour for schedulers that restart jobs;
* ``--allow-partial-load`` lets ``load_from`` load a checkpoint that fits the
  model only in part (otherwise an error, see ``CheckpointCheckHook``);
* ``--resume`` / ``--resume-or-start`` (and ``resume = True``) resume from
  ``last_checkpoint`` resolved inside the work dir (a copied work dir resumes
  from its own files); an empty ``last_checkpoint`` or a missing / truncated
  checkpoint is an error that lists the intact checkpoints, and
  ``--resume-or-start`` never starts from scratch over checkpoints it cannot
  use;
* ``--epochs N`` trains N epochs with the whole schedule scaled by
  N / max_epochs (warm-up, cosine, milestones, iteration-based warm-ups;
  val / checkpoint intervals clipped to N); ``--cfg-options
  train_cfg.max_epochs=N`` changes only the loop length and warns so;
* errors of dcal_mm's checks print on one line without a traceback
  (``--debug`` or ``DCAL_MM_DEBUG=1`` keeps it).
"""
import argparse
import os
import os.path as osp
import sys
from copy import deepcopy

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if sys.path[0] != REPO_ROOT:
    sys.path.insert(0, REPO_ROOT)

import dcal_mm  # noqa: E402,F401  (registers modules, applies the stack guards)
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from dcal_mm.utils.checkpoint import (CheckpointUnreadableError, checkpoint_problem,  # noqa: E402
                                      list_intact_checkpoints, resolve_last_checkpoint)
from dcal_mm.utils.errors import install_excepthook  # noqa: E402
from dcal_mm.utils.launch import (fix_persistent_workers, set_data_root, setup_cpu_distributed,  # noqa: E402
                                  take_data_root)
from dcal_mm.utils.schedule import scale_schedule, snap_to_iterations, warn_unscaled_max_epochs  # noqa: E402

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not specify, resume from the latest checkpoint '
        'in the work directory; an error if there is none.')
    parser.add_argument(
        '--resume-or-start',
        action='store_true',
        help='resume from the latest checkpoint in the work directory if there is one, else start from scratch '
        '(for job schedulers that restart jobs)')
    parser.add_argument(
        '--epochs',
        type=int,
        help='train for this many epochs with the schedule scaled to the run: param_scheduler begin/end/T_max/'
        'milestones (warm-up, cosine; iteration-based ones too) times EPOCHS/max_epochs, val and checkpoint '
        'intervals clipped to EPOCHS (--cfg-options train_cfg.max_epochs=N changes only the loop length)')
    parser.add_argument('--data-root', help='set data_root of every dataset (train, val, test, through wrappers)')
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='let load_from load a checkpoint that fits the model only in part (logged); otherwise an error')
    parser.add_argument('--amp', action='store_true', help='enable automatic-mixed-precision training')
    parser.add_argument('--no-validate', action='store_true', help='whether not to evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='whether to auto scale the learning rate according to the actual batch size and the original batch '
        'size.')
    parser.add_argument(
        '--no-pin-memory', action='store_true', help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='whether to disable the persistent_workers option in dataloaders.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format will be merged into '
        'config file. If the value to be overwritten is a list, it should be like key="[a,b]" or key=a,b It also '
        'allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" Note that the quotation marks are necessary and '
        'that no white space is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument(
        '--debug', action='store_true', help='print the traceback of errors raised by dcal_mm\'s checks too')
    # torch.distributed.launch passes `--local-rank` on torch>=2.0, `--local_rank` before.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge CLI arguments to config."""
    cfg.launcher = args.launcher

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp is True:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume is not None and args.resume_or_start:
        sys.exit('tools/train.py: error: give --resume or --resume-or-start, not both')
    if args.resume == 'auto':
        latest = resolve_last_checkpoint(cfg.work_dir)  # raises on an empty / dangling / truncated one
        if latest is None:
            intact = list_intact_checkpoints(cfg.work_dir)
            sys.exit(f'tools/train.py: error: --resume: no checkpoint to resume from in {cfg.work_dir} (no '
                     'last_checkpoint file there); ' +
                     (f'resume from one of {", ".join(intact)} with --resume PATH' if intact else
                      'train without --resume, or use --resume-or-start'))
        cfg.resume = True
        cfg.load_from = latest
    elif args.resume is not None:
        if '://' not in args.resume:
            problem = checkpoint_problem(args.resume)
            if problem == 'does not exist':
                sys.exit(f'tools/train.py: error: --resume: checkpoint file {args.resume} does not exist')
            if problem is not None:
                intact = list_intact_checkpoints(osp.dirname(osp.abspath(args.resume)))
                raise CheckpointUnreadableError(
                    f'--resume: checkpoint file {args.resume} {problem}' +
                    (f'; intact checkpoints next to it: {", ".join(intact)}' if intact else ''))
        cfg.resume = True
        cfg.load_from = args.resume
    elif args.resume_or_start or (cfg.get('resume', False) is True and cfg.get('load_from', None) is None):
        # MMEngine would resume from the absolute path in last_checkpoint if there is one, else start from scratch
        latest = resolve_last_checkpoint(cfg.work_dir)  # raises on an empty / dangling / truncated one
        if latest is None:
            intact = list_intact_checkpoints(cfg.work_dir)
            if intact:
                raise CheckpointUnreadableError(
                    f'--resume-or-start: {cfg.work_dir} holds checkpoints ({", ".join(intact)}) but no '
                    'last_checkpoint file; resume from one with --resume PATH, or pass another --work-dir to start '
                    'a new run')
            cfg.resume = False  # from scratch (the config's load_from, if any, initialises the model)
        else:
            cfg.resume = True
            cfg.load_from = latest
    if args.allow_partial_load:
        cfg.allow_partial_load = True

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise ValueError(f'--auto-scale-lr needs `auto_scale_lr.base_batch_size` in {args.config}')
        cfg.auto_scale_lr.enable = True

    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
        persistent_workers=True,
        collate_fn=dict(type='default_collate'),
    )

    def set_default_dataloader_cfg(cfg, field):
        if cfg.get(field, None) is None:
            return
        dataloader_cfg = deepcopy(default_dataloader_cfg)
        dataloader_cfg.update(cfg[field])
        cfg[field] = dataloader_cfg
        if args.no_pin_memory:
            cfg[field]['pin_memory'] = False
        if args.no_persistent_workers:
            cfg[field]['persistent_workers'] = False

    for field in DATALOADERS:
        set_default_dataloader_cfg(cfg, field)

    data_root = take_data_root(args)
    if data_root is not None:
        set_data_root(cfg, data_root, DATALOADERS)
    if getattr(args, 'epochs', None) is not None:
        scale_schedule(cfg, args.epochs)  # before --cfg-options: explicit overrides win
    elif args.cfg_options is not None:
        warn_unscaled_max_epochs(cfg, args.cfg_options)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # after --cfg-options, so that overrides of the val settings do not fail on None
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    fix_persistent_workers(cfg, DATALOADERS)
    return cfg


def main():
    args = parse_args()
    install_excepthook(args.debug)

    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    if args.epochs is not None and isinstance(runner.param_schedulers, (dict, list)):
        # the scaled spans can be fractions of an epoch: whole iterations, none empty (builds the train loop,
        # which runner.train() would build first anyway)
        snap_to_iterations(runner.param_schedulers, len(runner.train_loop.dataloader), args.epochs)
    runner.train()


if __name__ == '__main__':
    main()
