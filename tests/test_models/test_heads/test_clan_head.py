# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from mmpretrain.utils import register_all_modules

import dcal_mm  # noqa: F401
from dcal_mm.models.heads import CLANHead

CHANNELS = (8, 16, 24, 48)
MODEL_BASE = 'configs/_base_/models/clan_r50.py'


def make_feats(batch=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, c, generator=gen) for c in CHANNELS)


def make_samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def test_loss_is_sum_of_independent_branch_ce():
    head = CLANHead(num_classes=5, in_channels=CHANNELS)
    head.init_weights()
    feats, labels = make_feats(), torch.tensor([0, 3, 4, 1])
    losses = head.loss(feats, make_samples(labels))
    assert set(losses) == {'loss_mid1', 'loss_mid2', 'loss_top', 'loss_fused'}
    expected = [F.cross_entropy(F.linear(f, fc.weight, fc.bias), labels) for f, fc in zip(feats, head.fcs)]
    for key, ref in zip(['loss_mid1', 'loss_mid2', 'loss_top', 'loss_fused'], expected):
        torch.testing.assert_close(losses[key], ref)
    # MMEngine's parse_losses sums every ``loss`` key: the paper's total.
    total = sum(v for k, v in losses.items() if 'loss' in k)
    torch.testing.assert_close(total, sum(expected))


def test_label_smoothing_and_soft_targets():
    head = CLANHead(num_classes=5, in_channels=CHANNELS, loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1))
    feats, labels = make_feats(), torch.tensor([0, 3, 4, 1])
    losses = head.loss(feats, make_samples(labels))
    expected = sum(F.cross_entropy(x, labels, label_smoothing=0.1) for x in head(feats))
    torch.testing.assert_close(sum(losses.values()), expected)
    # Batch augmentations give soft targets in gt_score.
    head = CLANHead(num_classes=5, in_channels=CHANNELS)
    soft = torch.softmax(torch.randn(4, 5), dim=1)
    samples = [DataSample().set_gt_score(s) for s in soft]
    losses = head.loss(feats, samples)
    expected = sum(F.cross_entropy(x, soft) for x in head(feats))
    torch.testing.assert_close(sum(losses.values()), expected)


def test_predict_combines_branches():
    head = CLANHead(num_classes=3, in_channels=CHANNELS)
    logits = (torch.tensor([[4., 0., 0.]]), torch.tensor([[0., 1.,
                                                           0.]]), torch.tensor([[0., 1.,
                                                                                 0.]]), torch.tensor([[0., 1., 0.]]))
    mean_prob = head.combine_scores(logits)
    torch.testing.assert_close(mean_prob, torch.stack([x.softmax(1) for x in logits]).mean(0))
    head.combine = 'logit_sum'
    summed = head.combine_scores(logits)
    torch.testing.assert_close(summed, torch.tensor([[4., 3., 0.]]).softmax(1))
    # The two rules disagree here: one confident branch wins the logit sum only.
    assert mean_prob.argmax() == 1 and summed.argmax() == 0

    head = CLANHead(num_classes=5, in_channels=CHANNELS, cal_acc=True)
    feats, labels = make_feats(), torch.tensor([0, 3, 4, 1])
    preds = head.predict(feats, make_samples(labels))
    scores = head.combine_scores(head(feats))
    for i, p in enumerate(preds):
        torch.testing.assert_close(p.pred_score, scores[i])
        assert p.pred_label.item() == scores[i].argmax().item()
        assert p.gt_label.item() == labels[i]
        torch.testing.assert_close(p.pred_score.sum(), torch.tensor(1.))
    acc = head.loss(feats, make_samples(labels))['accuracy_top-1']
    expected_acc = (scores.argmax(1) == labels).float().mean() * 100
    torch.testing.assert_close(torch.as_tensor(acc).flatten()[0], expected_acc)


def test_head_checks_arguments():
    with pytest.raises(ValueError, match='combine'):
        CLANHead(num_classes=5, in_channels=CHANNELS, combine='vote')
    with pytest.raises(ValueError, match='branch_names'):
        CLANHead(num_classes=5, in_channels=CHANNELS, branch_names=('a', 'a', 'b', 'c'))
    head = CLANHead(num_classes=5, in_channels=CHANNELS)
    with pytest.raises(ValueError, match='expects 4 branch features'):
        head(make_feats()[:3])


def build_demo_model():
    """The repo's CLAN model config with a ResNet-18, built via the registry."""
    register_all_modules()
    cfg = Config.fromfile(MODEL_BASE).model
    cfg.backbone.update(arch='resnet18', init_cfg=None)
    cfg.neck.in_channels = (128, 256, 512)
    cfg.head.update(num_classes=5, in_channels=(128, 256, 512, 1024))
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_model_from_config_gradients_reach_every_branch():
    torch.manual_seed(0)
    model = build_demo_model()
    assert type(model).__name__ == 'ImageClassifier'
    # Open the zero-initialised CLCA gates so that gradients reach all of CLCA.
    for clca in model.neck.clca:
        torch.nn.init.constant_(clca.out_norm.weight, 0.5)
    inputs = torch.randn(2, 3, 32, 32)
    samples = make_samples([1, 4])
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss_mid1', 'loss_mid2', 'loss_top', 'loss_fused'}
    named = dict(model.named_parameters())
    # The top branch's loss does not depend on the CLAN modules; the fused one does.
    clan_params = [named['neck.clsa.0.conv.weight'], named['neck.clca.1.query.weight']]
    grads_top = torch.autograd.grad(losses['loss_top'], clan_params, retain_graph=True, allow_unused=True)
    assert all(g is None for g in grads_top)
    grads_fused = torch.autograd.grad(losses['loss_fused'], clan_params, retain_graph=True)
    assert all(g.abs().sum() > 0 for g in grads_fused)

    sum(losses.values()).backward()
    # timm zero-inits the last BN of each block, so check its weight, not the conv before it.
    for name in ['backbone.conv1.weight', 'backbone.layer4.1.bn2.weight']:
        assert named[name].grad.abs().sum() > 0, name
    for i in range(2):
        for part in ['top_proj', 'mid_proj', 'query', 'key', 'value', 'out_proj']:
            assert named[f'neck.clca.{i}.{part}.weight'].grad.abs().sum() > 0, (i, part)
        assert named[f'neck.clsa.{i}.conv.weight'].grad.abs().sum() > 0, i
    for i in range(4):
        assert named[f'head.fcs.{i}.weight'].grad.abs().sum() > 0, i


def test_model_predict_and_tensor_modes_agree():
    torch.manual_seed(0)
    model = build_demo_model().eval()
    inputs = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(inputs, mode='tensor')
        preds = model(inputs, make_samples([0, 2]), mode='predict')
    assert len(logits) == 4 and all(x.shape == (2, 5) for x in logits)
    scores = model.head.combine_scores(logits)
    for i, p in enumerate(preds):
        torch.testing.assert_close(p.pred_score, scores[i])
