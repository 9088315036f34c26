# Copyright (c) OpenMMLab. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmpretrain.structures import DataSample

from dcal_mm.models.heads import DCALClsHead, DCALFeatures
from dcal_mm.models.losses import UncertaintyWeighting


def _samples(labels):
    return [DataSample().set_gt_label(int(i)) for i in labels]


def _feats(B=4, C=8, pwca=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    return DCALFeatures(*(torch.randn(B, C, generator=g) for _ in range(3 if pwca else 2)))


def test_dynamic_loss_value_and_weight_gradients():
    head = DCALClsHead(num_classes=5, in_channels=8)
    with torch.no_grad():
        head.loss_weighting.loss_log_vars.copy_(torch.tensor([0.2, -0.3, 0.5]))
    feats, labels = _feats(), torch.tensor([0, 1, 2, 4])
    losses = head.loss(feats, _samples(labels))
    ce = [F.cross_entropy(head.sa_fc(feats.sa), labels), F.cross_entropy(head.glca_fc(feats.glca), labels),
          F.cross_entropy(head.sa_fc(feats.pwca), labels)]  # PWCA shares the SA classifier
    w = [0.2, -0.3, 0.5]
    expected = 0.5 * sum(math.exp(-wi) * li + wi for wi, li in zip(w, ce))
    torch.testing.assert_close(losses['loss'], expected)
    for name, li in zip(['sa', 'glca', 'pwca'], ce):
        torch.testing.assert_close(losses[f'{name}_ce'], li.detach())
    losses['loss'].backward()
    # d/dw_i 0.5 * (exp(-w_i) L_i + w_i) = 0.5 * (1 - exp(-w_i) L_i)
    expected_grad = torch.tensor([0.5 * (1 - math.exp(-wi) * li.item()) for wi, li in zip(w, ce)])
    torch.testing.assert_close(head.loss_weighting.loss_log_vars.grad, expected_grad)


def test_loss_weights_get_no_weight_decay_with_the_schedule_config():
    head = DCALClsHead(num_classes=5, in_channels=8)
    optim = build_optim_wrapper(head, dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(custom_keys={'loss_log_vars': dict(decay_mult=0.0)})))
    decays = {id(p): g['weight_decay'] for g in optim.optimizer.param_groups for p in g['params']}
    assert decays[id(head.loss_weighting.loss_log_vars)] == 0.0
    assert decays[id(head.sa_fc.weight)] == 0.05


def test_sum_weighting_and_baseline():
    feats, labels = _feats(), torch.tensor([0, 1, 2, 3])
    head = DCALClsHead(num_classes=5, in_channels=8, loss_weighting='sum')
    losses = head.loss(feats, _samples(labels))
    torch.testing.assert_close(losses['loss'], losses['sa_ce'] + losses['glca_ce'] + losses['pwca_ce'])
    baseline = DCALClsHead(num_classes=5, in_channels=8, with_glca=False, with_pwca=False, predict_mode='sa')
    assert baseline.loss_weighting is None
    losses = baseline.loss(DCALFeatures(feats.sa), _samples(labels))
    torch.testing.assert_close(losses['loss'], F.cross_entropy(baseline.sa_fc(feats.sa), labels))


def test_predict_modes():
    feats = _feats(pwca=False)
    head = DCALClsHead(num_classes=5, in_channels=8)
    p_sa, p_glca = head.sa_fc(feats.sa).softmax(1), head.glca_fc(feats.glca).softmax(1)
    for mode, expected in [('sum', 0.5 * (p_sa + p_glca)), ('sa', p_sa), ('glca', p_glca)]:
        head.predict_mode = mode
        out = head.predict(feats)
        torch.testing.assert_close(torch.stack([o.pred_score for o in out]), expected)
        assert [int(o.pred_label) for o in out] == expected.argmax(1).tolist()


def test_bad_arguments_and_labels():
    with pytest.raises(ValueError, match='predict_mode must be one of'):
        DCALClsHead(num_classes=5, in_channels=8, with_glca=False, predict_mode='sum')
    with pytest.raises(ValueError, match='loss_weighting'):
        DCALClsHead(num_classes=5, in_channels=8, loss_weighting='fixed')
    head = DCALClsHead(num_classes=5, in_channels=8)
    with pytest.raises(ValueError, match='label 7 is out of range for num_classes=5'):
        head.loss(_feats(), _samples([0, 1, 2, 7]))
    with pytest.raises(ValueError, match='expected branches'):
        head.loss(_feats(pwca=False), _samples([0, 1, 2, 3]))
    with pytest.raises(ValueError, match='expects 3 losses'):
        UncertaintyWeighting(3)([torch.tensor(1.)])
