# Copyright (c) OpenMMLab. All rights reserved.
"""End-to-end runs of tools/train.py, tools/test.py, tools/dist_train.sh and
tools/publish_model.py on the generated demo CUB data (CPU, subprocesses).

The model config is the single constant ``CONFIG``; everything the tests need
to change (data roots, one short epoch, no workers) goes through
``--cfg-options``. One training run is shared: test, publish, the external-config check and
a 2-process resume all start from it.
"""
import hashlib
import importlib.util
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

import dcal_mm  # noqa: F401
from dcal_mm.datasets.demo import make_demo_cub

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/dcal/demo_fgvc.py'
NUM_CLASSES, TRAIN_PER_CLASS, TEST_PER_CLASS = 10, 2, 1
NUM_TRAIN = NUM_CLASSES * TRAIN_PER_CLASS
BATCH_SIZE = Config.fromfile(osp.join(REPO_ROOT, CONFIG)).train_dataloader.batch_size
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _run(cmd, cwd=REPO_ROOT, env=None, timeout=600):
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{proc.stdout[-6000:]}'
    return proc.stdout


def _dataset_keys(cfg):
    """``<loader>.dataset[.dataset...]`` of the innermost dataset of each loader (through wrappers)."""
    keys = {}
    for loader in LOADERS:
        key, dataset = f'{loader}.dataset', cfg[loader]['dataset']
        while 'data_root' not in dataset:
            assert 'dataset' in dataset, f'{CONFIG}: no data_root under {key}'
            key, dataset = f'{key}.dataset', dataset['dataset']
        keys[loader] = key
    return keys


def _overrides(data_root, max_epochs=1):
    """Config overrides: demo data in tmp, a short run, no worker processes."""
    keys = _dataset_keys(Config.fromfile(osp.join(REPO_ROOT, CONFIG)))
    opts = {f'{keys[loader]}.data_root': data_root for loader in LOADERS}
    for loader in LOADERS:
        opts[f'{loader}.num_workers'] = 0
    # persistent_workers=True with num_workers=0 is rejected by PyTorch; the tools must turn it off
    opts['train_dataloader.persistent_workers'] = True
    opts.update({
        'train_cfg.max_epochs': max_epochs,
        'train_cfg.val_interval': 1,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.checkpoint.max_keep_ckpts': 5,
        'randomness.seed': 0,
    })
    return opts


def _cli(opts):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def _checkpoint_meta(path):
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    return ckpt['meta']['epoch'], ckpt['meta']['iter']


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _val_top1(output):
    found = re.findall(r'accuracy/top1: ([0-9.]+)', output)
    assert found, 'no accuracy/top1 in the output'
    return float(found[-1])


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One 1-epoch training run; returns (data_root, work_dir, stdout)."""
    tmp = tmp_path_factory.mktemp('e2e')
    data_root = make_demo_cub(
        str(tmp / 'data'), num_classes=NUM_CLASSES, train_per_class=TRAIN_PER_CLASS, test_per_class=TEST_PER_CLASS)
    work_dir = str(tmp / 'work')
    out = _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir] + _cli(_overrides(data_root)))
    return data_root, work_dir, out


def test_train(trained):
    _, work_dir, out = trained
    assert 'num_workers=0, so persistent_workers is set to False' in out
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert osp.basename(f.read().strip()) == 'epoch_1.pth'
    assert _checkpoint_meta(osp.join(work_dir, 'epoch_1.pth')) == (1, -(-NUM_TRAIN // BATCH_SIZE))
    assert 0 <= _val_top1(out) <= 100


def test_test_and_external_config(trained, tmp_path):
    data_root, work_dir, train_out = trained
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    opts = _overrides(data_root)

    metrics_file = str(tmp_path / 'metrics.json')
    out = _run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir', str(tmp_path / 'test'), '--out',
                metrics_file, '--out-item', 'metrics'] + _cli(opts))
    with open(metrics_file) as f:
        metrics = json.load(f)
    top1 = metrics['accuracy/top1']
    assert isinstance(top1, float) and 0 <= top1 <= 100
    assert _val_top1(out) == pytest.approx(top1, abs=1e-3)
    # the val set is the test set, so the checkpoint scores what validation logged after epoch 1
    assert top1 == pytest.approx(_val_top1(train_out), abs=1e-3)

    # A standalone config outside the repo: the merged CONFIG dumped to tmp, with custom_imports=['dcal_mm'] and
    # dcal_mm types. Run by MMPretrain's own tools/test.py from tmp, which imports nothing of dcal_mm itself: the
    # DCAL types and the torch>=2.6 checkpoint loading must come through custom_imports.
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.merge_from_dict(opts)
    assert cfg.custom_imports['imports'] == ['dcal_mm'] and cfg.model['type'].startswith('DCAL')
    external = str(tmp_path / 'external_cfg.py')
    cfg.dump(external)
    with open(external) as f:
        assert '_base_' not in f.read()
    upstream_test = osp.join(osp.dirname(importlib.util.find_spec('mmpretrain').origin), '.mim', 'tools', 'test.py')
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    out = _run([sys.executable, upstream_test, external, ckpt, '--work-dir', str(tmp_path / 'ext')],
               cwd=str(tmp_path), env=env)
    assert _val_top1(out) == pytest.approx(top1, abs=1e-3)


def test_publish_model_from_training(trained, tmp_path):
    _, work_dir, _ = trained
    spec = importlib.util.spec_from_file_location('publish_model', osp.join(REPO_ROOT, 'tools', 'publish_model.py'))
    publish_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(publish_model)
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    final = publish_model.publish(ckpt, str(tmp_path / 'demo.pth'))
    with open(final, 'rb') as f:
        assert final.endswith(f'demo-{hashlib.sha256(f.read()).hexdigest()[:8]}.pth')
    published = torch.load(final, map_location='cpu', weights_only=True)['state_dict']
    original = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert published.keys() == original.keys()
    for key, value in original.items():
        assert torch.equal(published[key], value), key

    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules
    register_all_modules()
    model = MODELS.build(Config.fromfile(osp.join(REPO_ROOT, CONFIG)).model)
    model.load_state_dict(published, strict=True)


def test_dist_resume_cpu(trained):
    """2 CPU processes through tools/dist_train.sh (gloo chosen automatically), resuming the 1-process run."""
    data_root, work_dir, _ = trained
    env = dict(os.environ, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    out = _run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', work_dir, '--resume', '--no-validate'] +
               _cli(_overrides(data_root, max_epochs=2)),
               env=env)
    assert "replaced by 'gloo'" in out
    assert 'Distributed training: True' in out
    iters = -(-NUM_TRAIN // BATCH_SIZE)
    assert f'resumed epoch: 1, iter: {iters}' in out
    assert 'Epoch(train) [2]' in out and 'Epoch(train) [1]' not in out
    # epoch 2 continues the count; each of the 2 ranks iterates over half of the data
    assert _checkpoint_meta(osp.join(work_dir, 'epoch_2.pth')) == (2, iters + -(-(NUM_TRAIN // 2) // BATCH_SIZE))
