# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sized

from mmpretrain.registry import DATA_SAMPLERS

from .pk_sampler import PKSampler


@DATA_SAMPLERS.register_module()
class PairSampler(PKSampler):
    """Batches in which every image has both a same-class and an other-class
    PWCA partner, so that every ``PWCA.partner_policy`` runs on any labelled
    dataset (FGVC classes or Re-ID identities).

    DCAL draws each image's PWCA partner inside its batch
    (:func:`dcal_mm.models.utils.draw_partners`). On a plain shuffled FGVC
    batch (16 images of 200 classes) an image rarely has a same-class
    partner, so ``'intra'`` and ``'mixed'`` (the paper's Table 4) cannot run.
    This sampler composes each batch of ``num_classes`` classes with
    ``num_instances`` (>= 2) images each, exactly as :class:`PKSampler` does
    for identities (same epoch length rules, deterministic per seed and
    epoch, each rank its own whole batches under DDP), and checks that both
    numbers are at least 2. Pair it with ``PKBatchSampler``, which checks the
    per-GPU batch size::

        train_dataloader = dict(
            batch_size=16,
            sampler=dict(type='PairSampler', num_classes=8, num_instances=2),
            batch_sampler=dict(type='PKBatchSampler'), ...)

    Use the same sampler for every policy of an ablation, so that only the
    policy differs (with it, a ``'random'`` partner shares the image's class
    with probability (K - 1) / (B - 1), 1/15 at 8 x 2).

    Args:
        dataset (Sized): The dataset; labels from ``get_gt_labels()``.
        num_classes (int): Classes per batch, >= 2. Defaults to 8.
        num_instances (int): Images per class in a batch, >= 2. Defaults
            to 2.
        shuffle (bool): See :class:`PKSampler`.
        seed (int, optional): See :class:`PKSampler`.
        epoch_mode (str): See :class:`PKSampler`.
    """

    def __init__(self,
                 dataset: Sized,
                 num_classes: int = 8,
                 num_instances: int = 2,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 epoch_mode: str = 'images') -> None:
        for name, value in (('num_classes', num_classes), ('num_instances', num_instances)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f'PairSampler: {name} must be an int >= 2 (intra-class partners need 2+ images '
                                 f'of a class, inter-class partners 2+ classes per batch), got {value!r}')
        super().__init__(dataset, num_ids=num_classes, num_instances=num_instances, shuffle=shuffle, seed=seed,
                         epoch_mode=epoch_mode)
