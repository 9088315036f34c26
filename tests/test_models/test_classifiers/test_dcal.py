# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import dcal_mm  # noqa: F401

TINY = dict(embed_dims=32, num_layers=3, num_heads=2, patch_size=8)


def _cfg(glca=True, pwca=True, **head):
    return dict(
        type='DCAL',
        backbone=dict(type='DCALViT', arch=TINY, img_size=32, drop_path_rate=0.),
        glca=dict(type='GLCA', top_ratio=0.25) if glca else None,
        pwca=dict(type='PWCA') if pwca else None,
        head=dict(type='DCALClsHead', num_classes=4, in_channels=32, with_glca=glca, with_pwca=pwca,
                  predict_mode='sum' if glca else 'sa', **head),
        data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True))


def _batch(model, B=4, training=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    targets = [torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8) for _ in range(B)]
    partners = [torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8) for _ in range(B)]
    samples = [DataSample().set_gt_label(i % 4) for i in range(B)]
    return model.data_preprocessor(dict(inputs=[targets, partners], data_samples=samples), training)


def test_dcal_loss_uses_all_branches_and_trains_every_part():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    data = _batch(model)
    assert data['inputs'].shape == (4, 2, 3, 32, 32)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'loss', 'sa_ce', 'glca_ce', 'pwca_ce'}
    losses['loss'].backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert no_grad == []


def test_pwca_branch_equals_sa_when_partner_is_target():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    model.eval()  # no drop path, so the two streams are comparable
    images = _batch(model, training=False)['inputs'][:, 0]
    bb = model.backbone
    with torch.no_grad():
        tokens = bb.embed(images)
        pwca = bb.norm(model.pwca(bb.blocks, tokens, bb.forward_partner_kv(images)))[:, 0]
        torch.testing.assert_close(pwca, bb(images)[0], rtol=1e-4, atol=1e-5)


def test_pwca_without_pairs_is_a_clear_error():
    model = MODELS.build(_cfg())
    with pytest.raises(ValueError, match='trains on image pairs'):
        model(torch.randn(2, 3, 32, 32), [DataSample().set_gt_label(0)] * 2, mode='loss')


def test_predict_sum_and_sa_only_cost():
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    model.eval()
    images = _batch(model, training=False)['inputs'][:, 0]
    with torch.no_grad():
        out = model(images, mode='predict')
        feats = model.extract_feat(images)
        expected = 0.5 * (model.head.sa_fc(feats.sa).softmax(1) + model.head.glca_fc(feats.glca).softmax(1))
        torch.testing.assert_close(torch.stack([o.pred_score for o in out]), expected)
        model.head.predict_mode = 'sa'
        calls = []
        model.glca.register_forward_hook(lambda *a: calls.append(1))
        feats = model.extract_feat(images)
        assert feats.glca is None and calls == []  # SA-only inference skips GLCA and the rollout


def test_glca_starts_from_the_pretrained_last_block(tmp_path):
    src = MODELS.build(dict(type='DCALViT', arch=TINY, img_size=32))
    path = str(tmp_path / 'vit.pth')
    torch.save(src.state_dict(), path)
    cfg = _cfg()
    cfg['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint=path)
    model = MODELS.build(cfg)
    model.init_weights()
    for k, v in src.blocks[-1].state_dict().items():
        torch.testing.assert_close(model.glca.block.state_dict()[k], v)
    torch.testing.assert_close(model.glca.norm.weight, src.norm.weight)


def test_head_and_branches_must_agree():
    cfg = _cfg()
    cfg['head']['with_pwca'] = False
    with pytest.raises(ValueError, match='head.with_pwca=False does not match pwca=given'):
        MODELS.build(cfg)


def test_baseline_is_plain_vit():
    torch.manual_seed(0)
    model = MODELS.build(_cfg(glca=False, pwca=False))
    assert not model.backbone.with_rollout
    assert type(model.data_preprocessor).__name__ == 'ClsDataPreprocessor'
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    data = model.data_preprocessor(dict(inputs=images, data_samples=[DataSample().set_gt_label(1)] * 2), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'sa_ce'}
