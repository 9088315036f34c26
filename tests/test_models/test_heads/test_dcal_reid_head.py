# Copyright (c) OpenMMLab. All rights reserved.
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import dcal_mm  # noqa: F401
from dcal_mm.models.heads import DCALFeatures, DCALReIDHead

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
C, NUM_IDS = 8, 5
LABELS = torch.tensor([0, 0, 3, 3, 1, 1, 4, 4])  # P x K = 4 x 2


def _samples(labels):
    return [DataSample().set_gt_label(int(i)) for i in labels]


def _feats(B=8, branches=3, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    feats = [(torch.randn(B, C, generator=g) * (i + 1) + i).requires_grad_(requires_grad) for i in range(branches)]
    return DCALFeatures(*feats)


# ---- independent references ----
def _bn_train(x, weight):
    """BatchNorm1d in training mode with a zero bias: batch mean, biased variance."""
    mean = x.mean(0)
    var = ((x - mean)**2).mean(0)
    return (x - mean) / torch.sqrt(var + 1e-5) * weight


def _triplet(x, labels, margin=None):
    """Batch-hard triplet loss by explicit loops."""
    terms = []
    for i in range(len(x)):
        d = [torch.sqrt(((x[i] - x[j])**2).sum()) for j in range(len(x))]
        d_ap = max(d[j] for j in range(len(x)) if j != i and labels[j] == labels[i])
        d_an = min(d[j] for j in range(len(x)) if labels[j] != labels[i])
        terms.append(F.softplus(d_ap - d_an) if margin is None else F.relu(d_ap - d_an + margin))
    return torch.stack(terms).mean()


def _branch_losses(head, feats, labels, margin=None):
    """ID + triplet per branch; PWCA uses SA's BN affine and classifier."""
    necks = dict(sa=head.sa_neck, glca=head.glca_neck, pwca=head.sa_neck)
    out = {}
    for name in head.branches:
        x = getattr(feats, name)
        neck = necks[name]
        logits = _bn_train(x, neck.bn.weight) @ neck.classifier.weight.t()
        out[name] = (F.cross_entropy(logits, labels), _triplet(x, labels, margin))
    return out


def _set_params(head, seed=1):
    """Non-trivial BN weights and classifiers, so every parameter matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for neck in (head.sa_neck, head.glca_neck):
            if neck is not None:
                neck.bn.weight.copy_(torch.rand(C, generator=g) + 0.5)
                neck.classifier.weight.copy_(torch.randn(NUM_IDS, C, generator=g))


def test_dynamic_loss_equals_reference_id_plus_triplet_per_branch():
    head = DCALReIDHead(num_classes=NUM_IDS, in_channels=C)
    _set_params(head)
    w = [0.3, -0.2, 0.5]
    with torch.no_grad():
        head.loss_weighting.loss_log_vars.copy_(torch.tensor(w))
    feats = _feats()
    losses = head.loss(feats, _samples(LABELS))
    ref = _branch_losses(head, feats, LABELS)
    expected = 0.5 * sum(math.exp(-wi) * (ref[b][0] + ref[b][1]) + wi for wi, b in zip(w, ['sa', 'glca', 'pwca']))
    torch.testing.assert_close(losses['loss'], expected)
    for b in ('sa', 'glca', 'pwca'):
        torch.testing.assert_close(losses[f'{b}_id'], ref[b][0].detach())
        torch.testing.assert_close(losses[f'{b}_triplet'], ref[b][1].detach())
    torch.testing.assert_close(torch.stack([losses[f'{b}_w'] for b in ('sa', 'glca', 'pwca')]), torch.tensor(w))
    # mmengine sums every key containing 'loss': only the total may contain it
    assert [k for k in losses if 'loss' in k] == ['loss']


def test_sum_weighting_fixed_margin_and_label_smoothing():
    head = DCALReIDHead(num_classes=NUM_IDS, in_channels=C, loss_weighting='sum',
                        loss_triplet=dict(type='TripletLoss', margin=0.3),
                        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'))
    _set_params(head)
    assert head.loss_weighting is None
    feats = _feats(seed=3)
    losses = head.loss(feats, _samples(LABELS))
    total = 0
    for name, neck in (('sa', head.sa_neck), ('glca', head.glca_neck), ('pwca', head.sa_neck)):
        x = getattr(feats, name)
        log_p = F.log_softmax(_bn_train(x, neck.bn.weight) @ neck.classifier.weight.t(), dim=1)
        target = 0.9 * F.one_hot(LABELS, NUM_IDS) + 0.1 / NUM_IDS
        smoothed = -(target * log_p).sum(1).mean()
        tri = _triplet(x, LABELS, margin=0.3)
        torch.testing.assert_close(losses[f'{name}_id'], smoothed.detach())
        torch.testing.assert_close(losses[f'{name}_triplet'], tri.detach())
        total = total + smoothed + tri
    torch.testing.assert_close(losses['loss'], total)


def test_baseline_is_single_bnneck_id_plus_triplet():
    head = DCALReIDHead(num_classes=NUM_IDS, in_channels=C, with_glca=False, with_pwca=False)
    _set_params(head)
    assert head.predict_mode == 'sa' and not head.needs_glca
    assert head.glca_neck is None and head.loss_weighting is None
    assert not any('loss_log_vars' in n for n, _ in head.named_parameters())
    feats = _feats(branches=1)
    losses = head.loss(feats, _samples(LABELS))
    ref = _branch_losses(head, feats, LABELS)['sa']
    torch.testing.assert_close(losses['loss'], ref[0] + ref[1])
    assert set(losses) == {'loss', 'sa_id', 'sa_triplet'}
    out = head.predict(feats)
    torch.testing.assert_close(torch.stack([s.pred_feature for s in out]), feats[0])


def test_bnneck_bias_frozen_and_gradients_reach_all_branches_and_weights():
    head = DCALReIDHead(num_classes=NUM_IDS, in_channels=C)
    for neck in (head.sa_neck, head.glca_neck):
        assert not neck.bn.bias.requires_grad and neck.classifier.bias is None
    feats = _feats(requires_grad=True)
    head.loss(feats, _samples(LABELS))['loss'].backward()
    for name in ('sa', 'glca', 'pwca'):
        assert getattr(feats, name).grad.abs().sum() > 0, name
    assert (head.loss_weighting.loss_log_vars.grad.abs() > 0).all()
    for neck in (head.sa_neck, head.glca_neck):
        assert neck.bn.bias.grad is None and neck.bn.weight.grad.abs().sum() > 0
        assert neck.classifier.weight.grad.abs().sum() > 0
    opt = torch.optim.SGD([p for p in head.parameters() if p.requires_grad], lr=1.0)
    opt.step()
    assert head.sa_neck.bn.bias.abs().sum() == 0 and head.glca_neck.bn.bias.abs().sum() == 0


def test_pwca_shares_sa_bnneck_without_touching_its_running_stats():
    head = DCALReIDHead(num_classes=NUM_IDS, in_channels=C)
    solo = DCALReIDHead(num_classes=NUM_IDS, in_channels=C, with_pwca=False)
    feats = _feats()
    head.loss(feats, _samples(LABELS))
    solo.loss(DCALFeatures(feats[0], feats[1]), _samples(LABELS))
    # running stats see the SA features only, as when PWCA is absent
    torch.testing.assert_close(head.sa_neck.bn.running_mean, solo.sa_neck.bn.running_mean)
    torch.testing.assert_close(head.sa_neck.bn.running_var, solo.sa_neck.bn.running_var)
    assert int(head.sa_neck.bn.num_batches_tracked) == 1
    # the PWCA logits use SA's affine and classifier on the PWCA batch statistics
    _, bn_pwca, logits = head(feats)['pwca']
    torch.testing.assert_close(bn_pwca, _bn_train(feats.pwca, head.sa_neck.bn.weight))
    torch.testing.assert_close(logits, bn_pwca @ head.sa_neck.classifier.weight.t())


@pytest.mark.parametrize('mode,neck_feat', [('concat', 'before'), ('concat', 'after'), ('sa', 'before'),
                                            ('glca', 'after')])
def test_predict_feature(mode, neck_feat):
    head = DCALReIDHead(num_classes=NUM_IDS, in_channels=C, predict_mode=mode, neck_feat=neck_feat)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for neck in (head.sa_neck, head.glca_neck):
            neck.bn.running_mean.copy_(torch.randn(C, generator=g))
            neck.bn.running_var.copy_(torch.rand(C, generator=g) + 0.5)
            neck.bn.weight.copy_(torch.rand(C, generator=g) + 0.5)
    head.eval()
    feats = _feats(branches=2)
    assert head.needs_glca == (mode != 'sa')

    def after(x, bn):  # eval-mode BN with the running statistics and zero bias
        return (x - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight

    parts = dict(sa=feats[0], glca=feats[1])
    if neck_feat == 'after':
        parts = dict(sa=after(feats[0], head.sa_neck.bn), glca=after(feats[1], head.glca_neck.bn))
    expected = torch.cat([parts['sa'], parts['glca']], 1) if mode == 'concat' else parts[mode]
    samples = head.predict(DCALFeatures(feats[0], feats[1] if head.needs_glca else None),
                           [DataSample() for _ in range(8)])
    got = torch.stack([s.pred_feature for s in samples])
    assert got.shape == (8, 2 * C if mode == 'concat' else C)
    torch.testing.assert_close(got, expected)


def test_bad_configs_and_inputs_raise():
    with pytest.raises(ValueError, match='predict_mode'):
        DCALReIDHead(num_classes=NUM_IDS, in_channels=C, with_glca=False, predict_mode='concat')
    with pytest.raises(ValueError, match='neck_feat'):
        DCALReIDHead(num_classes=NUM_IDS, in_channels=C, neck_feat='middle')
    with pytest.raises(ValueError, match='loss_weighting'):
        DCALReIDHead(num_classes=NUM_IDS, in_channels=C, loss_weighting='fixed')
    head = DCALReIDHead(num_classes=NUM_IDS, in_channels=C)
    with pytest.raises(ValueError, match='expected branches'):
        head.loss(_feats(branches=2), _samples(LABELS))
    with pytest.raises(ValueError, match=r'train labels must be in \[0, 5\)'):
        head.loss(_feats(), _samples(LABELS + 1))
    with pytest.raises(ValueError, match=r'class token of shape \(B, 8\)'):
        head.loss(DCALFeatures(torch.randn(8, 4), torch.randn(8, 4), torch.randn(8, 4)), _samples(LABELS))
    with pytest.raises(ValueError, match='needs the GLCA class token'):
        head.predict(_feats(branches=1))


def _pk_batch(model, P=4, K=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, 64, 32), generator=g, dtype=torch.uint8) for _ in range(P * K)]
    samples = [DataSample().set_gt_label(i // K) for i in range(P * K)]
    return model.data_preprocessor(dict(inputs=images, data_samples=samples), True)


def test_dcal_reid_model_from_the_demo_config_trains_on_pk_batches_and_predicts_concat():
    cfg = Config.fromfile(osp.join(REPO, 'configs/dcal/demo_reid.py'))
    model_cfg = cfg.model
    model_cfg.data_preprocessor = cfg.data_preprocessor
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    assert type(model.head) is DCALReIDHead and model.glca.top_ratio == 0.3
    width = model.backbone.embed_dims
    data = _pk_batch(model)
    assert data['inputs'].shape == (8, 3, 64, 32)
    model.train()
    losses = model(**data, mode='loss')
    assert {'loss', 'sa_id', 'sa_triplet', 'glca_id', 'glca_triplet', 'pwca_id', 'pwca_triplet'} <= set(losses)
    losses['loss'].backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert no_grad == []
    model.eval()
    with torch.no_grad():
        out = model(data['inputs'], [DataSample() for _ in range(8)], mode='predict')
        feats = model.extract_feat(data['inputs'])
    got = torch.stack([s.pred_feature for s in out])
    assert got.shape == (8, 2 * width)
    torch.testing.assert_close(got, torch.cat([feats[0], feats[1]], 1))
