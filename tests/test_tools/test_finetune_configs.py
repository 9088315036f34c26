# Copyright (c) OpenMMLab. All rights reserved.
"""The demo fine-tuning configs through tools/train.py, from a pretrained checkpoint made here (CI does not run
tools/misc/make_pretrained_demo.py)."""
import glob
import os.path as osp

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401
import dcal_mm.models.classifiers.dcal as dcal_module
from dcal_mm.datasets import make_demo_cub, make_demo_market1501
from dcal_mm.models.utils import draw_partners

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_ARCH = dict(embed_dims=96, num_layers=4, num_heads=3, patch_size=8, conv_stem=[32, 64, 128])


def _pretrained(path):
    """A timm-style state dict of the demo backbone (no prefix, no head), as make_pretrained_demo.py writes."""
    torch.manual_seed(1)
    backbone = MODELS.build(dict(type='DCALViT', arch=DEMO_ARCH, img_size=64))
    with torch.no_grad():
        for p in backbone.parameters():  # far from any initialisation: loaded weights are recognisable
            p.add_(torch.randn_like(p))
    torch.save(backbone.state_dict(), path)
    return backbone.state_dict()


def test_finetune_models_start_from_the_pretrained_backbone(tmp_path):
    saved = _pretrained(str(tmp_path / 'vit.pth'))
    for name, grid in (('demo_fgvc_finetune', (8, 8)), ('demo_reid_finetune', (8, 4))):
        cfg = Config.fromfile(osp.join(REPO, f'configs/dcal/{name}.py'))
        assert cfg.model.backbone.init_cfg.checkpoint == 'pretrained/demo_vit.pth'
        cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'vit.pth')
        model = MODELS.build(cfg.model)
        model.init_weights()
        own = model.backbone.state_dict()
        for key, value in saved.items():
            if key != 'pos_embed':
                torch.testing.assert_close(own[key], value, msg=key)
        assert own['pos_embed'].shape[1] == 1 + grid[0] * grid[1]  # resized for the Re-ID input
        for key, value in model.backbone.blocks[-1].state_dict().items():  # GLCA starts from the last block
            torch.testing.assert_close(model.glca.block.state_dict()[key], value)


def test_table4_policies_train_on_paired_fgvc_batches(run_tool, tmp_path, monkeypatch):
    root = make_demo_cub(str(tmp_path / 'data'), num_classes=10, train_per_class=2, test_per_class=1)
    _pretrained(str(tmp_path / 'vit.pth'))
    drawn = []

    def spy(batch_size, labels, policy):
        partners = draw_partners(batch_size, labels, policy)
        drawn.append((policy, labels, partners))
        return partners

    monkeypatch.setattr(dcal_module, 'draw_partners', spy)
    for policy in ('intra', 'mixed'):  # every policy on the sampler's batches: tests/test_datasets/test_pair_sampler.py
        work_dir = str(tmp_path / policy)
        run_tool(['tools/train.py', 'configs/dcal/demo_fgvc_finetune_pairs.py', '--work-dir', work_dir, '--data-root',
                  root, '--cfg-options', f'model.backbone.init_cfg.checkpoint={tmp_path / "vit.pth"}',
                  f'model.pwca.partner_policy={policy}', 'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
                  'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0'])
        assert glob.glob(osp.join(work_dir, 'epoch_1.pth'))
    assert [d[0] for d in drawn] == ['intra', 'mixed']  # one 8 x 2 batch per epoch
    for policy, labels, partners in drawn:
        assert len(labels) == 16 and len(set(labels.tolist())) == 8
        same = labels[partners] == labels
        if policy == 'intra':
            assert same.all()


def test_reid_finetune_trains_from_the_64x64_checkpoint(run_tool, tmp_path):
    root = str(tmp_path / 'data')
    make_demo_market1501(root, num_train_ids=8, num_test_ids=4, num_distractors=2, num_junk=1)
    _pretrained(str(tmp_path / 'vit.pth'))
    work_dir = str(tmp_path / 'reid')
    run_tool(['tools/train.py', 'configs/dcal/demo_reid_finetune.py', '--work-dir', work_dir, '--data-root', root,
              '--cfg-options', f'model.backbone.init_cfg.checkpoint={tmp_path / "vit.pth"}', 'train_cfg.max_epochs=1',
              'model.head.num_classes=8', 'train_dataloader.num_workers=0'])
    assert glob.glob(osp.join(work_dir, 'epoch_1.pth'))
