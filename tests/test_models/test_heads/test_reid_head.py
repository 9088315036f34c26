# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from mmpretrain.utils import register_all_modules

import dcal_mm  # noqa: F401
from dcal_mm.models.layers import BNNeck
from dcal_mm.models.losses import TripletLoss

register_all_modules()

LABELS = [0, 0, 1, 1, 2, 2, 3, 3]


@pytest.fixture(scope='module', autouse=True)
def single_thread():
    # Tiny tensors: on a shared 2-core machine OpenMP hand-offs dominate.
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num_threads)


def samples(labels=LABELS):
    return [DataSample().set_gt_label(label) for label in labels]


def build_head(**kwargs):
    cfg = dict(type='ReIDHead', num_classes=5, in_channels=16)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_bnneck_init_and_frozen_bias():
    torch.manual_seed(0)
    neck = BNNeck(256, 300)
    assert not neck.bn.bias.requires_grad and neck.bn.weight.requires_grad
    assert torch.equal(neck.bn.bias, torch.zeros(256)) and torch.equal(neck.bn.weight, torch.ones(256))
    assert neck.classifier.bias is None
    assert neck.classifier.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert neck.classifier.weight.mean().abs().item() < 1e-4

    # A training step leaves the bias at zero (it is not a parameter to optimise).
    optim = torch.optim.SGD([p for p in neck.parameters() if p.requires_grad], lr=1.0)
    x = torch.randn(8, 256) * 3 + 1
    bn_feat, logits = neck(x)
    assert bn_feat.shape == (8, 256) and logits.shape == (8, 300)
    torch.testing.assert_close(bn_feat, (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5))
    torch.testing.assert_close(logits, bn_feat @ neck.classifier.weight.t())
    (logits.sum() + bn_feat.pow(3).sum()).backward()
    assert neck.bn.bias.grad is None
    optim.step()
    assert torch.equal(neck.bn.bias, torch.zeros(256))
    with pytest.raises(ValueError, match=r'shape \(B, 256\)'):
        neck(torch.randn(8, 128))


def test_loss_values_and_gradient_reach_features():
    torch.manual_seed(0)
    head = build_head(loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
                      loss_triplet=dict(type='TripletLoss', margin=0.3), cal_acc=True)
    feat = torch.randn(8, 16, requires_grad=True)
    losses = head.loss((torch.randn(8, 3), feat), samples())
    assert set(losses) == {'loss_id', 'loss_triplet', 'accuracy_top-1'}

    target = torch.tensor(LABELS)
    mean, var = feat.mean(0), feat.var(0, unbiased=False)
    logits = ((feat - mean) / torch.sqrt(var + 1e-5)) @ head.bnneck.classifier.weight.t()
    torch.testing.assert_close(losses['loss_id'], F.cross_entropy(logits, target))
    # The triplet loss uses the feature before the BN.
    torch.testing.assert_close(losses['loss_triplet'], TripletLoss(margin=0.3)(feat, target))

    (losses['loss_id'] + losses['loss_triplet']).backward()
    assert feat.grad is not None and feat.grad.abs().sum() > 0
    assert head.bnneck.bn.bias.grad is None
    assert head.bnneck.classifier.weight.grad.abs().sum() > 0


def test_label_smoothing_and_no_triplet():
    torch.manual_seed(1)
    head = build_head(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), loss_triplet=None)
    feat = torch.randn(8, 16)
    losses = head.loss((feat, ), samples())
    assert set(losses) == {'loss_id'}
    _, _, logits = head((feat, ))
    smooth = F.one_hot(torch.tensor(LABELS), 5).float() * 0.9 + 0.1 / 5
    expected = -(smooth * F.log_softmax(logits, dim=1)).sum(1).mean()
    torch.testing.assert_close(losses['loss_id'], expected)


@pytest.mark.parametrize('neck_feat', ['before', 'after'])
def test_predict_feature_before_and_after_bn(neck_feat):
    torch.manual_seed(2)
    head = build_head(neck_feat=neck_feat)
    bn = head.bnneck.bn
    bn.running_mean.copy_(torch.randn(16))
    bn.running_var.copy_(torch.rand(16) + 0.5)
    bn.weight.data.copy_(torch.rand(16) + 0.5)
    head.eval()
    feat = torch.randn(3, 16)
    given = [DataSample().set_gt_label(7) for _ in range(3)]
    results = head.predict((feat, ), given)
    assert results[0] is given[0]
    after = (feat - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight
    expected = feat if neck_feat == 'before' else after
    for i, sample in enumerate(results):
        assert sample.pred_feature.shape == (16, )
        torch.testing.assert_close(sample.pred_feature, expected[i])
        assert int(sample.gt_label) == 7
    assert not torch.allclose(feat, after)
    # Without data samples new ones are created; a bare tensor works as a 1-tuple.
    created = head.predict(feat)
    assert len(created) == 3
    torch.testing.assert_close(torch.stack([s.pred_feature for s in created]), expected)


def test_head_errors():
    with pytest.raises(ValueError, match='neck_feat'):
        build_head(neck_feat='middle')
    head = build_head()
    with pytest.raises(ValueError, match=r'shape \(B, 16\) .* got \(8, 16, 2, 1\)'):
        head.loss((torch.randn(8, 16, 2, 1), ), samples())
    with pytest.raises(ValueError, match='gt_label'):
        head.loss((torch.randn(8, 16), ), [DataSample() for _ in range(8)])


def tiny_reid_model(head):
    return MODELS.build(
        dict(
            type='ReIDClassifier',
            backbone=dict(type='ResNet', depth=18, base_channels=8, out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=head))


def test_reid_classifier_loss_and_predict():
    torch.manual_seed(3)
    model = tiny_reid_model(dict(type='ReIDHead', num_classes=4, in_channels=64))
    inputs = torch.randn(8, 3, 32, 16)
    losses = model(inputs, samples(), mode='loss')
    assert set(losses) == {'loss_id', 'loss_triplet'}
    assert all(torch.isfinite(v) for v in losses.values())

    model.eval()
    with torch.no_grad():
        results = model(inputs[:3], [DataSample() for _ in range(3)], mode='predict')
        feats = model.extract_feat(inputs[:3])[-1]
    assert len(results) == 3
    for i, sample in enumerate(results):
        torch.testing.assert_close(sample.pred_feature, feats[i])
        assert 'pred_feature' in sample.to_dict()


def test_reid_classifier_rejects_head_without_feature():
    model = tiny_reid_model(dict(type='LinearClsHead', num_classes=4, in_channels=64))
    model.eval()
    with pytest.raises(ValueError, match='LinearClsHead did not set pred_feature on 2 of 2 samples'):
        model(torch.randn(2, 3, 32, 16), mode='predict')
