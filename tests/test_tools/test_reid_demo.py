# Copyright (c) OpenMMLab. All rights reserved.
"""The DCAL Re-ID demo end to end: tools/train.py for one epoch on demo data
generated in tmp_path, then tools/test.py on the checkpoint."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.utils import register_all_modules

import dcal_mm  # noqa: F401
from dcal_mm.datasets import make_demo_market1501

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/dcal/demo_reid.py')


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    make_demo_market1501(root)
    return root


def _data_root_options(root):
    return [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']


def _run(args, cwd):
    # one intra-op thread: the test machine's cores are shared, and oversubscribed OpenMP threads crawl
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


def _metrics(log):
    """The last ``reid/mAP`` and ``reid/Rank-1`` printed."""
    maps = re.findall(r'reid/mAP: ([0-9.]+)', log)
    rank1 = re.findall(r'reid/Rank-1: ([0-9.]+)', log)
    assert maps and rank1, log[-4000:]
    return float(maps[-1]), float(rank1[-1])


def test_pk_batches_from_the_demo_config(demo_root):
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.data_root = demo_root
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    assert type(loader.dataset).__name__ == 'Market1501'  # PWCA partners come from the batch itself
    batch = next(iter(loader))
    targets = batch['inputs']
    assert len(targets) == 32
    labels = torch.tensor([int(s.gt_label) for s in batch['data_samples']])
    # 8 identities x 4 images, consecutive, as PKSampler yields them through the wrapper
    groups = labels.view(8, 4)
    assert (groups == groups[:, :1]).all() and len(set(groups[:, 0].tolist())) == 8
    assert targets[0].shape == (3, 64, 32)


def test_demo_reid_trains_and_tests_through_the_tools(demo_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    train_log = _run([
        'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.num_workers=0', 'default_hooks.logger.interval=3', *_data_root_options(demo_root)
    ], cwd=REPO)
    # the DCAL branch terms are logged and the loss is finite
    for key in ('sa_id', 'sa_triplet', 'glca_id', 'glca_triplet', 'pwca_id', 'pwca_triplet', 'sa_w'):
        assert re.search(rf'{key}: [0-9.]+', train_log), key
    assert re.search(r' loss: [0-9.]+', train_log)
    val_map, val_rank1 = _metrics(train_log)
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)

    test_log = _run(['tools/test.py', CONFIG, ckpt, '--work-dir', work_dir, '--cfg-options',
                     f'test_dataloader.dataset.data_root={demo_root}'], cwd=REPO)
    test_map, test_rank1 = _metrics(test_log)
    assert 0 < test_map <= 100 and 0 <= test_rank1 <= 100
    # the reloaded checkpoint reproduces the end-of-training evaluation
    assert test_map == pytest.approx(val_map, abs=1e-3)
    assert test_rank1 == pytest.approx(val_rank1, abs=1e-3)
