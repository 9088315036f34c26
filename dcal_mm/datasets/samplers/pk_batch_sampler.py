# Copyright (c) OpenMMLab. All rights reserved.
from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler

from .pk_sampler import PKSampler


@DATA_SAMPLERS.register_module()
class PKBatchSampler(BatchSampler):
    """Batches a :class:`PKSampler` and checks the dataloader's batch size.

    MMEngine builds a ``batch_sampler`` with the dataloader's ``sampler`` and
    ``batch_size``, so this is where the per-GPU batch size can be checked
    against ``P * K``; otherwise it batches like the plain
    :class:`torch.utils.data.BatchSampler` (``PKSampler`` yields whole
    batches, so nothing is dropped). Use it as::

        train_dataloader = dict(
            batch_size=64,
            sampler=dict(type='PKSampler', num_ids=16, num_instances=4),
            batch_sampler=dict(type='PKBatchSampler'),
            ...)

    Args:
        sampler (PKSampler): The identity sampler.
        batch_size (int): The dataloader's per-GPU batch size; must equal
            ``sampler.num_ids * sampler.num_instances``.
        drop_last (bool): Kept for the BatchSampler interface; has no effect
            since the sampler's length is a multiple of the batch size.
            Defaults to False.
    """

    def __init__(self, sampler: PKSampler, batch_size: int, drop_last: bool = False) -> None:
        if not isinstance(sampler, PKSampler):
            raise TypeError(f'PKBatchSampler: sampler must be a PKSampler, got {type(sampler).__name__}')
        if batch_size != sampler.batch_size:
            raise ValueError(f'PKBatchSampler: dataloader batch_size={batch_size} (per GPU) must equal PKSampler '
                             f'num_ids x num_instances = {sampler.num_ids} x {sampler.num_instances} = '
                             f'{sampler.batch_size}')
        super().__init__(sampler, batch_size, drop_last)
