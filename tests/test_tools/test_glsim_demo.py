# Copyright (c) OpenMMLab. All rights reserved.
import glob
import json
import math
import os.path as osp

import torch

from dcal_mm.datasets.demo import make_demo_cub

CONFIG = 'configs/glsim/glsim_demo.py'


def test_glsim_demo_trains_with_train_py_and_evaluates_with_test_py(tmp_path, run_tool):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=3, test_per_class=2)
    data_opts = [
        f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
        for key in ('dataset.data_root=' + root, 'num_workers=0')
    ]
    work = str(tmp_path / 'work')
    run_tool([
        'tools/train.py', CONFIG, '--work-dir', work, '--cfg-options', *data_opts, 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2', 'train_dataloader.batch_size=8', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=2'
    ])

    # 30 training images in batches of 8 -> 4 iterations per epoch, each logged with a finite loss
    scalars = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    assert len(scalars) == 1
    records = [json.loads(line) for line in open(scalars[0])]
    train = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in train] == list(range(1, 9))
    assert all(math.isfinite(r['loss']) for r in train)
    val = [r for r in records if 'accuracy/top1' in r]
    assert len(val) == 1

    ckpt = osp.join(work, 'epoch_2.pth')
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert 'aggregator.0.attn.qkv.weight' in state and 'head.fc.weight' in state

    out = str(tmp_path / 'metrics.json')
    run_tool([
        'tools/test.py', CONFIG, ckpt, '--work-dir',
        str(tmp_path / 'test'), '--out', out, '--out-item', 'metrics', '--cfg-options', *data_opts
    ])
    metrics = json.load(open(out))
    # the same checkpoint on the same 20 test images: tools/test.py reproduces the validation at epoch 2
    assert metrics['accuracy/top1'] == val[0]['accuracy/top1']
    assert 0 <= metrics['accuracy/top1'] <= 100
