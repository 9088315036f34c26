# Copyright (c) OpenMMLab. All rights reserved.
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class PairEpochHook(Hook):
    """Tell a :class:`PairDataset` (possibly wrapped) the current epoch, so
    partners are redrawn every epoch, reproducibly."""

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        while dataset is not None and not hasattr(dataset, 'set_epoch'):
            dataset = getattr(dataset, 'dataset', None)
        if dataset is None:
            raise ValueError('PairEpochHook found no PairDataset in the train dataloader')
        dataset.set_epoch(runner.epoch)
