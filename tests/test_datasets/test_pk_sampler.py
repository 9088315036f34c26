# Copyright (c) OpenMMLab. All rights reserved.
from collections import Counter

import numpy as np
import pytest
from mmengine.runner import Runner
from mmpretrain.utils import register_all_modules

import dcal_mm  # noqa: F401
from dcal_mm.datasets import PKBatchSampler, PKSampler
from dcal_mm.datasets.samplers import pk_sampler

register_all_modules()


class LabelDataset:
    """Sample i is the index i with identity labels[i]."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return idx

    def get_gt_labels(self):
        return self.labels


# 12 identities with 1..20 images, shuffled positions, sparse label values
COUNTS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 20]
LABELS = np.random.default_rng(0).permutation(np.repeat(np.arange(len(COUNTS)) * 7 + 3, COUNTS))


def set_world(monkeypatch, rank, world_size):
    monkeypatch.setattr(pk_sampler, 'get_dist_info', lambda: (rank, world_size))


def groups(indices, labels, P, K):
    """(batches, P, K) labels of a flat index list."""
    return labels[np.asarray(indices)].reshape(-1, P, K)


def check_batches(indices, labels, P, K):
    assert len(indices) % (P * K) == 0
    for batch in groups(indices, labels, P, K):
        assert (batch == batch[:, :1]).all(), 'each run of K indices is one identity'
        assert len(set(batch[:, 0])) == P, 'P distinct identities per batch'


def test_batches_are_p_ids_by_k_instances():
    P, K = 4, 4
    sampler = PKSampler(LabelDataset(LABELS), num_ids=P, num_instances=K, seed=3)
    # chunks max(1, n // 4): 1,1,1,1,1,1,1,2,2,2,3,5 = 21 -> B = 5 (sum min(c, 5) = 21 >= 20; B = 6 needs 24)
    assert sampler.num_batches == 5
    for epoch in range(5):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        assert len(indices) == len(sampler) == 5 * P * K
        check_batches(indices, LABELS, P, K)
        # an identity with >= K images uses each image at most once per epoch
        counts = Counter(indices)
        for idx, c in counts.items():
            if (LABELS == LABELS[idx]).sum() >= K:
                assert c == 1


def test_small_identities_sampled_with_replacement():
    labels = np.repeat([0, 1, 2, 3, 4], [1, 2, 4, 4, 4])
    sampler = PKSampler(LabelDataset(labels), num_ids=5, num_instances=4, seed=0)
    assert sampler.num_batches == 1
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batch = groups(list(sampler), labels, 5, 4)[0]
        assert sorted(batch[:, 0]) == [0, 1, 2, 3, 4]
        indices = np.asarray(list(sampler)).reshape(5, 4)
        by_id = {labels[row[0]]: row for row in indices}
        assert by_id[0].tolist() == [0, 0, 0, 0]
        # both images of identity 1 appear, plus two drawn again
        assert set(by_id[1].tolist()) == {1, 2}
        assert sorted(by_id[2].tolist()) == [3, 4, 5, 6]


def test_num_batches_respects_distinct_identities():
    # P=4, K=2: five identities with one chunk and one with six. The big one may sit in every batch but each batch
    # needs three others: only one batch fits, though 11 chunks would make two.
    labels = np.repeat(np.arange(6), [2, 2, 2, 2, 2, 12])
    sampler = PKSampler(LabelDataset(labels), num_ids=4, num_instances=2, seed=0)
    assert sampler.num_batches == 1
    check_batches(list(sampler), labels, 4, 2)
    # brute force over all B agrees on COUNTS as well
    chunks = np.maximum(np.asarray(COUNTS) // 4, 1)
    feasible = [b for b in range(1, 30) if np.minimum(chunks, b).sum() >= 4 * b]
    assert PKSampler(LabelDataset(LABELS), num_ids=4, num_instances=4, seed=0).num_batches == max(feasible)


def test_balanced_dataset_uses_every_image_once():
    labels = np.repeat(np.arange(10), 8)
    sampler = PKSampler(LabelDataset(labels), num_ids=4, num_instances=4, seed=1)
    indices = list(sampler)
    assert sorted(indices) == list(range(80))
    check_batches(indices, labels, 4, 4)


def test_deterministic_for_seed_and_epoch():
    a = PKSampler(LabelDataset(LABELS), num_ids=4, num_instances=4, seed=7)
    b = PKSampler(LabelDataset(LABELS), num_ids=4, num_instances=4, seed=7)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    a.set_epoch(0)
    assert list(a) == first
    c = PKSampler(LabelDataset(LABELS), num_ids=4, num_instances=4, seed=8)
    assert list(c) != first


def test_identities_meet_different_partners_across_epochs():
    labels = np.repeat(np.arange(32), 8)
    sampler = PKSampler(LabelDataset(labels), num_ids=4, num_instances=4, seed=0)
    partners = set()
    for epoch in range(4):
        sampler.set_epoch(epoch)
        for batch in groups(list(sampler), labels, 4, 4):
            if 0 in batch[:, 0]:
                partners.update(batch[:, 0].tolist())
    # identity 0 sits in 2 batches per epoch with 3 others each: 4 epochs give far more than 6 partners
    assert len(partners - {0}) > 12


def test_unshuffled_is_fixed_and_valid():
    sampler = PKSampler(LabelDataset(LABELS), num_ids=4, num_instances=4, shuffle=False, seed=0)
    first = list(sampler)
    check_batches(first, LABELS, 4, 4)
    sampler.set_epoch(3)
    assert list(sampler) == first


def test_ranks_take_whole_disjoint_batches(monkeypatch):
    P, K = 4, 4
    labels = np.repeat(np.arange(20), [4, 5, 6, 7, 8] * 4)  # 24 chunks of 4 -> 6 batches of 4 ids
    per_rank = []
    for rank in range(2):
        set_world(monkeypatch, rank, 2)
        sampler = PKSampler(LabelDataset(labels), num_ids=P, num_instances=K, seed=5)
        sampler.set_epoch(2)
        per_rank.append((sampler, list(sampler)))
    (s0, i0), (s1, i1) = per_rank
    assert s0.num_batches == s1.num_batches == 6
    assert len(i0) == len(i1) == len(s0) == len(s1) == 3 * P * K
    check_batches(i0, labels, P, K)
    check_batches(i1, labels, P, K)
    # same global order on both ranks; rank r takes batches r, r + 2, ...
    batches = s0.global_batches(2)
    np.testing.assert_array_equal(batches, s1.global_batches(2))
    assert i0 == batches[0::2].reshape(-1).tolist()
    assert i1 == batches[1::2].reshape(-1).tolist()
    # every identity here has >= K images, so no image is used by both ranks
    assert not set(i0) & set(i1)


def test_batch_count_truncated_to_world_size(monkeypatch):
    labels = np.repeat(np.arange(16), 8)  # 32 chunks, P = 4 -> 8 batches
    set_world(monkeypatch, 2, 3)
    sampler = PKSampler(LabelDataset(labels), num_ids=4, num_instances=4, seed=0)
    assert sampler.num_batches == 8
    indices = list(sampler)
    assert len(indices) == len(sampler) == 2 * 16  # 8 // 3 = 2 batches per rank
    assert indices == sampler.global_batches(0)[[2, 5]].reshape(-1).tolist()
    set_world(monkeypatch, 0, 9)
    with pytest.raises(ValueError, match='8 batches of 4 x 4, fewer than the world size 9'):
        PKSampler(LabelDataset(labels), num_ids=4, num_instances=4, seed=0)


def test_errors():
    with pytest.raises(ValueError, match='num_ids=16 identities per batch, but the dataset has only 12 identities'):
        PKSampler(LabelDataset(LABELS), num_ids=16, num_instances=4, seed=0)
    with pytest.raises(ValueError, match='num_instances must be a positive int, got 0'):
        PKSampler(LabelDataset(LABELS), num_ids=4, num_instances=0, seed=0)
    with pytest.raises(ValueError, match='one int identity per sample'):
        PKSampler(LabelDataset(np.zeros((4, 2), dtype=int)), num_ids=1, num_instances=1, seed=0)


def test_batch_sampler_checks_the_dataloader_batch_size():
    dataset = LabelDataset(LABELS)
    cfg = dict(
        dataset=dataset,
        sampler=dict(type='PKSampler', num_ids=4, num_instances=4),
        batch_sampler=dict(type='PKBatchSampler'),
        batch_size=16,
        num_workers=0)
    loader = Runner.build_dataloader(cfg, seed=11)
    assert isinstance(loader.batch_sampler, PKBatchSampler)
    assert loader.batch_sampler.sampler.seed == 11  # the runner's seed reaches the sampler
    batches = list(loader)
    assert len(batches) == len(loader) == 5
    flat = [i for batch in batches for i in batch]
    assert flat == list(loader.batch_sampler.sampler)
    check_batches(flat, LABELS, 4, 4)
    with pytest.raises(ValueError, match=r'batch_size=32 \(per GPU\) must equal PKSampler num_ids x num_instances '
                       r'= 4 x 4 = 16'):
        Runner.build_dataloader(dict(cfg, batch_size=32), seed=11)
    with pytest.raises(TypeError, match='sampler must be a PKSampler'):
        PKBatchSampler(list(range(16)), batch_size=16)


def test_identities_epoch_is_every_identity_once_with_k_images():
    """epoch_mode='identities': the official RGA sampler's epoch, #identities x K images (whole P x K batches)."""
    labels = np.repeat(np.arange(10), [1, 2, 4, 5, 8, 9, 12, 20, 3, 6])
    P, K = 3, 4
    sampler = PKSampler(LabelDataset(labels), num_ids=P, num_instances=K, seed=0, epoch_mode='identities')
    assert sampler.num_batches == 10 // P and len(sampler) == 3 * P * K
    for epoch in range(3):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        check_batches(indices, labels, P, K)
        ids = labels[indices].reshape(-1, K)[:, 0]
        assert len(set(ids)) == len(ids), 'an identity appears once per epoch'
        for run in np.asarray(indices).reshape(-1, K):
            if np.sum(labels == labels[run[0]]) >= K:
                assert len(set(run)) == K, 'without replacement when an identity has K images'
    # the default counts images: the 70 images give many more batches
    assert PKSampler(LabelDataset(labels), num_ids=P, num_instances=K, seed=0).num_batches > sampler.num_batches
    with pytest.raises(ValueError, match='epoch_mode'):
        PKSampler(LabelDataset(labels), num_ids=P, num_instances=K, epoch_mode='iterations')
