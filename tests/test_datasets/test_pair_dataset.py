# Copyright (c) OpenMMLab. All rights reserved.
import numpy as np
import pytest
import torch
from mmengine.dataset import BaseDataset, default_collate, pseudo_collate
from mmpretrain.structures import DataSample

from dcal_mm.datasets import PairDataset
from dcal_mm.models.utils import PairDataPreprocessor


class _Labelled(BaseDataset):
    """Samples whose image encodes their index, with fixed labels."""

    def __init__(self, labels):
        self.labels = labels
        super().__init__(serialize_data=False)

    def load_data_list(self):
        return [dict(gt_label=int(label), idx=i) for i, label in enumerate(self.labels)]

    def get_gt_labels(self):
        return np.array(self.labels)

    def prepare_data(self, idx):
        return dict(inputs=torch.full((3, 4, 4), idx, dtype=torch.uint8),
                    data_samples=DataSample().set_gt_label(self.labels[idx]))


LABELS = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3]
PAIRABLE = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3]  # every class has 2+ samples


@pytest.mark.parametrize('policy', PairDataset.POLICIES)
def test_policies(policy):
    ds = PairDataset(_Labelled(PAIRABLE), policy=policy, seed=3)
    labels = np.array(PAIRABLE)
    same = []
    for epoch in range(20):
        for i in range(len(ds)):
            j = ds.partner_index(i, epoch)
            assert j != i and 0 <= j < len(ds)
            same.append(labels[i] == labels[j])
    same = np.array(same)
    if policy == 'intra':
        assert same.all()
    elif policy == 'inter':
        assert not same.any()
    else:
        assert 0 < same.mean() < 1
    if policy == 'mixed':
        assert abs(same.mean() - 0.5) < 0.1
    if policy == 'random':  # uniform over the 10 others: P(same class) = mean over i of (n_c - 1) / 10
        expected = np.mean([(labels == label).sum() - 1 for label in labels]) / 10
        assert abs(same.mean() - expected) < 0.1


def test_random_partners_are_uniform():
    ds = PairDataset(_Labelled(LABELS), seed=0)
    counts = np.bincount([ds.partner_index(0, e) for e in range(1800)], minlength=10)
    assert counts[0] == 0
    assert counts[1:].min() > 150 and counts[1:].max() < 250  # 200 expected for each of 9


def test_reproducible_per_seed_and_epoch():
    a, b = PairDataset(_Labelled(LABELS), seed=1), PairDataset(_Labelled(LABELS), seed=1)
    other_seed = PairDataset(_Labelled(LABELS), seed=2)
    epoch0 = [a.partner_index(i, 0) for i in range(10)]
    assert epoch0 == [b.partner_index(i, 0) for i in range(10)]
    assert epoch0 != [a.partner_index(i, 1) for i in range(10)]
    assert epoch0 != [other_seed.partner_index(i, 0) for i in range(10)]
    a.set_epoch(1)
    assert [a.partner_index(i) for i in range(10)] == [b.partner_index(i, 1) for i in range(10)]


def test_epoch_reaches_persistent_workers():
    ds = PairDataset(_Labelled(LABELS), seed=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=10, num_workers=1, persistent_workers=True,
                                         collate_fn=pseudo_collate)
    for epoch in range(2):
        ds.set_epoch(epoch)
        batch = next(iter(loader))
        partners = [int(p[0, 0, 0]) for p in batch['inputs'][1]]
        assert partners == [ds.partner_index(i, epoch) for i in range(10)]


def test_getitem_packs_target_and_partner():
    ds = PairDataset(_Labelled(LABELS), policy='inter', seed=0)
    item = ds[4]
    target, partner = item['inputs']
    j = ds.partner_index(4)
    assert int(target[0, 0, 0]) == 4 and int(partner[0, 0, 0]) == j
    assert item['data_samples'].partner_idx == j and item['data_samples'].partner_label == LABELS[j]
    assert list(ds.get_gt_labels()) == LABELS and len(ds) == 10


def test_errors():
    with pytest.raises(ValueError, match='policy must be one of'):
        PairDataset(_Labelled(LABELS), policy='hard')
    with pytest.raises(ValueError, match=r"'intra' needs 2\+ samples per class; classes \[3\] have one"):
        PairDataset(_Labelled(LABELS), policy='intra')
    with pytest.raises(ValueError, match=r"'inter' needs 2\+ classes"):
        PairDataset(_Labelled([1, 1, 1]), policy='inter')
    with pytest.raises(ValueError, match='at least 2 samples'):
        PairDataset(_Labelled([1]))


@pytest.mark.parametrize('collate', [pseudo_collate, default_collate])
def test_preprocessor_stacks_pairs_with_the_same_normalisation(collate):
    ds = PairDataset(_Labelled(LABELS), seed=0)
    batch = collate([ds[i] for i in range(4)])
    pre = PairDataPreprocessor(mean=[1., 2., 3.], std=[2., 2., 2.], to_rgb=True)
    out = pre(batch, training=True)
    assert out['inputs'].shape == (4, 2, 3, 4, 4)
    for i in range(4):
        j = ds.partner_index(i)
        for view, value in ((0, i), (1, j)):
            expected = (torch.full((3, ), float(value)) - torch.tensor([1., 2., 3.])) / 2
            torch.testing.assert_close(out['inputs'][i, view, :, 0, 0], expected)
    assert [int(s.gt_label) for s in out['data_samples']] == LABELS[:4]
    plain = pre(dict(inputs=[torch.zeros(3, 4, 4, dtype=torch.uint8)] * 2, data_samples=None))
    assert plain['inputs'].shape == (2, 3, 4, 4)
