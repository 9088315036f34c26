# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch

from dcal_mm.models.utils import draw_partners


def test_random_partners_form_one_cycle_with_uniform_partners():
    g = torch.Generator().manual_seed(0)
    B, counts = 5, torch.zeros(5, 5)
    for _ in range(4000):
        p = draw_partners(B, policy='random', generator=g)
        assert sorted(p.tolist()) == list(range(B))  # every image is the partner of exactly one image
        i, seen = 0, set()
        while i not in seen:
            seen.add(i)
            i = int(p[i])
        assert len(seen) == B  # one cycle: no image is its own partner, no isolated pair
        counts[torch.arange(B), p] += 1
    assert counts.diagonal().sum() == 0
    off = counts[~torch.eye(B, dtype=torch.bool)]
    assert (off - 1000).abs().max() < 120  # each other image ~1/4 of the time (sd ~27)


def test_partners_are_reproducible_from_the_global_seed_and_redrawn():
    torch.manual_seed(3)
    a, b = draw_partners(16), draw_partners(16)
    torch.manual_seed(3)
    assert torch.equal(draw_partners(16), a)
    assert not torch.equal(a, b)


@pytest.mark.parametrize('policy', ['intra', 'inter', 'mixed'])
def test_label_policies(policy):
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])  # a P x K batch
    same = 0
    for _ in range(300):
        p = draw_partners(12, labels, policy, generator=g)
        assert (p != torch.arange(12)).all()
        same += int((labels[p] == labels).sum())
    rate = same / (300 * 12)
    expected = {'intra': 1.0, 'inter': 0.0, 'mixed': 0.5}[policy]
    assert abs(rate - expected) < 0.03


def test_impossible_pairs_are_errors():
    with pytest.raises(ValueError, match=r"policy 'intra': image 2 \(label 7\) has no allowed partner"):
        draw_partners(3, torch.tensor([1, 1, 7]), 'intra')
    with pytest.raises(ValueError, match="policy 'inter'"):
        draw_partners(2, torch.tensor([4, 4]), 'inter')
    with pytest.raises(ValueError, match='needs one label per image'):
        draw_partners(3, None, 'intra')
    with pytest.raises(ValueError, match='partner policy must be one of'):
        draw_partners(3, policy='coco')
    assert draw_partners(1).tolist() == [0]  # a batch of one: its own partner (warned)
