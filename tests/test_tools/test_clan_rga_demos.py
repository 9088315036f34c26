# Copyright (c) OpenMMLab. All rights reserved.
import glob
import json
import math
import os.path as osp

import torch

from dcal_mm.datasets.demo import make_demo_cub, make_demo_market1501


def _train_then_test(run_tool, tmp_path, config, data_root, extra, metric, model_opts=()):
    data_opts = [
        f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
        for key in ('dataset.data_root=' + data_root, 'num_workers=0')
    ] + list(model_opts)
    work = str(tmp_path / 'work')
    run_tool(['tools/train.py', config, '--work-dir', work, '--cfg-options', *data_opts,
              'default_hooks.logger.interval=1', *extra])
    records = [json.loads(line) for line in open(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))[0])]
    losses = [r['loss'] for r in records if 'loss' in r]
    assert losses and all(math.isfinite(v) for v in losses)
    val = [r for r in records if metric in r]
    assert len(val) == 1
    ckpt = open(osp.join(work, 'last_checkpoint')).read().strip()
    out = str(tmp_path / 'metrics.json')
    run_tool(['tools/test.py', config, ckpt, '--work-dir', str(tmp_path / 'test'), '--out', out, '--out-item',
              'metrics', '--cfg-options', *data_opts])
    # the same checkpoint on the same data: tools/test.py reproduces the end-of-training validation
    assert json.load(open(out))[metric] == val[0][metric]
    return torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']


def test_clan_demo_trains_and_tests(tmp_path, run_tool):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=2, test_per_class=1)
    state = _train_then_test(run_tool, tmp_path, 'configs/clan/clan_r18_demo.py', root,
                             ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'train_dataloader.batch_size=10'],
                             'accuracy/top1')
    assert any(k.startswith('neck.') for k in state) and any(k.startswith('head.') for k in state)


def test_rga_demo_trains_and_tests(tmp_path, run_tool):
    make_demo_market1501(str(tmp_path / 'data'), num_train_ids=8, num_test_ids=6, num_distractors=2, num_junk=2)
    state = _train_then_test(run_tool, tmp_path, 'configs/rga/rga-sc_r50_demo_market.py', str(tmp_path / 'data'),
                             ['train_cfg.max_iters=2', 'train_cfg.val_interval=2'], 'reid/mAP',
                             model_opts=['model.head.num_classes=8'])  # the head must match the 8 training ids
    assert any('rga' in k for k in state)
