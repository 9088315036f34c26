# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional

import numpy as np
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from dcal_mm.utils.checkpoint import unwrap_model


def num_train_classes(dataset) -> Optional[int]:
    """Distinct labels (classes / identities) of a training set, from
    ``get_gt_labels()``; None if the dataset has no such method.

    Not ``metainfo['classes']``: MMPretrain's ``CUB`` and the like list all
    their classes whatever the annotation files hold.
    """
    if not hasattr(dataset, 'get_gt_labels'):
        return None
    labels = np.asarray(dataset.get_gt_labels())
    if labels.ndim != 1 or labels.size == 0:
        return None
    return len(np.unique(labels))


@HOOKS.register_module()
class NumClassesCheckHook(Hook):
    """Stop before training when the head's ``num_classes`` differs from the
    number of classes / identities of the training set.

    A head with more outputs than classes trains without any error (the
    extra logits are never a target), e.g. ``num_classes=751`` (Market-1501)
    on a 40-identity set; fewer crash later or not at all on some devices.
    Models without ``head.num_classes`` are skipped. Fewer than 2 classes
    (head or data) is an error: every cross-entropy would be 0 and top-1
    100%. To train a head with
    classes that the training set lacks on purpose, remove the hook:
    ``default_hooks = dict(num_classes_check=None)``.

    Registered in ``default_hooks`` of ``configs/_base_/default_runtime.py``.
    """

    def before_train(self, runner) -> None:
        head = getattr(unwrap_model(runner.model), 'head', None)
        expected = getattr(head, 'num_classes', None)
        if not isinstance(expected, int):
            return
        if expected < 2:
            raise ValueError(f'model.head.num_classes={expected}: classification needs at least 2 classes (with one, '
                             'every cross-entropy is 0 and top-1 is 100%)')
        dataset = runner.train_dataloader.dataset
        found = num_train_classes(dataset)
        if found is not None and found < 2:
            raise ValueError(f'the training set {type(dataset).__name__} has {found} class / identity (distinct '
                             'labels); classification needs at least 2')
        if found is not None and found != expected:
            inner = dataset
            while hasattr(inner, 'dataset'):
                inner = inner.dataset
            where = getattr(inner, 'data_root', '') or getattr(inner, 'ann_file', '')
            raise ValueError(f'model.head.num_classes={expected} but the training set {type(inner).__name__} '
                             f'({where}) has {found} classes / identities (distinct labels); set '
                             f'model.head.num_classes={found}')
