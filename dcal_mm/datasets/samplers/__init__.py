# Copyright (c) OpenMMLab. All rights reserved.
from .pair_sampler import PairSampler
from .pk_batch_sampler import PKBatchSampler
from .pk_sampler import PKSampler

__all__ = ['PKSampler', 'PKBatchSampler', 'PairSampler']
