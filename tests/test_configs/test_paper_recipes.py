# Copyright (c) OpenMMLab. All rights reserved.
"""Configs state what their papers' official code does."""
import glob
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from dcal_mm.datasets import PKSampler

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LEAVES = sorted(f for f in glob.glob(osp.join(REPO, 'configs', '*', '*.py')) if not osp.basename(f).startswith('_'))
RGA = [f'configs/rga/rga-sc_r50_{name}.py' for name in ('market1501', 'cuhk03', 'dukemtmc', 'msmt17')]
GLSIM = [f'configs/glsim/glsim_vit-b_{ds}-{size}.py' for ds in ('cub', 'cars', 'aircraft') for size in (224, 448)]


def _cfg(path):
    return Config.fromfile(osp.join(REPO, path))


def test_every_config_has_the_safety_hooks():
    assert len(LEAVES) > 50
    for path in LEAVES:
        hooks = Config.fromfile(path).default_hooks
        assert {'random_state', 'checkpoint_check', 'num_classes_check'} <= set(hooks), path


class _Labels:

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


@pytest.mark.parametrize('path', RGA)
def test_rga_epochs_are_the_official_samplers(path):
    """An epoch is #ids x 4 images (16 x 4 batches), so 600 epochs are the official iterations; the final
    checkpoint is reported, nothing is selected on the test split."""
    cfg = _cfg(path)
    assert cfg.default_hooks.checkpoint.save_best is None
    assert cfg.train_cfg.max_epochs == 600
    sampler = cfg.train_dataloader.sampler
    assert sampler.epoch_mode == 'identities'
    # Market-1501's training set: 751 ids, 12,936 images
    labels = np.repeat(np.arange(751), np.random.default_rng(0).multinomial(12936 - 751 * 2, [1 / 751] * 751) + 2)
    args = {k: v for k, v in sampler.items() if k != 'type'}
    assert PKSampler(_Labels(labels), seed=0, **args).num_batches == 751 // 16


@pytest.mark.parametrize('path', GLSIM)
def test_glsim_uniform_stochastic_depth_and_linear_pos_embed(path):
    backbone = _cfg(path).model.backbone
    assert backbone.drop_path_rate == 0.1 and backbone.drop_path_mode == 'uniform'
    assert backbone.pos_embed_interp == 'linear'
