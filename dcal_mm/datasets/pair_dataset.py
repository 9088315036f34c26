# Copyright (c) OpenMMLab. All rights reserved.
import copy
from typing import Optional, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, force_full_init
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class PairDataset:
    """Give every sample a partner image for DCAL's pair-wise cross-attention.

    ``dataset[i]`` returns the target's packed sample with ``inputs`` =
    ``[target, partner]`` (both through the wrapped dataset's pipeline) and
    ``partner_idx`` / ``partner_label`` in the metainfo of its DataSample.

    The partner of sample ``i`` in epoch ``e`` is drawn from
    ``numpy.random.default_rng([seed, e, i])``, so it is reproducible for a
    seed and epoch and the same on every DDP rank and dataloader worker. The
    epoch lives in shared memory and is set by :class:`PairEpochHook` (or
    :meth:`set_epoch`), so persistent workers see it too.

    Args:
        dataset (BaseDataset | dict): The dataset to wrap.
        policy (str): ``'random'`` (default, as in the paper: any other
            sample), ``'intra'`` (same class), ``'inter'`` (another class) or
            ``'mixed'`` (intra or inter with probability 1/2 each).
        seed (int): Base seed. Defaults to 0.
        lazy_init (bool): Defer building the class index.
    """
    POLICIES = ('random', 'intra', 'inter', 'mixed')

    def __init__(self,
                 dataset: Union[BaseDataset, dict],
                 policy: str = 'random',
                 seed: int = 0,
                 lazy_init: bool = False) -> None:
        if policy not in self.POLICIES:
            raise ValueError(f'PairDataset policy must be one of {self.POLICIES}, got {policy!r}')
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.policy = policy
        self.seed = seed
        self._epoch = torch.zeros((), dtype=torch.long).share_memory_()
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        """Index the samples of every class and check pairs can be formed."""
        if self._fully_initialized:
            return
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()
        self.labels = np.asarray(self.dataset.get_gt_labels()).astype(np.int64)
        if len(self.labels) < 2:
            raise ValueError(f'PairDataset needs at least 2 samples to form pairs, got {len(self.labels)}')
        # samples sorted by class (stable, so each class's indices ascend)
        self._order = np.argsort(self.labels, kind='stable')
        classes, starts, counts = np.unique(self.labels[self._order], return_index=True, return_counts=True)
        self._class_range = {int(c): (int(s), int(n)) for c, s, n in zip(classes, starts, counts)}
        if self.policy in ('intra', 'mixed'):
            single = [c for c, (_, n) in self._class_range.items() if n < 2]
            if single:
                raise ValueError(f'PairDataset policy {self.policy!r} needs 2+ samples per class; classes '
                                 f'{single[:10]} have one')
        if self.policy in ('inter', 'mixed') and len(self._class_range) < 2:
            raise ValueError(f'PairDataset policy {self.policy!r} needs 2+ classes, got {len(self._class_range)}')
        self._fully_initialized = True

    def set_epoch(self, epoch: int) -> None:
        """Select the partners of ``epoch``."""
        self._epoch.fill_(epoch)

    @force_full_init
    def partner_index(self, idx: int, epoch: Optional[int] = None) -> int:
        """Index of the partner of sample ``idx`` in ``epoch`` (default: the
        current one)."""
        epoch = int(self._epoch) if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch, idx])
        policy = self.policy
        if policy == 'mixed':
            policy = 'intra' if rng.random() < 0.5 else 'inter'
        if policy == 'random':
            j = int(rng.integers(len(self.labels) - 1))
            return j + (j >= idx)
        first, count = self._class_range[int(self.labels[idx])]
        if policy == 'intra':
            # uniform over the class without idx; ``_order`` ascends in a class
            j = int(rng.integers(count - 1))
            own = first + int(np.searchsorted(self._order[first:first + count], idx))
            return int(self._order[first + j + (first + j >= own)])
        # inter: uniform over the samples outside the class
        j = int(rng.integers(len(self.labels) - count))
        return int(self._order[j + count if j >= first else j])

    @force_full_init
    def __len__(self) -> int:
        return len(self.labels)

    @force_full_init
    def __getitem__(self, idx: int) -> dict:
        partner = self.partner_index(idx)
        target, other = self.dataset[idx], self.dataset[partner]
        data_sample = target['data_samples']
        data_sample.set_metainfo(dict(partner_idx=partner, partner_label=int(self.labels[partner])))
        return dict(inputs=[target['inputs'], other['inputs']], data_samples=data_sample)

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    @force_full_init
    def get_gt_labels(self) -> np.ndarray:
        return self.labels.copy()

    @force_full_init
    def get_cat_ids(self, idx: int) -> list:
        return [int(self.labels[idx])]

    def __repr__(self) -> str:
        return f'{type(self).__name__}(policy={self.policy!r}, seed={self.seed}, dataset={type(self.dataset).__name__})'
