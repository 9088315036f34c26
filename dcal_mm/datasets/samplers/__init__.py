# Copyright (c) OpenMMLab. All rights reserved.
from .pk_batch_sampler import PKBatchSampler
from .pk_sampler import PKSampler

__all__ = ['PKSampler', 'PKBatchSampler']
