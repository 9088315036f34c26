# Copyright (c) OpenMMLab. All rights reserved.
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS


@MODELS.register_module()
class PairDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` that also understands (target, partner) pairs.

    :class:`PairDataset` packs each sample's inputs as ``[target, partner]``.
    ``ClsDataPreprocessor`` would read such a batch as one list of images and
    silently mis-shape it (pitfall P7), so pairs are detected here, both views
    get the same colour conversion and normalisation, and the batch becomes
    one tensor of shape (B, 2, C, H, W). Anything else (validation, test) is
    handled exactly as by ``ClsDataPreprocessor``.

    Accepted pair batches: ``pseudo_collate`` (two lists of B (C, H, W)
    tensors) and ``default_collate`` (two (B, C, H, W) tensors). Arguments are those of ``ClsDataPreprocessor``; batch
    augmentations (Mixup/CutMix) are rejected for pairs.
    """

    @staticmethod
    def _unpack_pairs(inputs) -> Optional[Tuple[List, List]]:
        # Collating a batch of [target, partner] samples transposes it into
        # [targets, partners]: two lists of B (C, H, W) tensors with
        # ``pseudo_collate`` or two (B, C, H, W) tensors with ``default_collate``.
        # A plain batch is one tensor or a list of (C, H, W) tensors.
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            return None
        if all(isinstance(i, (list, tuple)) for i in inputs):
            if len(inputs[0]) != len(inputs[1]):
                raise ValueError(f'PairDataPreprocessor got {len(inputs[0])} targets but {len(inputs[1])} partners')
            return list(inputs[0]), list(inputs[1])
        if all(isinstance(i, torch.Tensor) and i.dim() == 4 for i in inputs):
            return inputs[0], inputs[1]
        return None

    def forward(self, data: dict, training: bool = False) -> dict:
        """
        Args:
            data (dict): A batch from the dataloader.
            training (bool): Whether in training.

        Returns:
            dict: ``inputs`` (B, 2, C, H, W) for pairs, else as the parent.
        """
        pairs = self._unpack_pairs(data['inputs'])
        if pairs is None:
            return super().forward(data, training)
        if training and self.batch_augments is not None:
            raise ValueError('PairDataPreprocessor does not support batch augmentations (Mixup/CutMix) on pairs')
        targets = super().forward({'inputs': pairs[0], 'data_samples': data.get('data_samples')}, training)
        partners = super().forward({'inputs': pairs[1]}, training)
        if targets['inputs'].shape != partners['inputs'].shape:
            raise ValueError(f'target batch {tuple(targets["inputs"].shape)} and partner batch '
                             f'{tuple(partners["inputs"].shape)} differ in shape')
        return {'inputs': torch.stack([targets['inputs'], partners['inputs']], dim=1),
                'data_samples': targets['data_samples']}
