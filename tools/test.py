# Copyright (c) OpenMMLab. All rights reserved.
"""Test (and evaluate) a model; flags and behaviour follow mmpretrain's
``tools/test.py``.

As in ``tools/train.py``: :mod:`dcal_mm` is imported before the config is
read (stack guards: torch>=2.6 loads MMEngine training checkpoints), a
distributed launcher without CUDA uses ``gloo``, and ``num_workers=0``
dataloaders get ``persistent_workers=False``. ``--data-root DIR`` (or
``--cfg-options data_root=DIR``) sets every dataset's ``data_root``; a
checkpoint that does not fit the model is an error unless
``--allow-partial-load`` (see ``CheckpointCheckHook``). A relative
``--show-dir`` is a folder of the work dir (not of the current directory); for
Re-ID configs it receives rank lists of test queries (``vis_rank.py``'s
pictures and ``ranks.json``, from a ``features.pkl`` dump written there).
``--rerank`` turns on k-reciprocal re-ranking in the ``ReIDMetric``
(``--cfg-options test_evaluator.rerank=True`` keeps working); ``--flip`` is
another name of ``--tta`` (flip test-time augmentation). Errors of
dcal_mm's checks print on one line without a traceback (``--debug`` or
``DCAL_MM_DEBUG=1`` keeps it).
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
import mmengine  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.dist import is_main_process  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from dcal_mm.utils.cli import load_tool  # noqa: E402
from dcal_mm.utils.errors import install_excepthook  # noqa: E402
from dcal_mm.utils.launch import (fix_persistent_workers, set_data_root, setup_cpu_distributed,  # noqa: E402
                                  take_data_root)

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MMPreTrain test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', help='the file to output results.')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='To output whether metrics or predictions. Defaults to output predictions.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair in xxx=yyy format will be merged into '
        'config file. If the value to be overwritten is a list, it should be like key="[a,b]" or key=a,b It also '
        'allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" Note that the quotation marks are necessary and '
        'that no white space is allowed.')
    parser.add_argument('--data-root', help='set data_root of every dataset (train, val, test, through wrappers)')
    parser.add_argument(
        '--allow-partial-load',
        action='store_true',
        help='load a checkpoint that fits the model only in part (logged); otherwise an error')
    parser.add_argument('--amp', action='store_true', help='enable automatic-mixed-precision test')
    parser.add_argument(
        '--show-dir',
        help='directory where the visualization images will be saved (a relative one under the work dir); Re-ID: '
        'rank lists of test queries')
    parser.add_argument('--show', action='store_true', help='whether to display the prediction results in a window.')
    parser.add_argument('--interval', type=int, default=1, help='visualize per interval samples.')
    parser.add_argument('--wait-time', type=float, default=2, help='display time of every window. (second)')
    parser.add_argument(
        '--no-pin-memory', action='store_true', help='whether to disable the pin_memory option in dataloaders.')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='Whether to enable the Test-Time-Aug (TTA). If the config file has `tta_pipeline` and `tta_model` '
        'fields, use them to determine the TTA transforms and how to merge the TTA results. Otherwise, use flip TTA '
        'by averaging classification score.')
    parser.add_argument(
        '--flip',
        dest='tta',
        action='store_true',
        help='the same as --tta (the configs\' TTA is the horizontal flip: AverageReIDFeatureTTA for Re-ID, the '
        'mean of the class probabilities of the image and its mirror for FGVC)')
    parser.add_argument(
        '--rerank',
        action='store_true',
        help='k-reciprocal re-ranking in every ReIDMetric of test_evaluator (the same as --cfg-options '
        'test_evaluator.rerank=True)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument(
        '--debug', action='store_true', help='print the traceback of errors raised by dcal_mm\'s checks too')
    # torch.distributed.launch passes `--local-rank` on torch>=2.0, `--local_rank` before.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
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

    cfg.load_from = args.checkpoint
    if args.allow_partial_load:
        cfg.allow_partial_load = True

    if args.amp:
        cfg.test_cfg.fp16 = True

    args.reid_show_dir = None
    if args.show_dir is not None and reid_metrics(cfg):
        # Re-ID: rank lists of test queries (vis_rank.py's pictures), not MMPretrain's 64x32 query alone
        args.reid_show_dir = args.show_dir
        if not osp.isabs(args.show_dir) and '://' not in args.show_dir:
            args.reid_show_dir = osp.join(cfg.work_dir, args.show_dir)
        args.show_dir = None
    if args.show or (args.show_dir is not None):
        if 'visualization' not in cfg.get('default_hooks', {}):
            raise ValueError(f'--show/--show-dir need `default_hooks.visualization` '
                             f'(type="VisualizationHook") in {args.config}')
        cfg.default_hooks.visualization.enable = True
        cfg.default_hooks.visualization.show = args.show
        cfg.default_hooks.visualization.wait_time = args.wait_time
        show_dir = args.show_dir
        if show_dir is not None and not osp.isabs(show_dir) and '://' not in show_dir:
            show_dir = osp.join(cfg.work_dir, show_dir)  # MMPretrain's hook would write it under the current dir
        cfg.default_hooks.visualization.out_dir = show_dir
        cfg.default_hooks.visualization.interval = args.interval

    if args.tta:
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
        if 'tta_pipeline' not in cfg:
            test_pipeline = cfg.test_dataloader.dataset.pipeline
            cfg.tta_pipeline = deepcopy(test_pipeline)
            flip_tta = dict(
                type='TestTimeAug',
                transforms=[
                    [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                    [test_pipeline[-1]],
                ])
            cfg.tta_pipeline[-1] = flip_tta
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline

    default_dataloader_cfg = ConfigDict(
        pin_memory=True,
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

    set_default_dataloader_cfg(cfg, 'test_dataloader')

    data_root = take_data_root(args)
    if data_root is not None:
        set_data_root(cfg, data_root, DATALOADERS)
    if args.cfg_options is not None:
        if 'test_evaluator.rerank' in args.cfg_options:
            print('tools/test.py: --cfg-options test_evaluator.rerank=... keeps working; --rerank is the flag for it',
                  file=sys.stderr)
        cfg.merge_from_dict(args.cfg_options)
    if args.rerank:
        set_rerank(cfg, args.config)

    fix_persistent_workers(cfg, ['test_dataloader'])
    return cfg


def reid_metrics(cfg):
    """The ``ReIDMetric`` configs of ``test_evaluator`` (empty for FGVC)."""
    evaluator = cfg.get('test_evaluator')
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    return [m for m in metrics if isinstance(m, dict) and str(m.get('type', '')).split('.')[-1] == 'ReIDMetric']


def set_rerank(cfg, config):
    """Turn on re-ranking in every ``ReIDMetric`` of ``test_evaluator``."""
    metrics = reid_metrics(cfg)
    if not metrics:
        raise ValueError(f'--rerank: test_evaluator of {config} has no ReIDMetric (got {cfg.get("test_evaluator")}); '
                         're-ranking is for Re-ID configs')
    for metric in metrics:
        metric['rerank'] = True


def main():
    args = parse_args()
    install_excepthook(args.debug)

    if args.out is None and args.out_item is not None:
        raise ValueError('Please use `--out` argument to specify the path of the output file before using '
                         '`--out-item`.')

    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint file {args.checkpoint} does not exist')

    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg)

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)

    if args.out and args.out_item in ['pred', None]:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    if args.reid_show_dir is not None:
        features = osp.join(args.reid_show_dir, 'features.pkl')
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=features))

    metrics = runner.test()

    if args.reid_show_dir is not None and is_main_process():
        write_rank_lists = load_tool('tools/visualization/vis_rank.py', REPO_ROOT).write_rank_lists
        write_rank_lists(mmengine.load(features), args.reid_show_dir)

    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
