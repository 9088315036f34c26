# Copyright (c) OpenMMLab. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import dcal_mm  # noqa: F401
from dcal_mm.models.losses import TripletLoss


def brute_force_triplet(feats, labels, margin=None):
    """Independent reference: explicit loops over anchors and candidates."""
    terms = []
    n = len(labels)
    for i in range(n):
        pos = [torch.sqrt(((feats[i] - feats[j])**2).sum()) for j in range(n) if j != i and labels[j] == labels[i]]
        neg = [torch.sqrt(((feats[i] - feats[k])**2).sum()) for k in range(n) if labels[k] != labels[i]]
        d_ap = max(pos, key=lambda d: d.item())
        d_an = min(neg, key=lambda d: d.item())
        if margin is None:
            terms.append(torch.log1p(torch.exp(d_ap - d_an)))
        else:
            terms.append(torch.clamp(d_ap - d_an + margin, min=0))
    return torch.stack(terms).mean()


def random_batch(seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(9, 5, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    return feats, labels


@pytest.mark.parametrize('margin', [None, 0.3, 5.0])
def test_value_and_grad_match_brute_force(margin):
    feats, labels = random_batch()
    x1 = feats.clone().requires_grad_()
    x2 = feats.clone().requires_grad_()
    loss = TripletLoss(margin=margin)(x1, labels)
    ref = brute_force_triplet(x2, labels, margin)
    assert loss.item() > 0
    torch.testing.assert_close(loss, ref)
    loss.backward()
    ref.backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_normalize_feature_and_weight():
    feats, labels = random_batch(1)
    feats = feats * 7
    loss = TripletLoss(normalize_feature=True, loss_weight=2.0)(feats, labels)
    ref = brute_force_triplet(F.normalize(feats, dim=1), labels)
    torch.testing.assert_close(loss, 2 * ref)
    # Unnormalised features at scale 7 give a different value.
    assert not torch.allclose(TripletLoss()(feats, labels), ref)


def test_half_precision_features_use_float32_distances():
    # Around 1e4 fp16 values are 8-16 apart, so |a|^2 + |b|^2 - 2ab would lose d_ap = 1 and 3 entirely.
    feats = torch.tensor([[100., 0.], [101., 0.], [0., 100.], [0., 103.]]).half()
    labels = torch.tensor([0, 0, 1, 1])
    loss = TripletLoss(margin=0.3)(feats, labels)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, brute_force_triplet(feats.float(), labels, 0.3))
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        loss = TripletLoss(margin=0.3)(feats.float(), labels)
    torch.testing.assert_close(loss, brute_force_triplet(feats.float(), labels, 0.3))


def test_soft_margin_is_softplus_of_gap():
    # Two identities on a line: d_ap = 1 for every anchor, d_an = 4, 3, 3, 4.
    feats = torch.tensor([[0.], [1.], [4.], [5.]])
    labels = torch.tensor([0, 0, 1, 1])
    expected = (math.log1p(math.exp(1 - 4)) + math.log1p(math.exp(1 - 3))) / 2
    assert TripletLoss()(feats, labels).item() == pytest.approx(expected, rel=1e-6)
    assert TripletLoss(margin=0.3)(feats, labels).item() == 0
    assert TripletLoss(margin=2.5)(feats, labels).item() == pytest.approx(0.25, rel=1e-6)


def test_gradient_only_reaches_hardest_pairs():
    # p2 is never the hardest positive or negative of any anchor and its own
    # triplet is satisfied by more than the margin, so it gets no gradient.
    feats = torch.tensor([
        [0.0, 0.0],  # p0: hardest pos p1 (1.0), hardest neg q0 (1.118), active
        [1.0, 0.0],  # p1: hardest pos p0, hardest neg q1, active
        [0.4, 0.0],  # p2: hardest pos p1 (0.6), hardest neg q0 (1.487), inactive
        [-1.0, 0.5],  # q0: hardest pos q1 (3.0), hardest neg p0
        [2.0, 0.5],  # q1: hardest pos q0, hardest neg p1
    ], requires_grad=True)
    labels = torch.tensor([0, 0, 0, 1, 1])
    TripletLoss(margin=0.3)(feats, labels).backward()
    assert torch.equal(feats.grad[2], torch.zeros(2))
    for i in (0, 1, 3, 4):
        assert feats.grad[i].abs().sum() > 0


def test_identical_features_give_finite_grad():
    feats = torch.zeros(4, 3, requires_grad=True)
    loss = TripletLoss()(feats, torch.tensor([0, 0, 1, 1]))
    loss.backward()
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)
    assert torch.isfinite(feats.grad).all()


def test_bad_batches():
    loss = TripletLoss()
    with pytest.raises(ValueError, match='anchor 2 .*no other sample of its identity'):
        loss(torch.randn(4, 3), torch.tensor([0, 0, 1, 2]))
    with pytest.raises(ValueError, match='no negative'):
        loss(torch.randn(4, 3), torch.tensor([5, 5, 5, 5]))
    with pytest.raises(ValueError, match='3 labels for 4 features'):
        loss(torch.randn(4, 3), torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match=r'shape \(B, C\)'):
        loss(torch.randn(4, 3, 1), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match='margin'):
        TripletLoss(margin=-1.0)


def test_registry():
    loss = MODELS.build(dict(type='TripletLoss', margin=0.3, loss_weight=0.5))
    assert isinstance(loss, TripletLoss)
    assert loss.margin == 0.3 and loss.loss_weight == 0.5
