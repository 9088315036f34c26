# Copyright (c) OpenMMLab. All rights reserved.
"""tools/misc/make_pretrained_demo.py end to end on a tiny corpus: corpus -> tools/train.py -> backbone weights
that the demos load through ``init_cfg=dict(type='Pretrained')``."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401
from dcal_mm.models.utils.timm_checkpoint import resample_pos_embed
from dcal_mm.utils import load_local_checkpoint

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'misc', 'make_pretrained_demo.py')


def _tool():
    spec = importlib.util.spec_from_file_location('make_pretrained_demo', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """4 classes x 4 images, 2 epochs of the real pretraining config (the demos' backbone), no workers."""
    tmp = tmp_path_factory.mktemp('pretrain')
    result = _tool().main([
        '--corpus-root', str(tmp / 'corpus'), '--num-classes', '4', '--images-per-class', '4', '--val-per-class', '1',
        '--epochs', '2', '--work-dir', str(tmp / 'work'), '--out', str(tmp / 'pretrained' / 'demo_vit.pth'),
        '--threads', '1', '--cfg-options', 'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_dataloader.batch_size=8'
    ])
    result['weights'] = torch.load(result['out'], map_location='cpu', weights_only=True)
    return result


def _demo_model(config, checkpoint=None):
    cfg = Config.fromfile(osp.join(REPO, config))
    if checkpoint is not None:
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_writes_exactly_the_backbone_weights_with_timm_names(pretrained):
    weights = pretrained['weights']
    assert 0 <= pretrained['top1'] <= 100
    backbone = MODELS.build(Config.fromfile(osp.join(REPO, 'configs/dcal/demo_pretrain.py')).model.backbone)
    assert list(weights) == list(backbone.state_dict())  # no 'backbone.' prefix, no head, nothing else
    assert 'pos_embed' in weights and 'blocks.3.mlp.fc2.weight' in weights
    # the weights are the trained ones: those of the training's last checkpoint, whose head was dropped
    trained = load_local_checkpoint(pretrained['checkpoint'], map_location='cpu')['state_dict']
    assert any(k.startswith('head.') for k in trained)
    for key, value in weights.items():
        assert torch.equal(value, trained['backbone.' + key]), key
    # and not the initial ones
    assert not torch.equal(weights['blocks.0.attn.qkv.weight'], backbone.state_dict()['blocks.0.attn.qkv.weight'])


@pytest.mark.parametrize('config,grid', [('configs/dcal/demo_fgvc.py', (8, 8)), ('configs/dcal/demo_reid.py', (8, 4))])
def test_demos_load_it_and_glca_starts_from_the_last_block(pretrained, config, grid):
    """DCAL at 64x64 (FGVC demo) and 64x32 (Re-ID demo, position embedding resampled from 8x8 to 8x4)."""
    weights = pretrained['weights']
    model = _demo_model(config, pretrained['out'])
    assert model.backbone.pretrained_loaded
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(weights)
    for key, value in weights.items():
        if key == 'pos_embed':
            continue
        assert torch.equal(loaded[key], value), key
    assert weights['pos_embed'].shape == (1, 1 + 64, 96)
    assert loaded['pos_embed'].shape == (1, 1 + grid[0] * grid[1], 96)
    assert torch.allclose(loaded['pos_embed'], resample_pos_embed(weights['pos_embed'], grid))
    # GLCA is a copy of the pretrained last block and final norm (DCAL.init_weights)
    for key, value in model.glca.block.state_dict().items():
        assert torch.equal(value, weights[f'blocks.3.{key}']), key
    for key, value in model.glca.norm.state_dict().items():
        assert torch.equal(value, weights[f'norm.{key}']), key
    # from scratch it is not
    scratch = _demo_model(config)
    assert not scratch.backbone.pretrained_loaded
    assert not torch.equal(scratch.glca.block.attn.qkv.weight, weights['blocks.3.attn.qkv.weight'])


def test_arguments_are_checked():
    tool = _tool()
    with pytest.raises(SystemExit):
        tool.parse_args(['--epochs', '1'])
    opts = tool.train_options(tool.parse_args(['--seed', '3', '--num-classes', '4', '--epochs', '5']))
    assert 'randomness.seed=3' in opts and 'model.head.num_classes=4' in opts and 'param_scheduler.1.end=5' in opts
    assert 'val_evaluator.topk=1' in opts  # top-5 of 4 classes would fail
    assert tool.parse_cfg_options(opts)['train_cfg.max_epochs'] == 5
