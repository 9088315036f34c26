# Copyright (c) OpenMMLab. All rights reserved.
from typing import Iterator, List, Optional, Sized

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class PKSampler(Sampler):
    """Identity-balanced sampler: every batch holds ``P`` identities with
    ``K`` images each (Hermans et al., 2017), for ID + triplet losses.

    The batch size is **per GPU** and must be ``P * K``: yielded indices form
    consecutive groups of ``P * K`` (``P`` runs of ``K`` same-identity
    indices). A sampler cannot see the dataloader's ``batch_size``, so pair it
    with ``batch_sampler=dict(type='PKBatchSampler')``, which receives it from
    MMEngine and raises on a mismatch; without that, the config must keep
    ``batch_size == num_ids * num_instances`` itself.

    One epoch, built identically on every rank from ``seed`` and the epoch:

    1. Each identity with ``n`` images gives ``max(1, n // K)`` chunks of
       ``K`` images: its images shuffled and cut into chunks, the ``n % K``
       left over unused this epoch; one with ``n < K`` gives one chunk of all
       its images plus ``K - n`` drawn again with replacement.
    2. ``B``, the number of ``P x K`` batches, is the largest number such that
       ``B`` batches of ``P`` *distinct* identities can be filled (capping an
       identity at ``B`` chunks); it depends only on the image counts, so
       every epoch has the same length. Surplus chunks are left out at random.
    3. Identities, in random order, put their chunks into the batches with
       the most free places (random among ties), which always fills all
       ``B`` batches and mixes which identities meet.
    4. The ``B`` batches are cut to a multiple of the world size ``W``; rank
       ``r`` takes batches ``r, r + W, r + 2W, ...``, so ranks never share a
       batch and all have the same length.

    Unlike torchreid's ``RandomIdentitySampler`` the epoch length is exact,
    not an estimate. With ``epoch_mode='images'`` (default, as TransReID's and
    torchreid's samplers): an epoch uses each image at most once (apart from
    the small identities' repeats). With ``epoch_mode='identities'`` (the
    ``RandomIdentitySampler`` of the official RGA code): every identity gives
    one chunk of ``K`` images per epoch, so an epoch is
    ``floor(#identities / P)`` batches of ``P x K``; the official epoch is
    ``#identities x K`` images, the same up to one partial batch. Schedules
    counted in such epochs (RGA's 600) then run the official iterations.

    Args:
        dataset (Sized): The dataset; identities are read with
            ``dataset.get_gt_labels()`` (one int per sample).
        num_ids (int): ``P``, identities per batch. Defaults to 16.
        num_instances (int): ``K``, images per identity. Defaults to 4.
        shuffle (bool): Randomise as above. If False, every epoch is the same
            order with no randomness (identities in label order, images in
            dataset order, small identities repeated cyclically), for
            debugging. Defaults to True.
        seed (int, optional): Seed shared by all ranks; the epoch is mixed in.
            If None, a seed is drawn on rank 0 and broadcast. MMEngine passes
            the runner's seed. Defaults to None.
        epoch_mode (str): What an epoch is: ``'images'`` (every image once) or
            ``'identities'`` (every identity once, ``K`` images). Defaults to
            ``'images'``.
    """
    EPOCH_MODES = ('images', 'identities')

    def __init__(self,
                 dataset: Sized,
                 num_ids: int = 16,
                 num_instances: int = 4,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 epoch_mode: str = 'images') -> None:
        if epoch_mode not in self.EPOCH_MODES:
            raise ValueError(f'PKSampler: epoch_mode must be one of {self.EPOCH_MODES}, got {epoch_mode!r}')
        for name, value in (('num_ids', num_ids), ('num_instances', num_instances)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'PKSampler: {name} must be a positive int, got {value!r}')
        self.dataset = dataset
        self.num_ids = num_ids
        self.num_instances = num_instances
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.rank, self.world_size = get_dist_info()
        self.epoch = 0

        labels = np.asarray(dataset.get_gt_labels())
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError('PKSampler: dataset.get_gt_labels() must give one int identity per sample, '
                             f'got an array of shape {labels.shape} and dtype {labels.dtype}')
        _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if len(counts) < num_ids:
            raise ValueError(f'PKSampler: num_ids={num_ids} identities per batch, but the dataset has only '
                             f'{len(counts)} identities')
        # indices of each identity, in dataset order
        self._id_indices = np.split(np.argsort(inverse, kind='stable'), np.cumsum(counts)[:-1])
        # K-image chunks an identity can give per epoch
        self._chunks = np.maximum(counts // num_instances, 1) if epoch_mode == 'images' else np.ones_like(counts)
        self.epoch_mode = epoch_mode
        self.num_batches = self._max_batches(self._chunks, num_ids)
        self.num_batches_per_rank = self.num_batches // self.world_size
        if self.num_batches_per_rank == 0:
            raise ValueError(f'PKSampler: the dataset gives {self.num_batches} batches of {num_ids} x '
                             f'{num_instances}, fewer than the world size {self.world_size}')

    @property
    def batch_size(self) -> int:
        """int: The per-GPU batch size this sampler is built for, ``P * K``."""
        return self.num_ids * self.num_instances

    @staticmethod
    def _max_batches(chunks: np.ndarray, num_ids: int) -> int:
        """Largest ``B`` with ``sum(min(chunks, B)) >= num_ids * B``.

        That is when ``B`` batches of ``num_ids`` distinct identities can be
        filled. The slack ``sum(min(chunks, B)) - num_ids * B`` is concave in
        ``B`` and non-negative at 0 and 1, so binary search finds the end.
        """
        low, high = 1, int(chunks.sum()) // num_ids
        while low < high:
            mid = (low + high + 1) // 2
            if np.minimum(chunks, mid).sum() >= num_ids * mid:
                low = mid
            else:
                high = mid - 1
        return low

    def _id_chunks(self, ident: int, num_chunks: int, rng: Optional[np.random.Generator]) -> np.ndarray:
        """``(num_chunks, K)`` image indices of one identity."""
        indices = self._id_indices[ident]
        K = self.num_instances
        if rng is None:
            return np.resize(indices, num_chunks * K).reshape(num_chunks, K)
        indices = rng.permutation(indices)
        if len(indices) < K:
            indices = np.concatenate([indices, rng.choice(indices, K - len(indices), replace=True)])
        return indices[:num_chunks * K].reshape(num_chunks, K)

    def global_batches(self, epoch: int) -> np.ndarray:
        """All ranks' batches of an epoch, before the split across ranks.

        Args:
            epoch (int): The epoch.

        Returns:
            np.ndarray: ``(B, P * K)`` dataset indices, ``B = num_batches``.
        """
        P, K, B = self.num_ids, self.num_instances, self.num_batches
        rng = np.random.default_rng([self.seed, epoch]) if self.shuffle else None
        num_idents = len(self._id_indices)

        # chunks each identity gives this epoch: capped at B, surplus dropped
        take = np.minimum(self._chunks, B)
        owners = np.repeat(np.arange(num_idents), take)
        surplus = len(owners) - P * B
        if surplus > 0:
            dropped = rng.permutation(owners)[:surplus] if rng is not None else owners[-surplus:]
            np.subtract.at(take, dropped, 1)

        batches = np.empty((B, P, K), dtype=np.int64)
        free = np.full(B, P)
        order = rng.permutation(num_idents) if rng is not None else np.arange(num_idents)
        ties = np.arange(B) / B
        for ident in order:
            num = take[ident]
            if num == 0:
                continue
            if rng is not None:
                ties = rng.random(B)
            # the num batches with the most free places; ties in [0, 1) break equal counts
            chosen = np.argpartition(ties - free, num - 1)[:num] if num < B else np.arange(B)
            batches[chosen, P - free[chosen]] = self._id_chunks(ident, num, rng)
            free[chosen] -= 1
        return batches.reshape(B, P * K)

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices of the current epoch."""
        batches = self.global_batches(self.epoch)[:self.num_batches_per_rank * self.world_size]
        mine: List[int] = batches[self.rank::self.world_size].reshape(-1).tolist()
        return iter(mine)

    def __len__(self) -> int:
        """The number of indices this rank yields per epoch."""
        return self.num_batches_per_rank * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, mixed into the seed.

        Args:
            epoch (int): The epoch.
        """
        self.epoch = epoch
