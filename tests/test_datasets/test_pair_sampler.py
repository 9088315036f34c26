# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import torch

import dcal_mm  # noqa: F401
from dcal_mm.datasets import PairSampler, PKBatchSampler
from dcal_mm.datasets.samplers import pk_sampler
from dcal_mm.models.utils import PARTNER_POLICIES, draw_partners


class LabelDataset:

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def __len__(self):
        return len(self.labels)

    def get_gt_labels(self):
        return self.labels


# an FGVC-like set: 25 classes of 5-9 images in shuffled order
LABELS = np.random.default_rng(1).permutation(np.repeat(np.arange(25), np.arange(25) % 5 + 5))


def test_every_partner_policy_runs_on_every_batch():
    sampler = PairSampler(LabelDataset(LABELS), num_classes=8, num_instances=2, seed=0)
    batches = list(PKBatchSampler(sampler, batch_size=16))
    assert len(batches) == sampler.num_batches > 5
    g = torch.Generator().manual_seed(0)
    for batch in batches:
        labels = torch.as_tensor(LABELS[batch])
        assert len(set(labels.tolist())) == 8
        for policy in PARTNER_POLICIES:
            partners = draw_partners(16, labels, policy, generator=g)
            assert (partners != torch.arange(16)).all()
            same = labels[partners] == labels
            if policy == 'intra':
                assert same.all()
            if policy == 'inter':
                assert not same.any()


def test_a_plain_fgvc_batch_cannot_run_intra_pairs():
    """Why the sampler exists: a shuffled batch of an FGVC set has images without a same-class partner."""
    labels = torch.as_tensor(LABELS[np.random.default_rng(0).permutation(len(LABELS))[:16]])
    with pytest.raises(ValueError, match='has no allowed partner'):
        draw_partners(16, labels, 'intra')


def test_deterministic_per_seed_and_epoch_and_split_across_ranks(monkeypatch):
    def epoch_indices(seed, epoch, rank=0, world=1):
        monkeypatch.setattr(pk_sampler, 'get_dist_info', lambda: (rank, world))
        sampler = PairSampler(LabelDataset(LABELS), num_classes=4, num_instances=2, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert epoch_indices(0, 1) == epoch_indices(0, 1)
    assert epoch_indices(0, 1) != epoch_indices(0, 2) != epoch_indices(1, 1)
    ranks = [epoch_indices(0, 1, rank, 2) for rank in (0, 1)]
    assert len(ranks[0]) == len(ranks[1])
    # ranks take disjoint whole batches of the same global epoch
    batches = [set(map(tuple, np.asarray(r).reshape(-1, 8).tolist())) for r in ranks]
    assert not batches[0] & batches[1]


@pytest.mark.parametrize('kwargs', [dict(num_instances=1), dict(num_classes=1), dict(num_classes=True)])
def test_fewer_than_two_is_a_clear_error(kwargs):
    with pytest.raises(ValueError, match=r'PairSampler: num_\w+ must be an int >= 2'):
        PairSampler(LabelDataset(LABELS), seed=0, **kwargs)
